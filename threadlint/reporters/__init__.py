"""Reporters turn a RunResult into text; they do no analysis."""
from __future__ import annotations


def render(fmt: str, result, color_target=None, report_url=None) -> str:
    if fmt == "text":
        from threadlint.reporters import text
        return text.render(result, color_target)
    if fmt == "concise":
        from threadlint.reporters import concise
        return concise.render(result)
    if fmt == "json":
        from threadlint.reporters import json_report
        return json_report.render(result)
    if fmt == "sarif":
        from threadlint.reporters import sarif
        return sarif.render(result)
    if fmt == "github":
        from threadlint.reporters import github
        return github.render(result, report_url)
    raise ValueError(fmt)
