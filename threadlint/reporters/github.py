"""GitHub Actions workflow-command annotations.

GitHub shows at most 10 annotations per level (error, warning, notice) per
step, so we emit the 10 most severe findings of each level, errors first, and
a summary line that says how many were left out and where the full report
is; nothing beyond the cap is silently lost.

Paths: annotations need paths relative to the repository.  When threadlint's
source root is a subdirectory of ``$GITHUB_WORKSPACE`` the paths are prefixed
with that subdirectory.
"""
from __future__ import annotations

import os

from threadlint.finding import SEVERITY_RANK

CAP_PER_LEVEL = 10
LEVEL = {"error": "error", "warning": "warning", "note": "notice"}
CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _repo_prefix(root: str, env) -> str:
    workspace = env.get("GITHUB_WORKSPACE")
    if not workspace or not root:
        return ""
    rel = os.path.relpath(os.path.realpath(root), os.path.realpath(workspace))
    if rel == "." or rel.startswith(".."):
        return ""
    return rel.replace(os.sep, "/") + "/"


def _default_report_url(env) -> str | None:
    """The workflow run's page: its summary lists the SARIF upload and artifacts."""
    server, repo, run = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    if server and repo and run:
        return f"{server}/{repo}/actions/runs/{run}"
    return None


def render(result, report_url: str | None = None, env=None) -> str:
    env = os.environ if env is None else env
    prefix = _repo_prefix(result.root, env)
    ordered = sorted(result.findings, key=lambda f: (
        SEVERITY_RANK[f.severity], CONFIDENCE_RANK.get(f.confidence, 1), f.sort_key()))
    shown: dict[str, int] = {}
    out = []
    for f in ordered:
        level = LEVEL[f.severity]
        if shown.get(level, 0) >= CAP_PER_LEVEL:
            continue
        shown[level] = shown.get(level, 0) + 1
        loc = f.location
        props = f"file={_escape_prop(prefix + loc.path)},line={max(loc.line, 1)},col={max(loc.col, 1)}"
        if loc.end_line:
            props += f",endLine={loc.end_line}"
            if loc.end_line == loc.line and loc.end_col:   # GitHub: endColumn on one line only
                props += f",endColumn={loc.end_col}"
        props += f",title={_escape_prop(f.rule + ' ' + f.name)}"
        configs = f" [{', '.join(f.configs)}]" if f.configs else ""
        out.append(f"::{level} {props}::{_escape_data(f.message + configs)}")
    total = len(result.findings)
    hidden = total - sum(shown.values())
    summary = f"threadlint: {total} finding(s)"
    if hidden:
        summary += f", {hidden} not annotated (GitHub shows {CAP_PER_LEVEL} per level)."
    else:
        summary += "."
    if total:
        url = report_url or _default_report_url(env)
        summary += f" Full report: {url}" if url else \
            " Full report: run threadlint with --format sarif or --format text."
    out.append(summary)
    out.extend(f"threadlint: note: {note}" for note in result.notes)
    return "\n".join(out) + "\n"
