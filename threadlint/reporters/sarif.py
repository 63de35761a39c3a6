"""SARIF 2.1.0 for GitHub code scanning: one run per build configuration.

Fields GitHub requires (docs/ci.md): rules with id, short and full
description and help; results with ruleId, message, a location with a
repo-relative URI and region, and partialFingerprints.
"""
from __future__ import annotations

import json
from pathlib import Path

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "note": "note"}
INFO_URI = "https://github.com/threadlint/threadlint"


def _rule_descriptor(meta) -> dict:
    from threadlint.registry import all_rules, doc_sections
    cls = all_rules().get(meta.id)
    doc = cls.doc() if cls else ""
    what = " ".join(doc_sections(doc).get("What it does", meta.summary).split())
    return {
        "id": meta.id,
        "name": meta.name,
        "shortDescription": {"text": meta.summary},
        "fullDescription": {"text": what or meta.summary},
        "help": {"text": doc or meta.summary, "markdown": doc or meta.summary},
        "defaultConfiguration": {"level": LEVEL[meta.severity]},
        "properties": {"precision": {"high": "high", "medium": "medium", "low": "low"}
                       .get(meta.precision, "medium"), "tags": ["concurrency", "threadlint"]},
    }


def _phys(loc, with_end=True) -> dict:
    region = {"startLine": max(loc.line, 1), "startColumn": max(loc.col, 1)}
    if with_end and loc.end_line:
        region["endLine"] = loc.end_line
        if loc.end_col:
            region["endColumn"] = loc.end_col
    return {"artifactLocation": {"uri": loc.path, "uriBaseId": "SRCROOT"}, "region": region}


def _result(f, rule_index: dict) -> dict:
    res = {
        "ruleId": f.rule,
        "ruleIndex": rule_index[f.rule],
        "level": LEVEL[f.severity],
        "message": {"text": f.message},
        "locations": [{"physicalLocation": _phys(f.location)}],
        "partialFingerprints": {"primaryLocationLineHash": f.fingerprint,
                                "threadlintFingerprint/v1": f.fingerprint},
        "properties": {"configs": list(f.configs), "confidence": f.confidence,
                       "severity": f.severity},
    }
    if f.function:
        res["locations"][0]["logicalLocations"] = [
            {"name": f.function, "kind": "function", "fullyQualifiedName": f"{f.location.path}::{f.function}"}]
    if f.related:
        res["relatedLocations"] = [{"id": i + 1, "physicalLocation": _phys(r.location, False),
                                    "message": {"text": r.label}} for i, r in enumerate(f.related)]
    if f.chain:
        steps = [{"location": {"physicalLocation": _phys(s.location, False),
                               "message": {"text": s.label}}, "nestingLevel": i}
                 for i, s in enumerate(f.chain)]
        res["codeFlows"] = [{"message": {"text": "call chain"}, "threadFlows": [{"locations": steps}]}]
    if f.help:
        res["message"]["markdown"] = f"{f.message}\n\n**help:** {f.help}"
    return res


def build(result) -> dict:
    metas = sorted(result.rules, key=lambda m: m.id)
    # rules that produced findings but were not in the run list (TL001 from suppressions)
    extra = {f.rule for f in result.findings} - {m.id for m in metas}
    if extra:
        from threadlint.registry import all_rules
        from threadlint.result import RuleMeta
        for rid in sorted(extra):
            r = all_rules()[rid]
            metas.append(RuleMeta(r.id, r.name, r.summary, r.severity, r.precision))
    rule_index = {m.id: i for i, m in enumerate(metas)}
    descriptors = [_rule_descriptor(m) for m in metas]
    root_uri = Path(result.root).resolve().as_uri() + "/"
    runs = []
    for cfg in result.configs:
        findings = [f for f in result.findings if cfg.name in f.configs or not f.configs]
        runs.append({
            "tool": {"driver": {"name": "threadlint", "version": result.tool_version,
                                "semanticVersion": result.tool_version, "informationUri": INFO_URI,
                                "rules": descriptors}},
            "automationDetails": {"id": f"threadlint/{cfg.name}/"},
            "originalUriBaseIds": {"SRCROOT": {"uri": root_uri}},
            "columnKind": "unicodeCodePoints",
            "properties": {"configuration": cfg.name, "compileDatabase": cfg.database,
                           "translationUnits": cfg.tus, "profile": result.profile_name,
                           "libclang": result.libclang_version},
            "results": [_result(f, rule_index) for f in findings],
        })
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": runs}


def render(result) -> str:
    return json.dumps(build(result), indent=2, sort_keys=True) + "\n"
