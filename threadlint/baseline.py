"""Baseline files: accepted findings recorded by fingerprint (no line numbers).

A finding's fingerprint (``threadlint.finding.compute_fingerprint``) hashes the
rule, the path, the enclosing function, the normalised code of the primary
line and the rule's key, so an entry keeps matching when code above it moves.
Only the fingerprint is matched; rule, path, function and message are there
for the reviewer reading the file.

The file is indented JSON with sorted keys and entries sorted by path, rule,
function and fingerprint, one field per line, so adding or removing a finding
is a small diff.
"""
from __future__ import annotations

import json
import os

from threadlint.finding import Finding
from threadlint.fsutil import atomic_write_text

BASELINE_VERSION = 1


class BaselineError(Exception):
    pass


def entry(f: Finding) -> dict:
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
    version = doc.get("threadlint_baseline", BASELINE_VERSION)
    if not isinstance(version, int) or version > BASELINE_VERSION:
        raise BaselineError(f"{path}: baseline format {version!r} is newer than this threadlint "
                            f"understands ({BASELINE_VERSION})")
    for i, e in enumerate(doc["entries"]):
        if not isinstance(e, dict) or not isinstance(e.get("fingerprint"), str) or not e["fingerprint"]:
            raise BaselineError(f"{path}: entry {i} has no 'fingerprint' string")
    return doc["entries"]


def _order(e: dict):
    return (str(e.get("path", "")), str(e.get("rule", "")), str(e.get("function", "")),
            e["fingerprint"])


def dump(path: str, entries: list[dict]) -> None:
    uniq = {e["fingerprint"]: e for e in entries}
    doc = {"threadlint_baseline": BASELINE_VERSION, "entries": sorted(uniq.values(), key=_order)}
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def apply(findings: list[Finding], entries: list[dict]):
    """Split into (new findings, stale entries that no longer match anything)."""
    known = {e["fingerprint"] for e in entries}
    current = {f.fingerprint for f in findings}
    new = [f for f in findings if f.fingerprint not in known]
    stale = [e for e in entries if e["fingerprint"] not in current]
    return new, stale


def add(path: str, findings: list[Finding], create: bool = True) -> None:
    """Add findings to a baseline file (used by the interactive report)."""
    if create and not os.path.exists(path):
        entries = []
    else:
        entries = load(path)
    entries.extend(entry(f) for f in findings)
    dump(path, entries)


def update(path: str, findings: list[Finding], prune_only: bool = True) -> list[dict]:
    """Rewrite a baseline from the current findings; returns the entries kept.

    With ``prune_only`` (the default) entries are only removed (the stale
    ones), never added, so a baseline update cannot hide a new finding.
    Without it the baseline becomes exactly the current findings.
    """
    if not prune_only:
        kept = [entry(f) for f in findings]
    else:
        current = {f.fingerprint for f in findings}
        kept = [e for e in load(path) if e["fingerprint"] in current]
    dump(path, kept)
    return kept
