"""Parse one C translation unit with libclang and return its facts.

Runs inside worker processes: one ``clang.cindex.Index`` per process.
"""
from __future__ import annotations

import functools
import os
import re
import tempfile

import clang.cindex as cindex

from threadlint.frontend import cxbind
from threadlint.frontend.cfacts import TUExtractor
from threadlint.frontend.pch import Prefixes
from threadlint.frontend.reparse import Parsed, ReparsePool

PARSE_OPTIONS = (cindex.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD
                 | cindex.TranslationUnit.PARSE_INCOMPLETE)
# Warnings are never reported (only errors become TL002) and cost ~5% of a
# parse; -w keeps errors, including warnings that are errors by default.
QUIET = ["-w"]
_UNKNOWN_ARG = re.compile(r"unknown argument:? '([^']+)'")
_index = None
_prefixes = Prefixes()
_pool = None


def index() -> cindex.Index:
    global _index
    if _index is None:
        _index = cindex.Index.create()
    return _index


def _diagnostics(tu, limit: int = 20):
    out = []
    for d in tu.diagnostics:
        if d.severity < cindex.Diagnostic.Error:
            continue
        loc = d.location
        out.append({"severity": "fatal" if d.severity >= cindex.Diagnostic.Fatal else "error",
                    "message": d.spelling,
                    "path": loc.file.name if loc.file else "",
                    "l": loc.line, "c": loc.column})
        if len(out) >= limit:
            break
    return out


def has_errors(tu) -> bool:
    return bool(_diagnostics(tu, limit=1))


def parse_c(path: str, args: list[str], prefix: str | None = None, pch_dir: str | None = None) -> dict:
    """Facts for ``path`` compiled with ``args`` (already sanitised/adapted).

    Returns ``{"facts", "diagnostics", "includes", "dropped_args", ...}``, with
    ``"not_utf8": True`` when the file is not valid UTF-8.  Arguments
    libclang rejects as unknown are dropped and the parse is retried once; the
    dropped arguments are reported so the user can see the adaptation.
    ``prefix``: the file's leading ``#include`` line, shared with other TUs and
    worth a precompiled header in ``pch_dir`` (``threadlint.frontend.pch``).
    """
    with open(path, "rb") as fh:
        source = fh.read()
    dropped: list[str] = []
    parsed, pch_deps, used_pch = None, [], False
    built = _prefixes.get(prefix, args, pch_dir) if prefix and pch_dir else None
    if built is not None:
        try:
            parsed = _parse(path, args + ["-include-pch", built[0]])
            diags = _diagnostics(parsed.tu)
        except cindex.TranslationUnitLoadError:     # e.g. a header changed since the PCH was built
            parsed = None
        if parsed is None or diags:
            parsed = None           # the plain parse decides, and reports, what is wrong
            _prefixes.reject(prefix, args, pch_dir)
        else:
            pch_deps, used_pch = built[1], True
    if parsed is None:
        parsed = _parse(path, args)
        diags = _diagnostics(parsed.tu)
    unknown = {m.group(1) for d in diags for m in [_UNKNOWN_ARG.search(d["message"])] if m}
    if unknown:
        dropped = sorted(unknown)
        args = [a for a in args if a not in unknown]
        parsed = _parse(path, args)
        diags = _diagnostics(parsed.tu)
    tu = parsed.tu
    facts = TUExtractor(tu.obj, path, source).extract()
    # headers read through the PCH are not in the TU's own inclusion list
    includes = sorted({os.path.normpath(name) for name in cxbind.included_files(tu.obj, parsed.depth)}
                      .union(pch_deps))
    sensitive = live_macro_mentions(tu, [path] + includes, source, CODEGEN_MACROS)
    result = {"facts": facts, "diagnostics": diags, "includes": includes, "dropped_args": dropped,
              "live_codegen_macros": sensitive, "pch": used_pch}
    if not _is_utf8(source):
        result["not_utf8"] = True       # the report notes it (text shown with replacements)
    return result


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Macros that code-generation-only flags (-fPIC, -fPIE) predefine.  Entries
# differing only in those flags are parsed once unless one of these is *live*.
CODEGEN_MACROS = ("__PIC__", "__pic__", "__PIE__", "__pie__")
_text_memo: dict[str, bytes] = {}


def live_macro_mentions(tu, files, main_source: bytes, names) -> list[str]:
    """Which of ``names`` can change this TU's facts when defined.

    A mention inside a skipped ``#if`` block that starts on an earlier line is
    dead: its directive was never evaluated.  A live mention in a header only
    matters when its conditional region declares something the main file uses:
    regions made only of ``#define``s and ``extern`` declarations are checked
    against the main file's identifiers (through macros that refer to them).
    """
    pattern = re.compile(rb"\b(" + b"|".join(n.encode() for n in names) + rb")\b")
    L = cxbind.lib()
    live = set()
    guarded: set[bytes] = set()       # names declared inside live header regions
    texts = {}
    for f in files:
        data = main_source if f == files[0] else _read(f)
        if data is None:
            continue
        texts[f] = data
        hits = _hits(f, data, pattern) if f != files[0] else \
            [(m.start(), m.group(1).decode()) for m in pattern.finditer(data)]
        if not hits:
            continue
        dead = _skipped(L, tu, f)
        for off, name in hits:
            line_start = data.rfind(b"\n", 0, off) + 1
            if any(a < line_start and off < b for a, b in dead):
                continue
            declared = None if f == files[0] else _region_declarations(data, line_start)
            if declared is None:
                live.add(name)
            elif declared:
                guarded |= declared
                live.add("?" + name)
    if guarded:
        # macros defined anywhere in the TU in terms of a guarded name are guarded too
        used = set(_WORD.findall(main_source))
        if not _reaches(guarded, [_users(f, data) for f, data in texts.items()], used):
            live = {n for n in live if not n.startswith("?")}
    return sorted(n.lstrip("?") for n in live)


_DEFINE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(?:\([^)]*\))?([^\n]*)", re.M)
_DIRECTIVE = re.compile(rb"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b")


_WORD = re.compile(rb"[A-Za-z_]\w*")
_hits_memo: dict[str, list] = {}
_users_memo: dict[str, dict] = {}


def _hits(path: str, data: bytes, pattern) -> list:
    """Mentions of the watched macros in a header (memoised: headers repeat across TUs)."""
    if path not in _hits_memo:
        _hits_memo[path] = [(m.start(), m.group(1).decode()) for m in pattern.finditer(data)]
    return _hits_memo[path]


def _users(path: str, data: bytes) -> dict:
    """identifier -> macros of a file whose #define body mentions it (memoised:
    headers repeat across TUs)."""
    if path not in _users_memo:
        users: dict[bytes, list[bytes]] = {}
        for m in _DEFINE.finditer(data):
            for word in set(_WORD.findall(m.group(2))):
                users.setdefault(word, []).append(m.group(1))
        _users_memo[path] = users
    return _users_memo[path]


def _reaches(names: set, user_maps: list, targets: set) -> bool:
    """Does a name in ``names``, or a macro defined (transitively) in terms of
    one, occur in ``targets``?"""
    seen = set(names)
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in targets:
            return True
        for users in user_maps:
            for macro in users.get(name, ()):
                if macro not in seen:
                    seen.add(macro)
                    todo.append(macro)
    return False


def _region_declarations(data: bytes, line_start: int):
    """Names declared in the conditional region whose directive starts at
    ``line_start``, or None when the region holds anything else (code)."""
    lines = data[line_start:].split(b"\n")
    depth = 0
    names: set[bytes] = set()
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line)
        if m:
            word = m.group(1)
            if word.startswith(b"if"):
                depth += 1
            elif word == b"endif":
                depth -= 1
                if depth == 0:
                    return names
            continue
        if i == 0:
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith((b"//", b"/*", b"*")):
            continue
        d = _DEFINE.match(line)
        if d:
            names.add(d.group(1))
            continue
        e = re.match(rb"extern\s+[\w\s\*]+?([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*;$", stripped)
        if e:
            names.add(e.group(1))
            continue
        return None
    return None


def _read(path: str):
    data = _text_memo.get(path)
    if data is None:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        if len(_text_memo) < 4096:
            _text_memo[path] = data
    return data


def _skipped(L, tu, path: str):
    fptr = L.clang_getFile(tu.obj, path.encode())
    dead = []
    if fptr:
        ranges = L.clang_getSkippedRanges(tu.obj, fptr)
        if ranges:
            for i in range(ranges.contents.count):
                r = ranges.contents.ranges[i]
                dead.append((_offset(L, L.clang_getRangeStart(r)), _offset(L, L.clang_getRangeEnd(r))))
            L.clang_disposeSourceRangeList(ranges)
    return dead


def _offset(L, loc) -> int:
    import ctypes
    off = ctypes.c_uint()
    L.clang_getSpellingLocation(loc, None, None, None, ctypes.byref(off))
    return off.value


def _parse(path, args) -> Parsed:
    global _pool
    if _pool is None:
        _pool = ReparsePool(tempfile.gettempdir())
    return _pool.parse(index(), path, args + QUIET, PARSE_OPTIONS)


def libclang_version() -> str:
    return cxbind.clang_version()


def predefined_macros(args) -> dict[str, str]:
    """Macros defined before the first line of a file compiled with ``args``
    (compiler predefines and ``-D``), name -> replacement text.  Used to
    preprocess assembly exactly as the configuration would.  Memoised per
    argument list; callers must not modify the returned dict."""
    return _predefined_macros(tuple(args))


@functools.lru_cache(maxsize=64)
def _predefined_macros(args: tuple[str, ...]) -> dict[str, str]:
    tu = index().parse("__threadlint_predefs.c", args=list(args) + ["-x", "c"],
                       unsaved_files=[("__threadlint_predefs.c", "\n")], options=PARSE_OPTIONS)
    out: dict[str, str] = {}
    for c in tu.cursor.get_children():
        if c.kind != cindex.CursorKind.MACRO_DEFINITION or c.location.file is not None:
            continue
        toks = [t.spelling for t in c.get_tokens()]
        out[c.spelling] = " ".join(toks[1:]) if len(toks) > 1 else "1"
    return out
