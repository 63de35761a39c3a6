from threadlint.registry import Rule
from threadlint.sources import SourceLines
from threadlint_rules._port import (branch_active, branches, code_of, identifiers,
                                    inactive, innermost, matches, plist, pvalue,
                                    simple_test)


class UngatedThreadCode(Rule):
    """## What it does
    Compares the configurations (`-p` two or more builds) and reports code
    compiled where it is wrong, naming that configuration:

    - code that reaches the stack pointer or TLS base the wrong way for the
      configuration's ABI: the globals (`__stack_pointer`) where the
      thread-context ABI macro is defined and they do not exist, or the ABI
      accessors where it is not — typically because the `#if` tests the
      cooperative-threads macro where the ABI macro decides;
    - calls to thread intrinsics (spawning, suspending, the thread index) in a
      configuration without threads, including thread-API definitions that
      call them;
    - calls to cooperative-only functions in a configuration without
      cooperative threads, typically pulled in by an `#if` on `_REENTRANT`
      (true in every threads build).

    ## Why is this bad
    Each configuration compiles a different set of `#if` branches, and a
    branch keyed on a macro that happens to coincide with the right one in the
    configuration the author tested is wrong in the others: the single-threaded
    WASIp3 build reaches the stack pointer through the ABI's libcalls, so an
    `#else` that reads the `__stack_pointer` global reads a global that is
    not the stack pointer there.  Such code compiles and links; it fails at
    run time, in the configuration nobody ran.

    ## Example
    ```c
    #ifdef __wasi_cooperative_threads__          /* should test the ABI macro */
      __asm__("call __wasm_get_stack_pointer\\n local.set %0" : "=r"(sp));
    #else
      __asm__("global.get __stack_pointer\\n local.set %0" : "=r"(sp));  /* TL601 in wasip3 */
    #endif
    ```

    ## How to fix
    Key the code on the macro that means what the code needs: the ABI macro
    for how the stack pointer and TLS base are reached, the
    cooperative-threads macro for the cooperative runtime, the threads macro
    only for what every threads build shares.  Give thread-only code a
    threads-off stub, or leave it out of that build.

    ## Configuration
    `[features]`: `abi_macro`, `coop_macro` and `threads_macro` name the
    feature macros; `thread_intrinsics` (globs) need threads,
    `coop_only` (globs) need cooperative threads, `thread_apis` (globs) are
    thread-API names.  `[intrinsics] accessors` and `globals` are the two
    ways of reaching the stack pointer and TLS base.
    """

    id = "TL601"
    name = "ungated-thread-code"
    summary = "Thread code compiled in a configuration where it is wrong"
    severity = "warning"
    precision = "medium"
    scope = "project"
    min_configs = 2
    profile_schema = {"features": {"abi_macro": str, "coop_macro": str, "threads_macro": str,
                                   "thread_intrinsics": ("list", str),
                                   "coop_only": ("list", str), "thread_apis": ("list", str)},
                      "intrinsics": {"accessors": ("list", str), "globals": ("list", str)}}

    def check_project(self, project):
        prof = project.profile
        abi = pvalue(prof, "features.abi_macro", "")
        coop = pvalue(prof, "features.coop_macro", "")
        threads = pvalue(prof, "features.threads_macro", "")
        src = SourceLines(project.root)
        seen = set()
        for program in project.programs:
            state = _MacroState(program, src)
            for f in self._abi(program, state, abi, coop, threads, src):
                if (f.location, f.configs) not in seen:
                    seen.add((f.location, f.configs))
                    yield f
            for f in self._thread_calls(program, state, coop, threads, src):
                if (f.location, f.configs) not in seen:
                    seen.add((f.location, f.configs))
                    yield f

    # -- stack pointer / TLS base reached the wrong way for the ABI ---------
    def _abi(self, program, state, abi, coop, threads, src):
        prof = program.profile
        accessors = set(plist(prof, "intrinsics.accessors"))
        globals_ = set(plist(prof, "intrinsics.globals"))
        on = state.defined(abi) if abi else None
        if on is None or not (accessors or globals_):
            return
        wrong = globals_ if on else accessors
        right = accessors if on else globals_
        features = {m for m in (abi, coop, threads) if m}
        for path, skipped, is_asm in _files(program):
            lines = src.lines(path)
            arms = branches(lines)
            reported = set()
            for no, line in enumerate(lines, 1):
                if inactive(no, skipped):
                    continue
                used = identifiers(code_of(line, is_asm)) & wrong
                if not used:
                    continue
                arm = innermost(arms, no)
                where = (arm.start, arm.kind) if arm else None     # one finding per arm
                if where in reported:
                    continue
                reported.add(where)
                keyed = arm.keyed_on() & features if arm else set()
                state_txt = "defined" if on else "not defined"
                if keyed and abi not in keyed:
                    head = arm.head()
                    why = (f"the #{head.kind} at line {head.start} tests "
                           f"{', '.join(sorted(keyed))}, but {abi} decides")
                    related = [self.related(path, head.start, 1, f"#{head.kind} {head.cond}")]
                else:
                    why = f"the code is not gated on {abi}"
                    related = []
                yield self.finding(
                    f"uses {', '.join(sorted(used))} in configuration {program.name}, where {abi} "
                    f"is {state_txt} and the stack pointer/TLS base are reached through "
                    f"{', '.join(sorted(right)) or 'other means'}: {why}",
                    path, no, _column(line, used), related=related, configs=(program.name,),
                    key=f"abi:{','.join(sorted(used))}")

    # -- thread-only calls where threads (or cooperative threads) are off ----
    def _thread_calls(self, program, state, coop, threads, src):
        prof = program.profile
        intrinsics = plist(prof, "features.thread_intrinsics")
        coop_only = plist(prof, "features.coop_only")
        apis = plist(prof, "features.thread_apis")
        threads_on = state.defined(threads) if threads else None
        coop_on = state.defined(coop) if coop else None
        checks = []
        if threads_on is False and intrinsics:
            checks.append((intrinsics, f"needs threads, but {threads} is not defined there"))
        if coop_on is False and coop_only:
            checks.append((coop_only,
                           f"needs cooperative threads, but {coop} is not defined there"))
        if not checks:
            return
        for tu in program.tus:
            arms = None
            for fn in tu.heads:
                for name, line, col, _ in fn["calls"]:     # direct calls, pre-order
                    for patterns, why in checks:
                        if not matches(name, patterns) or matches(fn["name"], patterns):
                            continue
                        if arms is None:
                            arms = branches(src.lines(tu.path))
                        arm = innermost(arms, line)
                        keyed = arm.keyed_on() if arm else set()
                        pulled = ""
                        related = []
                        if arm and threads in keyed and coop not in keyed:
                            head = arm.head()
                            pulled = (f"; the #{head.kind} at line {head.start} tests {threads}, "
                                      f"which is defined in every threads build")
                            related = [self.related(tu.path, head.start, 1,
                                                    f"#{head.kind} {head.cond}")]
                        who = (f"thread-API definition {fn['name']}" if matches(fn["name"], apis)
                               else fn["name"])
                        yield self.finding(
                            f"{who} calls {name} in configuration {program.name}: it {why}"
                            f"{pulled}", tu.path, line, col, function=fn["name"],
                            related=related, configs=(program.name,), key=f"call:{name}")
                        break
        for af in program.asm:
            for fn in af.facts.get("functions", []):
                for call in fn.get("calls", []):
                    for patterns, why in checks:
                        if matches(call["name"], patterns) and not matches(fn["name"], patterns):
                            yield self.finding(
                                f"{fn['name']} calls {call['name']} in configuration "
                                f"{program.name}: it {why}", af.path, call["l"], 1,
                                function=fn["name"], configs=(program.name,),
                                key=f"call:{call['name']}")
                            break


def _column(line: str, names) -> int:
    cols = [line.find(n) for n in names if line.find(n) >= 0]
    return min(cols) + 1 if cols else 1


def _files(program):
    """(path, skipped ranges, is assembly) of every main file, once per path."""
    done = set()
    for tu in program.tus:
        if tu.path not in done and not tu.crashed:
            done.add(tu.path)
            yield tu.path, tu.facts.get("skipped", []), False
    for af in program.asm:
        if af.path not in done:
            done.add(af.path)
            yield af.path, af.facts.get("skipped", []), True


class _MacroState:
    """Is a feature macro defined in a configuration?  Compiler-predefined and
    ``-D`` macros come from the configuration's own arguments; macros a header
    derives (``#define X`` inside ``#ifdef Y``) from what the preprocessor did:
    every ``#ifdef X``/``#ifndef X`` of the configuration's main files was
    either compiled or skipped."""

    def __init__(self, program, src):
        self.program = program
        self.src = src
        self._predefs = None
        self._votes = None

    def defined(self, macro: str):
        if self._predefs is None:
            self._predefs = self.program.predefined()
        if macro in self._predefs:
            return True
        votes = self._evidence().get(macro)
        if votes:
            yes, no = votes
            return yes > no
        return False if self._predefs else None

    def _evidence(self):
        if self._votes is None:
            self._votes = {}
            for path, skipped, _ in _files(self.program):
                for arm in branches(self.src.lines(path)):
                    test = simple_test(arm)
                    if test is None:
                        continue
                    macro, expected = test
                    if not _ancestors_active(arm, skipped):
                        continue          # an enclosing block was skipped: no evidence
                    is_defined = branch_active(arm, skipped) == expected
                    v = self._votes.setdefault(macro, [0, 0])
                    v[0 if is_defined else 1] += 1
        return self._votes


def _ancestors_active(arm, skipped) -> bool:
    b = arm.parent
    while b is not None:
        if not branch_active(b, skipped):
            return False
        b = b.parent
    return True
