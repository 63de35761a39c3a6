"""Helpers shared by the port rules (TL201-TL701): profile look-ups, source text,
the ``#if`` structure of a file and which branches a configuration compiled.

The frontend records, per C translation unit and per assembly file, the main
file's ``skipped`` line ranges (what the preprocessor left out in that
configuration).  Together with a text scan of the file's conditional directives
that says, for every ``#if``/``#elif``/``#else`` branch, whether the
configuration compiled it and which macros its condition names.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

IDENT = re.compile(r"[A-Za-z_]\w*")
_DIRECTIVE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")
_COMMENT = re.compile(r"/\*.*?\*/|//.*$")


# -- profile ---------------------------------------------------------------
def plist(profile, dotted: str) -> list:
    """A list value of the profile (empty when the profile or key is missing)."""
    value = profile.get(dotted, []) if profile else []
    return list(value) if isinstance(value, (list, tuple)) else []


def ptable(profile, dotted: str) -> dict:
    value = profile.get(dotted, {}) if profile else {}
    return dict(value) if isinstance(value, dict) else {}


def pvalue(profile, dotted: str, default=None):
    value = profile.get(dotted, default) if profile else default
    return default if value is None else value


def matches(name: str, patterns) -> bool:
    """``name`` equals one of ``patterns`` or matches one with a ``*`` glob."""
    for p in patterns:
        if name == p or ("*" in p and fnmatch.fnmatchcase(name, p)):
            return True
    return False


# -- source text -----------------------------------------------------------
def code_of(line: str, asm: bool = False) -> str:
    """A source line without comments (string literals are kept: inline assembly
    lives in them).  In assembly a ``#`` that is not a directive starts a comment."""
    text = _COMMENT.sub("", line)
    if asm:
        stripped = text.lstrip()
        if stripped.startswith("#") and not _DIRECTIVE.match(stripped):
            return ""
        i = text.find(" #")
        if i >= 0:
            text = text[:i]
    return text


def identifiers(text: str) -> set[str]:
    return set(IDENT.findall(text))


# -- conditional structure ---------------------------------------------------
@dataclass
class Branch:
    """One arm of an ``#if`` chain: its directive line ``start`` and the line of
    the directive that ends it ``end`` (body = the lines strictly between)."""

    kind: str                 # if / ifdef / ifndef / elif / else
    start: int
    end: int = 0
    cond: str = ""
    chain: list = field(default_factory=list)     # earlier arms of the same chain
    parent: "Branch | None" = None

    def macros(self) -> set[str]:
        """Macros the condition (or an earlier arm's, for #elif/#else) names."""
        names = set()
        for b in self.chain + [self]:
            names |= identifiers(b.cond) - {"defined"}
        return names

    def keyed_on(self) -> set[str]:
        """Macros this branch and every enclosing branch depend on."""
        out, b = set(), self
        while b is not None:
            out |= b.macros()
            b = b.parent
        return out

    def head(self) -> "Branch":
        return self.chain[0] if self.chain else self


def branches(lines: list[str]) -> list[Branch]:
    """Every conditional arm of a file, in order."""
    out: list[Branch] = []
    stack: list[list[Branch]] = []        # one list of arms per open #if
    pending = ""
    for no, raw in enumerate(lines, 1):
        text = pending + raw
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        m = _DIRECTIVE.match(text)
        if not m:
            continue
        kind, rest = m.group(1), _COMMENT.sub("", m.group(2)).strip()
        if kind in ("if", "ifdef", "ifndef"):
            parent = stack[-1][-1] if stack else None
            b = Branch(kind, no, cond=rest, parent=parent)
            stack.append([b])
            out.append(b)
        elif kind in ("elif", "else") and stack:
            arms = stack[-1]
            arms[-1].end = no
            b = Branch(kind, no, cond=rest if kind == "elif" else "", chain=list(arms),
                       parent=arms[0].parent)
            arms.append(b)
            out.append(b)
        elif kind == "endif" and stack:
            stack.pop()[-1].end = no
    for b in out:
        if not b.end:
            b.end = len(lines) + 1
    return out


def inactive(no: int, skipped) -> bool:
    """Was line ``no`` left out by the preprocessor (strictly inside a skipped range)?"""
    return any(a < no < b for a, b in skipped)


def branch_active(b: Branch, skipped) -> bool:
    return not any(a <= b.start and b.end <= e for a, e in skipped)


def innermost(branch_list: list[Branch], no: int) -> Branch | None:
    """The innermost branch whose body holds line ``no``."""
    best = None
    for b in branch_list:
        if b.start < no < b.end and (best is None or b.start > best.start):
            best = b
    return best


def simple_test(b: Branch) -> tuple[str, bool] | None:
    """``(macro, expected)`` when the arm is taken exactly when ``macro`` is
    defined (expected True) or undefined (False): ``#ifdef M``, ``#ifndef M``,
    ``#if defined(M)``, ``#if !defined M``, and the ``#else`` of one of those."""
    def single(kind, cond):
        cond = cond.strip()
        if kind == "ifdef":
            return (cond.split()[0], True) if cond.split() else None
        if kind == "ifndef":
            return (cond.split()[0], False) if cond.split() else None
        m = re.fullmatch(r"(!\s*)?defined\s*\(?\s*([A-Za-z_]\w*)\s*\)?", cond)
        if m:
            return m.group(2), not m.group(1)
        return None

    if b.kind == "else" and len(b.chain) == 1:
        inner = single(b.chain[0].kind, b.chain[0].cond)
        return (inner[0], not inner[1]) if inner else None
    if b.kind in ("if", "ifdef", "ifndef"):
        return single(b.kind, b.cond)
    return None
