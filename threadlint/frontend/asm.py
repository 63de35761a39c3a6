"""WebAssembly (and generic one-instruction-per-line) assembly scanner.

libclang cannot parse wasm assembly, and these files are small: a line
scanner with a small preprocessor (``#if/#ifdef/#ifndef/#elif/#else/#endif``,
object-like ``#define``, ``#undef``, ``#include`` through the include path)
is exact enough and costs well under a millisecond per file.

Facts: functions (label + ``.functype``/``end_function`` span) with their
calls, ``global.get/set``, numeric operands, instruction count and sequence
(``insns``); file-level ``.globl``, imports, ``.functype`` declarations,
``#define`` constants and the ``skipped`` (inactive) line ranges.
"""
from __future__ import annotations

import os
import re

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUM = re.compile(r"^-?(0[xX][0-9a-fA-F]+|\d+)$")
_TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+|\d+[uUlL]*|[A-Za-z_]\w*|&&|\|\||==|!=|<=|>=|<<|>>|[()!<>+\-*/%&|^~?:,])")


class ExprError(Exception):
    pass


def eval_expr(text: str, macros: dict[str, str], depth: int = 0) -> int:
    """Evaluate a preprocessor ``#if`` expression (integers only)."""
    toks = _tokens(text)
    toks = _expand(toks, macros, depth)
    parser = _Parser(toks)
    value = parser.ternary()
    if parser.i != len(toks):
        raise ExprError(f"unexpected token {toks[parser.i]!r}")
    return value


def _tokens(text):
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ExprError(f"bad character {text[pos]!r}")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _expand(toks, macros, depth):
    out, i = [], 0
    while i < len(toks):
        t = toks[i]
        if t == "defined":
            if i + 1 < len(toks) and toks[i + 1] == "(":
                name = toks[i + 2] if i + 2 < len(toks) else ""
                i += 4
            else:
                name = toks[i + 1] if i + 1 < len(toks) else ""
                i += 2
            out.append("1" if name in macros else "0")
            continue
        if _IDENT.fullmatch(t):
            if t in macros and depth < 16 and macros[t].strip():
                out.extend(_expand(_tokens(macros[t]), macros, depth + 1))
            else:
                out.append("0")
            i += 1
            continue
        out.append(t)
        i += 1
    return out


class _Parser:
    _BIN = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="),
            ("<<", ">>"), ("+", "-"), ("*", "/", "%")]

    def __init__(self, toks):
        self.t = toks
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self):
        tok = self.peek()
        if tok is None:
            raise ExprError("unexpected end of expression")
        self.i += 1
        return tok

    def ternary(self):
        cond = self.binary(0)
        if self.peek() == "?":
            self.take()
            a = self.ternary()
            if self.take() != ":":
                raise ExprError("expected ':'")
            b = self.ternary()
            return a if cond else b
        return cond

    def binary(self, level):
        if level == len(self._BIN):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in self._BIN[level]:
            op = self.take()
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self):
        tok = self.take()
        if tok == "!":
            return int(not self.unary())
        if tok == "-":
            return -self.unary()
        if tok == "+":
            return self.unary()
        if tok == "~":
            return ~self.unary()
        if tok == "(":
            v = self.ternary()
            if self.take() != ")":
                raise ExprError("expected ')'")
            return v
        num = tok.rstrip("uUlL")
        if _NUM.match(num):
            return int(num, 0)
        raise ExprError(f"unexpected token {tok!r}")


def _apply(op, a, b):
    if op in ("/", "%") and b == 0:
        raise ExprError("division by zero")
    return {"||": lambda: int(bool(a or b)), "&&": lambda: int(bool(a and b)), "|": lambda: a | b,
            "^": lambda: a ^ b, "&": lambda: a & b, "==": lambda: int(a == b),
            "!=": lambda: int(a != b), "<": lambda: int(a < b), ">": lambda: int(a > b),
            "<=": lambda: int(a <= b), ">=": lambda: int(a >= b), "<<": lambda: a << min(b, 64),
            ">>": lambda: a >> min(b, 64), "+": lambda: a + b, "-": lambda: a - b,
            "*": lambda: a * b, "/": lambda: int(a / b), "%": lambda: a % b}[op]()


def _strip_comment(line: str, hash_comments: bool) -> str:
    i = line.find("//")
    if i >= 0:
        line = line[:i]
    if hash_comments:
        i = line.find("#")
        if i >= 0:
            line = line[:i]
    return line


def scan(path: str, text: str, macros: dict[str, str] | None = None,
         include_dirs: list[str] = (), max_include_depth: int = 8) -> dict:
    """Facts of one assembly file.  ``macros``: the configuration's predefined
    macros (name -> replacement text) used by ``#if``.  Preprocessing happens
    for both ``.s`` and ``.S`` (a plain ``.s`` with ``#`` comments simply has
    no directives we recognise)."""
    macros = dict(macros or {})
    problems: list[dict] = []
    lines = text.splitlines()
    skipped: list[list[int]] = []
    included: list[str] = []
    active_lines = _preprocess(path, lines, macros, include_dirs, problems, 0, max_include_depth,
                               defines := [], skipped, included)
    facts = _scan_lines(active_lines, defines, problems, empty=not text.strip())
    facts["skipped"] = skipped
    facts["includes"] = sorted(set(included))      # what the result depends on besides path
    return facts


def _preprocess(path, lines, macros, include_dirs, problems, depth, max_depth, defines,
                skipped=None, included=None):
    """Active (line number, text) pairs of ``lines``; updates ``macros``.  ``skipped``
    receives ``[first, last]`` per inactive block, like libclang's skipped ranges: the
    directive opening it through the directive closing it."""
    stack: list[list[bool]] = []   # [this branch active, some branch taken, parent active]
    active = True
    out = []
    pending = ""
    for no, raw in enumerate(lines, 1):
        line = pending + raw
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        s = line.strip()
        m = re.match(r"#\s*(\w+)\s*(.*)$", s)
        directive = m.group(1) if m else None
        if directive in ("if", "ifdef", "ifndef", "elif", "else", "endif", "define", "undef",
                         "include", "error", "warning"):
            rest = re.sub(r"/\*.*?\*/|//.*$", "", m.group(2)).strip()
            was_active = active
            if directive in ("if", "ifdef", "ifndef"):
                parent = active
                cond = _cond(directive, rest, macros, path, no, problems) if parent else False
                stack.append([cond, cond, parent])
                active = parent and cond
            elif directive == "elif":
                if not stack:
                    problems.append({"l": no, "message": "#elif without #if"})
                    continue
                top = stack[-1]
                cond = (not top[1]) and top[2] and _cond("if", rest, macros, path, no, problems)
                top[0] = cond
                top[1] = top[1] or cond
                active = top[2] and cond
            elif directive == "else":
                if not stack:
                    problems.append({"l": no, "message": "#else without #if"})
                    continue
                top = stack[-1]
                top[0] = not top[1]
                top[1] = True
                active = top[2] and top[0]
            elif directive == "endif":
                if not stack:
                    problems.append({"l": no, "message": "#endif without #if"})
                    continue
                top = stack.pop()
                active = top[2]
            if skipped is not None and directive in ("if", "ifdef", "ifndef", "elif", "else",
                                                     "endif") and was_active != active:
                if was_active:
                    skipped.append([no, no])
                elif skipped:
                    skipped[-1][1] = no
            if directive in ("if", "ifdef", "ifndef", "elif", "else", "endif") or not active:
                continue
            elif directive == "define":
                dm = re.match(r"([A-Za-z_]\w*)(\([^)]*\))?\s*(.*)$", rest)
                if dm:
                    macros[dm.group(1)] = dm.group(3) if not dm.group(2) else ""
                    defines.append({"name": dm.group(1), "value": dm.group(3), "l": no,
                                    "function_like": bool(dm.group(2))})
            elif directive == "undef":
                macros.pop(rest.split()[0] if rest.split() else "", None)
            elif directive == "include":
                _include(path, rest, macros, include_dirs, problems, depth, max_depth, no,
                         included)
            elif directive == "error":
                problems.append({"l": no, "message": f"#error {rest}"})
            continue
        if active:
            out.append((no, line))
    if stack:
        problems.append({"l": len(lines), "message": "unterminated #if"})
    return out


def _cond(directive, rest, macros, path, no, problems) -> bool:
    if directive == "ifdef":
        return rest.split()[0] in macros if rest.split() else False
    if directive == "ifndef":
        return rest.split()[0] not in macros if rest.split() else True
    try:
        return bool(eval_expr(rest, macros))
    except (ExprError, RecursionError, ValueError, OverflowError) as e:
        problems.append({"l": no, "message": f"cannot evaluate #if {rest!r}: {e}"})
        return False


def _include(path, rest, macros, include_dirs, problems, depth, max_depth, no, included=None):
    m = re.match(r'[<"]([^>"]+)[>"]', rest)
    if not m:
        problems.append({"l": no, "message": f"bad #include {rest!r}"})
        return
    name = m.group(1)
    dirs = ([os.path.dirname(path)] if rest.startswith('"') else []) + list(include_dirs)
    for d in dirs:
        cand = os.path.join(d, name)
        if os.path.isfile(cand):
            if depth >= max_depth:
                problems.append({"l": no, "message": f"#include nested too deeply: {name}"})
                return
            try:
                with open(cand, encoding="utf-8", errors="replace") as fh:
                    inc_lines = fh.read().splitlines()
            except OSError:
                break
            if included is not None:
                included.append(os.path.normpath(cand))
            # Only the macro state of a header matters to an assembly file.
            _preprocess(cand, inc_lines, macros, include_dirs, [], depth + 1, max_depth, [],
                        None, included)
            return
    problems.append({"l": no, "message": f"#include not found: {name}"})


def _scan_lines(active, defines, problems, empty):
    functions: list[dict] = []
    globl, functypes, imports, exports, global_types = [], [], [], [], []
    labels = []
    current = None
    define_values = {d["name"]: d for d in defines if not d["function_like"]}
    for no, line in active:
        code = _strip_comment(line, hash_comments=True).strip()
        if not code:
            continue
        if code.endswith(":") and _IDENT.fullmatch(code[:-1].strip()):
            name = code[:-1].strip()
            labels.append({"name": name, "l": no})
            current = {"name": name, "l": no, "end_l": no, "instructions": 0, "calls": [],
                       "global_get": [], "global_set": [], "consts": [], "insns": []}
            functions.append(current)
            continue
        parts = code.replace(",", " ").split()
        op, operands = parts[0], parts[1:]
        if op.startswith("."):
            name = operands[0] if operands else ""
            if op == ".globl":
                globl.append(name)
            elif op == ".functype":
                functypes.append(name)
            elif op == ".import_module":
                imports.append({"name": name, "l": no})
            elif op == ".export_name":
                exports.append(name)
            elif op == ".globaltype":
                global_types.append(name)
            continue
        if current is None:
            continue
        if op == "end_function":
            current["end_l"] = no
            current = None
            continue
        current["instructions"] += 1
        current["end_l"] = no
        # the instruction sequence, for rules that follow a value (e.g. a parameter
        # loaded at a fixed offset, then passed to a call)
        current["insns"].append({"l": no, "op": op, "args": operands})
        if op in ("call", "return_call") and operands:
            current["calls"].append({"name": operands[0], "l": no})
        elif op == "global.get" and operands:
            current["global_get"].append({"name": operands[0], "l": no})
        elif op == "global.set" and operands:
            current["global_set"].append({"name": operands[0], "l": no})
        for operand in operands[:1]:
            value, via = _number(operand, define_values)
            if value is not None:
                col = line.find(operand) + 1
                current["consts"].append({"op": op, "value": value, "l": no, "c": max(col, 1),
                                          "macro": via})
    return {"functions": [f for f in functions if f["instructions"] or f["calls"]],
            "labels": labels, "globl": globl, "functypes": functypes, "imports": imports,
            "exports": exports, "globaltypes": global_types, "defines": defines,
            "problems": problems, "empty": empty}


def _number(operand, define_values):
    if _NUM.match(operand):
        return int(operand, 0), None
    d = define_values.get(operand)
    if d and _NUM.match(d["value"].strip()):
        return int(d["value"].strip(), 0), operand
    return None, None
