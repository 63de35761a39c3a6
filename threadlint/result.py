"""The outcome of one run, handed to reporters."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from threadlint.finding import Finding


@dataclass(frozen=True)
class ConfigInfo:
    name: str
    database: str            # path of compile_commands.json ('' for fallback flags)
    tus: int                 # distinct C TUs analysed
    asm_files: int

    def to_dict(self) -> dict:
        return {"name": self.name, "database": self.database, "tus": self.tus,
                "asm_files": self.asm_files}


@dataclass(frozen=True)
class RuleMeta:
    id: str
    name: str
    summary: str
    severity: str
    precision: str
    doc: str = ""


@dataclass
class RunResult:
    tool_version: str
    libclang_version: str
    root: str
    profile_name: str
    configs: list[ConfigInfo]
    rules: list[RuleMeta]                   # the rules that ran
    findings: list[Finding]
    seconds: float = 0.0
    stale_baseline: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # e.g. "3 findings hidden by the baseline"
    # files the analysis read (C main files, their headers under root, assembly),
    # relative to root: where suppressions are checked for being unused (only
    # those that mention threadlint once check.run_check has looked)
    sources: list[str] = field(default_factory=list)
    # absolute paths of every file the analysis read (sources, headers, assembly
    # includes) and whether every TU was analysed (none crashed or timed out):
    # what threadlint.runmemo needs to know whether this result may be reused
    inputs: set[str] = field(default_factory=set)
    complete: bool = True
    # absolute paths of the analysed C and assembly files that are not valid UTF-8
    not_utf8: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        by_rule = Counter(f.rule for f in self.findings)
        return {"findings": len(self.findings), "by_rule": dict(sorted(by_rule.items())),
                "tus": sum(c.tus for c in self.configs), "configs": len(self.configs)}
        # no timing here: JSON and SARIF must be byte-identical across runs

    def rule_meta(self, rule_id: str) -> RuleMeta | None:
        for r in self.rules:
            if r.id == rule_id:
                return r
        return None
