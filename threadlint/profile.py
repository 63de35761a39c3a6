"""Port profiles: what one libc port's threading model means, as TOML data.

A profile lives in ``rules/profiles/<name>.toml`` (shipped in the wheel as
``threadlint_rules/profiles``) or at any path.  The engine knows only the
``[profile]``, ``[frontend]`` and ``[callgraph]`` sections; every other section
is declared by the rules that read it (``Rule.profile_schema``), so a typo in
a key is an error naming the file and the key.
"""
from __future__ import annotations

import os
from importlib import resources

from threadlint import tomlschema
from threadlint.errors import UsageError

CORE_SCHEMA = {
    "profile": {"name": str, "description": str},
    "frontend": {
        # Macros a newer compiler predefines that the bundled libclang may not.
        "predefine": ("tables", {"target": str, "macro": str, "clang_min": int}),
    },
    "callgraph": {
        # macro name -> "weak" | "strong": NAME(target, alias) makes alias forward to target
        "alias_macros": ("map", str),
    },
}


class Profile:
    def __init__(self, name: str, path: str, data: dict):
        self.name = name
        self.path = path
        self.data = data

    def get(self, dotted: str, default=None):
        cur = self.data
        for part in dotted.split("."):
            if not isinstance(cur, dict) or part not in cur:
                return default
            cur = cur[part]
        return cur

    def names(self, dotted: str) -> set[str]:
        value = self.get(dotted, [])
        return set(value.keys() if isinstance(value, dict) else value)


def builtin_dir() -> str:
    return str(resources.files("threadlint_rules") / "profiles")


def available() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(builtin_dir()) if f.endswith(".toml"))


def load(name_or_path: str, schema: dict) -> Profile:
    if os.sep in name_or_path or name_or_path.endswith(".toml"):
        path = name_or_path
    else:
        path = os.path.join(builtin_dir(), name_or_path + ".toml")
        if not os.path.isfile(path):
            raise UsageError(f"unknown profile '{name_or_path}' (available: {', '.join(available())})")
    data = tomlschema.load_toml(path)
    full = dict(CORE_SCHEMA)
    for section, sub in schema.items():
        full[section] = {**full.get(section, {}), **sub}
    tomlschema.check(data, full, path)
    name = data.get("profile", {}).get("name") or os.path.splitext(os.path.basename(path))[0]
    return Profile(name, path, data)
