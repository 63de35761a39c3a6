from threadlint.facts import walk
from threadlint.registry import Rule
from threadlint.sources import SourceLines
from threadlint_rules._port import plist, ptable, pvalue

# What a caller loses when a timed wait of each kind does not wait.
CONSEQUENCE = {
    "cond": "a condition-variable wait that times out at once breaks real programs: a caller "
            "that waits in a loop for its predicate spins without ever letting the signalling "
            "thread run",
    "mutex": "a contended timed lock fails at once instead of waiting for the owner to unlock",
    "rwlock": "a contended timed rwlock fails at once instead of waiting for the holders",
    "sem": "a timed semaphore wait fails at once instead of waiting for a post",
    "sleep": "the caller does not sleep for the time it asked for",
    "join": "a timed join fails at once instead of waiting for the thread",
}
NONNULL = ("{p}", "{p} != NULL", "{p} != 0", "NULL != {p}", "0 != {p}", "{p} != ((void*)0)")
ISNULL = ("!{p}", "{p} == NULL", "{p} == 0", "NULL == {p}", "0 == {p}", "{p} == ((void*)0)")


class TimeoutIgnored(Rule):
    """## What it does
    Finds timed waits that do not honour their timeout: the function returns
    `ETIMEDOUT`, `ENOSYS` or another error for any non-null timeout without
    waiting, or never reads its timeout parameter at all.  Functions that
    forward their timeout to such a stub (`cnd_timedwait` calling
    `__pthread_cond_timedwait`, a public alias) are followed through the call
    graph: the finding is reported once, at the root stub, with every timed
    function that reaches it as a related location.

    ## Why is this bad
    Programs rely on the timeout to make progress.  A condition-variable wait
    that "times out" at once turns `while (!ready) pthread_cond_timedwait(...)`
    into a busy loop that, under cooperative scheduling, never lets the thread
    that would set `ready` run.  A contended timed lock that fails at once
    breaks callers that treat `ETIMEDOUT` as "the owner is stuck".  The same
    stub copied into every timed function also hides the gap from reviewers.

    ## Example
    ```c
    int __pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                 const struct timespec *ts) {
      if (ts)
        return ETIMEDOUT;          /* TL201: no wait for any timeout */
      ...
    }
    ```

    ## How to fix
    Implement the timeout (arm a timer that wakes the waiter), or route every
    timed function through one central "timeouts unsupported" helper so the
    gap is documented in one place and can be fixed once; never return
    `ETIMEDOUT` before the deadline.

    ## Configuration
    `[timeouts] apis` maps the timed API names to what they wait for
    (`cond`, `mutex`, `rwlock`, `sem`, `sleep`, `join`); a function that
    forwards its timeout parameter to one of them is timed too.
    `timeout_types` are the parameter types that carry a timeout;
    `errno_functions` are calls that only set `errno` (they do not count as
    waiting).  `need_other_thread` lists the kinds that only another thread
    can satisfy (a held mutex, a thread to join): in a configuration without
    threads (`[features] threads_macro` undefined) failing them at once is
    correct and not reported.
    """

    id = "TL201"
    name = "timeout-ignored"
    summary = "Timed wait that does not honour its timeout"
    severity = "warning"
    precision = "high"
    scope = "program"
    profile_schema = {"timeouts": {"apis": ("map", str), "timeout_types": ("list", str),
                                   "errno_functions": ("list", str),
                                   "need_other_thread": ("list", str)},
                      "features": {"threads_macro": str}}

    def check_program(self, program):
        prof = program.profile
        apis = ptable(prof, "timeouts.apis")
        if not apis:
            return
        types = {_norm_type(t) for t in plist(prof, "timeouts.timeout_types")}
        errno_fns = set(plist(prof, "timeouts.errno_functions"))
        cg = program.callgraph
        src = SourceLines(program.root)
        funcs, tparam = _timeout_params(program, cg, types)
        kind, public, forwards = _timed(cg, funcs, tparam, apis)

        # Without threads nothing else can unlock a mutex or finish a thread, so
        # failing such a wait at once (EDEADLK) is right there.
        threads = pvalue(prof, "features.threads_macro", "")
        exempt = set(plist(prof, "timeouts.need_other_thread")) \
            if threads and threads not in program.predefined() else set()
        stubs = {}
        for key in kind:
            if kind[key] in exempt:
                continue
            tu, fn = funcs[key]
            why = _stub(tu, fn, tparam[key], src, errno_fns)
            if why:
                stubs[key] = why

        aliases = _aliases(cg)
        for key, (line, col, what) in sorted(stubs.items()):
            tu, fn = funcs[key]
            shown = public.get(key) or fn["name"]
            reachers = sorted(_reachers(key, forwards, kind))
            related = []
            for other in reachers:
                otu, ofn = funcs[other]
                related.append(self.related(otu.path, ofn["l"], ofn["c"],
                                            f"{ofn['name']} forwards its timeout here",
                                            ofn["name"]))
            for other in [key] + reachers:
                for alias, (apath, aline, acol) in aliases.get(other, []):
                    target = funcs[other][1]["name"]
                    related.append(self.related(apath, aline, acol,
                                                f"{alias} is an alias of {target}"))
            # the same gap elsewhere: related locations (they differ per configuration,
            # the message does not, so one finding covers every configuration)
            same = sorted((k for k in stubs if k != key), key=lambda k: funcs[k][0].path)
            for other in same[:6]:
                otu, ofn = funcs[other]
                oline, ocol, _ = stubs[other]
                related.append(self.related(otu.path, oline, ocol, "the same gap in "
                                            f"{public.get(other) or ofn['name']}", ofn["name"]))
            central = ("; other timed functions have the same gap: route them all through one "
                       "central 'timeouts unsupported' path") if same else ""
            consequence = CONSEQUENCE.get(kind[key], "callers that rely on the timeout break")
            yield self.finding(f"{shown} ignores its timeout: {what}; {consequence}{central}",
                               tu.path, line, col, function=fn["name"], related=related,
                               key=shown)


def _timeout_params(program, cg, types):
    """Every C function by call-graph key, and the index of its timeout parameter."""
    funcs, tparam = {}, {}
    for tu in program.tus:
        for fn in tu.heads:
            key = cg.key(tu.path, fn["name"])
            if key is None:
                continue
            funcs[key] = (tu, fn)
            for i, (_, ptype) in enumerate(fn["params"]):
                if _norm_type(ptype) in types:
                    tparam[key] = i
                    break
    return funcs, tparam


def _timed(cg, funcs, tparam, apis):
    """The timed functions: the profile's APIs (through aliases) and functions
    that forward their timeout parameter to a timed one.  Returns (kind by key,
    API name by key, forwarding edges by key)."""
    kind, public = {}, {}
    for name, k in apis.items():
        key = _target(cg, name)
        if key in tparam:
            kind.setdefault(key, k)
            public.setdefault(key, name)
    forwards = {key: list(_forwarded(cg, *funcs[key], tparam[key], tparam)) for key in tparam}
    changed = True
    while changed:
        changed = False
        for key, outs in forwards.items():
            for callee, _site in outs:
                if callee in kind and key not in kind:
                    kind[key] = kind[callee]
                    changed = True
    return kind, public, forwards


def _norm_type(t: str) -> str:
    words = [w for w in t.replace("*", " * ").split() if w not in ("restrict", "__restrict",
                                                                   "__restrict__")]
    return " ".join(words).replace(" *", "*").replace("* ", "*")


def _target(cg, name):
    """The function an API name ends up in, following weak/strong aliases."""
    key = name if name in cg.g else None
    seen = set()
    while key is not None and cg.g.nodes[key]["kind"] == "alias" and key not in seen:
        seen.add(key)
        nxt = [b for _, b, d in cg.g.out_edges(key, data=True) if d["kind"] == "alias"]
        key = nxt[0] if nxt else None
    return key


def _aliases(cg):
    out = {}
    for a, b, d in cg.g.edges(data=True):
        if d["kind"] == "alias":
            out.setdefault(b, []).append((cg.g.nodes[a]["name"], min(d["sites"])))
    return out


def _forwarded(cg, tu, fn, index, tparam):
    """(callee, site) for calls that pass timeout parameter ``index`` on as the
    callee's own timeout parameter."""
    pname = fn["params"][index][0]
    for node in walk(tu.body(fn)):
        if node["k"] != "call" or node.get("ind"):
            continue
        callee = _target(cg, cg.key(tu.path, node["n"]) or node["n"])
        if callee is None:
            continue
        for i, arg in enumerate(node.get("a", [])):
            if _strip_arg(arg) == pname and tparam.get(callee) == i:
                yield callee, (node["l"], node["c"])


def _strip_arg(arg: str) -> str:
    arg = arg.strip()
    while arg.startswith("(") and ")" in arg:
        inner = arg[1:arg.index(")")]
        rest = arg[arg.index(")") + 1:].strip()
        arg = rest if rest else inner        # a cast prefix, or redundant parentheses
    return arg.strip()


def _reachers(key, forwards, kind):
    """Timed functions whose timeout reaches ``key`` through forwarding."""
    rev = {}
    for src, outs in forwards.items():
        for callee, _ in outs:
            rev.setdefault(callee, set()).add(src)
    out, todo = set(), [key]
    while todo:
        for src in rev.get(todo.pop(), ()):
            if src not in out and src != key and src in kind:
                out.add(src)
                todo.append(src)
    return out


def _stub(tu, fn, index, src, errno_fns):
    """(line, col, description) when the function does not wait for its timeout."""
    path = tu.path
    pname = fn["params"][index][0]
    nodes = list(walk(tu.body(fn)))
    if not any(n["k"] == "ref" and n["n"] == pname for n in nodes):
        return fn["l"], fn["c"], f"never reads its timeout parameter '{pname}'"
    for n in nodes:
        if n["k"] != "if" or len(n.get("sub", ())) < 2:
            continue
        cond = _cond_text(src, path, n["l"], n["c"])
        if cond in (p.format(p=pname) for p in NONNULL):
            arm = n["sub"][1]
        elif cond in (p.format(p=pname) for p in ISNULL) and len(n["sub"]) > 2:
            arm = n["sub"][2]
        else:
            continue
        inside = list(walk([arm]))
        if any(x["k"] == "call" and x["n"] not in errno_fns for x in inside):
            continue                      # it does something (maybe waits) first
        rets = [x for x in inside if x["k"] == "ret"]
        if not rets:
            continue
        errno = [x["x"] for x in inside if x["k"] == "assign" and "errno" in x.get("x", "")]
        value = rets[0]["v"] or "nothing"
        what = f"sets {errno[0]} and returns {value}" if errno else f"returns {value}"
        return n["l"], n["c"], f"{what} for any non-null timeout without waiting"
    return None


def _cond_text(src, path, line, col) -> str:
    """The normalised condition of the ``if`` at (line, col), read from the source."""
    text = src.line(path, line)[col - 1:]
    more = line
    while text.count("(") == 0 or text.count("(") > text.count(")"):
        more += 1
        nxt = src.line(path, more)
        if not nxt or more > line + 8:
            break
        text += " " + nxt
    i = text.find("(")
    if i < 0:
        return ""
    depth = 0
    for j in range(i, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return " ".join(text[i + 1:j].replace("(void *)", "(void*)").split())
    return ""
