"""Inline suppressions, read from the comments of the file a finding is in.

    /* threadlint: ignore[TL102] reason */      this line and the next one
    // threadlint: ignore[TL102, TL104] reason  several rules
    /* threadlint: disable[TL101] reason */     ... up to ...
    /* threadlint: enable[TL101] */             (inclusive)
    # threadlint: ignore[TL501] reason          assembly comment (.s, .S)

The directive must open the comment (in a block comment, it may open any of
its lines after the leading ``*``).  Rule names work in place of ids.  A
reason is required unless ``require_reason = false``.  Problems -- unknown
directive, bad or unknown rule, missing reason, unmatched enable, disable
without enable -- and suppressions that matched no finding are reported as
TL001 when TL001 ran (an ``ignore``/``disable`` that misses its reason still
suppresses: the intent is clear, and one report is enough).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace

from threadlint.finding import Finding, compute_fingerprint

UNUSED_RULE = "TL001"
ASM_EXTS = (".s", ".S", ".asm")
_DIRECTIVE = re.compile(r"threadlint\s*:(?P<rest>.*)")
_REST = re.compile(r"\s*(?P<verb>[A-Za-z_-]*)\s*(?P<ids>\[[^\]]*\]?)?(?P<reason>.*)")
_REASON_SEP = " \t:-\u2013\u2014\\"   # separators, and a macro continuation "\\"
_END = 1 << 30                       # "to the end of the file"


@dataclass
class Directive:
    path: str
    line: int
    col: int
    verb: str                        # ignore | disable | enable
    ids: list[str]                   # valid rule ids only
    reason: str
    comment_end: int                 # last line of the comment holding it
    problems: list[str] = field(default_factory=list)
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)   # id -> (first, last)
    used: set[str] = field(default_factory=set)


# -- comments ---------------------------------------------------------------

def comments(text: str, asm: bool = False):
    """Yield ``(line, col, body, end_line)`` for each line of each comment.

    ``body`` is the comment's text on that line, without the ``//``, ``/*``,
    ``*/`` or ``#`` delimiters, and ``col`` the 1-based column where it starts.  String literals are skipped.  In assembly
    ``#`` starts a comment (in ``.S`` that also covers preprocessor lines,
    which never start with ``threadlint:``) and ``'`` is not a quote.
    """
    i, n = 0, len(text)
    line, line_start = 1, 0
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            line_start = i + 1
            i += 1
        elif c == '"' or (c == "'" and not asm and not _digit_separator(text, i)):
            i = _skip_literal(text, i, c)
        elif text.startswith("//", i) or (asm and c == "#"):
            start = i + (1 if c == "#" else 2)
            end = text.find("\n", start)
            end = n if end < 0 else end
            yield line, start - line_start + 1, text[start:end], line
            i = end
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            close = n if close < 0 else close
            body = text[i + 2:close]
            parts = body.split("\n")
            last = line + len(parts) - 1
            col = i + 2 - line_start + 1
            for k, part in enumerate(parts):
                yield line + k, col if k == 0 else 1, part, last
            if len(parts) > 1:
                line = last
                line_start = text.rfind("\n", 0, close) + 1
            i = close + 2
        else:
            i += 1


def _digit_separator(text: str, i: int) -> bool:
    """C23 ``1'000``: a quote inside a number is not a character literal."""
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] in "_'"):
        j -= 1
    return j < i and text[j].isdigit()


def _skip_literal(text: str, i: int, quote: str) -> int:
    j = i + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == quote or ch == "\n":   # an unterminated literal ends at the line end
            return j + 1 if ch == quote else j
        j += 1
    return j


# -- directives -------------------------------------------------------------

def parse(path: str, text: str, known_rules=None) -> list[Directive]:
    """Every ``threadlint:`` directive of a file, with its problems and ranges.

    ``known_rules`` maps rule ids and names to ids (default: the registry).
    """
    if known_rules is None:
        known_rules = _known_rules()
    asm = path.endswith(ASM_EXTS)
    out: list[Directive] = []
    for line, col, body, end in comments(text, asm):
        stripped = body.lstrip(" \t*/!<")     # block continuation stars, doxygen openers
        m = _DIRECTIVE.match(stripped)
        if not m:
            continue
        col += len(body) - len(stripped)
        out.append(_directive(path, line, col, m.group("rest"), end, known_rules))
    _close_ranges(out)
    return out


def _directive(path, line, col, rest, comment_end, known_rules) -> Directive:
    m = _REST.match(rest)
    verb, ids_text, reason = m.group("verb"), m.group("ids"), m.group("reason")
    reason = reason.strip().strip(_REASON_SEP).strip()
    d = Directive(path, line, col, verb, [], reason, comment_end)
    if verb not in ("ignore", "disable", "enable"):
        d.problems.append(f"unknown directive 'threadlint: {verb or rest.strip()[:20]}' "
                          "(expected ignore[...], disable[...] or enable[...])")
        return d
    if not ids_text or not ids_text.endswith("]"):
        d.problems.append(f"'threadlint: {verb}' needs the rules in brackets, e.g. {verb}[TL101]")
        return d
    tokens = [t.strip() for t in ids_text[1:-1].split(",")]
    if not any(tokens):
        d.problems.append(f"'threadlint: {verb}[]' names no rule")
    for tok in tokens:
        if not tok:
            continue
        rid = known_rules.get(tok) or known_rules.get(tok.upper())
        if rid is None:
            d.problems.append(f"unknown rule '{tok}' in threadlint: {verb}[...]")
        elif rid not in d.ids:
            d.ids.append(rid)
    if verb != "enable" and d.ids and not any(ch.isalnum() for ch in reason):
        d.problems.append(f"suppression of {', '.join(d.ids)} gives no reason "
                          "(write it after the brackets)")
        d.reason = ""
    if verb == "ignore":
        for rid in d.ids:
            d.ranges[rid] = (line, comment_end + 1)
    return d


def _close_ranges(directives: list[Directive]) -> None:
    """Pair each disable[X] with the next enable[X]."""
    open_: dict[str, Directive] = {}
    for d in directives:
        if d.verb == "disable":
            for rid in d.ids:
                if rid in open_:
                    d.problems.append(f"{rid} is already disabled since line {open_[rid].line}")
                else:
                    open_[rid] = d
        elif d.verb == "enable":
            for rid in d.ids:
                start = open_.pop(rid, None)
                if start is None:
                    d.problems.append(f"enable[{rid}] has no preceding disable[{rid}]")
                else:
                    start.ranges[rid] = (start.line, d.line)
    for rid, d in open_.items():
        d.ranges[rid] = (d.line, _END)
        d.problems.append(f"disable[{rid}] has no matching enable[{rid}]; "
                          "it applies to the end of the file")


def _known_rules() -> dict[str, str]:
    from threadlint.registry import all_rules
    out = {}
    for rid, rule in all_rules().items():
        out[rid] = rid
        out[rule.name] = rid
    return out


# -- applying ---------------------------------------------------------------

def apply(findings, root, require_reason=True, rules_ran=(), sources=(),
          known_rules=None) -> list[Finding]:
    """Drop suppressed findings; add TL001 findings when TL001 is in ``rules_ran``.

    Directives are read from the file of each finding's primary location and,
    to find unused ones, from ``sources`` (the files the analysis read).
    ``known_rules`` maps ids and names to ids (default: the registry's rules).
    """
    rules_ran = set(rules_ran)
    files = _Files(root, known_rules if known_rules is not None else _known_rules())
    kept = [f for f in findings if not _suppressed(f, files)]
    if UNUSED_RULE not in rules_ran:
        return kept
    for path in sources:
        files.get(path)
    problems = _problem_findings(files, require_reason, rules_ran)
    problems = _unique_fingerprints([f for f in problems if not _suppressed(f, files)])
    return sorted(kept + problems, key=Finding.sort_key)


def _unique_fingerprints(findings: list[Finding]) -> list[Finding]:
    """Identical directives in one file get ordinals, as the engine does."""
    seen: dict[str, int] = {}
    out = []
    for f in sorted(findings, key=Finding.sort_key):
        n = seen.get(f.fingerprint, 0)
        seen[f.fingerprint] = n + 1
        out.append(f if n == 0 else replace(f, fingerprint=f"{f.fingerprint}-{n + 1}"))
    return out


class _Files:
    def __init__(self, root: str, known_rules: dict[str, str]):
        self.root = root
        self.known_rules = known_rules
        self.directives: dict[str, list[Directive]] = {}
        self.lines: dict[str, list[str]] = {}

    def get(self, path: str) -> list[Directive]:
        if path not in self.directives:
            text = _read(os.path.join(self.root, path))
            self.directives[path] = parse(path, text, self.known_rules) if text else []
            self.lines[path] = text.splitlines() if self.directives[path] else []
        return self.directives[path]


def _read(path: str) -> str:
    data = _marked_bytes(path)
    return data.decode("utf-8", errors="replace") if data else ""


_MARK = b"threadlint"               # every directive names it


def _marked_bytes(path: str) -> bytes:
    """The file's bytes when it mentions threadlint, else b"" (the common case:
    nothing to decode)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return b""
    return data if _MARK in data else b""


def directive_sources(root: str, sources) -> list[str]:
    """The files among ``sources`` (relative to ``root``) that can hold a
    directive: those that mention threadlint at all.  A run memo keeps only
    these, so a run it answers reads a handful of files instead of every
    source (its inputs are unchanged, so is this list)."""
    return [path for path in sources if _marked_bytes(os.path.join(root, path))]


def _suppressed(f: Finding, files: _Files) -> bool:
    hit = False
    for d in files.get(f.location.path):
        first, last = d.ranges.get(f.rule, (0, -1))
        if first <= f.location.line <= last:
            d.used.add(f.rule)
            hit = True
    return hit


def _problem_findings(files: _Files, require_reason: bool, rules_ran: set) -> list[Finding]:
    from threadlint.registry import all_rules
    rule = all_rules()[UNUSED_RULE]()
    out = []
    for path, directives in sorted(files.directives.items()):
        for d in directives:
            messages = [p for p in d.problems if require_reason or "gives no reason" not in p]
            for rid in d.ids:
                if d.verb == "enable" or rid == UNUSED_RULE or rid not in rules_ran:
                    continue          # a rule that did not run cannot be judged
                if rid not in d.used and rid in d.ranges:
                    where = "on this line or the next" if d.verb == "ignore" else "in this range"
                    messages.append(f"unused suppression: no {rid} finding {where}")
            for msg in messages:
                f = rule.finding(msg, path, d.line, d.col, key=msg)
                lines = files.lines.get(path, [])
                code = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
                out.append(replace(f, fingerprint=compute_fingerprint(f, code)))
    return out
