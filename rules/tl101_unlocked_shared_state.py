import re

from threadlint.facts import iter_events, walk
from threadlint.registry import Rule

from threadlint_rules import _flow, _locking, _suspension

SCHEMA = {
    "shared_state": {
        # functions returning a pointer borrowed from a shared table
        "borrow": ("list", str),
        # type names: a pointer to one of these is per-descriptor shared state
        "types": ("list", str),
        # deallocators: a function that passes a pointer to one owns the object
        # (it was unpublished first, as in a descriptor's free callback)
        "release": ("list", str),
    },
}


class UnlockedSharedState(Rule):
    """## What it does
    In a cooperative configuration, reports shared mutable state that a
    function obtains before a point that may suspend and uses after it, with
    no STRONG lock held over that span:

    - a pointer borrowed from a shared table (the profile's `borrow`
      functions, such as `descriptor_table_get_ref`), or copied from one;
    - a pointer to per-descriptor I/O state (the profile's `types`), read out
      of a descriptor or passed in;
    - a pointer read out of file-scope or static state that some function
      writes.

    One finding per function, at the first use after the suspension; the
    related locations are where the pointer was obtained and the suspension
    point, with its call chain when the suspension is indirect.  It also
    reports the lock-consistency form: a file-scope or static variable written
    under a STRONG lock in one function and written without that lock in
    another (a static function whose every caller holds the lock counts as
    holding it), as a pair.

    Not reported: state used only between two suspension points, state
    re-fetched after the suspension, a STRONG lock held across the whole
    span, thread-local variables, and memory the function allocated itself
    (not yet published to other threads).

    ## Why is this bad
    While a thread is suspended every other thread may run.  A descriptor
    borrowed before a blocking read can be closed by another thread, and its
    entry and I/O state freed; the first thread then resumes and writes into
    freed memory.  Two threads reading the same descriptor interleave their
    in-flight I/O flags.  A variable written under a lock in one place and
    without it in another is not protected by that lock at all.

    ## Example
    ```c
    ssize_t read_some(int fd, void *buf, size_t n)
    {
        descriptor_table_entry_t *entry = descriptor_table_get_ref(fd);
        if (!entry)
            return -1;
        ssize_t r = blocking_read(entry->data, buf, n);  /* may suspend */
        entry->vtable->note_read(entry->data, r);        /* TL101 */
        return r;
    }
    ```

    ## How to fix
    Hold a STRONG lock over the borrow, the suspension and the use, or
    re-fetch the state after the suspension (`descriptor_table_get_ref` again)
    and handle it having gone away.  For the lock-consistency form, take the
    same STRONG lock at every write.

    ## Configuration
    `[shared_state] borrow` lists the borrow functions and `types` the
    per-descriptor state types.  Suspension points come from `[suspension]`
    (see TL103) and lock kinds from `[locks.kinds.<KIND>]`; only kinds with
    `holds_across_suspension = true` protect state.  `[shared_state] release`
    lists deallocators: a function that passes a pointer to one owns that
    object (a descriptor's `free` callback runs after the entry left the
    table), so its uses are not reported.
    """

    id = "TL101"
    name = "unlocked-shared-state"
    summary = "Shared state obtained before a suspension point and used after it without a STRONG lock"
    severity = "warning"
    precision = "medium"
    scope = "program"
    profile_schema = {**_locking.SCHEMA, **_suspension.SCHEMA, **SCHEMA}

    def check_program(self, program):
        if not _suspension.is_cooperative(program):
            return
        prof = program.profile
        self.borrow = set(prof.get("shared_state.borrow", []) if prof else ())
        self.release = set(prof.get("shared_state.release", []) if prof else ())
        types = list(prof.get("shared_state.types", []) if prof else ())
        self.types_re = re.compile(r"\b(?:%s)\b" % "|".join(map(re.escape, types))) if types else None
        self.model = _suspension.suspension_model(program)
        self.vocab = _locking.vocabulary(program)
        self.strong = {k for k, spec in self.vocab.kinds.items() if spec.holds}
        self.mutable = _written_globals(program)
        for tu in program.tus:
            for fn in tu.heads:
                # the summaries first: most functions that may suspend track nothing
                if self.model.may_suspend(tu.path, fn) and self._may_track_summary(tu, fn) and \
                        any(self.model.call_witness(tu.path, c) for c in tu.fn_calls(fn)):
                    found = self._function(program, tu, fn)
                    if found:
                        yield found
        yield from self._consistency(program)

    # -- stale pointers across a suspension ---------------------------------------
    def _source(self, tu, events, type_text, tracked):
        """Why a value of ``type_text`` computed from ``events`` is shared, or None.
        Returns (description, inherited entry or None)."""
        calls = [ev for ev in events if ev["k"] == "call"]
        for ev in calls:
            if not ev.get("ind") and ev["n"] in self.borrow:
                return f"borrowed from {ev['n']}()", None
        # Only data pointers: a function pointer points at code nobody frees,
        # and a value returned by another call is that call's business (fresh
        # allocations are not shared yet).
        if not _is_data_pointer(type_text) or calls:
            return None
        for ev in events:
            if ev["k"] == "ref" and ev["n"] in tracked:
                return "copied from it", tracked[ev["n"]]
        if self.types_re and self.types_re.search(type_text) and \
                any(e["k"] in ("ref", "field") for e in events):
            return f"a pointer to per-descriptor state ({type_text})", None
        for ev in events:
            if ev["k"] == "ref" and ev.get("s") in ("global", "static") and not ev.get("tls") \
                    and _is_data_pointer(ev.get("t", "")) and _gkey(tu.path, ev) in self.mutable:
                return f"read from shared '{ev['n']}'", None
        return None

    def _owned(self, tu, fn) -> set[str]:
        """Variables this function deallocates: it owns those objects, nobody
        else can reach them any more."""
        out = set()
        for call in tu.fn_calls(fn):
            if call["n"] in self.release and not call.get("ind"):
                for arg in call.get("a", []):
                    name = re.sub(r"^\(.*?\)\s*", "", arg.strip())
                    if re.fullmatch(r"[A-Za-z_]\w*", name):
                        out.add(name)
        return out

    def _function(self, program, tu, fn):
        owned = self._owned(tu, fn)
        bindings = _Bindings(tu.of_kind(fn, "decl") + tu.of_kind(fn, "assign"))
        if not self._may_track(tu, fn, owned, bindings):
            return None        # nothing is ever tracked: no use to report
        cfg = _locking.flow_graph(program, tu, fn)
        tracker = _locking.Tracker(_locking.lock_model(program), tu.path)
        origins: list[tuple] = []         # (line, col, var, description)
        suspensions: list[tuple] = []     # (call event, witness)
        uses: dict[tuple, tuple] = {}     # (line, col) -> (var, origin index, suspension index)
        origin_ids: dict[tuple, int] = {}
        susp_ids: dict[int, int] = {}

        def origin(line, col, var, desc):
            key = (line, col, var, desc)
            if key not in origin_ids:
                origin_ids[key] = len(origins)
                origins.append(key)
            return origin_ids[key]

        init = frozenset()
        tracked0 = {}
        for name, ptype in fn.get("params", []):
            if name in owned:
                continue
            if self.types_re and self.types_re.search(ptype) and _is_data_pointer(ptype):
                tracked0[name] = (origin(fn["l"], fn["c"], name,
                                         f"a pointer to per-descriptor state ({ptype}) passed in"),
                                  frozenset(), -1)
        start = (init, frozenset(tracked0.items()))

        maps: dict[frozenset, dict] = {}    # tracked items -> the same as a dict (read only)

        def step(state, item, _bid):
            ev, is_write = item
            k = ev["k"]
            if k not in _STEP_KINDS:
                return state
            locks, tracked = state
            tmap = maps.get(tracked)
            if tmap is None:
                tmap = maps[tracked] = dict(tracked)
            if k == "macro":
                new_locks = tracker.step(locks, ev)
                released = {e[0] for e in locks if e[2] == _locking.HELD} - \
                    {e[0] for e in new_locks if e[2] == _locking.HELD}
                if released:
                    tracked = frozenset((v, (o, p - released, s)) for v, (o, p, s) in tmap.items())
                return new_locks, tracked
            if k == "ref":
                if not is_write and ev["n"] in tmap and ev.get("s") in ("local", "param"):
                    o, p, s = tmap[ev["n"]]
                    if s >= 0:
                        uses.setdefault((ev["l"], ev["c"]), (ev["n"], o, s))
                return state
            if k == "call":
                witness = self.model.call_witness(tu.path, ev)
                if witness is not None and any(s < 0 and not p for o, p, s in tmap.values()):
                    if id(ev) not in susp_ids:
                        susp_ids[id(ev)] = len(suspensions)
                        suspensions.append((ev, witness))
                    si = susp_ids[id(ev)]
                    return locks, frozenset((v, (o, p, si if (s < 0 and not p) else s))
                                            for v, (o, p, s) in tmap.items())
                return state
            b = bindings.get(ev)              # a decl or an assignment
            if b is None:
                return state
            target, ttype, events = b
            live = {v: e for v, e in tmap.items() if e[2] < 0}
            src = None if target in owned else self._source(tu, events, ttype, live)
            tmap = dict(tmap)
            tmap.pop(target, None)
            if src is not None:
                desc, inherited = src
                held = frozenset(e[0] for e in locks if e[2] == _locking.HELD and e[1] in self.strong)
                if inherited is not None:      # a copy shares the original's origin and locks
                    tmap[target] = (inherited[0], inherited[1], -1)
                else:
                    tmap[target] = (origin(ev["l"], ev["c"], target, desc), held, -1)
            return locks, frozenset(tmap.items())

        _flow.solve(cfg, start, step)
        if not uses:
            return None
        # the first use after the suspension in the text; a use reached only
        # through a loop's back edge (above the suspension) comes last
        def order(use):
            (line, col), (_, _, si) = use
            sline = suspensions[si][0]["l"]
            return (0 if line > sline else 1 if line == sline else 2, line, col)
        (line, col), (var, oi, si) = min(uses.items(), key=order)
        oline, ocol, ovar, desc = origins[oi]
        call, witness = suspensions[si]
        name = f"{call['m']}(...)" if call.get("m") else f"{call['n']}()"
        how = name if len(witness.nodes) <= 1 else f"{name} ({witness.text()})"
        subject = f"'{var}'" if var == ovar else f"'{var}' (from '{ovar}')"
        msg = (f"{subject} was {desc} at line {oline} and is used here after line {call['l']}, where "
               f"{how} may suspend, with no STRONG lock held over that span: another thread may "
               f"have changed, closed or freed it meanwhile" + witness.note())
        return self.finding(msg, tu.path, line, col, function=fn["name"], key=f"stale:{ovar}",
                            confidence=witness.confidence if witness.certain else "low",
                            related=[self.related(tu.path, oline, ocol, f"'{ovar}' obtained here"),
                                     self.related(tu.path, call["l"], call["c"], "may suspend here")],
                            chain=witness.related(self))

    def _may_track(self, tu, fn, owned, bindings) -> bool:
        """Whether the walk can track anything: a parameter of a per-descriptor
        type, or a binding whose value is shared with nothing tracked yet (a
        copy of a tracked pointer needs an earlier tracked one)."""
        if self.types_re and any(name not in owned and self.types_re.search(ptype)
                                 and _is_data_pointer(ptype) for name, ptype in fn.get("params", [])):
            return True
        # without a borrow call only a data pointer can be shared (see _source)
        borrows = any(not c.get("ind") and c["n"] in self.borrow for c in tu.fn_calls(fn))
        for key, (target, ttype, _) in bindings.heads.items():
            if target in owned or not (borrows or _is_data_pointer(ttype)):
                continue
            if self._source(tu, bindings.events_of(key), ttype, {}) is not None:
                return True
        return False

    def _may_track_summary(self, tu, fn) -> bool:
        """False only when ``_may_track`` is, from the function's summary: a
        parameter or local of a per-descriptor type, a borrow call, or a
        global that some function writes."""
        types_re = self.types_re
        if types_re and (any(types_re.search(t) for _, t in fn.get("params", ()))
                         or any(types_re.search(t) for t in fn["types"])):
            return True
        if not self.borrow.isdisjoint(c[0] for c in fn["calls"]):
            return True
        return any(g in self.mutable or f"{tu.path}::{g}" in self.mutable for g in fn["globals"])

    # -- written under a STRONG lock here, without it there ----------------------------
    def _consistency(self, program):
        writes = _global_writes(program, self.strong)
        for gkey, sites in sorted(writes.items()):
            locked = [s for s in sites if s[3]]
            if not locked:
                continue
            reported = set()
            for tu, fn, ev, held in sorted(sites, key=lambda s: (s[0].path, s[2]["l"], s[2]["c"])):
                for ltu, lfn, lev, lheld in locked:
                    if lfn["name"] == fn["name"] and ltu.path == tu.path:
                        continue
                    missing = lheld - held
                    if not missing or (tu.path, fn["name"]) in reported:
                        continue
                    reported.add((tu.path, fn["name"]))
                    lock = _locking.display(sorted(missing)[0])
                    name = gkey.rsplit("::", 1)[-1]
                    msg = (f"'{name}' is written here without STRONG lock '{lock}', but "
                           f"{lfn['name']}() writes it holding '{lock}' ({ltu.path}:{lev['l']}): "
                           "the lock does not protect it")
                    yield self.finding(msg, tu.path, ev["l"], ev["c"], function=fn["name"],
                                       key=f"unlocked-write:{gkey}",
                                       related=[self.related(ltu.path, lev["l"], lev["c"],
                                                             f"written under '{lock}' here", lfn["name"])])
                    break


# the event kinds the stale-pointer walk reacts to
_STEP_KINDS = frozenset({"macro", "ref", "call", "decl", "assign"})


def _compound(assign_text: str) -> bool:
    """`x += y` and friends: the old value flows into the new one."""
    return assign_text.split("=", 1)[0].rstrip().endswith(
        ("+", "-", "*", "/", "|", "&", "^", "%", "<<", ">>"))


def _is_data_pointer(type_text: str) -> bool:
    return ("*" in type_text or "[" in type_text) and "(*" not in type_text


def _binding(ev):
    """(target, type, value trees) when ``ev`` gives a local a new value
    (a declaration, or a plain assignment to a local or parameter), else None."""
    k = ev["k"]
    if k == "decl":
        return ev["n"], ev.get("t", ""), ev.get("sub", [])
    if k == "assign" and len(ev.get("sub", [])) == 2 and ev["sub"][0]["k"] == "ref" \
            and ev["sub"][0].get("s") in ("local", "param") and not _compound(ev["x"]):
        lhs = ev["sub"][0]
        return lhs["n"], lhs.get("t", ""), [ev["sub"][1]]
    return None


class _Bindings:
    """The bindings (``_binding``) of one function's events, by event id; the
    path walk asks for the same event once per state, so the value events
    are walked once, on first use."""

    def __init__(self, nodes):
        self.heads = {}
        for ev in nodes:
            head = _binding(ev)
            if head is not None:
                self.heads[id(ev)] = head
        self._events: dict[int, list] = {}

    def events_of(self, key: int) -> list:
        if key not in self._events:
            self._events[key] = list(walk(self.heads[key][2]))
        return self._events[key]

    def get(self, ev):
        """(target, type, value events) or None."""
        key = id(ev)
        if key not in self.heads:
            return None          # every event of the body was indexed
        target, ttype, _ = self.heads[key]
        return target, ttype, self.events_of(key)


def _gkey(path, ev):
    return f"{path}::{ev['n']}" if ev.get("s") == "static" else ev["n"]


def _write_targets(ev, is_write):
    """Global/static refs an item writes (assignment or ++/-- target roots)."""
    k = ev["k"]
    if k == "assign" and len(ev.get("sub", [])) == 2:
        return _first_ref([ev["sub"][0]])
    if k == "incdec":
        return _first_ref(ev.get("sub", []))
    return []


def _first_ref(nodes) -> list:
    """[the first ref of ``walk(nodes)``], or []."""
    stack = list(nodes)
    stack.reverse()
    while stack:
        n = stack.pop()
        if n["k"] == "ref":
            return [n]
        sub = n.get("sub")
        if sub:
            stack.extend(reversed(sub))
    return []


def _global_write_sites(program) -> list:
    """(tu, fn, [(write event, global/static ref written)]) in program order,
    events in evaluation order, for the functions that write shared state."""
    memo = program.__dict__.get("_tl_global_write_sites")
    if memo is None:
        memo = []
        for tu in program.tus:
            for fn in tu.heads:
                # the summary first (frontend.summary: the same write targets);
                # the sites are then listed in evaluation order
                if not fn["writes"]:
                    continue
                sites = [(ev, r) for ev, w in iter_events(tu.body(fn))
                         for r in _write_targets(ev, w)
                         if r.get("s") in ("global", "static") and not r.get("tls")]
                if sites:
                    memo.append((tu, fn, sites))
        program.__dict__["_tl_global_write_sites"] = memo
    return memo


def _written_globals(program) -> set[str]:
    memo = program.__dict__.get("_tl_written_globals")
    if memo is None:
        memo = {_gkey(tu.path, r) for tu, _, sites in _global_write_sites(program) for _, r in sites}
        program.__dict__["_tl_written_globals"] = memo
    return memo


def _global_writes(program, strong_kinds) -> dict:
    """global key -> [(tu, fn, write event, STRONG identities held on every path)]."""
    entry = _entry_held(program)
    out: dict[str, list] = {}
    lock_funcs = {(tu.path, fn["name"]) for tu, fn in _locking.functions_with_lock_macros(program)}
    for tu, fn, sites in _global_write_sites(program):
        facts = _locking.analyse(program, tu, fn) if (tu.path, fn["name"]) in lock_funcs else None
        inherited = entry.get(program.callgraph.key(tu.path, fn["name"])) or frozenset()
        strong = _strong_identities(program, facts, strong_kinds)
        for ev, r in sites:
            held = inherited
            if facts is not None:
                held = held | (facts.must_held.get(id(ev), frozenset()) & strong)
            out.setdefault(_gkey(tu.path, r), []).append((tu, fn, ev, frozenset(held)))
    return out


def _strong_identities(program, facts, strong_kinds) -> frozenset:
    if facts is None:
        return frozenset()
    return frozenset(op[2] for op in facts.ops if op[1] in strong_kinds)


def _toward_writers(tu, statics: set[str]) -> set[str]:
    """The static functions among ``statics`` that write shared state or call
    one that does: the only ones whose callers' locks ``_global_writes`` asks
    about (from the summaries; a static function's callers are in its TU)."""
    heads = [fn for fn in tu.heads if fn["name"] in statics]
    out = {fn["name"] for fn in heads if fn["writes"]}
    grew = bool(out)
    while grew:
        grew = False
        for fn in heads:
            if fn["name"] not in out and not out.isdisjoint(c[0] for c in fn["calls"]):
                out.add(fn["name"])
                grew = True
    return out


def _entry_held(program) -> dict:
    """Static functions that write shared state (or call one that does) whose
    every call site holds a STRONG lock: key -> identities."""
    memo = program.__dict__.get("_tl_entry_held")
    if memo is not None:
        return memo
    cg = program.callgraph
    vocab = _locking.vocabulary(program)
    strong_kinds = {k for k, spec in vocab.kinds.items() if spec.holds}
    lock_funcs = {(tu.path, fn["name"]) for tu, fn in _locking.functions_with_lock_macros(program)}
    address_taken = {v for _, v, d in cg.g.edges(data=True) if d.get("kind") == "fptr"}
    # names of the static functions of each file whose address is not taken:
    # the only callees considered (their key is "path::name")
    statics: dict[str, set[str]] = {}
    for key, data in cg.g.nodes(data=True):
        if data.get("static") and key not in address_taken and key == f"{data['path']}::{data['name']}":
            statics.setdefault(data["path"], set()).add(data["name"])
    sites: dict[str, list] = {}            # callee key -> [(caller key, held at the call)]
    for tu in program.tus:
        names = _toward_writers(tu, statics.get(tu.path, set()))
        if not names:
            continue
        for fn in tu.heads:
            if names.isdisjoint(c[0] for c in fn["calls"]):
                continue
            calls = [c for c in tu.fn_calls(fn) if not c.get("ind") and c["n"] in names]
            if not calls:
                continue
            caller = cg.key(tu.path, fn["name"])
            facts = _locking.analyse(program, tu, fn) if (tu.path, fn["name"]) in lock_funcs else None
            strong = _strong_identities(program, facts, strong_kinds)
            for call in calls:
                callee = f"{tu.path}::{call['n']}"
                held = facts.must_held.get(id(call), frozenset()) & strong if facts else frozenset()
                sites.setdefault(callee, []).append((caller, held))
    entry = {k: None for k in sites}
    for _ in range(10):
        changed = False
        for callee, calls in sites.items():
            acc = None
            for caller, held in calls:
                inherited = entry.get(caller, frozenset())
                if inherited is None:
                    continue                      # caller not settled yet: no constraint
                at = held | inherited
                acc = at if acc is None else acc & at
            if acc is not None and entry[callee] != acc:
                entry[callee] = acc
                changed = True
        if not changed:
            break
    memo = {k: v for k, v in entry.items() if v}
    program.__dict__["_tl_entry_held"] = memo
    return memo
