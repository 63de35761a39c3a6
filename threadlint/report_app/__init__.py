"""``threadlint report``: browse findings in the terminal (Textual), or print them when piped.

Entry points for the CLI:

* :func:`run` -- open a JSON report or SARIF log.
* :func:`run_findings` -- open in-memory findings (``threadlint check --interactive``).
"""
from __future__ import annotations

import sys

from threadlint.report_app.model import ReportData, configs_of, load_report, normalise_rules

__all__ = ["run", "run_findings", "load_report", "ReportData"]


def run(report_path: str, *, baseline_path: str | None = None, root: str | None = None) -> int:
    """Browse a report; raises ValueError (one line) if the file is not a usable report."""
    return _show(load_report(report_path, root=root), baseline_path)


def run_findings(findings, rules_meta, root: str, *, configs=None, baseline_path: str | None = None,
                 title: str = "threadlint check") -> int:
    """Browse findings of a run that just happened.

    ``rules_meta``: the RuleMeta list of the run, or ``{id: {"name", "summary", ...}}``.
    """
    data = ReportData(list(findings), normalise_rules(rules_meta), root,
                      list(configs) if configs else configs_of(findings), title)
    return _show(data, baseline_path)


def _show(data: ReportData, baseline_path: str | None) -> int:
    # Without a terminal on both ends (a pipe, CI, `< /dev/null`) there is nothing to drive.
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        from threadlint.report_app.static import print_static_report
        print_static_report(data)
        return 0
    from threadlint.report_app.app import ReportApp   # Textual only when a terminal is there
    app = ReportApp(data, baseline_path=baseline_path)
    # Textual restores the terminal itself on exit, on Ctrl-C and on an exception
    # (it prints the traceback after restoring); then return_code is non-zero.
    result = app.run()
    if app.return_code:
        return app.return_code
    return result or 0
