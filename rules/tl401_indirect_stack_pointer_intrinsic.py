import re

from threadlint.registry import Rule
from threadlint_rules._port import identifiers, plist

_ASM_CALL = re.compile(r"\b(?:call|return_call)\s+([A-Za-z_]\w*)")


class IndirectStackPointerIntrinsic(Rule):
    """## What it does
    Finds C code that reads or writes the stack pointer or the TLS base
    through an out-of-line wrapper: a call (or a `call` in inline assembly)
    to an accessor such as `__wasm_get_stack_pointer` or
    `__wasm_set_tls_base`, or to any function whose definition touches the
    stack-pointer/TLS-base globals, when that wrapper is defined in assembly
    or in another translation unit.  The wrapper's definition, resolved
    through the call graph, is the related location.  Using the compiler
    builtin or the global directly, or a wrapper defined in the same file, is
    clean.

    ## Why is this bad
    The stack pointer and TLS base are read on hot paths (thread start, TLS
    set-up, `pthread_self`).  A wrapper in assembly is never inlined, not even
    by LTO, and one in another translation unit only with LTO, so every
    access pays a call, and code that runs before the stack is set up (thread
    entry) depends on a function that itself may touch the stack.

    ## Example
    ```c
    void __wasm_set_tls_base(void *p);      /* defined in a .S file */
    void start(void *tls) {
      __wasm_set_tls_base(tls);             /* TL401 */
    }
    ```

    ## How to fix
    Reach the value in place: the compiler builtin (`__builtin_wasm_tls_base()`
    and friends), an inline-assembly `global.get`/`global.set` of the global,
    or a direct call of the host import the wrapper calls; or define the
    wrapper `static inline` in a header.

    ## Configuration
    `[intrinsics] accessors` names the functions that stand for the stack
    pointer and TLS base (the libcalls of the thread-context ABI);
    `globals` names the globals themselves: a function whose definition
    reads or writes one of them and calls nothing else (imports, builtins and
    accessors aside) is an accessor too; `builtins` are the in-place
    alternatives named in the message.
    """

    id = "TL401"
    name = "indirect-stack-pointer-intrinsic"
    summary = "Stack pointer / TLS base accessed through an out-of-line wrapper"
    severity = "warning"
    precision = "high"
    scope = "program"
    profile_schema = {"intrinsics": {"accessors": ("list", str), "globals": ("list", str),
                                     "builtins": ("list", str)}}

    def check_program(self, program):
        prof = program.profile
        named = set(plist(prof, "intrinsics.accessors"))
        globals_ = set(plist(prof, "intrinsics.globals"))
        if not named and not globals_:
            return
        builtins = plist(prof, "intrinsics.builtins")
        cg = program.callgraph
        wrappers = _wrappers(program, named, globals_)
        for tu in program.tus:
            for fn in tu.heads:
                if "asm" not in fn["kinds"] and wrappers.isdisjoint(c[0] for c in fn["calls"]):
                    continue              # the summary says: no call of a wrapper
                for name, line, col, how in _accessor_calls(tu, fn, wrappers):
                    key = cg.key(tu.path, name)
                    d = cg.definition(key) if key else None
                    if d is None:
                        continue          # an import or undefined: nothing to inline
                    if d["kind"] == "asm":
                        where = "in assembly, so it is never inlined, not even by LTO"
                    elif d["kind"] == "c" and d["path"] != tu.path:
                        where = "in another translation unit, so it is inlined only by LTO"
                    else:
                        continue
                    alt = (f"; reach it in place instead ({' or '.join(builtins)})"
                           if builtins else "; reach it in place instead")
                    yield self.finding(
                        f"{how} {name}, a stack-pointer/TLS-base accessor defined {where}{alt}",
                        tu.path, line, col, function=fn["name"],
                        related=[self.related(d["path"], d["line"], 1,
                                              f"{name} is defined here", name)],
                        key=name)


def _wrappers(program, named, globals_):
    """Names of the functions that stand for the stack pointer or TLS base: the
    profile's accessors, and functions that touch one of the globals and call
    nothing but accessors, imports and builtins (a function that also does other
    work, such as TLS initialisation, is not a wrapper)."""
    out = set(named)
    for af in program.asm:
        imports = {i["name"] for i in af.facts.get("imports", [])}
        for fn in af.facts.get("functions", []):
            touched = {g["name"] for g in fn.get("global_get", []) + fn.get("global_set", [])}
            calls = {c["name"] for c in fn.get("calls", [])}
            if touched & globals_ and calls <= imports | named:
                out.add(fn["name"])
    for tu in program.tus:
        for fn in tu.heads:
            # the summary first (frontend.summary): most functions touch no global
            touches = not globals_.isdisjoint(fn["globals"]) or ("asm" in fn["kinds"] and any(
                identifiers(n.get("x", "")) & globals_ for n in tu.of_kind(fn, "asm")))
            if touches and all(n["n"] in named or n["n"].startswith("__builtin_")
                               for n in tu.of_kind(fn, "call")):
                out.add(fn["name"])
    return out


def _accessor_calls(tu, fn, wrappers):
    """(name, line, col, how) for calls to wrappers, C or inside inline assembly."""
    # in source order; only functions with inline assembly need every node
    for n in tu.nodes(fn) if tu.of_kind(fn, "asm") else tu.of_kind(fn, "call"):
        if n["k"] == "call" and not n.get("ind") and n["n"] in wrappers and n["n"] != fn["name"]:
            yield n["n"], n["l"], n["c"], "calls"
        elif n["k"] == "asm":
            for name in _ASM_CALL.findall(n.get("x", "")):
                if name in wrappers and name != fn["name"]:
                    yield name, n["l"], n["c"], "inline assembly calls"
