"""The configuration file: ``[tool.threadlint]`` in pyproject.toml, or threadlint.toml."""
from __future__ import annotations

import os

from threadlint import tomlschema
from threadlint.errors import UsageError

SCHEMA = {
    "profile": str,
    "select": ("list", str),
    "ignore": ("list", str),
    "builds": ("list", str),                 # -p values used when none are given
    "jobs": int,
    "timeout": (int, float),                 # seconds per TU
    "cache_dir": str,
    "require_reason": bool,                  # suppressions must give a reason
    "baseline": str,
    "fail_on": str,
    "fallback": {"name": str, "target": str, "include_dirs": ("list", str),
                 "defines": ("list", str), "args": ("list", str)},
}


def find(root: str) -> str | None:
    for name in ("threadlint.toml", "pyproject.toml"):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            if name == "pyproject.toml":
                data = tomlschema.load_toml(path)
                if "threadlint" not in data.get("tool", {}):
                    continue
            return path
    return None


def load(path: str | None) -> dict:
    """Validated settings (empty when there is no file)."""
    if path is None:
        return {}
    data = tomlschema.load_toml(path)
    if os.path.basename(path) == "pyproject.toml":
        data = data.get("tool", {}).get("threadlint")
        if data is None:
            raise UsageError(f"{path}: no [tool.threadlint] table")
        prefix = "tool.threadlint"
    else:
        prefix = ""
    tomlschema.check(data, SCHEMA, path, prefix)
    dotted = (prefix + ".") if prefix else ""
    if "fail_on" in data and data["fail_on"] not in ("error", "warning", "note"):
        raise UsageError(f"{path}: '{dotted}fail_on' must be error, warning or note")
    if "jobs" in data and data["jobs"] < 1:
        raise UsageError(f"{path}: '{dotted}jobs' must be at least 1, got {data['jobs']}")
    if "timeout" in data and not data["timeout"] > 0:
        raise UsageError(f"{path}: '{dotted}timeout' must be a positive number of seconds, "
                         f"got {data['timeout']}")
    return data
