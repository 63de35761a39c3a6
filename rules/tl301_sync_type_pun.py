import re

from threadlint.registry import Rule
from threadlint_rules._port import ptable

_QUALIFIERS = {"const", "volatile", "restrict", "__restrict", "__restrict__", "struct"}


class SyncTypePun(Rule):
    """## What it does
    Reports a cast between pointers to two different synchronization types,
    such as `mtx_t *` to `pthread_mutex_t *` or `cnd_t *` to
    `pthread_cond_t *`, written directly or through `void *`
    (`(pthread_mutex_t *)(void *)m`, `pthread_cond_t *c = (void *)cnd;`).

    ## Why is this bad
    The pun is only correct while both types have the same layout.  A port
    that changes one of them (the cooperative-threads build gives `mtx_t` and
    `pthread_mutex_t` their own fields) breaks every such cast silently: the
    compiler cannot warn, and the other configurations keep working.

    ## Example
    ```c
    int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts) {
      return __pthread_mutex_timedlock((pthread_mutex_t *)m, ts);   /* TL301 */
    }
    ```

    ## How to fix
    Convert in one internal helper (for example `static inline pthread_mutex_t
    *__mtx_to_pthread(mtx_t *m)`) next to a `_Static_assert` on the sizes and
    offsets of the two types, and use it everywhere instead of the cast; or
    make one type a typedef of the other.

    ## Configuration
    `[sync_types] types` maps each synchronization type name to its family
    (`mutex`, `cond`, ...).  A cast between two different names is reported,
    within a family or across families.
    """

    id = "TL301"
    name = "sync-type-pun"
    summary = "Cast between pointers to different synchronization types"
    severity = "warning"
    precision = "high"
    scope = "tu"
    profile_schema = {"sync_types": {"types": ("map", str)}}

    def check_tu(self, tu, program):
        types = ptable(program.profile, "sync_types.types")
        if not types:
            return
        for fn in tu.heads:
            # a finding needs a cast from a pointer to a sync type (maybe inner):
            # the summary lists the source types of the body's casts
            if any(_sync_pointee(t, types) for t in fn["casts"]):
                yield from self._scan(tu.body(fn), types, tu.path, fn["name"], None)
        yield from self._scan(tu.facts.get("top_events", []), types, tu.path, None, None)

    def _scan(self, nodes, types, path, func, declared):
        for n in nodes:
            k = n["k"]
            if k == "cast":
                yield from self._cast(n, types, path, func, declared)
                continue                  # nested casts are examined with their outer cast
            target = None
            if k == "decl":
                target = _sync_pointee(n.get("t", ""), types)
            yield from self._scan(n.get("sub", ()), types, path, func, target)

    def _cast(self, n, types, path, func, declared):
        to = _sync_pointee(n.get("t", ""), types)
        frm = _sync_pointee(n.get("f") or "", types)
        via = ""
        inner = _inner_cast(n)
        if _is_void_pointer(n.get("t", "")) and declared and frm:
            to, via = declared, " through void *"           # T *x = (void *)y;
        elif frm is None and inner is not None and _is_void_pointer(n.get("f") or ""):
            frm = _sync_pointee(inner.get("f") or "", types)  # (T *)(void *)y
            via = " through void *"
        if to and frm and to != frm:
            kinds = (f"two {types[to]} types" if types[frm] == types[to]
                     else f"a {types[frm]} type as a {types[to]} type")
            yield self.finding(
                f"cast from '{frm} *' to '{to} *'{via} puns {kinds}: correct only while "
                f"their layouts stay identical; convert in one internal helper",
                path, n["l"], n["c"], function=func, key=f"{frm}->{to}")
            return
        yield from self._scan(n.get("sub", ()), types, path, func, None)


def _sync_pointee(t: str, types) -> str | None:
    """The synchronization type ``t`` points to (one level of pointer), or None."""
    if t.count("*") != 1 or "(" in t or "[" in t:
        return None
    words = [w for w in re.split(r"[\s*]+", t) if w and w not in _QUALIFIERS]
    return words[0] if len(words) == 1 and words[0] in types else None


def _is_void_pointer(t: str) -> bool:
    words = [w for w in re.split(r"[\s*]+", t) if w and w not in _QUALIFIERS]
    return words == ["void"] and t.count("*") == 1


def _inner_cast(n):
    for s in n.get("sub", ()):
        if s["k"] == "cast":
            return s
    return None
