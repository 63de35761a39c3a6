"""What the report browser shows: findings plus the report's metadata.

Loading is kept apart from the UI so that the CLI, the static fallback and
the tests all read reports the same way.  Every problem with the input file
becomes a one-line ``ValueError`` (the CLI turns it into exit status 2).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from threadlint.finding import Finding, finding_from_dict


@dataclass
class ReportData:
    findings: list[Finding]
    rules: dict[str, dict]            # id -> {"name", "summary", "severity", "precision"}
    root: str                          # absolute source root; finding paths are relative to it
    configs: list[str] = field(default_factory=list)
    title: str = "threadlint report"

    def rule_name(self, rule_id: str) -> str:
        return self.rules.get(rule_id, {}).get("name", "")

    def rule_summary(self, rule_id: str) -> str:
        return self.rules.get(rule_id, {}).get("summary", "")


def normalise_rules(rules_meta) -> dict[str, dict]:
    """Accept what the engine has at hand: a list of RuleMeta, or a dict of dicts/RuleMeta."""
    if rules_meta is None:
        return {}
    items = rules_meta.items() if isinstance(rules_meta, dict) else ((r.id, r) for r in rules_meta)
    out = {}
    for rid, meta in items:
        if not isinstance(meta, dict):
            meta = {k: getattr(meta, k, "") for k in ("name", "summary", "severity", "precision")}
        out[rid] = {k: meta.get(k) or "" for k in ("name", "summary", "severity", "precision")}
    return out


def configs_of(findings) -> list[str]:
    seen: dict[str, None] = {}
    for f in findings:
        for c in f.configs:
            seen.setdefault(c, None)
    return list(seen)


def load_report(path: str, root: str | None = None) -> ReportData:
    """Read a threadlint JSON report or a SARIF 2.1.0 log written by threadlint."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise ValueError(f"{path}: cannot read report ({e.strerror or e})") from None
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a threadlint report (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON (line {e.lineno} column {e.colno}: {e.msg})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a threadlint JSON report or SARIF log")
    try:
        if doc.get("format") == "threadlint-report":
            data = _from_json_report(doc)
        elif isinstance(doc.get("runs"), list):
            from threadlint.report_app.sarif import sarif_to_findings
            findings, rules, sarif_root, configs = sarif_to_findings(doc)
            data = ReportData(findings, rules, sarif_root, configs)
        else:
            raise ValueError("not a threadlint JSON report or SARIF log")
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: malformed report ({type(e).__name__}: {e})") from None
    data.title = os.path.basename(path)
    if root is not None:
        data.root = os.path.abspath(root)
    elif not data.root:
        raise ValueError(f"{path}: the report names no source root (pass --root)")
    elif not os.path.isabs(data.root):
        # Hand-written and test reports may use a root relative to the report.
        data.root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), data.root))
    return data


def _from_json_report(doc: dict) -> ReportData:
    findings = []
    for i, d in enumerate(doc.get("findings", [])):
        try:
            findings.append(finding_from_dict(d))
        except (KeyError, TypeError) as e:
            raise ValueError(f"finding #{i} is malformed (missing {e})") from None
    configs = [c["name"] if isinstance(c, dict) else str(c) for c in doc.get("configs", [])]
    return ReportData(findings, normalise_rules(doc.get("rules", {})), doc.get("root") or "",
                      configs or configs_of(findings))
