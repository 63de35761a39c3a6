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

from threadlint.frontend.summary import attach_bodies, summary


def iter_events(nodes, writes: bool = False):
    """Yield ``(event, is_write)`` in evaluation order (operands before operators,
    right-hand side before the assigned left-hand side)."""
    out: list = []
    for n in nodes:
        _events(n, writes, out)
    yield from out


def _events(n, write, out):
    # A recursive function appending to one list: nested generators cost a
    # frame switch per level for every event, and bodies are deep.
    k = n["k"]
    sub = n.get("sub", ())
    if k == "assign" and len(sub) == 2:
        _events(sub[1], False, out)
        _events(sub[0], True, out)
        out.append((n, False))
        return
    if k == "incdec":
        for s in sub:
            _events(s, True, out)
        out.append((n, False))
        return
    if k == "field":
        for s in sub:
            _events(s, False, out)
        out.append((n, write))
        return
    inner = write and k == "stmt"
    for s in sub:
        _events(s, inner, out)
    out.append((n, write))


def walk(nodes):
    """Every node of an event tree, pre-order."""
    # an explicit stack: recursive generators cost O(depth) per node
    stack = list(nodes)
    stack.reverse()
    pop, extend = stack.pop, stack.extend
    while stack:
        n = pop()
        yield n
        sub = n.get("sub")
        if sub:
            extend(reversed(sub))


class EncodedBodies:
    """The function bodies of one parse result, still encoded
    (``frontend.summary``): decoded once, on first use, into the function
    entries that every TU of that result shares."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes):
        self.raw: bytes | None = raw

    def attach(self, functions: list[dict]) -> None:
        if self.raw is None:
            return
        if not attach_bodies(functions, self.raw):
            # the entry's checksum held, so the writer produced this
            raise RuntimeError("function bodies of a parse result do not decode")
        self.raw = None


@dataclass
class TU:
    """One analysed C translation unit in one configuration.

    ``heads`` are the functions without their bodies (name, params, location
    and the summary of ``frontend.summary``); ``functions``, ``body()``,
    ``nodes()`` and ``of_kind()`` decode the TU's bodies on first use, so
    test a summary first where it answers the question."""

    path: str                       # relative to the source root
    abspath: str
    args: tuple[str, ...]
    facts: dict
    includes: list[str] = field(default_factory=list)
    diagnostics: list[dict] = field(default_factory=list)
    crashed: str = ""               # worker crash / timeout description
    not_utf8: bool = False          # the main file is not valid UTF-8
    bodies: EncodedBodies | None = None   # None: the entries have their bodies

    def __post_init__(self):
        if self.bodies is None:     # facts made in process (tests): summarize them here
            for fn in self.facts.get("functions", ()):
                if "kinds" not in fn:
                    fn.update(summary(fn["body"]))

    @property
    def heads(self) -> list[dict]:
        return self.facts.get("functions", [])

    @property
    def functions(self) -> list[dict]:
        self._decode_bodies()
        return self.facts.get("functions", [])

    def body(self, fn: dict) -> list[dict]:
        """The event tree of one of this TU's functions."""
        self._decode_bodies()
        return fn["body"]

    def _decode_bodies(self) -> None:
        if self.bodies is not None:
            self.bodies.attach(self.facts["functions"])

    def nodes(self, fn: dict) -> list[dict]:
        """``walk(body)`` as a list, built once per function: the rules and the
        call graph walk the same bodies many times."""
        return self._index(fn)[0]

    def of_kind(self, fn: dict, kind: str) -> list[dict]:
        """The nodes of one kind (``call``, ``macro``...) of a function, pre-order.
        These lists are shared between callers: do not modify them."""
        return self._index(fn)[1].get(kind, [])

    def fn_calls(self, fn: dict) -> list[dict]:
        """The call events of one function of this TU, pre-order."""
        return self._index(fn)[1].get("call", [])

    def _index(self, fn: dict):
        memo = self.__dict__.setdefault("_nodes_memo", {})
        hit = memo.get(id(fn))
        if hit is None or hit[0] is not fn:         # keep fn alive: its id stays unique
            self._decode_bodies()
            hit = memo[id(fn)] = (fn, *_index_body(fn))
        return hit[1], hit[2]


def _index_body(fn: dict):
    """(nodes in pre-order, nodes by kind) of one function body: ``walk()``'s
    pre-order, inlined, since this runs over every body of the program."""
    nodes: list[dict] = []
    by_kind: dict[str, list] = {}
    stack = list(fn["body"])
    stack.reverse()
    pop, extend, add = stack.pop, stack.extend, nodes.append
    while stack:
        n = pop()
        add(n)
        same = by_kind.get(n["k"])
        if same is None:
            by_kind[n["k"]] = [n]
        else:
            same.append(n)
        sub = n.get("sub")
        if sub:
            extend(reversed(sub))
    return nodes, by_kind


@dataclass
class AsmFile:
    path: str
    abspath: str
    facts: dict                     # see threadlint.frontend.asm
    not_utf8: bool = False          # scanned with U+FFFD replacements


@dataclass
class Program:
    """All TUs and assembly of one build configuration."""

    name: str
    root: str
    profile: "object"
    tus: list[TU]
    asm: list[AsmFile]
    database: str = ""
    # args -> the macros the compiler predefines with them; the engine's answer
    # comes from the fact cache (a libclang parse costs ~0.04 s per run)
    predefined_for: object = None

    def predefined(self) -> dict:
        """Macros the compiler predefines for this configuration (target,
        ``-pthread``, ``-D``): those of its first parsed TU's arguments; {}
        without one."""
        tus = [tu for tu in self.tus if not tu.crashed]
        if not tus:
            return {}
        lookup = self.predefined_for
        if lookup is None:
            from threadlint.frontend.parse import predefined_macros as lookup
        return lookup(tuple(tus[0].args))

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


def split_macro_args(text: str) -> list[str]:
    """``NAME(a, f(b, c))`` -> ``['a', 'f(b, c)']``; object-like macros -> ``[]``."""
    i = text.find("(")
    if i < 0 or not text[:i].strip().isidentifier():
        return []
    return split_args(text[i:])


def split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments of ``(a, f(b, c))`` (text starts at
    the opening parenthesis; nesting and quotes respected)."""
    depth, cur, out = 0, [], []
    quote = None
    for ch in text[1:]:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    last = "".join(cur).strip()
    if last or out:
        out.append(last)
    return out
