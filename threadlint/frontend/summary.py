"""Function summaries, and the two-part encoding of a parse result.

Most rules ask a cheap question of every function first (does it call a
lock-free wait? write a global? cast a sync type?) and walk the body of the
few that qualify.  The summary answers those questions without the body, so
the body, 85% of a TU's facts, is decoded only for the TUs a rule looks into
(``threadlint.facts.TU``).  Summary keys, added to each function's entry:

=========  ===================================================================
calls      ``[name, line, col, macro]`` per direct call, pre-order; ``macro``
           is the expanding macro's name or ""
frefs      ``[name, line, col]`` per function named without being called
ind        number of calls through pointers
writes     ``[name, scope]`` of the global/static (not thread-local) variables
           an assignment or ``++``/``--`` writes (the first variable of its
           target: ``g``, ``g.f``, ``g[i]``), sorted
globals    names of the global/static variables the body reads or writes
macros     names of the main-file macros expanded in the body
casts      source types (canonical) of the casts in the body
types      types of the local variables it declares and of the locals and
           parameters it uses
kinds      every event kind that occurs in the body
=========  ===================================================================

An encoded result is two JSON documents on two lines: the result with every
body taken out, then the list of bodies in function order.  This lives in the
frontend package so that a change to it invalidates the fact cache.
"""
from __future__ import annotations

from threadlint import jsonio

SUMMARY_KEYS = ("calls", "frefs", "ind", "writes", "globals", "macros", "casts", "types",
                "kinds")


def summary(body: list) -> dict:
    """The summary keys of one function body."""
    calls, frefs = [], []
    ind = 0
    writes, globals_, macros, casts, types, kinds = set(), set(), set(), set(), set(), set()
    stack = list(body)
    stack.reverse()
    pop, extend, add_kind = stack.pop, stack.extend, kinds.add
    while stack:
        n = pop()
        k = n["k"]
        add_kind(k)
        if k == "ref":                  # the commonest event first
            scope = n.get("s")
            if scope == "global" or scope == "static":
                globals_.add(n["n"])
            elif n.get("t"):
                types.add(n["t"])
        elif k == "call":
            if n.get("ind"):
                ind += 1
            else:
                calls.append([n["n"], n["l"], n["c"], n.get("m") or ""])
        elif k == "decl":
            if n.get("t"):
                types.add(n["t"])
        elif k == "assign" or k == "incdec":
            target = _written(n)
            if target is not None and target.get("s") in ("global", "static") \
                    and not target.get("tls"):
                writes.add((target["n"], target["s"]))
        elif k == "fref":
            frefs.append([n["n"], n["l"], n["c"]])
        elif k == "macro":
            macros.add(n["n"])
        elif k == "cast":
            if n.get("f"):
                casts.add(n["f"])
        sub = n.get("sub")
        if sub:
            extend(reversed(sub))
    return {"calls": calls, "frefs": frefs, "ind": ind, "writes": sorted(map(list, writes)),
            "globals": sorted(globals_), "macros": sorted(macros), "casts": sorted(casts),
            "types": sorted(types), "kinds": sorted(kinds)}


def _written(n: dict) -> dict | None:
    """The first variable reference of what an assignment or ++/-- writes."""
    sub = n.get("sub", ())
    if n["k"] == "assign":
        if len(sub) != 2:
            return None
        sub = sub[:1]
    stack = list(sub)
    stack.reverse()
    while stack:
        x = stack.pop()
        if x["k"] == "ref":
            return x
        more = x.get("sub")
        if more:
            stack.extend(reversed(more))
    return None


def encode(result: dict) -> bytes:
    """``result`` (a parse result) as stored and sent: its functions summarized,
    then the head line and the bodies line.  ``result`` is not modified."""
    facts = result.get("facts") or {}
    functions = facts.get("functions") or []
    heads, bodies = [], []
    for fn in functions:
        body = fn.get("body", [])
        head = {k: v for k, v in fn.items() if k != "body"}
        if "kinds" not in head:
            head.update(summary(body))
        heads.append(head)
        bodies.append(body)
    head_result = dict(result, facts=dict(facts, functions=heads)) if functions else result
    return jsonio.dumps(head_result) + b"\n" + jsonio.dumps(bodies)


def split(raw: bytes) -> tuple[dict, bytes] | None:
    """(the decoded head, the still encoded bodies) of ``encode``'s bytes, or None
    when they are damaged."""
    head_raw, sep, bodies = raw.partition(b"\n")
    if not sep:
        return None
    try:
        head = jsonio.loads(head_raw)
    except jsonio.DecodeError:
        return None
    return (head, bodies) if isinstance(head, dict) else None


def attach_bodies(functions: list[dict], bodies_raw: bytes) -> bool:
    """Put each decoded body back into its function entry; False when the
    bodies do not decode or do not match the functions."""
    try:
        bodies = jsonio.loads(bodies_raw)
    except jsonio.DecodeError:
        return False
    if not isinstance(bodies, list) or len(bodies) != len(functions):
        return False
    for fn, body in zip(functions, bodies):
        fn["body"] = body
    return True


def decode(raw: bytes) -> dict | None:
    """The whole result, bodies in place, of ``encode``'s bytes, or None when
    they are damaged."""
    loaded = split(raw)
    if loaded is None:
        return None
    head, bodies = loaded
    return head if attach_bodies(head.get("facts", {}).get("functions", []), bodies) else None
