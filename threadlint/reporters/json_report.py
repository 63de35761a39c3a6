"""Machine-readable report; also the input format of ``threadlint report``."""
from __future__ import annotations

import json

FORMAT_VERSION = 1


def render(result) -> str:
    doc = {
        "format": "threadlint-report",
        "format_version": FORMAT_VERSION,
        "tool": {"name": "threadlint", "version": result.tool_version,
                 "libclang": result.libclang_version},
        "root": result.root,
        "profile": result.profile_name,
        "configs": [c.to_dict() for c in result.configs],
        "rules": {r.id: {"name": r.name, "summary": r.summary, "severity": r.severity,
                         "precision": r.precision} for r in result.rules},
        "findings": [f.to_dict() for f in result.findings],
        "stale_baseline": list(result.stale_baseline),
        "summary": result.summary(),
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def load(path: str) -> dict:
    """Load a JSON report written by ``render`` (raises ValueError on a bad file)."""
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict) or doc.get("format") != "threadlint-report":
        raise ValueError(f"{path}: not a threadlint JSON report")
    return doc
