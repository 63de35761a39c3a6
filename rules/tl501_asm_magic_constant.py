from threadlint.facts import walk
from threadlint.registry import Rule
from threadlint_rules._port import matches, plist, pvalue


class AsmMagicConstant(Rule):
    """## What it does
    Finds numeric literals in assembly that copy something the C side
    defines: an immediate (`i32.const 131072`) equal to a C integer constant
    or struct size of the same build, and the fixed offset of a load or store
    (`i32.load 4`) through a pointer that the function also passes to a C
    function which uses it as a struct with a field at that offset.  The C
    definition (the global whose initialiser has that value; the struct
    field) is the related location.

    ## Why is this bad
    The assembly copy does not change when the C definition does.  A new
    default stack size, a reordered or resized `struct start_args`, or a
    different pointer size on another target silently makes the assembly
    allocate the wrong size or read the wrong field, and only at run time.

    ## Example
    ```asm
    __wasm_init_async_task:
      i32.const 131072        # TL501: copy of __default_stacksize
      call malloc
    thread_start:
      local.get 0
      i32.load 4              # TL501: offsetof(struct start_args, tls_base)
    ```

    ## How to fix
    Do the work in C where the constant and the layout are known (see TL502),
    or have C export the value (a global the assembly loads, or a generated
    header with `offsetof` values plus a `_Static_assert` next to the struct).

    ## Configuration
    `[asm] const_ops` are the immediate-load instructions, `offset_ops` the
    load/store instructions (globs) whose first operand is an offset,
    `local_get` the instruction that pushes an argument or local, and
    `magic_min` the smallest immediate compared with C constants (small
    numbers match too much by chance).
    """

    id = "TL501"
    name = "asm-magic-constant"
    summary = "Assembly literal duplicating a C constant or struct offset"
    severity = "warning"
    precision = "medium"
    scope = "program"
    profile_schema = {"asm": {"const_ops": ("list", str), "offset_ops": ("list", str),
                              "local_get": str, "magic_min": int}}

    def check_program(self, program):
        prof = program.profile
        const_ops = set(plist(prof, "asm.const_ops"))
        offset_ops = plist(prof, "asm.offset_ops")
        local_get = pvalue(prof, "asm.local_get", "")
        magic_min = pvalue(prof, "asm.magic_min", 256)
        if not program.asm or not (const_ops or offset_ops):
            return
        constants = _c_constants(program, magic_min)
        for af in program.asm:
            for fn in af.facts.get("functions", []):
                for c in fn.get("consts", []):
                    if c["op"] in const_ops and abs(c["value"]) >= magic_min:
                        hits = constants.get(c["value"], [])
                        if hits:
                            name, path, line, col = hits[0]
                            yield self.finding(
                                f"{c['op']} {c['value']} duplicates the C constant {name} "
                                f"(= {c['value']}); the copies drift apart when one changes",
                                af.path, c["l"], c["c"], function=fn["name"],
                                related=[self.related(p, l, co, f"{n} = {c['value']}")
                                         for n, p, l, co in hits[:3]],
                                key=f"const:{c['value']}")
                if local_get and offset_ops:
                    yield from self._offsets(program, af, fn, offset_ops, local_get)

    def _offsets(self, program, af, fn, offset_ops, local_get):
        insns = fn.get("insns", [])
        for i, ins in enumerate(insns):
            if not (matches(ins["op"], offset_ops) and ins["args"] and ins["args"][0].isdigit()):
                continue
            local = _address_local(insns, i, ins["op"], local_get)
            if local is None:
                continue
            offset = int(ins["args"][0])
            field = _field_at(program, insns, local, offset, local_get)
            if field is None:
                continue        # no C structure known: maybe an array or a plain dereference
            struct, fname, path, line, col, callee = field
            yield self.finding(
                f"{ins['op']} {offset} hard-codes offsetof(struct {struct}, {fname}) (the "
                f"pointer in local {local} is passed to {callee}, which uses it as struct "
                f"{struct}); it breaks silently when the C structure changes",
                af.path, ins["l"], 1, function=fn["name"],
                related=[self.related(path, line, col, f"{struct}.{fname} is at offset {offset}")],
                key=f"offset:{struct}.{fname}")


def _c_constants(program, magic_min):
    """value -> [(name, path, line, col)] for integer globals and struct sizes."""
    out: dict[int, list] = {}
    for tu in program.tus:
        for g in tu.facts.get("globals", []):
            v = g.get("value")
            if isinstance(v, int) and abs(v) >= magic_min:
                out.setdefault(v, []).append((g["name"], tu.path, g["l"], g["c"]))
        for r in tu.facts.get("records", []):
            size = r.get("size", -1)
            if r.get("name") and isinstance(size, int) and size >= magic_min:
                out.setdefault(size, []).append((f"sizeof(struct {r['name']})", tu.path,
                                                 r["l"], r["c"]))
    for hits in out.values():
        hits.sort(key=lambda h: (h[1], h[2]))
        # one location per name: a header-defined value is seen from many TUs
        seen, uniq = set(), []
        for h in hits:
            if (h[0], h[1]) not in seen:
                seen.add((h[0], h[1]))
                uniq.append(h)
        hits[:] = uniq
    return out


def _address_local(insns, i, op, local_get):
    """The local whose value is the address of the load/store at ``i``, if it is
    pushed right before (load) or right before the single stored value (store)."""
    def local_at(j):
        if 0 <= j < len(insns) and insns[j]["op"] == local_get and insns[j]["args"] \
                and insns[j]["args"][0].isdigit():
            return int(insns[j]["args"][0])
        return None
    if ".store" in op:
        return local_at(i - 2)
    return local_at(i - 1)


def _field_at(program, insns, local, offset, local_get):
    """(struct, field, path, line, col, callee) of the C struct the same pointer is
    used as, found through the C function the assembly passes the local to."""
    for i, ins in enumerate(insns):
        if ins["op"] not in ("call", "return_call") or not ins["args"]:
            continue
        run = []
        j = i - 1
        while j >= 0 and insns[j]["op"] == local_get and insns[j]["args"]:
            run.insert(0, insns[j]["args"][0])
            j -= 1
        if str(local) not in run:
            continue
        callee = ins["args"][0]
        found = _c_function(program, callee)
        if not found:
            continue
        tu, fn = found
        params = fn["params"]
        pos = len(params) - len(run) + run.index(str(local))
        if not 0 <= pos < len(params):
            continue
        struct = _struct_of(fn, params[pos][0], params[pos][1])
        if not struct:
            continue
        for t in [tu] + program.tus:
            for r in t.facts.get("records", []):
                if r["name"] == struct:
                    for f in r["fields"]:
                        if f.get("off") == offset:
                            return struct, f["name"], t.path, f["l"], f["c"], callee
                    return None
    return None


def _c_function(program, name):
    key = program.callgraph.key("", name)
    d = program.callgraph.definition(key) if key else None
    if not d or d["kind"] != "c":
        return None
    tu = program.tu_by_path(d["path"])
    if tu is None:
        return None
    for fn in tu.functions:
        if fn["name"] == name:
            return tu, fn
    return None


def _struct_of(fn, pname, ptype):
    """The struct a pointer parameter is used as: its own type, or a local
    initialised from it (``struct start_args *args = context;``)."""
    def struct_name(t):
        t = t.replace("*", " * ").split()
        if t.count("*") == 1 and "struct" in t:
            return t[t.index("struct") + 1]
        return None
    own = struct_name(ptype)
    if own:
        return own
    for n in walk(fn["body"]):
        if n["k"] == "decl" and n.get("init", "").strip() in (pname, f"(void *){pname}"):
            s = struct_name(n.get("t", ""))
            if s:
                return s
        if n["k"] == "decl" and n.get("init", "").replace(" ", "").endswith(")" + pname):
            s = struct_name(n.get("t", ""))
            if s:
                return s
    return None
