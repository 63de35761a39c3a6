from threadlint.registry import Rule

from threadlint_rules import _locking


class LockKindMismatch(Rule):
    """## What it does
    Reports a lock declared with one kind (`DECLARE_STRONG_LOCK` /
    `DECLARE_WEAK_LOCK`) that is acquired or released with the other kind's
    macros, and, for a lock whose declaration is not visible, an acquire and a
    release of different kinds on the same path.  The declaration may be in the
    file, at file scope in an included header of the source tree, or a member
    of a struct in one (`DECLARE_STRONG_LOCK(lock);` in `struct _IO_FILE`
    makes every `f->lock` STRONG).  One finding per function and lock, at the
    first mismatching use; the declaration is the related location.

    ## Why is this bad
    The kind is a promise about the critical section.  In the cooperative build
    `WEAK_LOCK` compiles to nothing, so a STRONG lock taken with WEAK macros
    protects nothing across the suspension points its author declared it for;
    a WEAK lock taken with STRONG macros does not even compile there (the WEAK
    declaration expands to nothing).  Mixed pairs leave a real lock held
    forever or release a lock that was never taken.

    ## Example
    ```c
    static FILE *ofl_head;
    DECLARE_STRONG_LOCK(ofl_lock, static);

    FILE **__ofl_lock(void)
    {
        WEAK_LOCK(ofl_lock);      /* TL102: declared STRONG */
        return &ofl_head;
    }
    ```

    ## How to fix
    Use the macros of the declared kind.  If the critical section really never
    reaches a suspension point, change the declaration to WEAK instead (and
    TL103 will check that claim).

    ## Configuration
    `[locks.kinds.<KIND>]` in the profile lists each kind's `declare`,
    `acquire` and `release` macros.  Only headers under the source root are
    scanned for declarations.
    """

    id = "TL102"
    name = "lock-kind-mismatch"
    summary = "Lock acquired or released with macros of a different kind than declared"
    severity = "error"
    precision = "high"
    scope = "program"
    profile_schema = _locking.SCHEMA

    def check_program(self, program):
        model = _locking.lock_model(program)
        vocab = model.vocab
        for tu in program.tus:
            per_fn: dict[tuple, list] = {}
            for m in tu.facts.get("macros", []):
                op = vocab.op(m["name"])
                if not op or op[0] == "declare" or not m.get("func") or not m["args"]:
                    continue
                ident = model.identity(tu.path, m["args"][0])
                decl = model.declared(ident)
                if decl is not None and decl.kind != op[1]:
                    per_fn.setdefault((m["func"], ident), []).append((m, op, decl))
            for (func, ident), uses in per_fn.items():
                m, (what, kind), decl = uses[0]
                more = len(uses) - 1
                where = (f"member '{decl.name}' of struct {decl.record}" if decl.member and decl.record
                         else f"'{decl.name}'")
                msg = (f"lock {where} is declared {decl.kind} ({decl.macro} at {decl.path}:{decl.line}) "
                       f"but {m['name']}({m['args'][0]}) {what}s it as {kind}"
                       + (f"; {more} more {kind} use(s) of it in this function" if more else "")
                       + _consequence(vocab, decl.kind, kind))
                yield self.finding(msg, tu.path, m["l"], m["c"], function=func, key=ident,
                                   related=[self.related(decl.path, decl.line, decl.col,
                                                         f"declared {decl.kind} here")])
        yield from self._pairs(program, model)

    def _pairs(self, program, model):
        """Acquire/release of different kinds on one path, for undeclared locks."""
        for tu, fn in _locking.functions_with_lock_macros(program):
            facts = _locking.analyse(program, tu, fn)
            reported = set()
            for (what, line, ident), d in sorted(facts.issues.items(), key=lambda x: x[0][1]):
                if what != "pair_mismatch" or model.declared(ident) is not None or ident in reported:
                    continue
                reported.add(ident)
                ev = d["event"]
                msg = (f"lock '{_locking.display(ident)}' is acquired as {d['acquired_kind']} at line "
                       f"{d['prev']} but released as {d['kind']} here by {ev['n']}({ev['a'][0]})")
                yield self.finding(msg, tu.path, ev["l"], ev["c"], function=fn["name"], key=ident,
                                   related=[self.related(tu.path, d["prev"], 1,
                                                         f"acquired as {d['acquired_kind']} here")])


def _consequence(vocab, declared: str, used: str) -> str:
    d, u = vocab.kinds.get(declared), vocab.kinds.get(used)
    if d and u and d.holds and not u.holds:
        return (f": {used} macros are no-ops in the cooperative build, so this critical section "
                "is unprotected across suspension points")
    if d and u and not d.holds and u.holds:
        return f": a {declared} declaration has no lock object in the cooperative build"
    return ""
