"""Lines changed since a git revision (issue #6)."""
from __future__ import annotations

from threadlint.errors import UsageError


def changed_lines(root: str, ref: str) -> dict[str, set[int]]:
    raise UsageError("--diff-base is not implemented yet")
