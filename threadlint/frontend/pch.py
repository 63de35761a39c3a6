"""Shared precompiled prefix headers for TUs that open with the same ``#include``.

Most libc sources start with one ``#include`` (``"pthread_impl.h"``,
``<stdlib.h>``, ...) whose text is most of the parse.  When several TUs to be
parsed with the same arguments open with the same directive, that directive is
compiled once into a PCH and each TU is parsed with ``-include-pch``: the
header's include guard then makes the TU's own ``#include`` a no-op, so the TU
sees exactly the declarations and macros it would have seen (measured on the
wasi-libc corpus: identical facts, dependencies and diagnostics on 764 TUs,
parse time of those TUs -26%).

It is only used where that equivalence is structural:
  * the directive is the file's first token (comments and blank lines aside),
    so nothing the TU defines can change how the header is read;
  * the header is include-guarded (``#ifndef``/``#pragma once``), so including
    it again adds nothing;
  * a quoted include resolves as it would from the TU: when the TU's directory
    holds the file, the prefix names it by absolute path; otherwise the lookup
    falls through to the same ``-iquote``/``-I`` list as the TU's;
  * no ``-include``/``-imacros``/``-include-pch`` in the arguments.
Any error while building the PCH, or while parsing a TU with it, falls back to
the plain parse.  Headers inside a PCH are not reported by the TU's inclusion
list, so the PCH's own dependencies are added to the TU's (cache keys).
"""
from __future__ import annotations

import hashlib
import os
import re

# The first token of the file is an #include (possessive: no backtracking on
# long comment headers).
_LEADING_INCLUDE = re.compile(rb'(?:\s|/\*.*?\*/|//[^\n]*)*+#[ \t]*include[ \t]*(<[^>\n]+>|"[^"\n]+")',
                              re.S)
_HEAD_BYTES = 16384
_FORCED_INCLUDES = ("-include", "-imacros", "-include-pch")
# Building a PCH costs 3-15 ms (the header's parse and the save); a TU parsed
# with it saves from nothing (a small header such as <errno.h>: loading the
# PCH costs about what the header did) to 7 ms ("pthread_impl.h").  Measured
# on the wasi-libc corpus, the groups of fewer than six TUs cost 0.08-0.1 s of
# CPU more than they saved, and larger groups pay.
MIN_GROUP = 6


def prefix_directive(path: str, args) -> str | None:
    """The ``#include`` line a PCH for ``path`` would hold, or None."""
    if any(a.startswith(_FORCED_INCLUDES) for a in args):
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError:
        return None
    m = _LEADING_INCLUDE.match(head)
    if not m:
        return None
    try:
        target = m.group(1).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if target[0] == '"':
        local = os.path.join(os.path.dirname(path), target[1:-1])
        if os.path.isfile(local):
            # found next to the TU: name that very file, wherever the PCH lives
            return f'#include "{os.path.normpath(local)}"\n'
    return f"#include {target}\n"


class Prefixes:
    """PCHs built by this process, keyed by (directive, arguments, directory)."""

    def __init__(self):
        self._built: dict[tuple, tuple[str, list[str]] | None] = {}

    def get(self, directive: str, args: list[str], pch_dir: str):
        """(PCH path, files it includes) or None when it cannot be used."""
        key = (directive, tuple(args), pch_dir)
        if key not in self._built:
            self._built[key] = self._build(directive, args, pch_dir)
        return self._built[key]

    def reject(self, directive: str, args: list[str], pch_dir: str) -> None:
        """A TU failed to parse with this PCH: the rest of its group parse plainly."""
        self._built[(directive, tuple(args), pch_dir)] = None

    def _build(self, directive: str, args: list[str], pch_dir: str):
        from threadlint.frontend import cxbind
        from threadlint.fsutil import atomic_write_bytes
        from threadlint.frontend.parse import PARSE_OPTIONS, QUIET, has_errors, index

        digest = hashlib.sha1(repr((directive, args)).encode()).hexdigest()[:20]
        # per-process names: two workers may build the same prefix at once
        stem = os.path.join(pch_dir, f"{digest}-{os.getpid()}")
        prefix, pch = stem + ".h", stem + ".pch"
        try:
            atomic_write_bytes(prefix, directive.encode("utf-8"), durable=False)
            tu = index().parse(prefix, args=list(args) + QUIET + ["-x", "c-header"],
                                options=PARSE_OPTIONS)
            if has_errors(tu) or not _guarded_header(tu):
                return None
            deps = sorted({os.path.normpath(n) for n in cxbind.included_files(tu.obj)})
            tu.save(pch)
        except Exception:       # libclang refused (TranslationUnitSaveError, ...): parse plainly
            return None
        return pch, deps


def _guarded_header(tu) -> bool:
    """Is the header the prefix includes include-guarded (a second #include adds nothing)?"""
    from threadlint.frontend import cxbind

    direct = cxbind.included_handles(tu.obj, depth=1)
    return len(direct) == 1 and bool(cxbind.lib().clang_isFileMultipleIncludeGuarded(tu.obj, direct[0]))
