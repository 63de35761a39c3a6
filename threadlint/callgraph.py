"""Whole-program call graph of one configuration (C TUs and assembly).

Nodes are function keys: ``name`` for external linkage, ``path::name`` for
static functions.  Node attributes: ``name``, ``path``, ``line``, ``kind``
(``c``, ``asm`` or ``undefined``), ``static``, ``indirect_calls`` (number of
calls through pointers in the body).  Edge attributes: ``kind`` (``call``,
``macro`` - a call produced by a macro expansion, ``alias`` - weak/strong
alias, ``fptr`` - function whose address is taken, ``asm`` - a call from
assembly) and ``sites`` (list of (path, line, col)).
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Step:
    """One hop of a witness chain: ``caller`` calls ``callee`` at ``site``."""

    caller: str
    callee: str
    kind: str
    site: tuple[str, int, int]


class CallGraph:
    def __init__(self, graph: nx.DiGraph):
        self.g = graph
        self._reverse = None

    # -- construction ----------------------------------------------------
    @classmethod
    def build(cls, program) -> "CallGraph":
        g = nx.DiGraph()
        statics: dict[tuple[str, str], str] = {}
        alias_macros = program.profile.get("callgraph.alias_macros", {}) if program.profile else {}
        for tu in program.tus:
            for fn in tu.heads:
                key = f"{tu.path}::{fn['name']}" if fn["static"] else fn["name"]
                if fn["static"]:
                    statics[(tu.path, fn["name"])] = key
                g.add_node(key, name=fn["name"], path=tu.path, line=fn["l"], kind="c",
                           static=fn["static"], indirect_calls=0)
        for af in program.asm:
            for fn in af.facts.get("functions", []):
                if fn["name"] not in g:
                    g.add_node(fn["name"], name=fn["name"], path=af.path, line=fn["l"],
                               kind="asm", static=False, indirect_calls=0)

        def resolve(path, name):
            return statics.get((path, name), name)

        def add_edge(src, dst_name, path, kind, site):
            dst = resolve(path, dst_name)
            if dst not in g:
                g.add_node(dst, name=dst_name, path="", line=0, kind="undefined", static=False,
                           indirect_calls=0)
            if g.has_edge(src, dst):
                data = g.edges[src, dst]
                data["sites"].append(site)
                if data["kind"] != "call" and kind == "call":
                    data["kind"] = kind
            else:
                g.add_edge(src, dst, kind=kind, sites=[site])

        for tu in program.tus:
            # from the functions' summaries (frontend.summary): no body is decoded
            for fn in tu.heads:
                src = resolve(tu.path, fn["name"])
                g.nodes[src]["indirect_calls"] += fn["ind"]
                for name, line, col, macro in fn["calls"]:
                    add_edge(src, name, tu.path, "macro" if macro else "call", (tu.path, line, col))
                for name, line, col in fn["frefs"]:
                    add_edge(src, name, tu.path, "fptr", (tu.path, line, col))
            for m in tu.facts.get("macros", []):
                kind = alias_macros.get(m["name"]) if isinstance(alias_macros, dict) else None
                if kind and len(m["args"]) >= 2:
                    target, alias = m["args"][0], m["args"][1]
                    # the alias name behaves as a function that forwards to the target
                    if alias not in g or g.nodes[alias]["kind"] == "undefined":
                        g.add_node(alias, name=alias, path=tu.path, line=m["l"], kind="alias",
                                   static=False, indirect_calls=0)
                    add_edge(alias, target, tu.path, "alias", (tu.path, m["l"], m["c"]))
        for af in program.asm:
            for fn in af.facts.get("functions", []):
                for call in fn.get("calls", []):
                    add_edge(fn["name"], call["name"], af.path, "asm", (af.path, call["l"], 1))
        return cls(g)

    # -- queries ---------------------------------------------------------
    def key(self, path: str, name: str) -> str | None:
        static_key = f"{path}::{name}"
        if static_key in self.g:
            return static_key
        return name if name in self.g else None

    def definition(self, key: str) -> dict | None:
        data = self.g.nodes.get(key)
        return data if data and data["kind"] != "undefined" else None

    def witness(self, start: str, targets) -> list[Step] | None:
        """Shortest call chain from ``start`` to any node in ``targets``, or None."""
        targets = set(targets)
        if start not in self.g:
            return None
        if start in targets:
            return []
        try:
            path = nx.shortest_path(self.g, start, target=None)
        except nx.NetworkXError:
            return None
        best = None
        for t in targets:
            p = path.get(t)
            if p is not None and (best is None or (len(p), p) < (len(best), best)):
                best = p
        if best is None:
            return None
        return [self._step(a, b) for a, b in zip(best, best[1:])]

    def reaching(self, targets) -> dict[str, list[str]]:
        """For every node that reaches one of ``targets``: the shortest path to it.

        One multi-source search on the reversed graph answers all callers at once.
        """
        targets = [t for t in targets if t in self.g]
        if not targets:
            return {}
        if self._reverse is None:
            self._reverse = self.g.reverse(copy=False)
        paths = nx.multi_source_dijkstra_path(self._reverse, set(targets))
        return {node: list(reversed(p)) for node, p in paths.items()}

    def chain(self, path_nodes: list[str]) -> list[Step]:
        return [self._step(a, b) for a, b in zip(path_nodes, path_nodes[1:])]

    def _step(self, a: str, b: str) -> Step:
        data = self.g.edges[a, b]
        site = min(data["sites"])
        return Step(a, b, data["kind"], site)

