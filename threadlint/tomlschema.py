"""Tiny schema check for TOML data files (configuration, profiles).

Unknown keys and wrong types are errors that name the file and the dotted key,
because a misspelt key silently ignored is a rule silently disabled.
"""
from __future__ import annotations

import tomllib

from threadlint.errors import UsageError

# A schema is {key: type | tuple-of-types | dict (sub-table schema)}.
# ``list[str]`` is spelt ("list", str); ``dict[str, X]`` is spelt ("map", X).


def load_toml(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: invalid TOML: {e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8") from None
    except RecursionError:
        raise UsageError(f"{path}: invalid TOML: nested too deeply") from None


def check(data, schema, path: str, prefix: str = "") -> None:
    if not isinstance(data, dict):
        raise UsageError(f"{path}: '{prefix or '<top>'}' must be a table")
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if key not in schema:
            if "*" in schema:
                _check_value(value, schema["*"], path, dotted)
                continue
            known = ", ".join(sorted(k for k in schema if k != "*"))
            raise UsageError(f"{path}: unknown key '{dotted}' (known: {known})")
        _check_value(value, schema[key], path, dotted)


def _check_value(value, spec, path, dotted):
    if isinstance(spec, dict):
        check(value, spec, path, dotted)
        return
    if isinstance(spec, tuple) and spec and spec[0] == "list":
        if not isinstance(value, list) or not all(_is(v, spec[1]) for v in value):
            raise UsageError(f"{path}: '{dotted}' must be a list of {_name(spec[1])}")
        return
    if isinstance(spec, tuple) and spec and spec[0] == "map":
        if not isinstance(value, dict):
            raise UsageError(f"{path}: '{dotted}' must be a table")
        for k, v in value.items():
            _check_value(v, spec[1], path, f"{dotted}.{k}")
        return
    if isinstance(spec, tuple) and spec and spec[0] == "tables":
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise UsageError(f"{path}: '{dotted}' must be an array of tables")
        for i, v in enumerate(value):
            check(v, spec[1], path, f"{dotted}[{i}]")
        return
    if not _is(value, spec):
        raise UsageError(f"{path}: '{dotted}' must be {_name(spec)}, got {type(value).__name__}")


def _is(value, spec) -> bool:
    if isinstance(spec, tuple) and spec and spec[0] in ("list", "map", "tables"):
        try:
            _check_value(value, spec, "", "")
            return True
        except UsageError:
            return False
    if isinstance(spec, tuple):                 # alternatives, e.g. (int, float)
        return any(_is(value, s) for s in spec)
    if spec is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if spec is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, spec)


def _name(spec) -> str:
    if isinstance(spec, tuple):
        if spec and spec[0] == "list":
            return f"list of {_name(spec[1])}"
        if spec and spec[0] == "map":
            return "table"
        return " or ".join(_name(s) for s in spec)
    return {str: "a string", int: "an integer", bool: "a boolean", float: "a number",
            list: "a list", dict: "a table"}.get(spec, getattr(spec, "__name__", str(spec)))
