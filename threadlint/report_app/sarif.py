"""SARIF 2.1.0 (as written by threadlint) -> Findings.

threadlint writes one run per configuration, so the same finding shows up
once per configuration it was found in; we merge results that share a
fingerprint back into one Finding that lists all its configurations.
"""
from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from threadlint.finding import SEVERITIES, Finding, Location, Related

_LEVEL_TO_SEVERITY = {"error": "error", "warning": "warning", "note": "note", "none": "note"}


def _uri_to_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    return unquote(uri)


def _relative(path: str, root: str) -> str:
    if root and os.path.isabs(path):
        rel = os.path.relpath(path, root)
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return path


def _location(loc: dict, root: str) -> Location | None:
    phys = loc.get("physicalLocation") or {}
    art = phys.get("artifactLocation") or {}
    if "uri" not in art:
        return None
    region = phys.get("region") or {}
    line = int(region.get("startLine", 1))
    return Location(_relative(_uri_to_path(art["uri"]), root), line, int(region.get("startColumn", 1)),
                    int(region.get("endLine", 0)), int(region.get("endColumn", 0)))


def _function(loc: dict) -> str | None:
    logical = loc.get("logicalLocations") or []
    return logical[0].get("name") if logical else None


def _related(loc: dict, root: str) -> Related | None:
    where = _location(loc, root)
    if where is None:
        return None
    return Related(where, (loc.get("message") or {}).get("text", ""), _function(loc))


def _run_root(run: dict) -> str:
    base = (run.get("originalUriBaseIds") or {}).get("SRCROOT") or {}
    if not base.get("uri"):
        return ""
    return _uri_to_path(base["uri"]).rstrip("/") or "/"


def _run_rules(run: dict) -> dict[str, dict]:
    out = {}
    for r in ((run.get("tool") or {}).get("driver") or {}).get("rules") or []:
        props = r.get("properties") or {}
        level = (r.get("defaultConfiguration") or {}).get("level", "warning")
        out[r["id"]] = {"name": r.get("name", ""),
                        "summary": (r.get("shortDescription") or {}).get("text", ""),
                        "severity": props.get("severity") or _LEVEL_TO_SEVERITY.get(level, "warning"),
                        "precision": props.get("precision", "")}
    return out


def _run_config(run: dict) -> str:
    props = run.get("properties") or {}
    if props.get("configuration") or props.get("config"):
        return props.get("configuration") or props.get("config")
    # automationDetails.id is "category/run id/": threadlint writes "threadlint/<config>/".
    parts = [p for p in ((run.get("automationDetails") or {}).get("id") or "").split("/") if p]
    return parts[-1] if parts else ""


def _finding(res: dict, root: str, rules: dict, run_config: str) -> Finding:
    rule = res["ruleId"]
    props = res.get("properties") or {}
    locs = res.get("locations") or []
    primary = _location(locs[0], root) if locs else None
    if primary is None:
        raise ValueError(f"result for {rule} has no physical location")
    severity = props.get("severity") or _LEVEL_TO_SEVERITY.get(res.get("level", ""), None) \
        or rules.get(rule, {}).get("severity") or "warning"
    if severity not in SEVERITIES:
        severity = "warning"
    related = tuple(r for r in (_related(x, root) for x in res.get("relatedLocations") or []) if r)
    chain: tuple[Related, ...] = ()
    flows = res.get("codeFlows") or []
    if flows and flows[0].get("threadFlows"):
        steps = flows[0]["threadFlows"][0].get("locations") or []
        chain = tuple(r for r in (_related(s.get("location") or {}, root) for s in steps) if r)
    configs = props.get("configs") or ([run_config] if run_config else [])
    fp = (res.get("partialFingerprints") or {}).get("primaryLocationLineHash") \
        or next(iter((res.get("fingerprints") or {}).values()), "")
    return Finding(rule=rule, name=rules.get(rule, {}).get("name") or props.get("name", ""),
                   severity=severity, message=(res.get("message") or {}).get("text", ""),
                   location=primary, function=_function(locs[0]), related=related, chain=chain,
                   configs=tuple(configs), confidence=props.get("confidence", "high"),
                   help=props.get("help"), key=props.get("key", ""), fingerprint=fp)


def sarif_to_findings(doc: dict):
    """Return ``(findings, rules, root, configs)`` from a SARIF log written by threadlint."""
    if not isinstance(doc.get("runs"), list):
        raise ValueError("not a SARIF log (no 'runs' list)")
    merged: dict[str, Finding] = {}
    rules: dict[str, dict] = {}
    root = ""
    configs: dict[str, None] = {}
    for run in doc["runs"]:
        run_root = _run_root(run)
        root = root or run_root
        run_rules = _run_rules(run)
        for rid, meta in run_rules.items():
            rules.setdefault(rid, meta)
        run_config = _run_config(run)
        if run_config:
            configs.setdefault(run_config, None)
        for res in run.get("results") or []:
            f = _finding(res, run_root or root, rules, run_config)
            for c in f.configs:
                configs.setdefault(c, None)
            # Without a fingerprint, fall back to what identifies a finding to a reader.
            key = f.fingerprint or f"{f.rule}\0{f.location}\0{f.message}"
            if key in merged:
                f = merged[key].with_configs(merged[key].configs + f.configs)
            merged[key] = f
    return list(merged.values()), rules, root, list(configs)
