"""The report as plain rich output, for when stdout is not a terminal (pipes, CI logs)."""
from __future__ import annotations

from rich.console import Console, Group
from rich.padding import Padding
from rich.text import Text

from threadlint.report_app.model import ReportData
from threadlint.report_app.query import group_indices, sort_indices
from threadlint.report_app.render import chain_text, loc_str, severity_text
from threadlint.report_app.source import SourceCache, snippet


def print_static_report(data: ReportData, console: Console | None = None, context: int = 2) -> None:
    console = console or Console()
    cache = SourceCache(data.root)
    findings = data.findings
    files = {f.location.path for f in findings}
    console.print(Text.assemble(("threadlint report", "bold"),
                                f" {data.title}: {len(findings)} finding(s) in {len(files)} file(s)"))
    if data.configs:
        console.print(f"configurations: {', '.join(data.configs)}")
    if not findings:
        return
    order = sort_indices(findings, list(range(len(findings))), "file")
    for group in group_indices(findings, order, "rule"):
        name = data.rule_name(group.key)
        console.print()
        console.rule(Text(f"{group.key} {name} ({len(group)})".replace("  ", " "), style="bold"),
                     align="left")
        if data.rule_summary(group.key):
            console.print(Text(data.rule_summary(group.key), style="italic"))
        for i in group.items:
            console.print(_finding(findings[i], cache, context))


def _finding(f, cache: SourceCache, context: int):
    head = Text.assemble("\n", severity_text(f.severity), " ", (loc_str(f.location), "bold"), ": ", f.message)
    lines = [head]
    facts = []
    if f.function:
        facts.append(f"in {f.function}()")
    if f.configs:
        facts.append("configs: " + ", ".join(f.configs))
    if f.confidence != "high":
        facts.append(f"confidence: {f.confidence}")
    if facts:
        lines.append(Text("  " + " · ".join(facts), style="dim"))
    for r in f.related:
        lines.append(Text(f"  related: {r.label} at {loc_str(r.location)}"))
    if f.chain:
        lines.append(Text(f"  call chain: {chain_text(f.chain)}"))
    lines.append(Padding(snippet(cache, f.location, context, theme="ansi_dark", background="default"), (0, 0, 0, 2), expand=False))
    return Group(*lines)
