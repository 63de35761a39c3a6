"""Lock vocabulary, lock declarations and per-function lock state.

Shared by the locking rules (TL101-TL104); not a rule.

*Vocabulary* (profile ``[locks.kinds.<KIND>]``): the macros that declare,
acquire and release each lock kind, and what the kind means in the
cooperative build.  Lock identity and kind come from the macro facts, never
from the expanded code: in the cooperative build ``WEAK_LOCK(x)`` expands to
``((void)0)`` and ``DECLARE_WEAK_LOCK`` to nothing.

*Declarations* come from the main file's macro expansions (facts) and from a
text scan of the included headers that lie under the source root (memoised
per run).  The scanner skips comments, strings and preprocessor lines and
tracks braces, so ``DECLARE_STRONG_LOCK(lock);`` inside ``struct _IO_FILE``
is a member declaration while ``DECLARE_WEAK_LOCK(l, extern hidden);`` at file
scope is a global one.

*Identity*: a lock is named by its last identifier.  ``f->lock`` is the member
``.lock``; ``lock`` is ``<file>::lock`` when a static lock of that name is
declared for the file, else the global ``lock``.
"""
from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass, field

from threadlint.facts import split_args
from threadlint_rules import _flow

KIND_SCHEMA = {
    "declare": ("list", str),        # declaration macros: NAME(lock, storage...)
    "acquire": ("list", str),
    "release": ("list", str),
    # true when the kind is a real lock in the cooperative build (may be held
    # across a suspension point); false when it compiles to nothing there
    "holds_across_suspension": bool,
    # acquiring a contended lock of this kind blocks the thread: a suspension point
    "acquire_suspends": bool,
}
SCHEMA = {
    "locks": {
        "kinds": ("map", KIND_SCHEMA),
        # functions that never return, in addition to the C standard ones
        "noreturn": ("list", str),
        # unlock / re-lock functions whose int result reports a failure (TL104)
        "fallible_unlock": ("list", str),
    },
}


@dataclass(frozen=True)
class Kind:
    name: str
    declare: tuple
    acquire: tuple
    release: tuple
    holds: bool
    acquire_suspends: bool


class Vocabulary:
    def __init__(self, profile):
        kinds = (profile.get("locks.kinds", {}) if profile else {}) or {}
        self.kinds: dict[str, Kind] = {}
        self.ops: dict[str, tuple[str, str]] = {}     # macro -> (op, kind)
        for name, spec in sorted(kinds.items()):
            k = Kind(name, tuple(spec.get("declare", ())), tuple(spec.get("acquire", ())),
                     tuple(spec.get("release", ())), bool(spec.get("holds_across_suspension", True)),
                     bool(spec.get("acquire_suspends", False)))
            self.kinds[name] = k
            for op in ("declare", "acquire", "release"):
                for macro in getattr(k, op):
                    self.ops[macro] = (op, name)
        self.noreturn = frozenset(profile.get("locks.noreturn", []) if profile else ())
        self.fallible = frozenset(profile.get("locks.fallible_unlock", []) if profile else ())

    def op(self, macro: str):
        return self.ops.get(macro)

    @property
    def declare_macros(self) -> frozenset:
        return frozenset(m for m, (op, _) in self.ops.items() if op == "declare")


@dataclass(frozen=True)
class LockDecl:
    identity: str
    name: str
    kind: str
    macro: str
    path: str            # relative to the source root
    line: int
    col: int
    member: bool
    record: str = ""


# -- header scanning ------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<pp>^[ \t]*\#(?:\\\n|[^\n])*)
  | (?P<str>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<id>[A-Za-z_]\w*)
  | (?P<p>[{};=()])
""", re.S | re.M | re.X)
_scan_memo: dict[tuple, list] = {}


def scan_declarations(text: str, macros: frozenset) -> list[dict]:
    """``NAME(args)`` uses of ``macros`` outside comments and preprocessor lines,
    with ``context`` 'file', 'member' (inside a struct/union) or 'block'."""
    starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    out = []
    stack: list[tuple[str, str]] = []
    recent: list[str] = []                 # tokens since the last ; { }
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind in ("comment", "pp", "str"):
            continue
        tok = m.group()
        if kind == "p":
            if tok == "{":
                if "struct" in recent or "union" in recent:
                    ids = [t for t in recent if t not in ("struct", "union", "typedef")
                           and re.fullmatch(r"[A-Za-z_]\w*", t)]
                    stack.append(("member", ids[-1] if ids else ""))
                elif recent == ["extern"]:
                    stack.append(("extern", ""))       # extern "C" { ... }: still file scope
                elif "=" in recent:
                    stack.append(("init", ""))
                else:
                    stack.append(("block", ""))
                recent = []
            elif tok == "}":
                if stack:
                    stack.pop()
                recent = []
            elif tok == ";":
                recent = []
            else:
                recent.append(tok)
            continue
        recent.append(tok)
        if tok not in macros:
            continue
        rest = text[m.end():m.end() + 400]
        lead = len(rest) - len(rest.lstrip())
        if not rest[lead:lead + 1] == "(":
            continue
        args = split_args(rest[lead:])
        line = bisect.bisect_right(starts, m.start())
        col = m.start() - starts[line - 1] + 1
        inner = [s for s in stack if s[0] != "extern"]
        ctx, record = inner[-1] if inner else ("file", "")
        out.append({"name": tok, "args": args, "l": line, "c": col,
                    "context": ctx if ctx in ("file", "member") else "block", "record": record})
    return out


def scan_file(path: str, macros: frozenset) -> list[dict]:
    key = (path, macros)
    if key not in _scan_memo:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            text = ""
        found = []
        if any(mac in text for mac in macros):
            found = scan_declarations(text, macros)
        _scan_memo[key] = found
    return _scan_memo[key]


# -- lock identity -------------------------------------------------------------
_IDENT = re.compile(r"[A-Za-z_]\w*")


def last_identifier(arg: str) -> str:
    ids = _IDENT.findall(arg)
    return ids[-1] if ids else arg.strip()


def is_member_expr(arg: str) -> bool:
    return "->" in arg or bool(re.search(r"[\w)\]]\s*\.\s*[A-Za-z_]", arg))


class LockModel:
    """Every lock declaration of one configuration, and identity lookups."""

    def __init__(self, program, vocab: Vocabulary):
        self.vocab = vocab
        self.root = program.root
        self.decls: dict[str, list[LockDecl]] = {}
        self.statics: dict[str, set[str]] = {}
        macros = vocab.declare_macros
        # the headers under the root that declare a lock, each scanned once
        # (~30k inclusions in a configuration, a few hundred distinct headers)
        root = self.root.rstrip(os.sep) + os.sep
        self.lock_headers: dict[str, list[dict]] = {}
        for inc in sorted({inc for tu in program.tus for inc in tu.includes} if macros else ()):
            found = scan_file(inc, macros) if inc.startswith(root) else None
            if found:
                self.lock_headers[inc] = found
        for tu in program.tus:
            self._collect(tu, macros)

    def _add(self, tu_path: str, name: str, kind: str, macro: str, path: str, line: int, col: int,
             member: bool, static: bool, record: str = "") -> None:
        if member:
            identity = "." + name
        elif static:
            identity = f"{tu_path}::{name}"
            self.statics.setdefault(tu_path, set()).add(name)
        else:
            identity = name
        decl = LockDecl(identity, name, kind, macro, path, line, col, member, record)
        bucket = self.decls.setdefault(identity, [])
        if decl not in bucket:
            bucket.append(decl)

    def _collect(self, tu, macros) -> None:
        if not macros:
            return
        contexts = {}
        main_scan = None
        for m in tu.facts.get("macros", []):
            if m["name"] not in macros or m.get("func") or not m["args"]:
                continue
            if main_scan is None:
                main_scan = scan_file(tu.abspath, macros)
                contexts = {(d["l"], d["name"]): d for d in main_scan}
            ctx = contexts.get((m["l"], m["name"]), {"context": "file", "record": ""})
            if ctx["context"] == "block":
                continue
            self._add(tu.path, m["args"][0], self.vocab.op(m["name"])[1], m["name"], tu.path, m["l"],
                      m["c"], ctx["context"] == "member", _is_static(m["args"]), ctx["record"])
        for inc in tu.includes:
            found = self.lock_headers.get(inc)
            if not found:
                continue                 # most headers declare no lock
            rel = os.path.relpath(inc, self.root).replace(os.sep, "/")
            for d in found:
                if d["context"] == "block" or not d["args"]:
                    continue
                self._add(tu.path, d["args"][0], self.vocab.op(d["name"])[1], d["name"], rel, d["l"],
                          d["c"], d["context"] == "member", _is_static(d["args"]), d["record"])

    def identity(self, tu_path: str, arg: str) -> str:
        name = last_identifier(arg)
        if is_member_expr(arg):
            return "." + name
        if name in self.statics.get(tu_path, ()):
            return f"{tu_path}::{name}"
        return name

    def declared(self, identity: str) -> LockDecl | None:
        """The declaration when every declaration of this identity agrees on the kind."""
        decls = self.decls.get(identity, [])
        kinds = {d.kind for d in decls}
        return decls[0] if len(kinds) == 1 else None


def _is_static(args: list[str]) -> bool:
    return any("static" in a.split() for a in args[1:])


def display(identity: str) -> str:
    return identity.rsplit("::", 1)[-1]


# -- per-function lock state -----------------------------------------------------
HELD, RELEASED = "held", "released"


@dataclass
class FunctionLocks:
    """What the path-sensitive walk of one function found."""

    ops: list = field(default_factory=list)          # (op, kind, identity, event)
    # identity -> status -> {(return line, line of the last acquire/release, return col)}
    returns: dict = field(default_factory=dict)
    issues: dict = field(default_factory=dict)       # (what, line, identity) -> detail dict
    may_held: dict = field(default_factory=dict)     # id(event) -> set of (identity, kind, line)
    must_held: dict = field(default_factory=dict)    # id(event) -> frozenset of identities held
    events: dict = field(default_factory=dict)       # id(event) -> event
    # id(release event) -> statuses the lock had there (None: caller's state)
    release_states: dict = field(default_factory=dict)
    complete: bool = True


class Tracker:
    """Transfer function of the lock state: a frozenset of
    ``(identity, kind, status, line)``; a lock without an entry is in the
    caller's state (unknown)."""

    def __init__(self, model: LockModel, tu_path: str):
        self.model = model
        self.tu_path = tu_path

    def lock_op(self, ev: dict):
        if ev["k"] != "macro":
            return None
        op = self.model.vocab.op(ev["n"])
        if not op or op[0] == "declare" or not ev.get("a"):
            return None
        return op[0], op[1], self.model.identity(self.tu_path, ev["a"][0])

    def step(self, locks: frozenset, ev: dict, issues: dict | None = None) -> frozenset:
        op = self.lock_op(ev)
        if op is None:
            return locks
        what, kind, ident = op
        line = ev["l"]
        current = next((e for e in locks if e[0] == ident), None)
        rest = locks - {current} if current else locks
        if what == "acquire":
            if current and current[2] == HELD and issues is not None:
                issues.setdefault(("double_acquire", line, ident), {
                    "kind": kind, "prev": current[3], "prev_kind": current[1], "event": ev})
            return rest | {(ident, kind, HELD, line)}
        # release
        if current and current[2] == RELEASED and issues is not None:
            issues.setdefault(("double_release", line, ident), {
                "kind": kind, "prev": current[3], "event": ev})
        if current and current[2] == HELD and current[1] != kind and issues is not None:
            issues.setdefault(("pair_mismatch", line, ident), {
                "kind": kind, "acquired_kind": current[1], "prev": current[3], "event": ev})
        return rest | {(ident, kind, RELEASED, line)}


def analyse(program, tu, fn) -> FunctionLocks:
    """Lock facts of one function, memoised on the program (rules share them)."""
    memo = program.__dict__.setdefault("_tl_locks_memo", {})
    key = id(fn)          # a TU may be present twice (PIC variants): key by object
    if key in memo:
        return memo[key]
    model = lock_model(program)
    tracker = Tracker(model, tu.path)
    result = FunctionLocks()
    for ev in tu.of_kind(fn, "macro"):        # lock_op is None for other events
        op = tracker.lock_op(ev)
        if op:
            result.ops.append((*op, ev))
    if not result.ops:
        memo[key] = result
        return result
    cfg = flow_graph(program, tu, fn)

    def step(locks, item, _bid):
        ev, is_write = item
        k = ev["k"]
        if k == "return":
            for ident, kind, status, line in locks:
                result.returns.setdefault(ident, {}).setdefault(status, set()).add(
                    (ev["l"], line, ev["c"]))
            return locks
        if k in ("call", "assign", "incdec") or (k == "ref" and is_write) or k == "macro":
            i = id(ev)
            result.events[i] = ev
            result.may_held.setdefault(i, set()).update(
                (e[0], e[1], e[3]) for e in locks if e[2] == HELD)
            held = frozenset(e[0] for e in locks if e[2] == HELD)
            result.must_held[i] = held if i not in result.must_held else result.must_held[i] & held
        op = tracker.lock_op(ev)
        if op and op[0] == "release":
            status = next((e[2] for e in locks if e[0] == op[2]), None)
            result.release_states.setdefault(id(ev), set()).add(status)
        return tracker.step(locks, ev, result.issues)

    result.complete = _flow.solve(cfg, frozenset(), step)
    memo[key] = result
    return result


def flow_graph(program, tu, fn):
    memo = program.__dict__.setdefault("_tl_cfg_memo", {})
    key = id(fn)          # a TU may be present twice (PIC variants): key by object
    if key not in memo:
        src_memo = program.__dict__.setdefault("_tl_src_memo", {})
        if tu.abspath not in src_memo:
            src_memo[tu.abspath] = _flow.Source.read(tu.abspath)
        tu.body(fn)                   # decoded, if it was not yet
        memo[key] = _flow.build(fn, src_memo[tu.abspath], vocabulary(program).noreturn)
    return memo[key]


def vocabulary(program) -> Vocabulary:
    if "_tl_vocab" not in program.__dict__:
        program.__dict__["_tl_vocab"] = Vocabulary(program.profile)
    return program.__dict__["_tl_vocab"]


def lock_model(program) -> LockModel:
    if "_tl_lock_model" not in program.__dict__:
        program.__dict__["_tl_lock_model"] = LockModel(program, vocabulary(program))
    return program.__dict__["_tl_lock_model"]


def functions_with_lock_macros(program):
    """(tu, fn) for every function whose body uses an acquire/release macro."""
    memo = program.__dict__.get("_tl_lock_functions")
    if memo is None:              # every locking rule asks: list them once
        memo = []
        vocab = vocabulary(program)
        for tu in program.tus:
            funcs = {m["func"] for m in tu.facts.get("macros", [])
                     if m.get("func") and (vocab.op(m["name"]) or ("declare",))[0] != "declare"}
            if not funcs:
                continue
            for fn in tu.heads:
                if fn["name"] in funcs:
                    memo.append((tu, fn))
        program.__dict__["_tl_lock_functions"] = memo
    yield from memo
