"""Parse one C translation unit with libclang and return its facts.

Runs inside worker processes: one ``clang.cindex.Index`` per process.
"""
from __future__ import annotations

import os
import re

import clang.cindex as cindex

from threadlint.frontend import cxbind
from threadlint.frontend.cfacts import TUExtractor

PARSE_OPTIONS = (cindex.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD
                 | cindex.TranslationUnit.PARSE_INCOMPLETE)
_UNKNOWN_ARG = re.compile(r"unknown argument:? '([^']+)'")
_index = None


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


def parse_c(path: str, args: list[str]) -> dict:
    """Facts for ``path`` compiled with ``args`` (already sanitised/adapted).

    Returns ``{"facts", "diagnostics", "includes", "dropped_args"}``.  Arguments
    libclang rejects as unknown are dropped and the parse is retried once; the
    dropped arguments are reported so the user can see the adaptation.
    """
    with open(path, "rb") as fh:
        source = fh.read()
    dropped: list[str] = []
    tu = _parse(path, args, source)
    diags = _diagnostics(tu)
    unknown = {m.group(1) for d in diags for m in [_UNKNOWN_ARG.search(d["message"])] if m}
    if unknown:
        dropped = sorted(unknown)
        args = [a for a in args if a not in unknown]
        tu = _parse(path, args, source)
        diags = _diagnostics(tu)
    facts = TUExtractor(tu.obj, path, source).extract()
    includes = sorted({os.path.normpath(i.include.name) for i in tu.get_includes()})
    del tu
    return {"facts": facts, "diagnostics": diags, "includes": includes, "dropped_args": dropped}


def _parse(path, args, source):
    return index().parse(path, args=args, options=PARSE_OPTIONS)


def libclang_version() -> str:
    return cxbind.clang_version()


def predefined_macros(args: list[str]) -> dict[str, str]:
    """Macros defined before the first line of a file compiled with ``args``
    (compiler predefines and ``-D``), name -> replacement text.  Used to
    preprocess assembly exactly as the configuration would."""
    tu = index().parse("__threadlint_predefs.c", args=args + ["-x", "c"],
                       unsaved_files=[("__threadlint_predefs.c", "\n")], options=PARSE_OPTIONS)
    out: dict[str, str] = {}
    for c in tu.cursor.get_children():
        if c.kind != cindex.CursorKind.MACRO_DEFINITION or c.location.file is not None:
            continue
        toks = [t.spelling for t in c.get_tokens()]
        out[c.spelling] = " ".join(toks[1:]) if len(toks) > 1 else "1"
    return out
