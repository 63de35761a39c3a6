from threadlint.registry import Rule

from threadlint_rules import _locking, _suspension


class WeakLockAcrossSuspension(Rule):
    """## What it does
    In a cooperative configuration, reports a WEAK critical section (from
    `WEAK_LOCK(l)` to `WEAK_UNLOCK(l)` on some path) that calls a function
    which may suspend, directly or through calls, and shows the shortest
    witness chain down to the suspension point.  Acquiring a STRONG lock
    inside the section counts: blocking on a contended lock is a suspension
    point.  One finding per section, at the first such call.

    ## Why is this bad
    `WEAK_LOCK` compiles to nothing in the cooperative build: it is correct
    only because a cooperative thread cannot be interrupted between two
    suspension points.  A suspension inside the section lets another thread
    run and enter the same section, see half-updated state or change it under
    the first thread's feet, and nothing reports it at run time.

    ## Example
    ```c
    DECLARE_WEAK_LOCK(cache_lock, static);

    void refill(int fd)
    {
        WEAK_LOCK(cache_lock);
        cache_len = read(fd, cache, sizeof cache);   /* TL103: read may suspend */
        WEAK_UNLOCK(cache_lock);
    }
    ```

    ## How to fix
    Declare and take the lock as STRONG (`DECLARE_STRONG_LOCK`,
    `STRONG_LOCK`/`STRONG_UNLOCK`), or move the call that may suspend out of
    the critical section (copy what it needs first, publish the result after).

    ## Configuration
    `[suspension]` in the profile: `functions`, `patterns` (shell globs) and
    `builtins` name the suspension points; `never` names functions that do not
    suspend whatever they call.  `[locks.kinds.<KIND>]` says which kinds do not
    hold across suspension points (`holds_across_suspension = false`) and
    which kinds' acquisition suspends (`acquire_suspends = true`).  Callees
    without a definition are not assumed to suspend unless the profile names
    them; calls through function pointers are not followed, and a chain that
    needs an address-taken function is reported with low confidence.
    """

    id = "TL103"
    name = "weak-lock-across-suspension"
    summary = "WEAK critical section reaches a suspension point"
    severity = "error"
    precision = "high"
    scope = "program"
    profile_schema = {**_locking.SCHEMA, **_suspension.SCHEMA}

    def check_program(self, program):
        if not _suspension.is_cooperative(program):
            return
        vocab = _locking.vocabulary(program)
        weak = {k for k, spec in vocab.kinds.items() if not spec.holds}
        if not weak:
            return
        model = _suspension.suspension_model(program)
        for tu, fn in _locking.functions_with_lock_macros(program):
            if not any(op[1] in weak and op[0] == "acquire" for op in
                       _locking.analyse(program, tu, fn).ops):
                continue
            facts = _locking.analyse(program, tu, fn)
            sections: dict[tuple, tuple] = {}
            for i, ev in facts.events.items():
                if ev["k"] != "call":
                    continue
                held = [h for h in facts.may_held.get(i, ()) if h[1] in weak]
                if not held:
                    continue
                witness = model.call_witness(tu.path, ev)
                if witness is None:
                    continue
                for ident, kind, line in held:
                    rank = (not witness.certain, ev["l"], ev["c"])
                    best = sections.get((ident, line))
                    if best is None or rank < best[0]:
                        sections[(ident, line)] = (rank, ev, witness, kind)
            cols = {(op[2], op[3]["l"]): op[3]["c"] for op in facts.ops if op[0] == "acquire"}
            for (ident, line), (_, ev, witness, kind) in sorted(sections.items(),
                                                                 key=lambda x: x[1][0][1:]):
                yield self._finding(tu, fn, ident, line, cols.get((ident, line), 1), kind, ev,
                                    witness)

    def _finding(self, tu, fn, ident, line, col, kind, call, witness):
        name = _locking.display(ident)
        if call.get("m"):
            what = f"{call['m']}(...) (acquiring a contended lock suspends)"
        else:
            what = f"a call to {call['n']}()"
        chain = witness.text()
        msg = (f"{kind} lock '{name}' (locked at line {line}) is held across {what}, which may "
               f"suspend: {chain}; {kind} locks are no-ops in the cooperative build, so another "
               f"thread can run inside this critical section" + witness.note())
        return self.finding(msg, tu.path, call["l"], call["c"], function=fn["name"],
                            key=f"{ident}:{call['n']}", confidence=witness.confidence,
                            related=[self.related(tu.path, line, col, f"'{name}' locked here")],
                            chain=witness.related(self))
