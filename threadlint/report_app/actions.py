"""What the browser does to the world: editor, inline suppression, baseline, rule docs.

No Textual here, so every action is tested directly on files.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, replace

from threadlint.finding import Finding, Location, Related
from threadlint.fsutil import atomic_write_bytes

DEFAULT_BASELINE = "threadlint-baseline.json"
_SUPPRESSION = re.compile(r"threadlint:\s*ignore\[([^\]]*)\]")
_UTF8_BOM = b"\xef\xbb\xbf"


class ActionError(Exception):
    """An action could not be done; the message is shown to the user as is."""


# --- editor ---------------------------------------------------------------

# Editors that take "path:line:col" rather than the classic "+line path".
_COLON_EDITORS = {"subl", "sublime_text", "hx", "helix", "zed", "gedit", "kate"}
_GOTO_EDITORS = {"code", "code-insiders", "codium", "vscodium", "cursor"}


def editor_from_env(env=None) -> str:
    env = os.environ if env is None else env
    return env.get("EDITOR") or env.get("VISUAL") or "vi"


def editor_command(editor: str, path: str, line: int, col: int = 1) -> list[str]:
    argv = shlex.split(editor) or ["vi"]
    name = os.path.basename(argv[0])
    if name in _GOTO_EDITORS:
        return [*argv, "--goto", f"{path}:{line}:{col}"]
    if name in _COLON_EDITORS:
        return [*argv, f"{path}:{line}:{col}"]
    # vi, vim, nvim, nano, emacs, micro, kak, joe, mg, ... and the default for unknown editors
    return [*argv, f"+{line}", path]


# --- inline suppression ---------------------------------------------------

@dataclass(frozen=True)
class Suppressed:
    line: int            # the line that holds the comment
    text: str            # that line as written (without its line ending)
    inserted: int        # lines inserted above the finding (0 or 1): the finding moved down as much
    written: bool = True  # False when the rule was already suppressed there


def comment_style(path: str) -> tuple[str, str]:
    # Only plain assembler (.s) lacks the C preprocessor, so only it needs '#'.
    return ("# ", "") if path.endswith(".s") else ("/* ", " */")


def clean_reason(reason: str, path: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise ActionError("a suppression needs a reason")
    if comment_style(path)[1]:
        reason = reason.replace("*/", "* /")   # must not close the comment early
    return reason


def _split_lines(data: bytes) -> list[bytes]:
    """Lines with their endings; '\\n' delimits lines, as for the compiler."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _ending(line: bytes) -> bytes:
    if line.endswith(b"\r\n"):
        return b"\r\n"
    return b"\n" if line.endswith(b"\n") else b""


def _body(line: bytes) -> bytes:
    return line[:len(line) - len(_ending(line))]


def _ignored_rules(text: str) -> set[str]:
    return {tok.strip().upper() for m in _SUPPRESSION.finditer(text) for tok in m.group(1).split(",")}


def suppress_in_file(abs_path: str, line: int, rule: str, reason: str, rule_name: str = "") -> Suppressed:
    """Write ``/* threadlint: ignore[RULE] reason */`` on its own line before ``line``.

    Works on bytes so that everything else in the file stays byte-identical:
    the encoding (UTF-8, else latin-1), BOM, CRLF endings and the mode bits.
    An ``ignore`` covers its own line and the next, so when the line above
    already holds an ignore for other rules, ours goes beside it: a new line
    in between would take the finding out of that comment's reach.
    """
    try:
        with open(abs_path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise ActionError(f"cannot read {abs_path}: {e.strerror or e}") from None
    try:
        data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "latin-1"
    bom = _UTF8_BOM if data.startswith(_UTF8_BOM) else b""
    lines = _split_lines(data[len(bom):])
    if not 1 <= line <= len(lines):
        raise ActionError(f"{abs_path} has no line {line} (has the file changed since the report?)")
    target = lines[line - 1]
    before = lines[line - 2] if line > 1 else b""
    prev_text = _body(before).decode(encoding)
    names = {rule.upper(), rule_name.upper()} - {""}
    if names & _ignored_rules(prev_text) or names & _ignored_rules(_body(target).decode(encoding)):
        return Suppressed(line - 1, prev_text, inserted=0, written=False)

    opener, closer = comment_style(abs_path)
    comment = f"{opener}threadlint: ignore[{rule}] {clean_reason(reason, abs_path)}{closer}"
    try:
        comment.encode(encoding)
    except UnicodeEncodeError:
        raise ActionError(f"the reason has characters that {abs_path} ({encoding}) cannot hold") from None

    if _ignored_rules(prev_text):
        if not closer or "/*" not in prev_text or not prev_text.rstrip().endswith("*/"):
            raise ActionError(f"{abs_path}:{line - 1} already has a suppression comment that cannot "
                              f"take a second one; add {rule} to it by hand (e opens the editor)")
        text = f"{prev_text.rstrip()} {comment}"
        lines[line - 2] = text.encode(encoding) + _ending(before)
        atomic_write_bytes(abs_path, bom + b"".join(lines))
        return Suppressed(line - 1, text, inserted=0)

    indent = re.match(rb"[ \t]*", target).group(0).decode(encoding)
    text = indent + comment
    if _body(before).rstrip().endswith(b"\\") and closer:
        text += " \\"          # inside a multi-line macro: keep the continuation going
    ending = _ending(target) or _ending(before) or b"\n"
    lines.insert(line - 1, text.encode(encoding) + ending)
    atomic_write_bytes(abs_path, bom + b"".join(lines))
    return Suppressed(line, text, inserted=1)


def _shift_loc(loc: Location, path: str, at: int, delta: int) -> Location:
    if loc.path != path or loc.line < at:
        return loc
    return replace(loc, line=loc.line + delta, end_line=loc.end_line + delta if loc.end_line else 0)


def shift_lines(f: Finding, path: str, at: int, delta: int = 1) -> Finding:
    """The finding as it reads after ``delta`` lines were inserted at line ``at`` of ``path``."""
    def rel(r: Related) -> Related:
        return replace(r, location=_shift_loc(r.location, path, at, delta))
    return replace(f, location=_shift_loc(f.location, path, at, delta),
                   related=tuple(rel(r) for r in f.related), chain=tuple(rel(r) for r in f.chain))


# --- baseline and rule docs -------------------------------------------------

def add_to_baseline(path: str, findings: list[Finding]) -> None:
    from threadlint import baseline
    missing = [f for f in findings if not f.fingerprint]
    if missing:
        raise ActionError(f"{len(missing)} finding(s) have no fingerprint; re-run threadlint check")
    try:
        baseline.add(path, findings)
    except (baseline.BaselineError, OSError) as e:
        raise ActionError(str(e)) from None


def explain(rule_id: str, rules: dict[str, dict]) -> str:
    """The rule's documentation as markdown; the report's summary if the registry has none."""
    try:
        from threadlint.registry import explain as registry_explain
        text = registry_explain(rule_id)
        if text:
            return text
    except Exception:       # registry missing, or unknown rule: the summary still helps
        pass
    meta = rules.get(rule_id, {})
    parts = [f"# {rule_id} {meta.get('name', '')}".rstrip()]
    if meta.get("summary"):
        parts.append(meta["summary"])
    facts = [f"{k}: {meta[k]}" for k in ("severity", "precision") if meta.get(k)]
    if facts:
        parts.append(" · ".join(facts))
    parts.append("*(Full rule documentation is not available: `threadlint.registry` could not explain it.)*")
    return "\n\n".join(parts)
