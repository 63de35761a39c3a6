"""Control flow over a function's event tree, and a path-sensitive solver.

Shared by the locking rules (TL101-TL104); not a rule (the module name starts
with ``_``).

``build(fn, source)`` turns the event tree of ``threadlint.facts`` into a
graph of blocks.  A block holds *items* ``(event, is_write)`` in evaluation
order; returns appear as synthetic ``{"k": "return"}`` items after the
returned value and after every pending ``defer`` body has run, so a rule sees
the state a caller would see.  Edges out of an ``if``/loop condition carry a
*guard* when the condition is a simple test of local variables (``need``,
``!locked``); the solver uses guards to drop paths that contradict an earlier
test of the same condition (the ``if (need) lock(); ... if (need) unlock();``
idiom), and forgets a test when one of its variables is written.

``solve`` explores (block, state) pairs: a rule supplies the initial state and
a ``step(state, item)`` function; states must be hashable.  Distinct states
are kept apart (this is what makes the analysis path-sensitive), bounded per
block so that a pathological function cannot blow up.
"""
from __future__ import annotations

import re
from collections import deque

from threadlint.facts import iter_events, walk

# Calls after which a path does not continue (C standard, POSIX, compiler
# builtins).  A port adds its own in the profile (``[locks] noreturn``).
NORETURN = frozenset({"abort", "exit", "_Exit", "_exit", "quick_exit", "pthread_exit",
                      "thrd_exit", "longjmp", "siglongjmp", "_longjmp", "__builtin_trap",
                      "__builtin_unreachable", "__builtin_abort"})
MAX_STATES_PER_BLOCK = 256


class Block:
    __slots__ = ("id", "items", "succ", "_plan")

    def __init__(self, bid: int):
        self.id = bid
        self.items: list[tuple[dict, bool]] = []
        self.succ: list[tuple[int, tuple | None]] = []
        self._plan = None

    def plan(self):
        """(items with the local names each may change, successors with their
        guards polarised): what ``solve`` needs on every visit, computed once."""
        if self._plan is None or self._plan[2] != (len(self.items), len(self.succ)):
            items = [(item, writes_of(item)) for item in self.items]
            succ = [(b, guard and _polarised(guard)) for b, guard in self.succ]
            self._plan = (items, succ, (len(self.items), len(self.succ)))
        return self._plan


class CFG:
    def __init__(self):
        self.blocks: list[Block] = []
        self.entry = self.new()
        self.exit = self.new()

    def new(self) -> int:
        b = Block(len(self.blocks))
        self.blocks.append(b)
        return b.id

    def edge(self, a: int | None, b: int, guard=None) -> None:
        if a is not None:
            self.blocks[a].succ.append((b, guard))


class Source:
    """The main file's text, to read back condition and loop-header text."""

    def __init__(self, text: str):
        self.lines = text.split("\n")

    @classmethod
    def read(cls, path: str) -> "Source":
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                return cls(fh.read())
        except OSError:
            return cls("")

    def paren_after(self, line: int, col: int, keyword: str) -> str | None:
        """Text inside the parentheses that follow ``keyword`` at (line, col), or
        None when the keyword is not there (the statement came from a macro)."""
        if not 0 < line <= len(self.lines):
            return None
        rest = self.lines[line - 1][col - 1:]
        if not re.match(rf"{keyword}\b", rest):
            return None
        text = "\n".join([rest[len(keyword):]] + self.lines[line:line + 40])
        start = text.find("(")
        if start < 0 or text[:start].strip():
            return None
        depth = 0
        for i in range(start, len(text)):
            ch = text[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    return " ".join(text[start + 1:i].split())
        return None


    def starts_with(self, line: int, col: int, keyword: str) -> bool:
        return 0 < line <= len(self.lines) and bool(
            re.match(rf"{keyword}\b", self.lines[line - 1][col - 1:]))

    def until_close(self, line: int, col: int) -> str | None:
        """Text from (line, col) up to the first unbalanced ')'."""
        if not 0 < line <= len(self.lines):
            return None
        text = "\n".join([self.lines[line - 1][col - 1:]] + self.lines[line:line + 40])
        depth = 0
        for i, ch in enumerate(text):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth < 0:
                    return " ".join(text[:i].split())
        return None


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _constant(text: str | None) -> bool | None:
    """True/False for a constant condition (`1`, `0`, `true`, `false`), None otherwise."""
    if text is None:
        return None
    t = _strip_parens(text)
    return True if t in ("1", "true") else False if t in ("0", "false") else None


class _Ctx:
    """Targets of break/continue and the defer scope depth they leave to."""

    def __init__(self, brk=None, cont=None, depth=0, cases=None):
        self.brk, self.cont, self.depth, self.cases = brk, cont, depth, cases


class _Builder:
    def __init__(self, fn: dict, source: Source | None, noreturn: frozenset):
        self.fn = fn
        self.src = source
        self.noreturn = noreturn
        self.cfg = CFG()
        self.labels: dict[str, int] = {}
        self.scopes: list[list[dict]] = []     # defer bodies per open block

    def label(self, name: str) -> int:
        if name not in self.labels:
            self.labels[name] = self.cfg.new()
        return self.labels[name]

    # -- expressions ---------------------------------------------------------
    def expr(self, node, cur: int) -> int:
        if node is None:
            return cur
        self.cfg.blocks[cur].items.extend(iter_events([node]))
        return cur

    def guard_for(self, node: dict, keyword: str, cond: dict | None):
        """(constant or None, guard key or None) for a condition."""
        text = self.src.paren_after(node["l"], node["c"], keyword) if self.src else None
        events = list(walk([cond])) if cond else []
        if text is None:
            # written by a macro: an event-free condition is a constant, as in
            # `do { ... } while (0)` and `while (1)`
            if not any(e["k"] != "stmt" for e in events):
                return (True if keyword == "while" else None), None
            return None, None
        const = _constant(text)
        if const is not None:
            return const, None
        return None, _guard_key(text, events)

    # -- statements ------------------------------------------------------------
    def stmt(self, node: dict, cur: int | None, ctx: _Ctx) -> int | None:
        if cur is None:
            cur = self.cfg.new()          # unreachable code: kept for labels inside it
        k = node["k"]
        sub = node.get("sub", [])
        if k == "block" or k == "stmt":
            return self.seq(sub, cur, ctx, scope=(k == "block"))
        if k == "if":
            return self._if(node, sub, cur, ctx)
        if k == "while":
            return self._while(node, sub, cur, ctx)
        if k == "do":
            return self._do(node, sub, cur, ctx)
        if k == "for":
            return self._for(node, sub, cur, ctx)
        if k == "switch":
            return self._switch(node, sub, cur, ctx)
        if k in ("case", "default"):
            target = ctx.cases.get(id(node)) if ctx.cases else None
            if target is None:
                target = self.cfg.new()
            self.cfg.edge(cur, target)
            body = sub[1:] if k == "case" else sub
            return self.seq(body, target, ctx)
        if k == "label":
            target = self.label(node.get("name") or "")
            self.cfg.edge(cur, target)
            return self.seq(sub, target, ctx)
        if k == "goto":
            self.cfg.edge(cur, self.label(node.get("label") or ""))
            return None
        if k in ("break", "continue"):
            target = ctx.brk if k == "break" else ctx.cont
            cur = self.run_defers(cur, ctx.depth)
            if target is not None:
                self.cfg.edge(cur, target)
            return None
        if k == "ret":
            cur = self.seq(sub, cur, ctx, scope=False)
            if cur is None:
                return None
            cur = self.run_defers(cur, 0)
            self.cfg.blocks[cur].items.append(
                ({"k": "return", "l": node["l"], "c": node["c"], "v": node.get("v", "")}, False))
            self.cfg.edge(cur, self.cfg.exit)
            return None
        if k == "defer":
            if self.scopes:
                self.scopes[-1].append(node)
            return cur
        cur = self.expr(node, cur)
        if k == "call" and not node.get("ind") and node.get("n") in self.noreturn:
            return None
        return cur

    def seq(self, nodes, cur, ctx, scope=False):
        if scope:
            self.scopes.append([])
        for n in nodes:
            cur = self.stmt(n, cur, ctx)
        if scope:
            defers = self.scopes.pop()
            if cur is not None:
                for d in reversed(defers):
                    cur = self.seq(d.get("sub", []), cur, ctx)
        return cur

    def run_defers(self, cur, depth: int):
        """Run the defer bodies of every scope deeper than ``depth``, innermost first."""
        saved = self.scopes
        for i in range(len(saved) - 1, depth - 1, -1):
            for d in reversed(saved[i]):
                self.scopes = saved[:i]          # a defer body sees only outer scopes
                cur = self.seq(d.get("sub", []), cur, _Ctx(depth=i))
                if cur is None:
                    break
            self.scopes = saved
        self.scopes = saved
        return cur

    def _if(self, node, sub, cur, ctx):
        cond = sub[0] if sub else None
        cur = self.expr(cond, cur)
        const, key = self.guard_for(node, "if", cond)
        join = self.cfg.new()
        then_b = self.cfg.new()
        if const is not False:
            self.cfg.edge(cur, then_b, key and (key[0], True, key[1]))
        end = self.stmt(sub[1], then_b, ctx) if len(sub) > 1 else then_b
        self.cfg.edge(end, join)
        if const is not True:
            if len(sub) > 2:
                else_b = self.cfg.new()
                self.cfg.edge(cur, else_b, key and (key[0], False, key[1]))
                self.cfg.edge(self.stmt(sub[2], else_b, ctx), join)
            else:
                self.cfg.edge(cur, join, key and (key[0], False, key[1]))
        return join

    def _loop_edges(self, cond_end, body_b, exit_b, const, key):
        if const is not False:
            self.cfg.edge(cond_end, body_b, key and (key[0], True, key[1]))
        if const is not True:
            self.cfg.edge(cond_end, exit_b, key and (key[0], False, key[1]))

    def _while(self, node, sub, cur, ctx):
        head, body_b, exit_b = self.cfg.new(), self.cfg.new(), self.cfg.new()
        self.cfg.edge(cur, head)
        cond = sub[0] if sub else None
        const, key = self.guard_for(node, "while", cond)
        self._loop_edges(self.expr(cond, head), body_b, exit_b, const, key)
        inner = _Ctx(exit_b, head, len(self.scopes), ctx.cases)
        self.cfg.edge(self.stmt(sub[1], body_b, inner) if len(sub) > 1 else body_b, head)
        return exit_b

    def _do(self, node, sub, cur, ctx):
        body_b, cond_b, exit_b = self.cfg.new(), self.cfg.new(), self.cfg.new()
        self.cfg.edge(cur, body_b)
        inner = _Ctx(exit_b, cond_b, len(self.scopes), ctx.cases)
        self.cfg.edge(self.stmt(sub[0], body_b, inner) if sub else body_b, cond_b)
        cond = sub[1] if len(sub) > 1 else None
        const, key = self._do_guard(node, cond)
        self._loop_edges(self.expr(cond, cond_b), body_b, exit_b, const, key)
        return exit_b

    def _do_guard(self, node, cond):
        """The condition text starts at the condition slot and ends at the
        unbalanced ')'; a do-while written by a macro with an event-free
        condition is the `do { ... } while (0)` idiom."""
        events = list(walk([cond])) if cond else []
        in_source = self.src is not None and self.src.starts_with(node["l"], node["c"], "do")
        if not in_source or cond is None or not cond.get("l"):
            return (False if not any(e["k"] != "stmt" for e in events) else None), None
        text = self.src.until_close(cond["l"], cond["c"])
        const = _constant(text)
        if const is not None:
            return const, None
        return None, _guard_key(text, events)

    def _for(self, node, sub, cur, ctx):
        pre, body = (sub[:-1], sub[-1]) if sub else ([], None)
        parts = self._for_parts(node, len(pre))
        init, cond, inc = [], [], []
        if parts is None:
            cond = pre                      # unknown split: evaluate all each iteration
        else:
            it = iter(pre)
            init = [next(it)] if parts[0] else []
            cond = [next(it)] if parts[1] else []
            inc = [next(it)] if parts[2] else []
        for n in init:
            cur = self.stmt(n, cur, ctx)
        head, body_b, inc_b, exit_b = (self.cfg.new() for _ in range(4))
        self.cfg.edge(cur, head)
        h = head
        for n in cond:
            h = self.expr(n, h)
        if parts is not None and not parts[1]:
            const, key = True, None
        elif parts is None:
            const, key = (True if not pre else None), None
        else:
            text = self.src.paren_after(node["l"], node["c"], "for") if self.src else None
            ctext = _split_for(text)[1] if text is not None else None
            const = _constant(ctext)
            key = _guard_key(ctext, list(walk(cond))) if ctext and const is None else None
        self._loop_edges(h, body_b, exit_b, const, key)
        inner = _Ctx(exit_b, inc_b, len(self.scopes), ctx.cases)
        end = self.stmt(body, body_b, inner) if body is not None else body_b
        self.cfg.edge(end, inc_b)
        i = inc_b
        for n in inc:
            i = self.expr(n, i)
        self.cfg.edge(i, head)
        return exit_b

    def _for_parts(self, node, n_pre):
        text = self.src.paren_after(node["l"], node["c"], "for") if self.src else None
        if text is None:
            return None if n_pre else (False, False, False)
        parts = _split_for(text)
        if parts is None:
            return None
        present = tuple(bool(p.strip()) for p in parts)
        return present if sum(present) == n_pre else None

    def _switch(self, node, sub, cur, ctx):
        cond = sub[0] if sub else None
        cur = self.expr(cond, cur)
        exit_b = self.cfg.new()
        body = sub[1] if len(sub) > 1 else None
        cases = {}
        has_default = False
        for c in _cases(body):
            cases[id(c)] = self.cfg.new()
            self.cfg.edge(cur, cases[id(c)])
            has_default |= c["k"] == "default"
        if not has_default:
            self.cfg.edge(cur, exit_b)
        inner = _Ctx(exit_b, ctx.cont, len(self.scopes), cases)
        if body is not None:
            self.cfg.edge(self.stmt(body, None, inner), exit_b)
        return exit_b


def _cases(body):
    """case/default nodes of a switch body, not those of nested switches."""
    if body is None:
        return
    stack = [body]
    while stack:
        n = stack.pop()
        if n["k"] in ("case", "default"):
            yield n
        if n["k"] != "switch" or n is body:
            stack.extend(reversed(n.get("sub", [])))


def _split_for(text: str | None):
    if text is None:
        return None
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == ";" and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts if len(parts) == 3 else None


def _guard_key(text: str | None, events: list):
    """(normalised text, variables) for a side-effect-free test of locals, else None.
    A negated test is the same key with a leading '~'."""
    if not text:
        return None
    real = [e for e in events if e["k"] != "stmt"]
    if not real or any(e["k"] != "ref" or e.get("s") not in ("local", "param") for e in real):
        return None
    t = _strip_parens(text)
    positive = True
    while t.startswith("!") and not t.startswith("!="):
        t = _strip_parens(t[1:])
        positive = not positive
    if re.search(r"(?<![=!<>])=(?!=)|\+\+|--|\(", t):
        return None
    return ("" if positive else "~") + t, frozenset(e["n"] for e in real)


def build(fn: dict, source: Source | None = None, noreturn=frozenset()) -> CFG:
    """The CFG of one function definition (facts ``functions`` entry)."""
    b = _Builder(fn, source, NORETURN | frozenset(noreturn))
    end = b.seq(fn["body"], b.cfg.entry, _Ctx(), scope=True)
    if end is not None:
        line = fn.get("end_l") or fn["l"]
        b.cfg.blocks[end].items.append(({"k": "return", "l": line, "c": 1, "v": "",
                                         "implicit": True}, False))
        b.cfg.edge(end, b.cfg.exit)
    return b.cfg


def _polarised(guard):
    """Guards are (text, taken, names); a leading '~' on text means a negated test."""
    text, taken, names = guard
    if text.startswith("~"):
        return text[1:], not taken, names
    return text, taken, names


def writes_of(item) -> set[str]:
    """Local names an item may change: assigned, incremented, or address taken."""
    ev, is_write = item
    k = ev["k"]
    if k == "ref" and is_write:
        return {ev["n"]}
    if k == "addrof":
        return {s["n"] for s in ev.get("sub", ()) if s["k"] == "ref"}
    return set()


def solve(cfg: CFG, init, step, max_states: int = MAX_STATES_PER_BLOCK) -> bool:
    """Explore every (block, state); ``step(state, item, block_id)`` returns the
    next state or None to end the path.  Returns False when a block hit the
    state bound (the analysis was cut short there)."""
    seen: list[set] = [set() for _ in cfg.blocks]
    work = deque([(cfg.entry, (init, frozenset()))])
    complete = True
    while work:
        bid, st = work.popleft()
        if st in seen[bid]:
            continue
        if len(seen[bid]) >= max_states:
            complete = False
            continue
        seen[bid].add(st)
        rs, conds = st
        items, succs, _ = cfg.blocks[bid].plan()
        for item, changed in items:
            rs = step(rs, item, bid)
            if rs is None:
                break
            if changed and conds:
                conds = frozenset(c for c in conds if not (c[2] & changed))
        if rs is None:
            continue
        for succ, guard in succs:
            nconds = conds
            if guard is not None:
                text, taken, names = guard
                if (text, not taken, names) in conds:
                    continue                       # contradicts an earlier test
                nconds = conds | {(text, taken, names)}
            work.append((succ, (rs, nconds)))
    return complete
