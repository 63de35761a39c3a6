from threadlint.registry import Rule

from threadlint_rules import _locking, _suspension


class LockImbalance(Rule):
    """## What it does
    Follows every path through a function (if/else, loops, switch, goto,
    return and `defer`, which runs its statement at scope exit) and reports,
    per lock and kind:

    - a lock acquired in the function that is still held at one return while
      other paths return with it released ("locked at line X, returns locked
      at line Y; other paths release it");
    - a lock released when it is not held: released twice on one path, or
      released on a path that never acquired it while other paths did;
    - a lock acquired again while this function already holds it;
    - in a wait routine (a function that may suspend), a call to an unlock or
      re-lock routine whose failure result is dropped, such as a condition
      wait that ignores the mutex-unlock error.

    A function that returns with a lock held on every path (an acquire
    wrapper like `__ofl_lock`), or that conditionally acquires one and returns
    without touching it otherwise (like `__lockfile`), is consistent and
    not reported.  Tests of the same local variable are correlated
    (`if (need) LOCK(l); ... if (need) UNLOCK(l);` is balanced).

    ## Why is this bad
    A lock left held on an error path deadlocks the next thread that takes
    it; in the cooperative build a STRONG lock held by a thread that went on
    without it blocks every other thread forever at their next acquisition.
    Releasing a lock that is not held corrupts the owner/waiter state (the
    cooperative `__unlock` traps).  A wait routine that drops the unlock error
    sleeps while the caller believes it failed, or the other way round.

    ## Example
    ```c
    int set_entry(int i, int v)
    {
        STRONG_LOCK(table_lock);
        if (i < 0)
            return -1;            /* TL104: returns with table_lock held */
        table[i] = v;
        STRONG_UNLOCK(table_lock);
        return 0;
    }
    ```

    ## How to fix
    Release the lock on every path, most simply with one exit label or with
    `STRONG_LOCK(l); defer STRONG_UNLOCK(l);`.  Check and propagate the result
    of an unlock or re-lock inside a wait routine.

    ## Configuration
    `[locks.kinds.<KIND>]` names the acquire and release macros;
    `[locks] noreturn` adds functions after which a path ends (beyond `abort`,
    `exit`, `__builtin_trap`, ...); `[locks] fallible_unlock` lists the
    unlock/re-lock routines whose result must be used in a wait routine, and
    `[suspension]` (see TL103) decides which functions are wait routines.
    """

    id = "TL104"
    name = "lock-imbalance"
    summary = "Lock held on some return paths only, released when not held, or unlock error dropped"
    severity = "warning"
    precision = "high"
    scope = "program"
    profile_schema = {**_locking.SCHEMA, **_suspension.SCHEMA}

    def check_program(self, program):
        for tu, fn in _locking.functions_with_lock_macros(program):
            facts = _locking.analyse(program, tu, fn)
            yield from self._returns(tu, fn, facts)
            yield from self._releases(tu, fn, facts)
            yield from self._double_acquire(tu, fn, facts)
        if _suspension.is_cooperative(program):
            yield from self._ignored_failures(program)

    def _returns(self, tu, fn, facts):
        for ident, statuses in sorted(facts.returns.items()):
            held = statuses.get(_locking.HELD)
            released = statuses.get(_locking.RELEASED)
            if not held or not released:
                continue
            ret_line, acq_line, ret_col = min(held)
            rel_ret, rel_line, _ = min(released)
            kind = next((op[1] for op in facts.ops if op[2] == ident and op[0] == "acquire"), "")
            name = _locking.display(ident)
            cols = {(op[0], op[3]["l"]): op[3]["c"] for op in facts.ops if op[2] == ident}
            ret_text = "returns" if not _is_implicit(fn, ret_line) else "falls off the end"
            msg = (f"'{name}' ({kind}) locked at line {acq_line}, {ret_text} locked at line {ret_line}; "
                   f"other paths unlock it (line {rel_line}) before returning (line {rel_ret})")
            yield self.finding(msg, tu.path, ret_line, ret_col, function=fn["name"], key=f"held:{ident}",
                               related=[self.related(tu.path, acq_line, cols.get(("acquire", acq_line), 1),
                                                     f"'{name}' locked here"),
                                        self.related(tu.path, rel_line, cols.get(("release", rel_line), 1),
                                                     f"'{name}' unlocked here on another path")])

    def _releases(self, tu, fn, facts):
        reported = set()
        for (what, line, ident), d in sorted(facts.issues.items(), key=lambda x: x[0][1]):
            if what != "double_release" or (ident, line) in reported:
                continue
            reported.add((ident, line))
            ev = d["event"]
            name = _locking.display(ident)
            msg = f"'{name}' unlocked at line {line} when not held: already unlocked at line {d['prev']}"
            yield self.finding(msg, tu.path, ev["l"], ev["c"], function=fn["name"], key=f"twice:{ident}",
                               related=[self.related(tu.path, d["prev"], 1, "first unlock")])
        acquires = {}
        for what, kind, ident, ev in facts.ops:
            if what == "acquire":
                acquires.setdefault(ident, ev)
        for what, kind, ident, ev in facts.ops:
            states = facts.release_states.get(id(ev), set())
            if what != "release" or None not in states or _locking.HELD not in states:
                continue
            if (ident, ev["l"]) in reported or ident not in acquires:
                continue
            reported.add((ident, ev["l"]))
            acq = acquires[ident]
            name = _locking.display(ident)
            msg = (f"'{name}' unlocked at line {ev['l']} on a path that did not lock it; other paths "
                   f"lock it at line {acq['l']}")
            yield self.finding(msg, tu.path, ev["l"], ev["c"], function=fn["name"],
                               key=f"unheld:{ident}",
                               related=[self.related(tu.path, acq["l"], acq["c"], f"'{name}' locked here")])

    def _double_acquire(self, tu, fn, facts):
        for (what, line, ident), d in sorted(facts.issues.items(), key=lambda x: x[0][1]):
            if what != "double_acquire":
                continue
            ev = d["event"]
            name = _locking.display(ident)
            msg = (f"'{name}' locked at line {line} while already held: locked at line {d['prev']} "
                   "and not unlocked on this path")
            yield self.finding(msg, tu.path, ev["l"], ev["c"], function=fn["name"], key=f"again:{ident}",
                               related=[self.related(tu.path, d["prev"], 1, "first lock")])

    def _ignored_failures(self, program):
        vocab = _locking.vocabulary(program)
        if not vocab.fallible:
            return
        model = _suspension.suspension_model(program)
        for tu in program.tus:
            for fn in tu.heads:
                if vocab.fallible.isdisjoint(c[0] for c in fn["calls"]):
                    continue              # the summary first: statement_calls walks the body
                calls = [c for c in statement_calls(tu.body(fn))
                         if not c.get("ind") and c["n"] in vocab.fallible]
                if not calls:
                    continue
                key = model.cg.key(tu.path, fn["name"])
                witness = model.function_witness(key) if key else None
                if witness is None:
                    continue
                for call in calls:
                    msg = (f"{fn['name']} waits (it may suspend: {witness.text()}) but ignores the "
                           f"result of {call['n']}(): if the unlock or re-lock fails the error is "
                           "lost and the caller cannot tell" + witness.note())
                    yield self.finding(msg, tu.path, call["l"], call["c"], function=fn["name"],
                                       key=f"ignored:{call['n']}", confidence=witness.confidence,
                                       chain=witness.related(self))


def _is_implicit(fn, line):
    return line == fn.get("end_l")


def statement_calls(body):
    """Direct calls whose value is discarded: expression statements."""
    stack = [("block", body)]
    while stack:
        parent, nodes = stack.pop()
        for i, n in enumerate(nodes):
            positional = _statement_slot(parent, i)
            if n["k"] == "call" and positional:
                yield n
            if n.get("sub"):
                stack.append((n["k"], n["sub"]))


def _statement_slot(parent: str, index: int) -> bool:
    if parent in ("block", "label", "default", "defer"):
        return True
    if parent == "case":
        return index >= 1
    if parent == "if":
        return index >= 1
    if parent == "while":
        return index == 1
    if parent == "do":
        return index == 0
    return False

