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
    return out


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
