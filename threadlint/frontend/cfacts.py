"""Extract JSON-serialisable facts from one parsed C translation unit.

Traversal follows ``docs/design.md`` (measured in research): tokenize and
annotate the main file in C to find top-level declarations and macro
expansions, then one ``clang_visitChildren`` callback per cursor of those
declarations only, switching on integer cursor kinds.  The TU cursor's own
children (mostly header macro definitions) are never visited.

Output per function is an *event tree* (see ``threadlint.facts``): control
structure (if/loop/switch/return/goto/defer) with the calls, references,
casts, assignments and main-file macro expansions in evaluation order.
"""
from __future__ import annotations

import bisect
import ctypes
import re

from threadlint.facts import split_macro_args
from threadlint.frontend import cxbind
from threadlint.frontend.cxbind import CXCursor, CXToken

# Cursor kinds (CXCursorKind values, stable ABI).
STRUCT_DECL, UNION_DECL, ENUM_DECL, FIELD_DECL = 2, 3, 5, 6
FUNCTION_DECL, VAR_DECL, PARM_DECL, TYPEDEF_DECL = 8, 9, 10, 20
LABEL_REF = 48
UNEXPOSED_EXPR, DECL_REF_EXPR, MEMBER_REF_EXPR, CALL_EXPR = 100, 101, 102, 103
UNARY_OPERATOR, BINARY_OPERATOR, COMPOUND_ASSIGN, CONDITIONAL = 112, 114, 115, 116
CSTYLE_CAST, INIT_LIST = 117, 119
UNEXPOSED_STMT, LABEL_STMT, COMPOUND_STMT, CASE_STMT, DEFAULT_STMT = 200, 201, 202, 203, 204
IF_STMT, SWITCH_STMT, WHILE_STMT, DO_STMT, FOR_STMT, GOTO_STMT = 205, 206, 207, 208, 209, 210
CONTINUE_STMT, BREAK_STMT, RETURN_STMT, ASM_STMT = 212, 213, 214, 215
TRANSLATION_UNIT, MACRO_INSTANTIATION, STATIC_ASSERT = 350, 502, 602
LAST_DECL = 39                              # CXCursor_LastDecl
# Token annotations the scan keeps: declarations (top-level candidates) and macro expansions.
SCANNED_KINDS = frozenset(range(1, LAST_DECL + 1)) | {MACRO_INSTANTIATION, STATIC_ASSERT}

CONTROL = {IF_STMT: "if", SWITCH_STMT: "switch", WHILE_STMT: "while", DO_STMT: "do",
           FOR_STMT: "for", CASE_STMT: "case", DEFAULT_STMT: "default", LABEL_STMT: "label"}
ASSIGN_OPS = set(range(22, 33))          # CXBinaryOperator_Assign .. OrAssign
INCDEC_OPS = {1, 2, 3, 4}                 # post/pre inc/dec
ADDR_OF = 5
# Nodes whose direct children are positional slots (cond/then/else, lhs/rhs).
SLOTTED = set(CONTROL.values()) | {"assign"}
SC_STATIC = 3                             # CX_SC_Static
CONTINUE, RECURSE = 1, 2
INT_TYPE_KINDS = set(range(3, 21))        # CXType_Bool .. CXType_Int128
EVAL_INT = 1                              # CXEval_Int


_NEWLINE = re.compile(rb"\n")
# Leaf cursors that never hold facts: skipped without any location lookup.
LEAF_KINDS = {43, 106, 107, 108, 109, 110}   # TypeRef and literals
# Cursors that never have children in C (a name, a label): nothing is noted
# for children that cannot come.
CHILDLESS_KINDS = {DECL_REF_EXPR, LABEL_REF, BREAK_STMT, CONTINUE_STMT}
# Cursors that hold facts only through their children.
TRANSPARENT_KINDS = {UNEXPOSED_EXPR, 111, 113, 118, 119, 136, 231, 400, 116}


class TUExtractor:
    """Facts of one TU.  ``source`` is the main file's bytes as parsed."""

    def __init__(self, tu_ptr, main_path: str, source: bytes):
        self.L = cxbind.lib()
        self.tu = tu_ptr
        self.main = main_path
        self.src = source
        self.main_file = self.L.clang_getFile(tu_ptr, main_path.encode())
        self.line_starts = [0] + [m.end() for m in _NEWLINE.finditer(source)]
        self._fb = ctypes.c_void_p()
        self._ob = ctypes.c_uint()
        self._fref = ctypes.byref(self._fb)
        self._oref = ctypes.byref(self._ob)
        self._referenced: dict[bytes, tuple] = {}
        self._fields: dict[bytes, tuple] = {}
        self._types: dict[bytes, str] = {}
        self._start = self._raw_start()

    # -- locations -------------------------------------------------------
    def _raw_start(self) -> int:
        """The raw encoding (``CXSourceLocation.int_data``) of the main file's
        first byte.  A file location's raw encoding is its file's start in the
        source manager's offset space plus the offset in the file (macro
        locations have the top bit set), so a raw value in ``[start, start +
        len]`` *is* a main-file offset: most lookups need no libclang call.
        Checked at both ends of the file; if the encoding is not what this
        expects, returns a start no location reaches and libclang decides all."""
        L, n = self.L, len(self.src)
        if self.main_file:
            first = L.clang_getLocationForOffset(self.tu, self.main_file, 0).int_data
            last = L.clang_getLocationForOffset(self.tu, self.main_file, n).int_data
            if first and last - first == n:
                return first
        return 1 << 40

    def _main_off(self, loc):
        """Main-file offset of a location's expansion, or -1 (another file)."""
        off = loc.int_data - self._start
        if 0 <= off <= len(self.src):
            return off
        self.L.clang_getExpansionLocation(loc, self._fref, None, None, self._oref)
        return self._ob.value if self._fb.value == self.main_file else -1

    def linecol(self, off: int):
        i = bisect.bisect_right(self.line_starts, off) - 1
        return i + 1, off - self.line_starts[i] + 1

    def _extent(self, c):
        r = self.L.clang_getCursorExtent(c)
        n = len(self.src)
        a = r.begin_int_data - self._start          # see _raw_start
        if not 0 <= a <= n:
            a = self._main_off(self.L.clang_getRangeStart(r))
        b = r.end_int_data - self._start
        if not 0 <= b <= n:
            b = self._main_off(self.L.clang_getRangeEnd(r))
        return a, b

    def text(self, a: int, b: int) -> str:
        if a < 0 or b < a:
            return ""
        return " ".join(self.src[a:b].decode("utf-8", "replace").split())

    def _spell(self, c) -> str:
        return cxbind.to_str(self.L.clang_getCursorSpelling(c))

    def _type(self, c) -> str:
        return self._spell_type(self.L.clang_getCursorType(c))

    def _canon(self, c) -> str:
        return self._spell_type(self.L.clang_getCanonicalType(self.L.clang_getCursorType(c)))

    def _spell_type(self, t) -> str:
        # memoised: a CXType's bytes are its kind and its type pointer (with
        # qualifiers), so equal bytes are the same type, spelled the same
        key = bytes(t)
        spelled = self._types.get(key)
        if spelled is None:
            spelled = self._types[key] = cxbind.to_str(self.L.clang_getTypeSpelling(t))
        return spelled

    # -- tokens ----------------------------------------------------------
    def _scan_tokens(self):
        """Top-level declaration cursors and macro expansions of the main file."""
        L = self.L
        start = L.clang_getLocationForOffset(self.tu, self.main_file, 0)
        end = L.clang_getLocationForOffset(self.tu, self.main_file, len(self.src))
        toks = ctypes.POINTER(CXToken)()
        n = ctypes.c_uint()
        L.clang_tokenize(self.tu, L.clang_getRange(start, end), ctypes.byref(toks), ctypes.byref(n))
        n = n.value
        tops, macros = [], []
        if n == 0:
            return tops, macros
        curs = (CXCursor * n)()
        L.clang_annotateTokens(self.tu, toks, n, curs)
        # Read every cursor's kind at once through a memoryview (a CXCursor is
        # 8 ints wide on 64-bit): per-element ctypes access costs ~1 us each,
        # and converting all 8 words of every token to Python ints costs more
        # than the whole filter.
        words = ctypes.sizeof(CXCursor) // ctypes.sizeof(ctypes.c_int)
        raw = memoryview(curs).cast("B")
        kinds = raw.cast("i")[::words].tolist()
        size = ctypes.sizeof(CXCursor)
        seen = set()
        wanted = [i for i, k in enumerate(kinds) if k in SCANNED_KINDS]
        for i in wanted:
            k = kinds[i]
            ident = raw[i * size:(i + 1) * size].tobytes()
            if ident in seen:
                continue
            seen.add(ident)
            c = curs[i]
            if k == MACRO_INSTANTIATION:
                a, b = self._extent(c)
                if a >= 0:
                    macros.append((a, b, self._spell(c)))
            elif L.clang_getCursorLexicalParent(c).kind == TRANSLATION_UNIT:
                tops.append(CXCursor.from_buffer_copy(c))
        L.clang_disposeTokens(self.tu, toks, n)
        return tops, macros

    # -- main entry ------------------------------------------------------
    def extract(self) -> dict:
        tops, macro_list = self._scan_tokens()
        self.macro_starts = {a: (a, b, name) for a, b, name in macro_list}
        self.defer_possible = b"defer" in self.src or b"_Defer" in self.src
        functions, globals_, records, top_events = [], [], [], []
        for c in tops:
            k = c.kind
            if self._main_off(self.L.clang_getCursorLocation(c)) < 0:
                continue
            if k == FUNCTION_DECL:
                if self.L.clang_isCursorDefinition(c):
                    functions.append(self._function(c))
            elif k == VAR_DECL:
                g, evs = self._global(c)
                globals_.append(g)
                top_events.extend(evs)
            elif k in (STRUCT_DECL, UNION_DECL) and self.L.clang_isCursorDefinition(c):
                rec = self._record(c)
                if rec:
                    records.append(rec)
        macros = []
        fspans = sorted((f["_a"], f["_b"], f["name"]) for f in functions)
        starts = [s[0] for s in fspans]
        for a, b, name in sorted(macro_list):
            line, col = self.linecol(a)
            i = bisect.bisect_right(starts, a) - 1
            func = fspans[i][2] if i >= 0 and fspans[i][0] <= a < fspans[i][1] else None
            macros.append({"name": name, "l": line, "c": col, "args": split_macro_args(self.text(a, b)),
                           "func": func})
        for f in functions:
            del f["_a"], f["_b"]
        return {"functions": functions, "globals": globals_, "records": records,
                "macros": macros, "top_events": top_events, "skipped": self._skipped()}

    def _skipped(self):
        """Main-file line ranges the preprocessor skipped, ``[first, last]`` each:
        the ``#if``/``#else`` line opening the inactive block through the directive
        closing it (lines strictly between are inactive code)."""
        L = self.L
        rl = L.clang_getSkippedRanges(self.tu, self.main_file)
        if not rl:
            return []
        out = []
        line = ctypes.c_uint()
        for i in range(rl.contents.count):
            r = rl.contents.ranges[i]
            pair = []
            for loc in (L.clang_getRangeStart(r), L.clang_getRangeEnd(r)):
                L.clang_getSpellingLocation(loc, None, ctypes.byref(line), None, None)
                pair.append(line.value)
            out.append(pair)
        L.clang_disposeSourceRangeList(rl)
        return out

    # -- declarations ----------------------------------------------------
    def _record(self, c):
        name = self._spell(c)
        fields = []

        def visit(ch, parent, _):
            if ch.kind == FIELD_DECL:
                off = self._main_off(self.L.clang_getCursorLocation(ch))
                line, col = self.linecol(max(off, 0))
                fields.append({"name": self._spell(ch), "type": self._type(ch), "l": line, "c": col,
                               "off": self.L.clang_Cursor_getOffsetOfField(ch) // 8})
            return CONTINUE

        self.L.clang_visitChildren(c, cxbind.VISITOR(visit), None)
        off = self._main_off(self.L.clang_getCursorLocation(c))
        line, col = self.linecol(max(off, 0))
        # size in bytes (negative when incomplete/dependent), field "off" likewise
        size = self.L.clang_Type_getSizeOf(self.L.clang_getCursorType(c))
        return {"name": name, "l": line, "c": col, "fields": fields, "size": size}

    def _global(self, c):
        L = self.L
        off = self._main_off(L.clang_getCursorLocation(c))
        line, col = self.linecol(off)
        ctype = L.clang_getCursorType(c)
        g = {"name": self._spell(c), "l": line, "c": col, "type": self._type(c),
             "static": L.clang_Cursor_getStorageClass(c) == SC_STATIC,
             "extern": L.clang_Cursor_getStorageClass(c) == 2,
             "tls": L.clang_getCursorTLSKind(c) != 0,
             "const": bool(L.clang_isConstQualifiedType(ctype)),
             "definition": bool(L.clang_isCursorDefinition(c))}
        value = self._int_value(c, ctype) if g["definition"] else None
        if value is not None:
            g["value"] = value          # evaluated integer initialiser (TL501)
        root = {"k": "block"}
        self._walk(c, root, True)
        return g, [ev for ev in flatten(root.get("sub", ())) if ev["k"] in ("fref", "call")]

    def _int_value(self, c, ctype):
        """The initialiser of an integer variable as a constant, or None."""
        L = self.L
        if L.clang_getCanonicalType(ctype).kind not in INT_TYPE_KINDS:
            return None
        res = L.clang_Cursor_Evaluate(c)
        if not res:
            return None
        try:
            if L.clang_EvalResult_getKind(res) != EVAL_INT:
                return None
            if L.clang_EvalResult_isUnsignedInt(res):
                return L.clang_EvalResult_getAsUnsigned(res)
            return L.clang_EvalResult_getAsLongLong(res)
        finally:
            L.clang_EvalResult_dispose(res)

    def _scalar_table(self, c) -> bool:
        """An initialiser list of plain numbers (e.g. iconv's charmaps, which are
        most cursors of the tree) holds no facts; one with pointers may hold
        function addresses (call-graph edges) and is walked."""
        t = self._canon(c)
        return "(" not in t and "*" not in t and "struct" not in t and "union" not in t

    def _function(self, c):
        L = self.L
        a, b = self._extent(c)
        off = self._main_off(L.clang_getCursorLocation(c))
        line, col = self.linecol(off)
        end_line, _ = self.linecol(max(b, a))
        params = []
        for i in range(max(L.clang_Cursor_getNumArguments(c), 0)):
            p = L.clang_Cursor_getArgument(c, i)
            params.append([self._spell(p), self._type(p)])
        ret = cxbind.to_str(L.clang_getTypeSpelling(L.clang_getCursorResultType(c)))
        root = {"k": "block"}
        self._walk(c, root, False)
        body = root.get("sub", [])
        # The walk puts parameter-less function children (body) first; the
        # compound statement is the last child of a definition.
        blocks = [n for n in body if n["k"] == "block"]
        body_node = blocks[-1] if blocks else root
        return {"name": self._spell(c), "l": line, "c": col, "end_l": end_line,
                "static": L.clang_Cursor_getStorageClass(c) == SC_STATIC,
                "params": params, "ret": ret, "body": body_node.get("sub", []),
                "_a": a, "_b": b}

    # -- the visitor -----------------------------------------------------
    def _walk(self, top, root: dict, skip_init_lists: bool):
        """Append the event tree under cursor ``top`` to ``root["sub"]``.

        Nodes are built as the serialisable dicts themselves; their children
        go to ``"sub"`` (created on the first child)."""
        L = self.L
        # A cursor's identity is its bytes: the struct a child sees as its
        # parent is the one its parent was visited as (checked on the corpus:
        # identical facts), and bytes() is 2x cheaper than clang_hashCursor.
        hashc = bytes
        getloc = L.clang_getCursorLocation
        main_off = self._main_off
        start, size = self._start, len(self.src)
        macro_starts = self.macro_starts
        leaf_kinds, passive_kinds, control = LEAF_KINDS, LEAF_KINDS | TRANSPARENT_KINDS, CONTROL
        line_starts, bisect_right = self.line_starts, bisect.bisect_right
        attached = set()
        owner = {hashc(top): (root, False)}
        ident = {}          # callee DECL_REF already consumed per call node
        unowned = (root, False)

        def visit(c, parent, _):
            k = c.kind
            entry = owner.get(hashc(parent), unowned)
            own, own_is_control = entry
            if k in passive_kinds and not own_is_control and not (own["k"] == "cast" and own["f"] is None):
                if k in leaf_kinds:
                    return CONTINUE
                if skip_init_lists and k == INIT_LIST and self._scalar_table(c):
                    return CONTINUE
                owner[hashc(c)] = entry             # (own, False): its children are own's
                return RECURSE
            loc = getloc(c)
            off = loc.int_data - start              # see _raw_start
            if not 0 <= off <= size:
                off = main_off(loc)
            if off >= 0:                            # linecol(), inlined: every node needs it
                line = bisect_right(line_starts, off)
                col = off - line_starts[line - 1] + 1
            else:
                line = col = 0
            node = None
            if k in control:
                node = {"k": control[k], "l": line, "c": col}
                if k == LABEL_STMT:
                    node["name"] = self._spell(c)
            elif k == DECL_REF_EXPR:
                node = self._declref(c, line, col, own, ident)
            elif k == BINARY_OPERATOR:
                if L.clang_getCursorBinaryOperatorKind(c) in ASSIGN_OPS:
                    node = self._assign(c, line, col)
            elif k == COMPOUND_STMT:
                node = {"k": "block", "l": line, "c": col}
            elif k == UNARY_OPERATOR:
                op = L.clang_getCursorUnaryOperatorKind(c)
                if op in INCDEC_OPS:
                    node = {"k": "incdec", "l": line, "c": col}
                elif op == ADDR_OF:
                    node = {"k": "addrof", "l": line, "c": col}
            elif k == MEMBER_REF_EXPR:
                node = self._member(c, line, col)
            elif k == CALL_EXPR:
                node = self._call(c, off, line, col)
                ident[id(node)] = False
            elif k == COMPOUND_ASSIGN:
                node = self._assign(c, line, col)
            elif k == CSTYLE_CAST:
                node = {"k": "cast", "l": line, "c": col, "t": self._type(c), "tc": self._canon(c),
                        "f": None}
            elif k == RETURN_STMT:
                a, b = self._extent(c)
                node = {"k": "ret", "l": line, "c": col,
                        "v": self.text(a, b)[len("return"):].strip().rstrip(";").strip()}
            elif k == GOTO_STMT:
                node = {"k": "goto", "l": line, "c": col, "label": None}
            elif k == LABEL_REF and own["k"] == "goto":
                own["label"] = self._spell(c)
            elif k == BREAK_STMT:
                node = {"k": "break", "l": line, "c": col}
            elif k == CONTINUE_STMT:
                node = {"k": "continue", "l": line, "c": col}
            elif k == VAR_DECL:
                node = self._localvar(c, line, col)
            elif k == UNEXPOSED_STMT and self.defer_possible and self._is_defer(c):
                node = {"k": "defer", "l": line, "c": col}
            elif k == ASM_STMT:
                a, b = self._extent(c)
                node = {"k": "asm", "l": line, "c": col, "x": self.text(a, b)[:4000]}
            if 100 <= k < 200 and own["k"] == "cast" and own["f"] is None:
                own["f"] = self._type(c)
                own["fc"] = self._canon(c)
            if node is None and own_is_control:
                node = {"k": "stmt", "l": line, "c": col}   # keep if/loop/assign child slots aligned
            childless = k in CHILDLESS_KINDS
            if node is not None:
                own.setdefault("sub", []).append(node)
                if not childless:
                    owner[hashc(c)] = (node, node["k"] in SLOTTED)
            elif not childless:
                owner[hashc(c)] = (own, False)
            if off in macro_starts and off not in attached:
                attached.add(off)
                a, b, name = macro_starts[off]
                ev = {"k": "macro", "l": line, "c": col, "n": name, "a": split_macro_args(self.text(a, b))}
                if node is None:
                    own.setdefault("sub", []).append(ev)
                elif own_is_control:
                    node.setdefault("sub", []).append(ev)   # inside the slot, slots stay aligned
                else:
                    own["sub"].insert(len(own["sub"]) - 1, ev)
            return CONTINUE if childless else RECURSE

        L.clang_visitChildren(top, cxbind.VISITOR(visit), None)

    def _is_defer(self, c) -> bool:
        a, _ = self._extent(c)
        return a >= 0 and (self.src[a:a + 5] == b"defer" or self.src[a:a + 6] == b"_Defer")

    def _call(self, c, off, line, col):
        L = self.L
        ref = L.clang_getCursorReferenced(c)
        direct = not L.clang_Cursor_isNull(ref) and ref.kind == FUNCTION_DECL
        args = []
        for i in range(max(L.clang_Cursor_getNumArguments(c), 0)):
            aa, ab = self._extent(L.clang_Cursor_getArgument(c, i))
            args.append(self.text(aa, ab))
        if direct:
            callee = self._described(ref)[1]["n"]       # the called function's name
        else:
            whole = self.text(*self._extent(c))
            callee = whole.split("(", 1)[0].strip() if "(" in whole else whole
        node = {"k": "call", "l": line, "c": col, "n": callee, "ind": not direct, "a": args}
        if off in self.macro_starts:
            node["m"] = self.macro_starts[off][2]      # call written by a macro
        return node

    def _declref(self, c, line, col, own, ident):
        kind, info = self._described(self.L.clang_getCursorReferenced(c))
        if kind is None:
            return None
        if kind == "fref" and own["k"] == "call" and not ident.get(id(own), True):
            ident[id(own)] = True          # the callee itself
            return None
        node = {"k": kind, "l": line, "c": col}
        node.update(info)
        return node

    def _described(self, ref):
        key = bytes(ref)
        described = self._referenced.get(key)
        if described is None:
            described = self._referenced[key] = self._describe_referenced(ref)
        return described

    def _describe_referenced(self, ref):
        """(event kind, info) for a declaration a DeclRefExpr names (memoised
        per declaration: most references name a parameter or global again)."""
        L = self.L
        if L.clang_Cursor_isNull(ref):
            return None, None
        rk = ref.kind
        if rk == FUNCTION_DECL:
            return "fref", {"n": self._spell(ref)}
        if rk == VAR_DECL:
            sp = L.clang_getCursorSemanticParent(ref)
            if sp.kind == TRANSLATION_UNIT:
                scope = "static" if L.clang_Cursor_getStorageClass(ref) == SC_STATIC else "global"
            elif L.clang_Cursor_getStorageClass(ref) == SC_STATIC:
                scope = "static"
            else:
                scope = "local"
            info = {"n": self._spell(ref), "s": scope, "t": self._type(ref)}
            if scope != "local" and L.clang_getCursorTLSKind(ref) != 0:
                info["tls"] = True
            return "ref", info
        if rk == PARM_DECL:
            return "ref", {"n": self._spell(ref), "s": "param", "t": self._type(ref)}
        return None, None

    def _member(self, c, line, col):
        L = self.L
        ref = L.clang_getCursorReferenced(c)
        if L.clang_Cursor_isNull(ref):
            name, struct = self._spell(c), ""
        else:
            # memoised per field: a member expression is named after the field it references
            key = bytes(ref)
            described = self._fields.get(key)
            if described is None:
                described = self._fields[key] = (self._spell(c), self._type(L.clang_getCursorSemanticParent(ref)))
            name, struct = described
        a, b = self._extent(c)
        return {"k": "field", "l": line, "c": col, "n": name, "st": struct, "x": self.text(a, b)}

    def _assign(self, c, line, col):
        a, b = self._extent(c)
        return {"k": "assign", "l": line, "c": col, "x": self.text(a, b)}

    def _localvar(self, c, line, col):
        L = self.L
        static = L.clang_Cursor_getStorageClass(c) == SC_STATIC
        a, b = self._extent(c)
        whole = self.text(a, b)
        init = whole.split("=", 1)[1].strip() if "=" in whole else ""
        return {"k": "decl", "l": line, "c": col, "n": self._spell(c), "t": self._type(c),
                "static": static, "init": init}


def flatten(nodes):
    """Events in evaluation order (children before their parent), without
    positions or children."""
    for n in nodes:
        yield from flatten(n.get("sub", ()))
        yield {key: v for key, v in n.items() if key not in _POSITIONAL}


_POSITIONAL = ("l", "c", "sub")
