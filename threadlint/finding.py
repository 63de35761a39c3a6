"""Findings: plain frozen dataclasses, produced by rules, consumed by reporters."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace

SEVERITIES = ("error", "warning", "note")
SEVERITY_RANK = {"error": 0, "warning": 1, "note": 2}


@dataclass(frozen=True, order=True)
class Location:
    path: str            # relative to the source root, '/' separated
    line: int
    col: int = 1
    end_line: int = 0
    end_col: int = 0


@dataclass(frozen=True)
class Related:
    location: Location
    label: str
    function: str | None = None


@dataclass(frozen=True)
class Finding:
    rule: str                                # "TL102"
    name: str                                # "lock-kind-mismatch"
    severity: str                            # error | warning | note
    message: str
    location: Location
    function: str | None = None
    related: tuple[Related, ...] = ()
    chain: tuple[Related, ...] = ()          # witness call chain, caller first
    configs: tuple[str, ...] = ()
    confidence: str = "high"                 # high | medium | low
    help: str | None = None
    key: str = ""                            # rule-chosen stable detail (e.g. lock name)
    fingerprint: str = ""                    # filled by the engine (see compute_fingerprint)

    def sort_key(self):
        return (self.location.path, self.location.line, self.location.col, self.rule, self.message)

    def with_configs(self, configs) -> "Finding":
        return replace(self, configs=tuple(sorted(set(configs))))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["configs"] = list(self.configs)
        return d


def location_from_dict(d: dict) -> Location:
    return Location(d["path"], d["line"], d.get("col", 1), d.get("end_line", 0), d.get("end_col", 0))


def finding_from_dict(d: dict) -> Finding:
    def rel(x):
        return Related(location_from_dict(x["location"]), x.get("label", ""), x.get("function"))
    return Finding(rule=d["rule"], name=d["name"], severity=d["severity"], message=d["message"],
                   location=location_from_dict(d["location"]), function=d.get("function"),
                   related=tuple(rel(x) for x in d.get("related", ())),
                   chain=tuple(rel(x) for x in d.get("chain", ())),
                   configs=tuple(d.get("configs", ())), confidence=d.get("confidence", "high"),
                   help=d.get("help"), key=d.get("key", ""), fingerprint=d.get("fingerprint", ""))


def normalise_code(line_text: str) -> str:
    return " ".join(line_text.split())


def compute_fingerprint(f: Finding, code_line: str) -> str:
    """Stable across unrelated edits: no line numbers, only what the finding is about.

    rule + path + enclosing function + normalised code of the primary line +
    the rule's key.  Two identical findings in one function on identical
    lines get the same fingerprint; the engine disambiguates with an ordinal.
    """
    h = hashlib.sha256()
    for part in (f.rule, f.location.path, f.function or "", normalise_code(code_line), f.key):
        h.update(part.encode("utf-8", "replace"))
        h.update(b"\0")
    return h.hexdigest()[:32]
