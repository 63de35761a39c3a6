"""Compile databases: load, validate, and turn entries into safe libclang arguments.

A compile database is untrusted data (it may come from a fork's CI): the
listed compiler is never executed, no shell is run, and arguments that load
code or write files are dropped (see ``_DROP_*``).
"""
from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass

from threadlint.errors import UsageError

C_EXTS = (".c",)
ASM_EXTS = (".s", ".S")

# Flags whose value is a separate argument and which we drop together with it.
_DROP_WITH_VALUE = {"-o", "-MF", "-MT", "-MQ", "-MJ", "-dependency-file", "-Xlinker",
                    "-load", "-fplugin", "-fpass-plugin", "-serialize-diagnostics",
                    "--serialize-diagnostics", "-main-file-name", "-Xassembler", "-Xpreprocessor",
                    "-ftime-trace", "-save-temps", "-include-pch", "-fmodule-file",
                    "-fmodules-cache-path", "-Xanalyzer", "-mllvm"}
# Flags dropped on their own (outputs, code loading, compile-only modes).
_DROP_EXACT = {"-c", "-S", "-E", "-M", "-MM", "-MD", "-MMD", "-MG", "-MP", "-v", "-###",
               "-save-temps", "-fsyntax-only", "-pipe", "-Werror", "-fcolor-diagnostics",
               "-fdiagnostics-color"}
_DROP_PREFIXES = ("-fplugin=", "-fpass-plugin=", "-fplugin-arg-", "-o", "-MF", "-MT", "-MQ", "-MJ",
                  "-Wl,", "-Wa,", "-Wp,", "-Xclang=", "-fprofile-", "-fcoverage-", "-ftime-trace",
                  "-save-temps=", "--serialize-diagnostics=", "-fcrash-diagnostics-dir",
                  "-fmodules-cache-path=", "-fmodule-file=", "-fdebug-prefix-map",
                  "-ffile-prefix-map", "-fmacro-prefix-map", "-Werror=", "-fdiagnostics-color=",
                  "--config", "-B", "--gcc-toolchain", "--sysroot=/proc", "-fsanitize")
# Flags with a path value that we keep, resolved against the entry's directory.
_PATH_WITH_VALUE = {"-I", "-isystem", "-iquote", "-idirafter", "-include", "-imacros",
                    "--sysroot", "-isysroot", "-iprefix", "-iwithprefix"}
_KEEP_WITH_VALUE = {"-D", "-U", "-x", "-target", "--target", "-arch", "-mthread-model", "-ftls-model",
                    "-mcpu", "-march", "-mabi", "-mfloat-abi", "-ferror-limit", "-Xarch_device"}


@dataclass(frozen=True)
class Entry:
    file: str                 # absolute, normalised
    directory: str
    args: tuple[str, ...]     # sanitised, compiler and source removed
    dropped: tuple[str, ...]  # what sanitising removed (reported with -v)

    @property
    def is_asm(self) -> bool:
        return self.file.endswith(ASM_EXTS)


def load(path: str, root: str | None = None) -> list[Entry]:
    """Entries of ``path`` (a compile_commands.json), validated.

    Raises UsageError with a one-line message naming the file and entry.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise UsageError(f"{path}: cannot read compile database ({e.strerror})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: compile database is not UTF-8") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}:{e.lineno}:{e.colno}: invalid JSON in compile database: {e.msg}") from None
    if not isinstance(doc, list):
        raise UsageError(f"{path}: compile database must be a JSON array of entries")
    entries = []
    for i, e in enumerate(doc):
        where = f"{path}: entry {i}"
        if not isinstance(e, dict):
            raise UsageError(f"{where}: not an object")
        for key in ("directory", "file"):
            if not isinstance(e.get(key), str) or not e[key]:
                raise UsageError(f"{where}: missing or empty '{key}'")
        directory = e["directory"]
        if not os.path.isabs(directory):
            raise UsageError(f"{where}: 'directory' must be an absolute path, got {directory!r}")
        if isinstance(e.get("arguments"), list) and all(isinstance(a, str) for a in e["arguments"]):
            argv = list(e["arguments"])
        elif isinstance(e.get("command"), str):
            try:
                argv = shlex.split(e["command"])
            except ValueError as err:
                raise UsageError(f"{where}: cannot split 'command' ({err})") from None
        else:
            raise UsageError(f"{where}: needs 'arguments' (list of strings) or 'command' (string)")
        file = os.path.normpath(os.path.join(directory, e["file"]))
        args, dropped = sanitize(argv[1:], directory, file, root)
        entries.append(Entry(file, directory, tuple(args), tuple(dropped)))
    return entries


def sanitize(argv: list[str], directory: str, file: str, root: str | None = None):
    """Keep what affects parsing; drop outputs, plugins, and anything that runs code.

    Returns (args, dropped).  Relative include paths are made absolute.
    Response files (``@file``) are expanded only when they lie inside ``root``
    or the entry's directory, and never recursively.
    """
    args: list[str] = []
    dropped: list[str] = []
    i = 0
    n = len(argv)
    while i < n:
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < n else None
        if os.path.normpath(os.path.join(directory, a)) == file and not a.startswith("-"):
            i += 1
            continue
        if a.startswith("@"):
            expanded = _response_file(a[1:], directory, root)
            if expanded is None:
                dropped.append(a)
            else:
                sub, sub_dropped = sanitize([x for x in expanded if not x.startswith("@")],
                                            directory, file, root)
                args.extend(sub)
                dropped.extend(sub_dropped + [x for x in expanded if x.startswith("@")])
            i += 1
            continue
        if a == "-Xclang":
            # -Xclang passes raw cc1 flags (-load, -plugin, -add-plugin ...): never forward.
            dropped.extend([a] + ([nxt] if nxt is not None else []))
            i += 2
            continue
        if a in _DROP_WITH_VALUE:
            dropped.extend([a] + ([nxt] if nxt is not None else []))
            i += 2
            continue
        if a in _DROP_EXACT or (a.startswith(_DROP_PREFIXES) and not a.startswith("-O")):
            dropped.append(a)
            i += 1
            continue
        if a in _PATH_WITH_VALUE and nxt is not None:
            args.extend([a, _abspath(nxt, directory)])
            i += 2
            continue
        if a in _KEEP_WITH_VALUE and nxt is not None:
            args.extend([a, nxt])
            i += 2
            continue
        for flag in ("-I", "-isystem", "-iquote", "-idirafter", "--sysroot=", "-include"):
            if a.startswith(flag) and len(a) > len(flag):
                value = a[len(flag):]
                if flag in ("-include",) and not value.startswith("/"):
                    break
                a = flag + _abspath(value, directory)
                break
        if not a.startswith("-"):
            # a stray positional (another input file, an output name): not ours to pass
            dropped.append(a)
            i += 1
            continue
        args.append(a)
        i += 1
    return args, dropped


def _abspath(p: str, directory: str) -> str:
    return os.path.normpath(os.path.join(directory, p))


def _response_file(name: str, directory: str, root: str | None):
    path = os.path.realpath(os.path.join(directory, name))
    allowed = [os.path.realpath(directory)] + ([os.path.realpath(root)] if root else [])
    if not any(path == d or path.startswith(d + os.sep) for d in allowed):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return shlex.split(fh.read())
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def find_databases(root: str) -> list[str]:
    """compile_commands.json files in ``root/build*/`` (sorted)."""
    out = []
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return out
    for name in names:
        if name.startswith("build"):
            cand = os.path.join(root, name, "compile_commands.json")
            if os.path.isfile(cand):
                out.append(cand)
    return out
