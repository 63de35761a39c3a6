"""Render ``docs/rules/`` from the rule docstrings, so docs cannot drift.

``python -m threadlint.docs_gen docs/rules`` writes the pages;
``--check`` exits 1 when a page is missing or stale (used by the test suite).
"""
from __future__ import annotations

import os
import sys

from threadlint.registry import all_rules, render_doc


def pages() -> dict[str, str]:
    out = {}
    rules = all_rules()
    for rule in rules.values():
        out[f"{rule.id}.md"] = render_doc(rule)
    index = ["# Rules\n", "Generated from the rule docstrings by `python -m threadlint.docs_gen docs/rules`.\n",
             "| id | name | severity | precision | default | summary |",
             "|---|---|---|---|---|---|"]
    for rule in rules.values():
        index.append(f"| [{rule.id}]({rule.id}.md) | {rule.name} | {rule.severity} | {rule.precision} | "
                     f"{'on' if rule.default else 'off'} | {rule.summary} |")
    out["README.md"] = "\n".join(index) + "\n"
    out["profile-keys.md"] = profile_keys_page(rules)
    return out


def _type_name(spec) -> str:
    if isinstance(spec, dict):
        return "table"
    if isinstance(spec, tuple) and spec and spec[0] == "list":
        return f"list of {_type_name(spec[1])}"
    if isinstance(spec, tuple) and spec and spec[0] == "map":
        return f"table of {_type_name(spec[1])}"
    if isinstance(spec, tuple) and spec and spec[0] == "tables":
        return "array of tables"
    if isinstance(spec, tuple):
        return " or ".join(_type_name(x) for x in spec)
    return {str: "string", int: "integer", bool: "boolean", float: "number"}.get(spec, str(spec))


def _keys(schema, prefix=""):
    for key, spec in schema.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(spec, dict):
            yield from _keys(spec, dotted)
        else:
            yield dotted, _type_name(spec)


def profile_keys_page(rules) -> str:
    from threadlint.profile import CORE_SCHEMA
    lines = ["# Profile keys", "",
             "Generated from `profile.CORE_SCHEMA` and each rule's `profile_schema` "
             "(see [docs/profiles.md](../profiles.md)).", "",
             "| key | type | read by |", "|---|---|---|"]
    for key, typ in _keys(CORE_SCHEMA):
        lines.append(f"| `{key}` | {typ} | engine |")
    readers: dict[tuple, list[str]] = {}
    for rule in rules.values():
        for key, typ in _keys(rule.profile_schema):
            readers.setdefault((key, typ), []).append(rule.id)
    for (key, typ), ids in sorted(readers.items()):
        lines.append(f"| `{key}` | {typ} | {', '.join(ids)} |")
    return "\n".join(lines) + "\n"


def stale(directory: str) -> list[str]:
    """Pages that differ from what the docstrings render (or are missing/extra)."""
    want = pages()
    problems = []
    for name, text in want.items():
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8") as fh:
                if fh.read() != text:
                    problems.append(f"{name}: stale")
        except FileNotFoundError:
            problems.append(f"{name}: missing")
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if name.endswith(".md") and name not in want:
            problems.append(f"{name}: no such rule")
    return problems


def write(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".md") and name not in pages():
            os.unlink(os.path.join(directory, name))
    for name, text in pages().items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as fh:
            fh.write(text)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    dirs = [a for a in argv if not a.startswith("--")] or ["docs/rules"]
    if check:
        problems = stale(dirs[0])
        for p in problems:
            print(p)
        return 1 if problems else 0
    write(dirs[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
