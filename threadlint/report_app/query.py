"""Filtering, sorting and grouping of findings: pure functions, no Textual.

The filter language is what the user types in the filter box::

    rule:TL102,TL103  sev:error  path:src/thread/*  config:aarch64  is:open  free text  -excluded

``field:a,b`` matches any of the comma-separated values; a leading ``-``
negates a term; all terms must hold.  Bare words match the message, rule,
rule name, path, function and key (case-insensitive substring).  Paths are
case-sensitive globs (if they contain ``*?[``) or substrings.
"""
from __future__ import annotations

import fnmatch
import shlex
from dataclasses import dataclass, field

from threadlint.finding import SEVERITIES, SEVERITY_RANK, Finding

FIELD_ALIASES = {"rule": "rule", "r": "rule", "sev": "severity", "severity": "severity",
                 "path": "path", "file": "path", "p": "path", "config": "config", "cfg": "config",
                 "c": "config", "is": "status"}
STATUSES = ("open", "suppressed", "baselined", "handled")
SORTS = ("severity", "file", "rule")
GROUPINGS = ("rule", "file", "config")
NO_CONFIG = "(no configuration)"


@dataclass(frozen=True)
class Term:
    field: str | None          # None for free text
    values: tuple[str, ...]    # alternatives, lower-cased except for paths
    negate: bool = False


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:          # an unbalanced quote while the user is still typing
        return text.split()


def _severity(value: str) -> str | None:
    for sev in SEVERITIES:
        if sev.startswith(value):
            return sev
    return None


def parse_query(text: str) -> Query:
    terms, errors = [], []
    for word in _split(text):
        negate = word.startswith("-") and len(word) > 1
        if negate:
            word = word[1:]
        name, sep, rest = word.partition(":")
        fld = FIELD_ALIASES.get(name.lower()) if sep else None
        if fld is None:
            terms.append(Term(None, (word.lower(),), negate))
            continue
        # Paths are case-sensitive (foo.S is preprocessed, foo.s is not); the rest is not.
        values = tuple(v if fld == "path" else v.lower() for v in rest.split(",") if v)
        if not values:
            continue                # "rule:" while typing: ignore rather than match nothing
        if fld == "severity":
            resolved = tuple(s for s in (_severity(v) for v in values) if s)
            bad = [v for v in values if not _severity(v)]
            if bad:
                errors.append(f"unknown severity {', '.join(bad)}")
            values = resolved
            if not values:
                continue
        if fld == "status":
            bad = [v for v in values if v not in STATUSES]
            if bad:
                errors.append(f"unknown status {', '.join(bad)} (use {'/'.join(STATUSES)})")
                values = tuple(v for v in values if v in STATUSES)
                if not values:
                    continue
        terms.append(Term(fld, values, negate))
    return Query(tuple(terms), tuple(errors))


def _haystack(f: Finding) -> str:
    return "\0".join((f.message, f.rule, f.name, f.location.path, f.function or "", f.key)).lower()


def _match_path(path: str, value: str) -> bool:
    if any(ch in value for ch in "*?["):
        return fnmatch.fnmatchcase(path, value) or fnmatch.fnmatchcase(path, "*/" + value)
    return value in path


def _term_holds(f: Finding, term: Term, status: frozenset[str]) -> bool:
    fld = term.field
    if fld is None:
        return term.values[0] in _haystack(f)
    if fld == "rule":
        rule, name = f.rule.lower(), f.name.lower()
        return any(rule.startswith(v) or v in name for v in term.values)
    if fld == "severity":
        return f.severity in term.values
    if fld == "path":
        return any(_match_path(f.location.path, v) for v in term.values)
    if fld == "config":
        configs = [c.lower() for c in f.configs]
        return any(v in c for v in term.values for c in configs)
    if fld == "status":
        handled = bool(status)
        for v in term.values:
            if (v == "open" and not handled) or (v == "handled" and handled) or v in status:
                return True
        return False
    raise AssertionError(fld)


def matches(f: Finding, query: Query, status: frozenset[str] = frozenset()) -> bool:
    return all(_term_holds(f, t, status) != t.negate for t in query.terms)


def filter_indices(findings: list[Finding], query: Query,
                   statuses: dict[int, frozenset[str]] | None = None) -> list[int]:
    statuses = statuses or {}
    if query.empty:
        return list(range(len(findings)))
    return [i for i, f in enumerate(findings) if matches(f, query, statuses.get(i, frozenset()))]


def _sort_key(by: str):
    def key(pair):
        _, f = pair
        loc = (f.location.path, f.location.line, f.location.col)
        if by == "severity":
            return (SEVERITY_RANK.get(f.severity, 9), *loc, f.rule)
        if by == "rule":
            return (f.rule, SEVERITY_RANK.get(f.severity, 9), *loc)
        return (*loc, f.rule)
    return key


def sort_indices(findings: list[Finding], indices: list[int], by: str) -> list[int]:
    if by not in SORTS:
        raise ValueError(f"unknown sort {by!r}")
    return [i for i, _ in sorted(((i, findings[i]) for i in indices), key=_sort_key(by))]


@dataclass
class Group:
    key: str
    items: list[int] = field(default_factory=list)
    worst: int = 9             # best (lowest) severity rank among the items

    def __len__(self) -> int:
        return len(self.items)


def group_keys(f: Finding, by: str) -> tuple[str, ...]:
    if by == "rule":
        return (f.rule,)
    if by == "file":
        return (f.location.path,)
    if by == "config":
        return f.configs or (NO_CONFIG,)
    raise ValueError(f"unknown grouping {by!r}")


def group_indices(findings: list[Finding], indices: list[int], by: str, sort: str = "file") -> list[Group]:
    """Group already-sorted indices, keeping their order inside each group.

    A finding seen in several configurations appears under each of them when
    grouping by configuration: that is the question that grouping answers.
    When sorting by severity, the groups holding the worst findings come first.
    """
    groups: dict[str, Group] = {}
    for i in indices:
        f = findings[i]
        for k in group_keys(f, by):
            g = groups.setdefault(k, Group(k))
            g.items.append(i)
            g.worst = min(g.worst, SEVERITY_RANK.get(f.severity, 9))
    ordered = sorted(groups.values(), key=lambda g: g.key)
    if sort == "severity":
        ordered.sort(key=lambda g: g.worst)      # stable: ties stay in key order
    return ordered


def severity_counts(findings: list[Finding], indices) -> dict[str, int]:
    counts = {s: 0 for s in SEVERITIES}
    for i in indices:
        counts[findings[i].severity] = counts.get(findings[i].severity, 0) + 1
    return counts
