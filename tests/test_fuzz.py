"""Fuzzing (hypothesis): mutated corpus sources, assembly and compile databases.

Properties: no crash (no exception escapes; the CLI never exits 3), no hang
(every run finishes; a pathological TU becomes a TL002 timeout finding), and
deterministic output (the same input twice gives identical JSON and SARIF, or
identical assembly facts).

These are ordinary tests that run in CI with the rest of the suite.  Their
size is bounded so the suite stays fast: ``THREADLINT_FUZZ_EXAMPLES`` scales
the example counts (default 1), ``pytest --hypothesis-seed=N`` replays a run,
``--hypothesis-show-statistics`` prints how many cases ran.
"""
import json
import os
import re
import shlex
import tempfile

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from threadlint import compdb, engine, profile as profile_mod, registry
from threadlint.cli import main
from threadlint.compdb import Entry
from threadlint.errors import UsageError
from threadlint.frontend import asm as asm_scanner
from threadlint.inputs import BuildConfig
from threadlint.reporters import render

SCALE = float(os.environ.get("THREADLINT_FUZZ_EXAMPLES", "1"))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fuzz_settings(n: int):
    # no per-example deadline: libclang timings vary on a shared machine; hangs
    # are bounded by the engine's per-TU timeout and the scanner's include depth
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, database=None,
                    print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# -- mutations ------------------------------------------------------------------------

_TOKEN = re.compile(rb"[A-Za-z_]\w*|\d+|\S")
IF_LINES = [b"#if 1\n", b"#if 0\n", b"#ifdef FUZZ\n", b"#ifndef __wasm__\n", b"#else\n",
            b"#elif 1\n", b"#endif\n", b"#if (\n", b"#if 1 +\n", b"#define\n", b"#include\n",
            b"#include \"\"\n", b"#include <nope.h>\n", b"#undef\n"]


def mutate(data: bytes, ops) -> bytes:
    for op, k, blob in ops:
        if op in ("delete_token", "duplicate_token", "swap_tokens"):
            toks = list(_TOKEN.finditer(data))
            if not toks:
                continue
            m = toks[k % len(toks)]
            if op == "delete_token":
                data = data[:m.start()] + data[m.end():]
            elif op == "duplicate_token":
                data = data[:m.end()] + b" " + m.group() + data[m.end():]
            else:
                n = toks[(k // 7) % len(toks)]
                a, b = sorted((m, n), key=lambda t: t.start())
                if a.end() <= b.start():
                    data = (data[:a.start()] + b.group() + data[a.end():b.start()] + a.group()
                            + data[b.end():])
        elif op == "truncate":
            data = data[:k % (len(data) + 1)]
        elif op == "unbalance_if":
            lines = data.splitlines(keepends=True)
            if b"#endif" in data and k % 3 == 0:
                ends = [i for i, l in enumerate(lines) if l.lstrip().startswith(b"#endif")]
                del lines[ends[k % len(ends)]]
            else:
                lines.insert(k % (len(lines) + 1), IF_LINES[k % len(IF_LINES)])
            data = b"".join(lines)
        elif op == "insert_bytes":
            pos = k % (len(data) + 1)
            data = data[:pos] + blob + data[pos:]
        elif op == "delete_line" or op == "duplicate_line":
            lines = data.splitlines(keepends=True)
            if lines:
                i = k % len(lines)
                lines[i:i + 1] = [] if op == "delete_line" else [lines[i], lines[i]]
                data = b"".join(lines)
    return data


C_OPS = ["delete_token", "duplicate_token", "swap_tokens", "truncate", "unbalance_if",
         "insert_bytes", "delete_line", "duplicate_line"]
mutations = st.lists(st.tuples(st.sampled_from(C_OPS), st.integers(0, 1 << 20),
                               st.binary(min_size=1, max_size=6)), min_size=1, max_size=4)


# -- C sources through the engine ------------------------------------------------------------

C_PICKS = ("coop-threads/pthread_mutex_lock.c", "coop-threads/pthread_cond_timedwait.c",
           "coop-threads/__lock.c", "coop-threads/pthread_create.c", "wasip3_block_on.c",
           "coop-threads/pthread_once.c", "coop-threads/__wait.c")


@pytest.fixture(scope="module")
def corpus_c(corpus_dir):
    """[(source bytes, original path, sanitised coop arguments)] for a few threading files."""
    root = os.path.join(corpus_dir, "wasi-libc")
    entries = compdb.load(os.path.join(corpus_dir, "build-wasip3-coop", "compile_commands.json"), root)
    out, seen = [], set()
    for e in entries:
        if e.file.endswith(C_PICKS) and e.file not in seen:
            seen.add(e.file)
            with open(e.file, "rb") as fh:
                out.append((fh.read(), e.file, e.args))
    assert len(out) >= 4, "the corpus no longer has the fuzzed files"
    return out


def analyse(path: str, args, prof, rules) -> tuple[str, str, object]:
    root = os.path.dirname(path)
    cfg = BuildConfig("fuzz", "", [Entry(path, root, tuple(args), ())])
    result = engine.run(engine.Options(root=root, configs=[cfg], profile=prof, rules=rules,
                                       jobs=1, timeout=60, cache=None))
    return render("json", result), render("sarif", result), result


@fuzz_settings(60)
@given(pick=st.integers(0, 100), ops=mutations)
def test_mutated_c_sources(corpus_c, pick, ops):
    data, orig, args = corpus_c[pick % len(corpus_c)]
    mutated = mutate(data, ops)
    prof = profile_mod.load("wasi-libc", registry.profile_schema())
    rules = registry.decide(["ALL"], None)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, os.path.basename(orig))
        with open(path, "wb") as fh:
            fh.write(mutated)
        # quoted includes of the original's siblings still resolve
        full_args = (*args, "-iquote", os.path.dirname(orig))
        j1, s1, result = analyse(path, full_args, prof, rules)
        j2, s2, _ = analyse(path, full_args, prof, rules)
    assert j1 == j2 and s1 == s2                          # deterministic
    doc = json.loads(j1)
    json.loads(s1)
    assert doc["configs"][0]["tus"] == 1
    event("TL002 (parse errors reported)" if any(f.rule == "TL002" for f in result.findings)
          else "parsed cleanly")
    for f in result.findings:
        assert f.location.line >= 1 and f.rule.startswith("TL")
    for f in result.findings:
        if f.rule == "TL002" and "libclang failed" in f.message:
            # a crash or timeout is acceptable only as a reported finding; say which
            assert "timed out" in f.message or "crashed" in f.message


# -- assembly through the scanner --------------------------------------------------------

ASM_LINES = [b".functype f (i32) -> ()\n", b"end_function\n", b"call __wasm_fuzz\n",
             b"global.get __stack_pointer\n", b"global.set\n", b".globl\n", b"f:\n", b":\n",
             b"i32.const 0x\n", b"i32.const -99999999999999999999999\n", b"#define X X\n",
             b"#define Y (Y+1)\n", b"#if X\n", b"#if Y\n", b"#if 1<<-1\n", b"#if (((((((((((1\n",
             b"#include \"self.S\"\n", b"#include <missing.h>\n", b".import_module f, env\n",
             b"\xff\xfe\n", b"\x00\n", b"#endif\n", b"#else\n", b".section .text,\"\",@\n"]
ASM_OPS = ["delete_line", "duplicate_line", "truncate", "unbalance_if", "insert_bytes",
           "delete_token", "duplicate_token", "insert_line"]


def mutate_asm(data: bytes, ops) -> bytes:
    for op, k, blob in ops:
        if op == "insert_line":
            lines = data.splitlines(keepends=True)
            lines.insert(k % (len(lines) + 1), ASM_LINES[k % len(ASM_LINES)])
            data = b"".join(lines)
        else:
            data = mutate(data, [(op, k, blob)])
    return data


@pytest.fixture(scope="module")
def corpus_asm(corpus_dir):
    """The assembly files the configurations build, and the examples'."""
    root = os.path.join(corpus_dir, "wasi-libc")
    files = set()
    for cfg in ("wasip3-coop", "wasip3", "wasip1-threads"):
        db = os.path.join(corpus_dir, f"build-{cfg}", "compile_commands.json")
        files |= {e.file for e in compdb.load(db, root) if e.is_asm}
    files |= {os.path.join(dp, n) for dp, _, ns in os.walk(os.path.join(REPO, "examples", "src"))
              for n in ns if n.endswith((".s", ".S"))}
    assert len(files) >= 3
    from threadlint.frontend.parse import predefined_macros
    macros = predefined_macros(["--target=wasm32-wasip3", "-pthread"])
    out = []
    for f in sorted(files):
        with open(f, "rb") as fh:
            out.append((fh.read(), f))
    return out, macros


@fuzz_settings(150)
@given(pick=st.integers(0, 100),
       ops=st.lists(st.tuples(st.sampled_from(ASM_OPS), st.integers(0, 1 << 20),
                              st.binary(min_size=1, max_size=6)), min_size=1, max_size=6))
def test_mutated_assembly(corpus_asm, pick, ops):
    files, macros = corpus_asm
    data, orig = files[pick % len(files)]
    text = mutate_asm(data, ops).decode("utf-8", errors="replace")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "self.S")                   # '#include "self.S"' recurses
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        inc = [d, os.path.dirname(orig)]
        a = asm_scanner.scan(path, text, dict(macros), inc)
        b = asm_scanner.scan(path, text, dict(macros), inc)
    assert a == b
    assert json.loads(json.dumps(a)) == a                  # facts are cacheable JSON
    assert isinstance(a.get("functions"), list)


@fuzz_settings(300)
@given(st.text(alphabet="0123456789xXabcdefABCDEF_()!~-+*/%<>=&|^?: defined", max_size=60))
def test_asm_if_expressions(expr):
    try:
        value = asm_scanner.eval_expr(expr, {"A": "1", "B": "A + 1", "R": "R"})
    except (asm_scanner.ExprError, ValueError, OverflowError, RecursionError):
        return                                               # what the scanner's #if catches
    assert isinstance(value, int)


# -- compile databases -------------------------------------------------------------------------

DANGER = ["-fplugin=/x/e.so", "-fpass-plugin=/x/e.so", "-Xclang", "-load", "/x/e.so", "-o", "out.o",
          "-MF", "dep.d", "-MD", "-MJ", "@/etc/passwd", "@rsp", "--config", "-Xarch_device", "-mllvm",
          "-ftime-trace", "--output=o", "-save-temps", "-Wl,-x", "-B/x", "--driver-mode=cl",
          "-fplugin", "-I", "-D", "-include", "-x", "--", "-", "@", "-cc1"]
BENIGN = ["-DX=1", "-UX", "-O2", "-Wall", "-Iinc", "-isystem", "sys", "--target=wasm32-wasip3",
          "-pthread", "c", "a.c", "-std=c11", "-ffreestanding"]
arg = st.one_of(st.sampled_from(DANGER + BENIGN), st.text(max_size=12),
                st.sampled_from(DANGER).map(lambda s: "-" + s))
LOADS_OR_WRITES = re.compile(r"^--?(fplugin|fpass-plugin|X|load$|plugin|o$|o\S|output|MF|MD|MMD|MJ|"
                             r"ftime-trace|save-temps|Wl,|Wp,|B|config|driver-mode|mllvm|cc1)")


@fuzz_settings(400)
@given(st.lists(arg, max_size=12))
def test_sanitize_never_passes_code_loading_or_outputs(argv):
    args, dropped = compdb.sanitize(argv, "/w", "/w/a.c", root="/w")
    prev = None
    for a in args:
        value_slot = prev in compdb._PATH_WITH_VALUE or prev in compdb._KEEP_WITH_VALUE
        if value_slot:
            assert not a.startswith(("-", "@"))          # a value, never an option in disguise
        else:
            assert a.startswith("-") and not LOADS_OR_WRITES.match(a), a
        prev = None if value_slot else a
    assert "\0" not in "".join(args)
    assert len(args) + len(dropped) <= len(argv)             # nothing invented (no @file here)


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                        st.sampled_from(["/tmp", "a.c", "relative", "", "clang -c a.c", "\udc80"]))
json_entry = st.dictionaries(st.sampled_from(["directory", "file", "arguments", "command", "output"]),
                             st.one_of(json_scalar, st.lists(st.one_of(arg, json_scalar), max_size=5)),
                             max_size=5)
command = st.one_of(st.lists(arg, max_size=8).map(lambda a: " ".join(shlex.quote(x) for x in a)),
                    st.text(max_size=30))
valid_entry = st.fixed_dictionaries(
    {"directory": st.sampled_from(["/w", "/tmp/x", "/"]),
     "file": st.sampled_from(["a.c", "src/../a.c", "/abs/b.S", "x.s"])},
    optional={"output": st.text(max_size=8)}).flatmap(
    lambda e: st.one_of(st.lists(arg, max_size=10).map(lambda a: {**e, "arguments": ["cc", *a]}),
                        command.map(lambda c: {**e, "command": c})))
json_doc = st.one_of(st.lists(valid_entry, min_size=1, max_size=4),
                     st.lists(json_entry, max_size=4), json_scalar,
                     st.dictionaries(st.text(max_size=5), json_scalar, max_size=3))


@fuzz_settings(300)
@given(doc=json_doc, cut=st.integers(0, 400), junk=st.binary(max_size=4))
def test_database_loader_only_raises_usage_errors(tmp_path_factory, doc, cut, junk):
    d = tmp_path_factory.mktemp("db")
    raw = json.dumps(doc).encode("utf-8", errors="surrogatepass")
    for data in (raw, raw[:cut] + junk + raw[cut:]):
        path = d / "compile_commands.json"
        path.write_bytes(data)
        try:
            entries = compdb.load(str(path), str(d))
        except UsageError as e:
            assert str(e).startswith(str(path))
            event("rejected with a UsageError")
            continue
        event("loaded")
        for e in entries:
            assert os.path.isabs(e.file) and all(isinstance(a, str) for a in e.args)


@fuzz_settings(20)
@given(args=st.lists(arg, max_size=8), file=st.sampled_from(["src/a.c", "a.c", "src/../src/a.c",
                                                             "missing.c", "src", "/dev/null"]))
def test_cli_on_fuzzed_database(tmp_path_factory, capsys, args, file):
    d = tmp_path_factory.mktemp("cli")
    (d / "src").mkdir()
    (d / "src" / "a.c").write_text("int a(void) { return 0; }\n")
    db = d / "build" / "compile_commands.json"
    db.parent.mkdir()
    db.write_text(json.dumps([{"directory": str(d), "file": file, "arguments": ["clang", *args]}]))
    rc = main(["check", str(d), "-p", str(db), "--profile", "wasi-libc", "--no-cache", "-q",
               "--format", "json", "-j", "1", "--timeout", "60"])
    out, err = capsys.readouterr()
    event(f"exit {rc}")
    assert rc in (0, 1, 2), err
    if rc == 2:
        assert len(err.splitlines()) == 1 and out == ""
    else:
        assert json.loads(out)["configs"][0]["tus"] == 1
