from threadlint.registry import Rule
from threadlint_rules._port import matches, plist, pvalue


class AsmLogic(Rule):
    """## What it does
    Reports an assembly function that does work C could do: it calls library
    functions that allocate or set up thread state (`malloc`, `__copy_tls`,
    ...), calls more than one C function (a trampoline hands over to exactly
    one), or is longer than the few instructions that must be assembly.
    Calls to the stack-pointer/TLS-base accessors and to imports are the part
    that must be assembly and do not count.

    ## Why is this bad
    Assembly is invisible to the C compiler and to the analysers: constants
    and struct layouts are copied by hand (TL501), error paths are usually
    missing (`malloc` returning NULL becomes the new stack pointer), and every
    target needs its own copy.  Only setting the stack pointer and the
    hand-over to C cannot be written in C.

    ## Example
    ```asm
    __wasm_init_async_task:
      i32.const 131072
      call malloc                   # TL502: allocation in assembly
      call __wasm_set_stack_pointer
      call __allocate_tls
      call __copy_tls
    ```

    ## How to fix
    Keep in assembly only the instructions that set the stack pointer (and
    TLS base) and the call into C; move allocation, TLS set-up and error
    handling into that C function.

    ## Configuration
    `[asm] work` lists the calls that are C work by themselves (globs);
    `max_instructions` bounds a trampoline's length.  `[intrinsics]
    accessors` are calls that must stay in assembly.
    """

    id = "TL502"
    name = "asm-logic"
    summary = "Assembly function doing work C could do"
    severity = "warning"
    precision = "medium"
    scope = "program"
    profile_schema = {"asm": {"work": ("list", str), "max_instructions": int},
                      "intrinsics": {"accessors": ("list", str)}}

    def check_program(self, program):
        prof = program.profile
        work = plist(prof, "asm.work")
        limit = pvalue(prof, "asm.max_instructions", 0)
        accessors = set(plist(prof, "intrinsics.accessors"))
        cg = program.callgraph
        for af in program.asm:
            imports = {i["name"] for i in af.facts.get("imports", [])}
            for fn in af.facts.get("functions", []):
                work_calls, c_calls = [], []
                for call in fn.get("calls", []):
                    name = call["name"]
                    if name in accessors or name in imports:
                        continue
                    key = cg.key("", name)
                    d = cg.definition(key) if key else None
                    if matches(name, work):
                        work_calls.append((name, d))
                    elif d and d["kind"] == "c":
                        c_calls.append((name, d))
                reasons = []
                if work_calls:
                    reasons.append("calls " + ", ".join(_uniq(n for n, _ in work_calls)))
                if len(c_calls) > 1:
                    reasons.append(f"calls {len(c_calls)} C functions "
                                   f"({', '.join(_uniq(n for n, _ in c_calls))})")
                if limit and fn.get("instructions", 0) > limit:
                    reasons.append(f"has {fn['instructions']} instructions (a trampoline "
                                   f"needs at most {limit})")
                if not reasons:
                    continue
                related = []
                for name, d in work_calls + c_calls:
                    if d and d["kind"] in ("c", "asm") and d["path"] and \
                            all(r.label != f"{name} is defined here" for r in related):
                        related.append(self.related(d["path"], d["line"], 1,
                                                    f"{name} is defined here", name))
                yield self.finding(
                    f"assembly function {fn['name']} {' and '.join(reasons)}: C could do this "
                    f"work; keep only the stack-pointer/TLS set-up and the call into C in assembly",
                    af.path, fn["l"], 1, function=fn["name"], related=related[:5],
                    key=fn["name"])


def _uniq(names):
    out = []
    for n in names:
        if n not in out:
            out.append(n)
    return out
