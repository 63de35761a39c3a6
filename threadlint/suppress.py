"""Inline suppressions (``/* threadlint: ignore[TL102] reason */``).

Interim version: suppressions are not applied yet (issue #6 implements them).
"""
from __future__ import annotations


def apply(findings, root, require_reason=True, rules_ran=()):
    return list(findings)
