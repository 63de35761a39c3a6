"""The program model rules see: per-TU facts, assembly facts, configurations.

Facts are plain JSON data produced by ``threadlint.frontend`` (and cached).
A function body is an *event tree*: a list of nodes ``{"k": kind, "l": line,
"c": col, ..., "sub": [children]}``.  Kinds:

========  ==================================================================
call      ``n`` callee (or callee text when ``ind``), ``ind`` indirect, ``a`` argument texts; ``sub`` = argument events
macro     main-file macro expansion: ``n`` name, ``a`` argument texts
ref       variable use: ``n``, ``s`` scope (global/static/local/param), ``t`` type, ``tls``
field     member access: ``n`` field, ``st`` struct type, ``x`` text; ``sub`` = base events
fref      function named without being called (address taken): ``n``
assign    ``x`` text; ``sub`` = [lhs, rhs]
incdec / addrof   ``sub`` = operand
cast      ``f``/``fc`` source type (canonical), ``t``/``tc`` target type
decl      local variable: ``n``, ``t``, ``static``, ``init`` text; ``sub`` = initialiser events
ret       ``v`` returned text; ``sub`` = value events
if        ``sub`` = [cond, then, else?]     while ``sub`` = [cond, body]   do ``sub`` = [body, cond]
for       ``sub`` = [init/cond/inc..., body]  switch ``sub`` = [cond, body]
case      ``sub`` = [value, stmt]            default/label ``sub`` = [stmt] (label has ``name``)
goto      ``label``        break / continue        block ``sub`` = statements
asm       inline assembly: ``x`` its source text (first 4000 characters)
defer     ``sub`` = [deferred statement] (runs at scope exit)
stmt      a positional slot holding other events
========  ==================================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property


def iter_events(nodes, writes: bool = False):
    """Yield ``(event, is_write)`` in evaluation order (operands before operators,
    right-hand side before the assigned left-hand side)."""
    for n in nodes:
        yield from _events(n, writes)


def _events(n, write):
    k = n["k"]
    sub = n.get("sub", ())
    if k == "assign" and len(sub) == 2:
        yield from _events(sub[1], False)
        yield from _events(sub[0], True)
        yield n, False
        return
    if k == "incdec":
        for s in sub:
            yield from _events(s, True)
        yield n, False
        return
    if k == "field":
        for s in sub:
            yield from _events(s, False)
        yield n, write
        return
    for s in sub:
        yield from _events(s, write and k in ("stmt",))
    yield n, write


def walk(nodes):
    """Every node of an event tree, pre-order."""
    for n in nodes:
        yield n
        yield from walk(n.get("sub", ()))


@dataclass
class TU:
    """One analysed C translation unit in one configuration."""

    path: str                       # relative to the source root
    abspath: str
    args: tuple[str, ...]
    facts: dict
    includes: list[str] = field(default_factory=list)
    diagnostics: list[dict] = field(default_factory=list)
    crashed: str = ""               # worker crash / timeout description

    @property
    def functions(self) -> list[dict]:
        return self.facts.get("functions", [])

    def calls(self):
        """(function, call-event) for every call in the TU."""
        for fn in self.functions:
            for node in walk(fn["body"]):
                if node["k"] == "call":
                    yield fn, node


@dataclass
class AsmFile:
    path: str
    abspath: str
    facts: dict                     # see threadlint.frontend.asm


@dataclass
class Program:
    """All TUs and assembly of one build configuration."""

    name: str
    root: str
    profile: "object"
    tus: list[TU]
    asm: list[AsmFile]
    database: str = ""

    @cached_property
    def callgraph(self):
        from threadlint.callgraph import CallGraph
        return CallGraph.build(self)

    def tu_by_path(self, path: str) -> TU | None:
        for tu in self.tus:
            if tu.path == path:
                return tu
        return None


@dataclass
class Project:
    """Everything: the source tree and every configuration."""

    root: str
    profile: "object"
    programs: list[Program]
    tree_files: list[str]           # every file under root, relative, sorted
