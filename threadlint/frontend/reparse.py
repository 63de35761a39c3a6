"""Parse a TU by reparsing one kept per argument list, not from scratch.

Before libclang reads a TU's first line it runs the driver on the arguments
and builds a compiler invocation.  ``clang_reparseTranslationUnit`` keeps the
invocation (and starts from a fresh file manager, so an edited header is read
again), but it always parses the TU's own main file.  So the main file is a
virtual one-line file, ``#include "<the real path>"``, and each parse with the
same arguments reparses it with the next path.  Measured on the wasi-libc
corpus (905 wasip3-coop TUs, the jobs of one argument list run one after the
other by one worker, ``parallel.run``'s affinity): a cold run -4% wall at
``-j 2`` beside that scheduling alone; reparses interleaved with other
argument lists gained nothing.

The real file is then the wrapper's one inclusion, which changes nothing a
parse shows of it: its tokens, cursors, skipped ranges and macro expansions
are found through its own ``CXFile``; a quoted ``#include`` in it is looked up
from its own directory first, as from a main file; ``__FILE__`` spells the same
absolute path (identical facts, diagnostics and dependencies on all 905 TUs).
What differs is the depth of every inclusion (one more: the caller skips the
wrapper's level, ``Parsed.depth``), ``__INCLUDE_LEVEL__``/``__BASE_FILE__``,
and ``#include_next``/``#pragma once`` written in the ``.c`` file itself (none
in the corpus).  A file whose path is relative or holds ``"`` or a newline
(no header-name can) is parsed plainly.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import NamedTuple

import clang.cindex as cindex

# TUs kept per process.  A worker runs the jobs of one argument list (a
# precompiled prefix is one of its arguments) one after the other, and a kept
# TU holds a whole AST in memory (1-3 MB for a libc source): a few suffice
# (on the corpus, 44 of 913 parses then start from scratch, the minimum ~40).
KEPT = 4


class Parsed(NamedTuple):
    """A parse: the libclang TU, and the depth of the real file's own inclusions
    (1 for a plain parse, 2 through the wrapper)."""

    tu: cindex.TranslationUnit
    depth: int


class ReparsePool:
    def __init__(self, wrapper_dir: str):
        self.wrapper = os.path.join(wrapper_dir, f"threadlint-main-{os.getpid()}.c")
        self._kept: OrderedDict[tuple, cindex.TranslationUnit] = OrderedDict()

    def parse(self, index: cindex.Index, path: str, args: list[str], options: int) -> Parsed:
        if not os.path.isabs(path) or '"' in path or "\n" in path:
            return Parsed(index.parse(path, args=args, options=options), 1)
        unsaved = [(self.wrapper, f'#include "{path}"\n')]
        key = tuple(args)
        tu = self._kept.pop(key, None)
        if tu is not None:
            try:
                tu.reparse(unsaved_files=unsaved)
            except cindex.TranslationUnitLoadError:
                tu = None           # dropped (disposed); a fresh parse decides
        if tu is None:
            tu = index.parse(self.wrapper, args=args, unsaved_files=unsaved, options=options)
        if not _has_errors(tu):
            self._kept[key] = tu
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        return Parsed(tu, 2)


def _has_errors(tu: cindex.TranslationUnit) -> bool:
    """A TU with an error is not reparsed: libclang carries some of its error
    state into the next parse (after "too many errors emitted" every reparse
    stops at once with that error)."""
    return any(d.severity >= cindex.Diagnostic.Error for d in tu.diagnostics)
