"""Rule base class, discovery of the rule pack, and select/ignore decisions.

A rule is a class in one module of the ``threadlint_rules`` package (the
``rules/`` directory of the repository).  Its docstring is its documentation
page with the fixed sections below; ``threadlint explain`` and ``docs/rules/``
render that same text.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Iterable

from threadlint.errors import UsageError
from threadlint.finding import Finding, Location, Related

DOC_SECTIONS = ("What it does", "Why is this bad", "Example", "How to fix", "Configuration")
SCOPES = ("tu", "program", "project")


class Rule:
    """Base class.  Subclasses set the metadata and implement one ``check_*``."""

    id: str = ""
    name: str = ""
    summary: str = ""
    severity: str = "warning"        # error | warning | note
    precision: str = "high"          # high | medium | low (how often a finding is real)
    default: bool = True             # on unless selected explicitly
    scope: str = "tu"                # tu | program | project
    min_configs: int = 1             # project rules that compare configurations need >= 2
    profile_schema: dict = {}        # profile sections this rule reads

    # tu-scope: called for every TU of every configuration
    def check_tu(self, tu, program) -> Iterable[Finding]:
        return ()

    # program-scope: once per configuration (has the call graph)
    def check_program(self, program) -> Iterable[Finding]:
        return ()

    # project-scope: once, with every configuration and the file tree
    def check_project(self, project) -> Iterable[Finding]:
        return ()

    # -- helpers for subclasses ---------------------------------------
    def finding(self, message: str, path: str, line: int, col: int = 1, *, function=None,
                related=(), chain=(), configs=(), confidence="high", help=None, key="",
                severity=None, end_line=0, end_col=0) -> Finding:
        return Finding(rule=self.id, name=self.name, severity=severity or self.severity,
                       message=message, location=Location(path, line, col, end_line, end_col),
                       function=function, related=tuple(related), chain=tuple(chain),
                       configs=tuple(configs), confidence=confidence,
                       help=help if help is not None else self.help_line(), key=key)

    @staticmethod
    def related(path: str, line: int, col: int, label: str, function=None) -> Related:
        return Related(Location(path, line, col), label, function)

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def help_line(cls) -> str:
        """First paragraph of 'How to fix', used as the finding's help: line."""
        section = doc_sections(cls.doc()).get("How to fix", "")
        para = section.strip().split("\n\n")[0]
        return " ".join(para.split())


def doc_sections(doc: str) -> dict[str, str]:
    """Split a rule docstring into its ``## Section`` parts."""
    parts: dict[str, str] = {}
    current = None
    for line in doc.splitlines():
        m = re.match(r"^##\s+(.+?)\s*$", line)
        if m:
            current = m.group(1)
            parts[current] = ""
        elif current:
            parts[current] += line + "\n"
    return {k: v.strip("\n") for k, v in parts.items()}


_RULES: dict[str, type[Rule]] | None = None


def all_rules() -> dict[str, type[Rule]]:
    """Every rule of the pack, by id (imported once)."""
    global _RULES
    if _RULES is None:
        import threadlint_rules
        found: dict[str, type[Rule]] = {}
        for mod in pkgutil.iter_modules(threadlint_rules.__path__):
            if mod.name.startswith("_"):
                continue
            module = importlib.import_module(f"threadlint_rules.{mod.name}")
            for obj in vars(module).values():
                if inspect.isclass(obj) and issubclass(obj, Rule) and obj is not Rule and obj.id \
                        and obj.__module__ == module.__name__:
                    if obj.id in found:
                        raise RuntimeError(f"duplicate rule id {obj.id}")
                    _validate(obj)
                    found[obj.id] = obj
        _RULES = dict(sorted(found.items()))
    return _RULES


def _validate(rule: type[Rule]) -> None:
    if not re.fullmatch(r"TL\d{3}", rule.id) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name):
        raise RuntimeError(f"bad rule id/name: {rule.id} {rule.name}")
    if rule.scope not in SCOPES or rule.severity not in ("error", "warning", "note"):
        raise RuntimeError(f"{rule.id}: bad scope or severity")


def profile_schema() -> dict:
    merged: dict = {}
    for rule in all_rules().values():
        for section, keys in rule.profile_schema.items():
            merged.setdefault(section, {}).update(keys)
    return merged


def explain(rule_id: str) -> str:
    """Markdown documentation of one rule (its docstring under a title)."""
    rule = lookup(rule_id)
    return render_doc(rule)


def render_doc(rule: type[Rule]) -> str:
    meta = (f"- **Severity:** {rule.severity}\n- **Precision:** {rule.precision}\n"
            f"- **Default:** {'on' if rule.default else 'off'}\n- **Scope:** {rule.scope}\n")
    return f"# {rule.id} {rule.name}\n\n{rule.summary}\n\n{meta}\n{rule.doc()}\n"


def lookup(token: str) -> type[Rule]:
    rules = all_rules()
    token = token.strip()
    if token.upper() in rules:
        return rules[token.upper()]
    for rule in rules.values():
        if rule.name == token:
            return rule
    raise UsageError(f"unknown rule '{token}' (see 'threadlint rules')")


def decide(select: list[str] | None, ignore: list[str] | None) -> list[type[Rule]]:
    """The rules to run: defaults, or the selection (ids, prefixes like TL1, names, ALL)."""
    rules = all_rules()

    def expand(tokens):
        out = set()
        for t in tokens:
            t = t.strip()
            if not t:
                continue
            if t.upper() == "ALL":
                out |= set(rules)
                continue
            matched = {rid for rid, r in rules.items() if rid.startswith(t.upper()) or r.name == t}
            if not matched:
                raise UsageError(f"unknown rule or prefix '{t}' in --select/--ignore")
            out |= matched
        return out

    chosen = expand(select) if select else {rid for rid, r in rules.items() if r.default}
    chosen -= expand(ignore or [])
    return [rules[r] for r in sorted(chosen)]
