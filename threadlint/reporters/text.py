"""Human report in the rustc/ruff style.

Each line is a list of (text, style) spans: rich renders them in colour for a
terminal; plain text (no colour, no box drawing) is written directly when the
target is not a terminal, when ``NO_COLOR`` is set, or under ``CI``.
"""
from __future__ import annotations

import os
import sys

from threadlint.sources import SourceLines

TAB = 4
STYLE = {"error": "bold red", "warning": "bold yellow", "note": "bold cyan"}


def _fancy(target) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("CI"):
        return False
    return bool(target is not None and hasattr(target, "isatty") and target.isatty())


class _PlainWriter:
    """Lines of (text, style) spans written as plain text.  What rich prints
    with colour off, without rich's per-line rendering (~50 us a line) or its
    import: the plain report is the one CI and pre-commit produce."""

    def __init__(self):
        self._out: list[str] = []

    def line(self, *spans, end: str = "\n") -> None:
        self._out.append("".join(s if isinstance(s, str) else s[0] for s in spans) + end)

    def getvalue(self) -> str:
        return "".join(self._out)


class _RichWriter:
    """Lines of (text, style) spans rendered in colour by rich."""

    def __init__(self):
        import io

        from rich.console import Console
        from rich.text import Text

        try:
            width = os.get_terminal_size().columns
        except OSError:
            width = 100
        self._buf = io.StringIO()
        self._text = Text
        self._con = Console(file=self._buf, force_terminal=True, highlight=False, color_system="standard",
                            width=width, emoji=False, soft_wrap=True)

    def line(self, *spans, end: str = "\n") -> None:
        self._con.print(self._text.assemble(*spans), end=end)

    def getvalue(self) -> str:
        return self._buf.getvalue()


def render(result, color_target=None) -> str:
    out = _RichWriter() if _fancy(color_target) else _PlainWriter()
    lines = SourceLines(result.root)
    for f in result.findings:
        _finding(out, f, lines)
    out.line((_summary(result), "bold" if result.findings else ""))
    for note in result.notes:
        out.line(f"note: {note}")
    return out.getvalue()


def _snippet(out, lines: SourceLines, loc, gutter: int, underline_label: str = "") -> None:
    src = lines.lines(loc.path)
    pad = " " * gutter
    if not (0 < loc.line <= len(src)):
        return
    out.line((f"{pad} |", "blue"))
    if loc.line > 1 and src[loc.line - 2].strip():
        out.line((f"{str(loc.line - 1).rjust(gutter)} | {src[loc.line - 2].expandtabs(TAB)}", "dim"))
    text = src[loc.line - 1]
    out.line((f"{str(loc.line).rjust(gutter)} | ", "blue"), text.expandtabs(TAB))
    start = max(loc.col, 1)
    end = loc.end_col if loc.end_line == loc.line and loc.end_col > start else _token_end(text, start)
    # columns are byte/char offsets in the raw line; tabs are shown expanded
    shown_start = len(text[:start - 1].expandtabs(TAB))
    shown_end = len(text[:end - 1].expandtabs(TAB))
    marker = " " * shown_start + "^" * max(shown_end - shown_start, 1)
    out.line((f"{pad} | ", "blue"), (marker + (f" {underline_label}" if underline_label else ""), "bold red"))


def _token_end(text: str, start: int) -> int:
    i = start - 1
    if i >= len(text):
        return start + 1
    j = i
    while j < len(text) and (text[j].isalnum() or text[j] == "_"):
        j += 1
    if j == i:
        j = i + 1
    if j < len(text) and text[j] == "(":
        depth = 0
        for k in range(j, len(text)):
            depth += text[k] == "("
            depth -= text[k] == ")"
            if depth == 0:
                j = k + 1
                break
    return j + 1


def _finding(out, f, lines: SourceLines) -> None:
    loc = f.location
    gutter = max(len(str(loc.line)), 2)
    out.line((f"{f.severity}[{f.rule}]", STYLE[f.severity]), (f": {f.message}", "bold"))
    out.line((f"{' ' * gutter}--> {loc.path}:{loc.line}:{loc.col}", "blue"))
    _snippet(out, lines, loc, gutter)
    facts = []
    if f.function:
        facts.append(f"in function {f.function}")
    if f.configs:
        facts.append("configurations: " + ", ".join(f.configs))
    if f.confidence != "high":
        facts.append(f"confidence: {f.confidence}")
    if facts:
        out.line(f"{' ' * gutter} = " + "; ".join(facts))
    for r in f.related:
        out.line(("note", "bold cyan"), f": {r.label}")
        out.line((f"{' ' * gutter}--> {r.location.path}:{r.location.line}:{r.location.col}", "blue"))
        _snippet(out, lines, r.location, gutter)
    if f.chain:
        out.line(("call chain", "bold cyan"), ":")
        for i, step in enumerate(f.chain):
            out.line(f"{' ' * gutter}   {i + 1}. {step.label}  ({step.location.path}:{step.location.line})")
    if f.help:
        out.line(("help", "bold green"), f": {f.help}")
    out.line("")


def _summary(result) -> str:
    s = result.summary()
    n = s["findings"]
    per_rule = ", ".join(f"{rid}: {cnt}" for rid, cnt in s["by_rule"].items())
    head = f"Found {n} finding{'s' if n != 1 else ''}" + (f" ({per_rule})" if per_rule else "")
    return (f"{head} in {s['tus']} TUs across {s['configs']} configuration"
            f"{'s' if s['configs'] != 1 else ''} in {result.seconds:.1f} s.")


def print_rules(rules) -> None:
    fancy = _fancy(sys.stdout)
    if not fancy:
        for r in rules:
            print(f"{r.id}  {r.name:<34} {r.severity:<8} {r.precision:<7} "
                  f"{'on ' if r.default else 'off'}  {r.summary}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="threadlint rules")
    for col in ("id", "name", "severity", "precision", "default", "summary"):
        table.add_column(col)
    for r in rules:
        table.add_row(r.id, r.name, r.severity, r.precision, "on" if r.default else "off", r.summary)
    Console().print(table)
