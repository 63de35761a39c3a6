"""Baseline files: accepted findings recorded by fingerprint (no line numbers).

The file is sorted, indented JSON so that it diffs well in review.
"""
from __future__ import annotations

import json

from threadlint.finding import Finding
from threadlint.fsutil import atomic_write_text

BASELINE_VERSION = 1


class BaselineError(Exception):
    pass


def entry(f: Finding, code: str = "") -> dict:
    return {"fingerprint": f.fingerprint, "rule": f.rule, "path": f.location.path,
            "function": f.function or "", "message": f.message}


def load(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BaselineError(f"{path}: unreadable baseline ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise BaselineError(f"{path}: not a threadlint baseline (missing 'entries' list)")
    for i, e in enumerate(doc["entries"]):
        if not isinstance(e, dict) or not isinstance(e.get("fingerprint"), str):
            raise BaselineError(f"{path}: entry {i} has no 'fingerprint' string")
    return doc["entries"]


def dump(path: str, entries: list[dict]) -> None:
    uniq = {e["fingerprint"]: e for e in entries}
    ordered = sorted(uniq.values(), key=lambda e: (e["path"], e["rule"], e["function"], e["fingerprint"]))
    doc = {"threadlint_baseline": BASELINE_VERSION, "entries": ordered}
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def apply(findings: list[Finding], entries: list[dict]):
    """Split into (new findings, stale entries that no longer match anything)."""
    known = {e["fingerprint"] for e in entries}
    current = {f.fingerprint for f in findings}
    new = [f for f in findings if f.fingerprint not in known]
    stale = [e for e in entries if e["fingerprint"] not in current]
    return new, stale


def add(path: str, findings: list[Finding], create: bool = True) -> None:
    """Add findings to a baseline file (used by the interactive report)."""
    try:
        entries = load(path)
    except BaselineError:
        if not create:
            raise
        import os
        if os.path.exists(path):
            raise
        entries = []
    entries.extend(entry(f) for f in findings)
    dump(path, entries)


def update(path: str, findings: list[Finding], prune_only: bool = True) -> list[dict]:
    """Rewrite a baseline from the current findings.

    With ``prune_only`` (the default) entries are only removed (the stale
    ones), never added, so a baseline update cannot hide a new finding.
    """
    entries = load(path)
    current = {f.fingerprint: f for f in findings}
    kept = [e for e in entries if e["fingerprint"] in current]
    if not prune_only:
        kept = [entry(f) for f in findings]
    dump(path, kept)
    return kept
