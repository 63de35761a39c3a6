"""Compile databases: load, validate, and turn entries into safe libclang arguments.

A compile database is untrusted data (it may come from a fork's CI).  Its
arguments are only ever handed to libclang's parser inside a worker process:

* the listed compiler (``arguments[0]``) is never executed and no shell runs:
  a ``command`` string is split with ``shlex`` (quotes only, no expansion);
* arguments that load code (``-fplugin=``, ``-fpass-plugin=``, ``-Xclang -load``
  and every other ``-X<tool>`` pass-through, ``--config`` files, driver modes)
  or write files (``-o``, ``-MF``/``-MD``, ``-ftime-trace``, ``-save-stats`` ...)
  are dropped, in one- and two-dash spellings;
* a value we pass through unexamined (``-I DIR``, ``-D X``) never starts with
  ``-`` or ``@``, so libclang cannot read it as an option we did not vet;
* response files (``@file``) are read only when they are regular files inside
  the source tree or the database's own directory, at most ``_RSP_MAX`` bytes,
  one level deep.

What was dropped is kept on the entry (``Entry.dropped``).
"""
from __future__ import annotations

import functools
import json
import os
import shlex
import stat
from dataclasses import dataclass

from threadlint import jsonio
from threadlint.cache import hash_bytes, read_record, source_hash, write_record
from threadlint.errors import UsageError

C_EXTS = (".c",)
ASM_EXTS = (".s", ".S")
_RSP_MAX = 1 << 20

# Dropped together with the following argument (outputs, code loading, raw
# pass-through to other tools).  Any other "-X..." flag is handled in _drop_count.
_DROP_WITH_VALUE = {"-o", "--output", "-MF", "-MT", "-MQ", "-MJ", "-dependency-file",
                    "-load", "-plugin", "-add-plugin", "-fplugin", "-fpass-plugin",
                    "-serialize-diagnostics", "--serialize-diagnostics", "-main-file-name",
                    "-include-pch", "-fmodule-file", "-fmodules-cache-path", "-mllvm",
                    "--config", "--driver-mode", "-dumpdir", "-dumpbase", "-dumpbase-ext",
                    "-ivfsoverlay", "-fprebuilt-module-path"}
# Dropped on their own: compile-only modes, dependency/statistics output,
# module caches, cc1 mode, driver debugging.
_DROP_EXACT = {"-c", "-S", "-E", "-M", "-MM", "-MD", "-MMD", "-MG", "-MP", "-v", "-###",
               "-save-temps", "-save-stats", "-fsyntax-only", "-pipe", "-Werror",
               "-fcolor-diagnostics", "-fdiagnostics-color", "-cc1", "-cc1as", "--analyze",
               "--compile", "--assemble", "--preprocess", "--dependencies",
               "--user-dependencies", "--write-dependencies", "--write-user-dependencies",
               "--precompile", "-fintegrated-cc1", "-fno-integrated-cc1", "--coverage",
               "-ftest-coverage", "-emit-ast", "-emit-llvm"}
_DROP_PREFIXES = ("-fplugin=", "-fpass-plugin=", "-fplugin-arg-", "-plugin-arg-", "-o", "--output=",
                  "-MF", "-MT", "-MQ", "-MJ", "-Wl,", "-Wa,", "-Wp,", "-fprofile-", "-fcoverage-",
                  "-ftime-trace", "-save-temps=", "-save-stats=", "--serialize-diagnostics=",
                  "-fcrash-diagnostics", "-fmodules", "-fimplicit-modules", "-fcxx-modules",
                  "-fmodule-file=", "-fprebuilt-module-path=", "-fdebug-prefix-map",
                  "-ffile-prefix-map", "-fmacro-prefix-map", "-Werror=", "-fdiagnostics-color=",
                  "--config", "--driver-mode=", "-B", "--gcc-toolchain", "--gcc-install-dir",
                  "-fsanitize", "-ccc-", "-fproc-stat-report", "-fsave-optimization-record",
                  "-foptimization-record-", "-fstack-usage", "-fuse-ld=", "--ld-path=",
                  "-ivfsoverlay", "-fdepscan", "-gen-reproducer")
# Flags with a path value that we keep, resolved against the entry's directory.
_PATH_WITH_VALUE = {"-I", "-isystem", "-iquote", "-idirafter", "-include", "-imacros",
                    "--sysroot", "-isysroot", "-iprefix", "-iwithprefix"}
_KEEP_WITH_VALUE = {"-D", "-U", "-x", "-target", "--target", "-arch", "-mthread-model", "-ftls-model",
                    "-mcpu", "-march", "-mabi", "-mfloat-abi", "-ferror-limit"}
_JOINED_PATH = ("-I", "-isystem", "-iquote", "-idirafter", "--sysroot=")


@dataclass(frozen=True)
class Entry:
    file: str                 # absolute, normalised
    directory: str
    args: tuple[str, ...]     # sanitised, compiler and source removed
    dropped: tuple[str, ...]  # what sanitising removed (reported with -v)

    @property
    def is_asm(self) -> bool:
        return self.file.endswith(ASM_EXTS)


class _Object(dict):
    """A JSON object that remembers keys given twice (json keeps the last silently)."""

    twice: tuple[str, ...] = ()


def _object(pairs):
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        obj.twice = tuple(k for k, _ in pairs if k in seen or seen.add(k))
    return obj


def load(path: str, root: str | None = None) -> list[Entry]:
    """Entries of ``path`` (a compile_commands.json), validated.

    Raises UsageError with a one-line message naming the file and entry.
    Entries stay one per database entry (callers zip them with the raw JSON);
    a file listed twice is analysed once per distinct flags by the engine.
    """
    return _parse_database(_read(path), path, root)


def load_memoised(path: str, root: str | None, memo_dir: str) -> list[Entry]:
    """``load`` through a memo in ``memo_dir`` keyed by the database's bytes, the
    root and this module's code: validating and sanitising every entry costs
    ~0.1 s per 1,800 entries, which a warm run should not pay again.  A database
    that uses response files (``@file``) is not memoised (their content is not
    in the key)."""
    raw = _read(path)
    key = hash_bytes(b"\0".join([_code_salt(), (root or "").encode(), path.encode(), raw]))
    memo = os.path.join(memo_dir, "compdb", key + ".json")
    body = read_record(memo)
    if body is not None:
        try:
            return [Entry(f, d, tuple(a), tuple(x)) for f, d, a, x in jsonio.loads(body)]
        except (ValueError, TypeError):
            pass                                # another layout: parse
    entries = _parse_database(raw, path, root)
    if not _uses_response_files(raw):
        write_record(memo, jsonio.dumps([[e.file, e.directory, list(e.args), list(e.dropped)]
                                         for e in entries]))
    return entries


def _uses_response_files(raw: bytes) -> bool:
    return b'"@' in raw or b" @" in raw


@functools.lru_cache(maxsize=1)
def _code_salt() -> bytes:
    return source_hash([__file__]).encode()


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as e:
        raise UsageError(f"{path}: cannot read compile database ({e.strerror})") from None


def _parse_database(raw: bytes, path: str, root: str | None) -> list[Entry]:
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_object)
    except UnicodeDecodeError:
        raise UsageError(f"{path}: compile database is not UTF-8") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}:{e.lineno}:{e.colno}: invalid JSON in compile database: {e.msg}") from None
    except RecursionError:
        raise UsageError(f"{path}: compile database nests too deeply") from None
    if not isinstance(doc, list):
        raise UsageError(f"{path}: compile database must be a JSON array of entries")
    db_dir = os.path.dirname(os.path.abspath(path))
    # Valid UTF-8 JSON holds a NUL or a lone surrogate only as a \u escape
    # (raw control characters are rejected above): without any, no string
    # needs checking one by one.
    check = b"\\u" in raw
    return [_entry(e, f"{path}: entry {i}", root, db_dir, check) for i, e in enumerate(doc)]


def _entry(e, where: str, root: str | None, db_dir: str, check: bool = True) -> Entry:
    if not isinstance(e, dict):
        raise UsageError(f"{where}: not an object")
    if getattr(e, "twice", ()):
        raise UsageError(f"{where}: key {e.twice[0]!r} given twice")
    for key in ("directory", "file"):
        if not isinstance(e.get(key), str) or not e[key]:
            raise UsageError(f"{where}: missing or empty '{key}'")
        if check:
            _check_text(e[key], where, f"'{key}'")
    directory = e["directory"]
    if not os.path.isabs(directory):
        raise UsageError(f"{where}: 'directory' must be an absolute path, got {directory!r}")
    if "arguments" in e:
        argv = e["arguments"]
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise UsageError(f"{where}: 'arguments' must be a list of strings")
    elif isinstance(e.get("command"), str):
        try:
            argv = split_command(e["command"])
        except ValueError as err:
            raise UsageError(f"{where}: cannot split 'command' ({err})") from None
    else:
        raise UsageError(f"{where}: needs 'arguments' (list of strings) or 'command' (string)")
    if check:
        for n, a in enumerate(argv):
            _check_text(a, where, f"argument {n}")
    file = os.path.normpath(os.path.join(directory, e["file"]))
    args, dropped = sanitize(argv[1:], directory, file, root, db_dir)
    return Entry(file, os.path.normpath(directory), tuple(args), tuple(dropped))


def _check_text(value: str, where: str, what: str) -> None:
    # A NUL cannot reach a C API and a lone surrogate cannot be encoded: both
    # would fail later, far from the database, so say so here.
    if "\0" in value:
        raise UsageError(f"{where}: {what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{where}: {what} is not valid Unicode (lone surrogate escape)") from None


def sanitize(argv: list[str], directory: str, file: str, root: str | None = None,
             db_dir: str | None = None):
    """Keep what affects parsing; drop outputs, plugins, and anything that runs code.

    Returns (args, dropped).  Relative include paths are made absolute.
    Response files (``@file``) are expanded only when they lie inside ``root``
    or ``db_dir`` (the database's directory), and never recursively.
    """
    args: list[str] = []
    dropped: list[str] = []
    i = 0
    n = len(argv)
    while i < n:
        a = argv[i]
        if _kept_as_is(a):
            args.append(a)
            i += 1
            continue
        nxt = argv[i + 1] if i + 1 < n else None
        if "\0" in a:
            dropped.append(a)
            i += 1
            continue
        if a.startswith("@"):
            expanded = _response_file(a[1:], directory, [root, db_dir])
            if expanded is None:
                dropped.append(a)
            else:
                inner = [x for x in expanded if not x.startswith("@")]
                sub, sub_dropped = sanitize(inner, directory, file, None, None)
                args.extend(sub)
                dropped.extend(sub_dropped + [x for x in expanded if x.startswith("@")])
            i += 1
            continue
        if not a.startswith("-"):
            # the source itself, or a stray positional (another input, an output
            # name): never ours to pass
            if _abspath(a, directory) != file:
                dropped.append(a)
            i += 1
            continue
        count = _drop_count(a)
        if count:
            taken = argv[i:i + count]
            dropped.extend(taken)
            i += len(taken)
            continue
        if a in _PATH_WITH_VALUE or a in _KEEP_WITH_VALUE:
            if nxt is None or nxt.startswith(("-", "@")) or "\0" in nxt:
                # no value, or one that libclang would read as an option: the
                # value is classified on its own next round
                dropped.append(a)
                i += 1
                continue
            args.extend([a, _abspath(nxt, directory) if a in _PATH_WITH_VALUE else nxt])
            i += 2
            continue
        if a.startswith(_JOINED_PATH):
            a = _joined_path(a, directory)
        args.append(a)
        i += 1
    return args, dropped


@functools.lru_cache(maxsize=65536)      # the same few hundred flags repeat in every entry
def _kept_as_is(a: str) -> bool:
    """An option ``sanitize`` passes on unchanged, whatever follows it (most are)."""
    return (a.startswith("-") and "\0" not in a and not _drop_count(a)
            and a not in _PATH_WITH_VALUE and a not in _KEEP_WITH_VALUE and not a.startswith(_JOINED_PATH))


@functools.lru_cache(maxsize=65536)
def _drop_count(a: str) -> int:
    """How many arguments to drop starting at ``a`` (0: keep it)."""
    # clang accepts many options with one or two dashes; check both spellings
    core = a.lstrip("-")
    forms = (a, "-" + core, "--" + core)
    if any(f in _DROP_WITH_VALUE for f in forms):
        return 2
    if any(f.startswith("-X") for f in forms):
        # -Xclang, -Xlinker, -Xassembler, -Xpreprocessor, -Xarch_*, -Xopenmp-target ...
        # hand raw arguments to another tool; the joined '=' forms carry it inline
        return 1 if "=" in a else 2
    if any(f in _DROP_EXACT or f.startswith(_DROP_PREFIXES) for f in forms):
        return 1
    return 0


@functools.lru_cache(maxsize=65536)
def _joined_path(a: str, directory: str) -> str:
    """``-Irel`` -> ``-I/abs/rel`` (and the other joined path flags)."""
    for flag in _JOINED_PATH:
        if a.startswith(flag) and len(a) > len(flag):
            return flag + _abspath(a[len(flag):], directory)
    return a


@functools.lru_cache(maxsize=65536)
def _abspath(p: str, directory: str) -> str:
    return os.path.normpath(os.path.join(directory, p))


def _response_file(name: str, directory: str, allowed_dirs) -> list[str] | None:
    path = os.path.realpath(os.path.join(directory, name))
    allowed = [os.path.realpath(d) for d in allowed_dirs if d]
    if not any(path == d or path.startswith(d.rstrip(os.sep) + os.sep) for d in allowed):
        return None
    try:
        # O_NONBLOCK: a FIFO must not block us; only regular files are read
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(_RSP_MAX + 1)
        if len(data) > _RSP_MAX:
            return None
        return shlex.split(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    finally:
        os.close(fd)


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


_SHELL_SPECIAL = "\"'\\"


def split_command(command: str) -> list[str]:
    """``shlex.split`` semantics; pure-Python shlex costs ~1 ms per CMake command
    (2 s for a 1,800-entry database), so commands without quotes or
    backslashes - most of them - take the equivalent ``str.split`` path."""
    if not any(ch in command for ch in _SHELL_SPECIAL):     # str search, not a set scan per char
        return command.split()
    return shlex.split(command)
