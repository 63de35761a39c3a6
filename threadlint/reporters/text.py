"""Human report in the rustc/ruff style, rendered with rich.

Plain text (no colour, no box drawing) when the target is not a terminal,
when ``NO_COLOR`` is set, or under ``CI``.
"""
from __future__ import annotations

import io
import os
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from threadlint.sources import SourceLines

TAB = 4
STYLE = {"error": "bold red", "warning": "bold yellow", "note": "bold cyan"}


def _fancy(target) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("CI"):
        return False
    return bool(target is not None and hasattr(target, "isatty") and target.isatty())


def _console(fancy: bool, buf) -> Console:
    width = None
    if fancy:
        try:
            width = os.get_terminal_size().columns
        except OSError:
            width = 100
    return Console(file=buf, force_terminal=fancy, no_color=not fancy, highlight=False,
                   color_system="standard" if fancy else None, width=width or 100,
                   emoji=False, soft_wrap=True)


def render(result, color_target=None) -> str:
    buf = io.StringIO()
    con = _console(_fancy(color_target), buf)
    lines = SourceLines(result.root)
    for f in result.findings:
        _finding(con, f, lines)
    con.print(_summary(result), style="bold" if result.findings else None)
    for note in result.notes:
        con.print(f"note: {escape(note)}")
    return buf.getvalue()


def _snippet(con, lines: SourceLines, loc, gutter: int, underline_label: str = "") -> None:
    src = lines.lines(loc.path)
    pad = " " * gutter
    if not (0 < loc.line <= len(src)):
        return
    con.print(f"{pad} |", style="blue", markup=False)
    if loc.line > 1 and src[loc.line - 2].strip():
        con.print(f"{str(loc.line - 1).rjust(gutter)} | {src[loc.line - 2].expandtabs(TAB)}", markup=False,
                  highlight=False, style="dim")
    text = src[loc.line - 1]
    con.print(f"{str(loc.line).rjust(gutter)} | ", style="blue", end="", markup=False)
    con.print(text.expandtabs(TAB), markup=False, highlight=False)
    start = max(loc.col, 1)
    end = loc.end_col if loc.end_line == loc.line and loc.end_col > start else _token_end(text, start)
    # columns are byte/char offsets in the raw line; tabs are shown expanded
    shown_start = len(text[:start - 1].expandtabs(TAB))
    shown_end = len(text[:end - 1].expandtabs(TAB))
    marker = " " * shown_start + "^" * max(shown_end - shown_start, 1)
    con.print(f"{pad} | ", style="blue", end="", markup=False)
    con.print(marker + (f" {underline_label}" if underline_label else ""), style="bold red",
              markup=False)


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


def _finding(con, f, lines: SourceLines) -> None:
    loc = f.location
    gutter = max(len(str(loc.line)), 2)
    con.print(f"[{STYLE[f.severity]}]{f.severity}[{f.rule}][/]"
              f"[bold]: {escape(f.message)}[/]")
    con.print(f"{' ' * gutter}--> {loc.path}:{loc.line}:{loc.col}", style="blue", markup=False)
    _snippet(con, lines, loc, gutter)
    facts = []
    if f.function:
        facts.append(f"in function {f.function}")
    if f.configs:
        facts.append("configurations: " + ", ".join(f.configs))
    if f.confidence != "high":
        facts.append(f"confidence: {f.confidence}")
    if facts:
        con.print(f"{' ' * gutter} = " + "; ".join(facts), markup=False)
    for r in f.related:
        con.print(f"[bold cyan]note[/]: {escape(r.label)}")
        con.print(f"{' ' * gutter}--> {r.location.path}:{r.location.line}:{r.location.col}",
                  style="blue", markup=False)
        _snippet(con, lines, r.location, gutter)
    if f.chain:
        con.print("[bold cyan]call chain[/]:")
        for i, step in enumerate(f.chain):
            con.print(f"{' ' * gutter}   {i + 1}. {step.label}  ({step.location.path}:"
                      f"{step.location.line})", markup=False)
    if f.help:
        con.print(f"[bold green]help[/]: {escape(f.help)}")
    con.print("")


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
    table = Table(title="threadlint rules")
    for col in ("id", "name", "severity", "precision", "default", "summary"):
        table.add_column(col)
    for r in rules:
        table.add_row(r.id, r.name, r.severity, r.precision, "on" if r.default else "off", r.summary)
    Console().print(table)
