"""Adapt a compile database's arguments to the bundled libclang.

Databases are written for the compiler the project builds with, which may be
newer than the libclang wheel.  The profile lists macros a newer clang
predefines for a target (``[[frontend.predefine]]``); when the bundled clang is
older than ``clang_min`` we define them ourselves, so each configuration's
macro state is reproduced exactly.  Arguments libclang does not know are
dropped at parse time (``threadlint.frontend.parse``).
"""
from __future__ import annotations

import functools

# Flags that change code generation only; two entries differing only in these
# parse to the same AST except for the macros listed (see engine dedupe).
CODEGEN_ONLY_PREFIXES = ("-W", "-fvisibility", "-g", "-fdiagnostics", "-fno-diagnostics",
                         "-fcolor-diagnostics", "-fmessage-length", "-ffunction-sections",
                         "-fdata-sections")
# They only predefine __PIC__/__PIE__ (frontend.parse.CODEGEN_MACROS), so
# variants differing in them are folded unless those macros are live.
PIC_FLAGS = frozenset({"-fPIC", "-fpic", "-fPIE", "-fpie"})


def target_of(args) -> str:
    for i, a in enumerate(args):
        if a.startswith("--target="):
            return a.split("=", 1)[1]
        if a in ("-target", "--target") and i + 1 < len(args):
            return args[i + 1]
    return ""


def adapt(args, profile, clang_major: int) -> list[str]:
    out = list(args)
    target = target_of(out)
    rules = profile.get("frontend.predefine", []) if profile else []
    for rule in rules:
        if target.startswith(rule["target"]) and clang_major < rule["clang_min"]:
            flag = "-D" + rule["macro"]
            if flag not in out:
                out.append(flag)
    return out


def dedupe_key(args) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(args that matter for the AST, PIC-like flags that only add macros)."""
    return _dedupe_key(tuple(args))


@functools.lru_cache(maxsize=8192)          # the engine asks for every entry, twice
def _dedupe_key(args: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    kept, pic = [], []
    for a in args:
        if a in PIC_FLAGS:
            pic.append(a)
        elif not a.startswith(CODEGEN_ONLY_PREFIXES):
            kept.append(a)
    return tuple(kept), tuple(sorted(pic))
