"""GitHub Actions workflow-command annotations.

GitHub shows at most 10 annotations per level per step, so we emit the 10
most severe of each level (errors first) and a summary line pointing at the
full report; nothing beyond the cap is silently lost.
"""
from __future__ import annotations

from threadlint.finding import SEVERITY_RANK

CAP_PER_LEVEL = 10
LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def render(result, report_url: str | None = None) -> str:
    ordered = sorted(result.findings, key=lambda f: (SEVERITY_RANK[f.severity], f.sort_key()))
    shown: dict[str, int] = {}
    out = []
    for f in ordered:
        level = LEVEL[f.severity]
        if shown.get(level, 0) >= CAP_PER_LEVEL:
            continue
        shown[level] = shown.get(level, 0) + 1
        loc = f.location
        props = f"file={_escape_prop(loc.path)},line={loc.line},col={loc.col}"
        if loc.end_line:
            props += f",endLine={loc.end_line}"
        props += f",title={_escape_prop(f.rule + ' ' + f.name)}"
        configs = f" [{', '.join(f.configs)}]" if f.configs else ""
        out.append(f"::{level} {props}::{_escape_data(f.message + configs)}")
    total = len(result.findings)
    hidden = total - sum(shown.values())
    where = f" Full report: {report_url}" if report_url else \
        " Full report: run threadlint with --format sarif or --format text."
    summary = f"threadlint: {total} finding(s)"
    if hidden:
        summary += f", {hidden} not annotated (GitHub shows {CAP_PER_LEVEL} per level)."
    else:
        summary += "."
    out.append(summary + (where if total else ""))
    return "\n".join(out) + "\n"
