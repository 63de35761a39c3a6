"""Suspension points of a cooperative configuration, and witness chains.

Shared by TL101 and TL103 (and TL104's wait-routine form); not a rule.

A function *suspends* when it is a suspension point named by the profile
(``[suspension] functions``, ``patterns`` - shell globs - and ``builtins``), is
the function a suspending lock kind's acquire macro calls (``__lock`` behind
``STRONG_LOCK``), or reaches one of those through the call graph.  Callees
without a definition in the configuration are not assumed to suspend unless
the profile names them; ``[suspension] never`` names functions that do not
suspend whatever the graph says (synchronously lowered imports, for example).

Chains that use only direct calls, macro calls, aliases and assembly calls
are *certain*; a chain that needs an edge from a function to one whose address
it takes (a call through a function pointer, approximated) is reported with
low confidence and says so.

A configuration is *cooperative* when the lock macros say so: a kind that
does not hold across suspension points (WEAK) never expands to a call, and a
kind whose acquisition suspends (STRONG) does, at least once.  Rules about suspension
skip the other configurations (real threads, or no threads at all).
"""
from __future__ import annotations

import fnmatch
import re

from threadlint.facts import walk

from threadlint_rules import _locking

SCHEMA = {
    "suspension": {
        "functions": ("list", str),
        "patterns": ("list", str),
        "builtins": ("list", str),
        "never": ("list", str),
    },
}
CERTAIN_EDGES = frozenset({"call", "macro", "alias", "asm"})


class Witness:
    """Why a call may suspend: the chain of functions, caller first."""

    def __init__(self, model: "SuspensionModel", nodes: list[str], certain: bool, via: str = ""):
        self.model = model
        self.nodes = nodes
        self.certain = certain
        self.via = via          # how an uncertain chain is entered, for the message

    @property
    def confidence(self) -> str:
        return "high" if self.certain else "low"

    def names(self) -> list[str]:
        g = self.model.cg.g
        return [g.nodes[n].get("name", n) if n in g else n for n in self.nodes]

    def text(self) -> str:
        return " -> ".join(self.names())

    def note(self) -> str:
        """Sentence added to a message when the chain is not certain."""
        if self.certain:
            return ""
        if self.via:
            return (f" (lower confidence: {self.via}, and a call through that pointer is assumed; "
                    "the chain may not happen)")
        return (" (lower confidence: the chain goes through a call via a function pointer, "
                "approximated by the functions whose address is taken; it may not happen)")

    def related(self, rule) -> list:
        """One related location per hop of the chain (call sites)."""
        out = []
        steps = self.model.cg.chain(self.nodes) if len(self.nodes) > 1 else []
        for step in steps:
            path, line, col = step.site
            g = self.model.cg.g
            callee = g.nodes[step.callee].get("name", step.callee)
            caller = g.nodes[step.caller].get("name", step.caller)
            verb = "takes the address of" if step.kind == "fptr" else "calls"
            out.append(rule.related(path, line, col, f"{caller} {verb} {callee}", caller))
        return out


class SuspensionModel:
    def __init__(self, program):
        self.program = program
        prof = program.profile
        self.cg = program.callgraph
        g = self.cg.g
        names = set(prof.get("suspension.functions", []) if prof else ())
        names |= set(prof.get("suspension.builtins", []) if prof else ())
        patterns = list(prof.get("suspension.patterns", []) if prof else ())
        never = set(prof.get("suspension.never", []) if prof else ())
        vocab = _locking.vocabulary(program)
        self.acquire_callees = set()
        suspending_macros = {m for k in vocab.kinds.values() if k.acquire_suspends for m in k.acquire}
        for tu in program.tus:
            for fn in tu.heads:
                for name, _, _, macro in fn["calls"]:      # direct calls (frontend.summary)
                    if macro in suspending_macros:
                        self.acquire_callees.add(self.cg.key(tu.path, name) or name)
        self.explicit_names = names
        self.patterns = patterns
        # one regular expression for every glob: fnmatchcase on each is slow
        self._pattern_re = re.compile("|".join(fnmatch.translate(p) for p in patterns)) \
            if patterns else None
        self.targets = {n for n, name in g.nodes(data="name", default=None)
                        if (name if name is not None else n) not in never
                        and self.is_target_name(name if name is not None else n)}
        self.targets |= {n for n in self.acquire_callees if n in g}
        # callers of each function without the `never` ones: every edge
        # (loose), and the edges that are certain calls (strict)
        keep = {n for n in g if g.nodes[n].get("name", n) not in never}
        loose = {n: [] for n in keep}
        strict = {n: [] for n in keep}
        for a, b, d in g.edges(data=True):
            if a in keep and b in keep:
                loose[b].append(a)
                if d.get("kind") in CERTAIN_EDGES:
                    strict[b].append(a)
        self.strict = _Reaching(strict, self.targets)
        self.loose = _Reaching(loose, self.targets)
        # names of the functions with a chain (every strict chain is a loose one)
        self._loose_names = {g.nodes[k].get("name", k) for k in self.loose.next}
        self._strict_names = {g.nodes[k].get("name", k) for k in self.strict.next}
        self._call_memo: dict[int, tuple] = {}       # id(call) -> (call, tu path, witness)

    def is_target_name(self, name: str) -> bool:
        return name in self.explicit_names or bool(self._pattern_re and self._pattern_re.match(name))

    def function_witness(self, key: str) -> Witness | None:
        if key in self.strict:
            return Witness(self, self.strict[key], True)
        if key in self.loose:
            return Witness(self, self.loose[key], False)
        return None

    def may_suspend(self, tu_path: str, fn: dict) -> bool:
        """False when no call of ``fn`` has a ``call_witness``, from its summary
        (``frontend.summary``) alone; True when one may have."""
        if not fn["calls"]:
            return False
        g = self.cg.g
        for name, _, _, _ in fn["calls"]:
            if name in self._loose_names or (name not in g and self.is_target_name(name)):
                return True
        # a function passed as an argument may be called back (_call_witness)
        return any(name in self._strict_names for name, _, _ in fn["frefs"])

    def call_witness(self, tu_path: str, call: dict) -> Witness | None:
        """Why a call event may suspend, or None.  Calls through pointers are
        not assumed to suspend (their targets are unknown)."""
        # rules ask about the same call once per path state: memoise by event
        hit = self._call_memo.get(id(call))
        if hit is not None and hit[0] is call and hit[1] == tu_path:
            return hit[2]
        found = self._call_witness(tu_path, call)
        self._call_memo[id(call)] = (call, tu_path, found)
        return found

    def _call_witness(self, tu_path: str, call: dict) -> Witness | None:
        if call.get("k") != "call" or call.get("ind"):
            return None
        key = self.cg.key(tu_path, call["n"])
        if key is None:
            found = Witness(self, [call["n"]], True) if self.is_target_name(call["n"]) else None
        else:
            found = self.function_witness(key)
        if found is not None and found.certain:
            return found
        # a function passed as an argument may be called back by the callee
        for arg in call.get("sub", ()):
            for ev in walk([arg]):
                if ev["k"] != "fref":
                    continue
                target = self.cg.key(tu_path, ev["n"])
                if target and target in self.strict:
                    return Witness(self, self.strict[target], False,
                                   via=f"{ev['n']} is passed to {call['n']}()")
        return found


class _Reaching:
    """Shortest chain from every function to a suspension point.  A
    breadth-first search backwards from the targets, visiting names in sorted
    order so that the witness among equally short chains is stable."""

    def __init__(self, callers: dict[str, list[str]], targets):
        self.next: dict[str, str | None] = {t: None for t in sorted(targets) if t in callers}
        frontier = sorted(self.next)
        while frontier:
            found = []
            for v in frontier:
                for u in sorted(callers[v]):
                    if u not in self.next:
                        self.next[u] = v
                        found.append(u)
            frontier = found

    def __contains__(self, key) -> bool:
        return key in self.next

    def __getitem__(self, key) -> list[str]:
        path = [key]
        while self.next[path[-1]] is not None:
            path.append(self.next[path[-1]])
        return path


def suspension_model(program) -> SuspensionModel:
    if "_tl_susp_model" not in program.__dict__:
        program.__dict__["_tl_susp_model"] = SuspensionModel(program)
    return program.__dict__["_tl_susp_model"]


def is_cooperative(program) -> bool:
    """From the lock macros as built: see the module docstring.  A
    configuration with no acquisition of a suspending kind compiled to a call
    (single-threaded builds, or no lock used at all) is not cooperative."""
    memo = program.__dict__.get("_tl_coop")
    if memo is not None:
        return memo
    vocab = _locking.vocabulary(program)
    noop = {m for k in vocab.kinds.values() if not k.holds for m in k.acquire}
    blocking = {m for k in vocab.kinds.values() if k.acquire_suspends for m in k.acquire}
    real_blocking = False
    lock_macros = noop | blocking
    for tu in program.tus:
        for fn in tu.heads:
            if lock_macros.isdisjoint(fn["macros"]):
                continue                 # the summary says: no lock macro in this body
            # a macro's call has the macro's position; the macro event may come
            # before or (inside an if/loop slot) after the call in the tree
            macros, calls = set(), set()
            for ev in tu.of_kind(fn, "macro"):
                if ev["n"] in lock_macros:
                    macros.add((ev["n"], ev["l"], ev["c"]))
            if not macros:
                continue
            for ev in tu.fn_calls(fn):
                if ev.get("m"):
                    calls.add((ev["m"], ev["l"], ev["c"]))
            for m in macros:
                if m in calls and m[0] in noop:
                    program.__dict__["_tl_coop"] = False      # WEAK is a real lock here
                    return False
                real_blocking |= m in calls and m[0] in blocking
    program.__dict__["_tl_coop"] = real_blocking
    return real_blocking
