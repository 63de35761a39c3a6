"""Facts the libclang frontend extracts from small C snippets."""
import os

import pytest

from threadlint.facts import iter_events, walk
from threadlint.frontend.parse import parse_c

INCLUDE = os.path.join(os.path.dirname(__file__), "fixtures", "include")
COOP = ["--target=wasm32-wasip3", "-D__wasm_libcall_thread_context__", "-I", INCLUDE]


def facts_of(tmp_path, code, args=COOP, name="t.c"):
    path = tmp_path / name
    path.write_text(code)
    result = parse_c(str(path), list(args))
    assert result["diagnostics"] == [], result["diagnostics"]
    return result["facts"]


def fn(facts, name):
    return next(f for f in facts["functions"] if f["name"] == name)


def kinds(nodes, kind):
    return [n for n in walk(nodes) if n["k"] == kind]


def test_functions_static_params_and_calls(tmp_path):
    facts = facts_of(tmp_path, """
static int helper(int x) { return x + 1; }
int api(const char *s, int n) { return helper(n); }
""")
    helper, api = fn(facts, "helper"), fn(facts, "api")
    assert helper["static"] and not api["static"]
    assert api["params"] == [["s", "const char *"], ["n", "int"]]
    (call,) = kinds(api["body"], "call")
    assert (call["n"], call["l"], call["a"], call["ind"]) == ("helper", 3, ["n"], False)


def test_macro_expansions_with_arguments_in_evaluation_order(tmp_path):
    facts = facts_of(tmp_path, """
#include <internal/lock.h>
DECLARE_STRONG_LOCK(big, static);
DECLARE_WEAK_LOCK(small, static);
void work(void);
void f(void) {
    STRONG_LOCK(big);
    work();
    WEAK_LOCK(small);
    STRONG_UNLOCK(big);
}
""")
    top = [(m["name"], m["args"], m["func"]) for m in facts["macros"]]
    assert ("DECLARE_STRONG_LOCK", ["big", "static"], None) in top
    assert ("DECLARE_WEAK_LOCK", ["small", "static"], None) in top
    order = [(n["k"], n.get("n")) for n, _ in iter_events(fn(facts, "f")["body"])
             if n["k"] in ("macro", "call")]
    assert order == [("macro", "STRONG_LOCK"), ("call", "__lock"), ("call", "work"),
                     ("macro", "WEAK_LOCK"), ("macro", "STRONG_UNLOCK"), ("call", "__unlock")]
    lock_call = kinds(fn(facts, "f")["body"], "call")[0]
    assert lock_call["m"] == "STRONG_LOCK"        # a call written by a macro


def test_weak_lock_compiles_to_nothing_but_is_still_seen(tmp_path):
    # In the coop build WEAK_LOCK is ((void)0): no call, only the macro fact.
    facts = facts_of(tmp_path, """
#include <internal/lock.h>
DECLARE_WEAK_LOCK(l, static);
void g(void) { WEAK_LOCK(l); WEAK_UNLOCK(l); }
""")
    body = fn(facts, "g")["body"]
    assert [n["n"] for n in kinds(body, "macro")] == ["WEAK_LOCK", "WEAK_UNLOCK"]
    assert kinds(body, "call") == []


def test_casts_with_typedef_and_canonical_types(tmp_path):
    facts = facts_of(tmp_path, """
typedef struct { int a; } mtx_t;
typedef struct { int b; } pthread_mutex_t;
int lock(pthread_mutex_t *m);
int mtx_lock(mtx_t *m) { return lock((pthread_mutex_t *)m); }
""")
    (cast,) = kinds(fn(facts, "mtx_lock")["body"], "cast")
    assert cast["f"] == "mtx_t *" and cast["t"] == "pthread_mutex_t *"
    assert cast["fc"] == "mtx_t *" and cast["tc"] == "pthread_mutex_t *"


def test_defer_statement_is_a_node_with_its_body(tmp_path):
    facts = facts_of(tmp_path, """
#include <stddefer.h>
void lock(void); void unlock(void);
int f(int x) { lock(); defer unlock(); if (x) return 1; return 0; }
""", args=COOP + ["-fdefer-ts"])
    body = fn(facts, "f")["body"]
    (defer,) = kinds(body, "defer")
    assert [c["n"] for c in kinds(defer["sub"], "call")] == ["unlock"]
    assert [n["k"] for n in body if n["k"] != "macro"] == ["call", "defer", "if", "ret"]


def test_control_flow_slots_and_returns(tmp_path):
    facts = facts_of(tmp_path, """
int a(void); int b(void);
int f(int x) {
    if (x) { a(); } else b();
    while (x--) a();
    switch (x) { case 1: return 1; default: break; }
    goto out;
out:
    return x;
}
""")
    body = fn(facts, "f")["body"]
    if_node = body[0]
    assert if_node["k"] == "if" and len(if_node["sub"]) == 3
    assert [c["n"] for c in kinds([if_node["sub"][1]], "call")] == ["a"]
    assert [c["n"] for c in kinds([if_node["sub"][2]], "call")] == ["b"]
    assert [n["k"] for n in body] == ["if", "while", "switch", "goto", "label"]
    assert body[3]["label"] == "out" and body[4]["name"] == "out"
    rets = kinds(body, "ret")
    assert [r["v"] for r in rets] == ["1", "x"]


def test_globals_refs_writes_fields_and_function_pointers(tmp_path):
    facts = facts_of(tmp_path, """
struct file { int fd; int flags; };
static int counter;
_Thread_local int tls_state;
static struct file table[4];
void cb(void);
void (*hook)(void) = cb;
void f(struct file *p, int v) {
    counter++;
    tls_state = v;
    p->flags = table[v].fd;
    void (*h)(void) = cb;
    h();
}
""")
    names = {g["name"]: g for g in facts["globals"]}
    assert names["counter"]["static"] and names["tls_state"]["tls"]
    assert any(e["k"] == "fref" and e["n"] == "cb" for e in facts["top_events"])
    events = [(n["k"], n.get("n"), w) for n, w in iter_events(fn(facts, "f")["body"])
              if n["k"] in ("ref", "field", "fref", "call")]
    assert ("ref", "counter", True) in events
    assert ("ref", "tls_state", True) in events
    assert ("field", "flags", True) in events
    assert ("field", "fd", False) in events
    assert ("fref", "cb", False) in events
    call = kinds(fn(facts, "f")["body"], "call")[0]
    assert call["ind"] and call["n"] == "h"
    tls_ref = next(n for n in walk(fn(facts, "f")["body"]) if n.get("n") == "tls_state")
    assert tls_ref["tls"] is True


def test_parse_errors_are_reported_not_hidden(tmp_path):
    path = tmp_path / "bad.c"
    path.write_text("int f(void) { return nope; }\n")
    result = parse_c(str(path), COOP)
    (d,) = result["diagnostics"]
    assert d["l"] == 1 and "nope" in d["message"]


def test_unknown_arguments_are_dropped_and_reported(tmp_path):
    path = tmp_path / "ok.c"
    path.write_text("int f(void) { return 0; }\n")
    result = parse_c(str(path), COOP + ["-fthis-flag-does-not-exist"])
    assert result["diagnostics"] == []
    assert result["dropped_args"] == ["-fthis-flag-does-not-exist"]


def test_abi_macro_selects_the_cooperative_branch(tmp_path):
    code = """
#include <wasi/version.h>
#ifdef __wasi_cooperative_threads__
int coop(void) { return 1; }
#else
int plain(void) { return 0; }
#endif
"""
    with_macro = facts_of(tmp_path, code)
    without = facts_of(tmp_path, code, args=["--target=wasm32-wasip3", "-I", INCLUDE], name="u.c")
    assert [f["name"] for f in with_macro["functions"]] == ["coop"]
    assert [f["name"] for f in without["functions"]] == ["plain"]


def test_includes_are_every_file_included_directly_or_not_once(tmp_path):
    (tmp_path / "a.h").write_text('#pragma once\n#include "b.h"\nint a;\n')
    (tmp_path / "b.h").write_text("int b;\n")
    (tmp_path / "c.h").write_text("int c;\n")
    src = tmp_path / "m.c"
    src.write_text('#include "a.h"\n#include "a.h"\n#include "c.h"\n#include "b.h"\nint m;\n')
    res = parse_c(str(src), ["--target=wasm32-wasip1"])
    assert res["includes"] == sorted(str(tmp_path / n) for n in ("a.h", "b.h", "c.h"))
    import clang.cindex as cindex
    from threadlint.frontend import cxbind
    tu = cindex.Index.create().parse(str(src), args=["--target=wasm32-wasip1"])
    assert sorted(set(cxbind.included_files(tu.obj))) == \
        sorted({i.include.name for i in tu.get_includes()})


def test_locations_decoded_without_libclang_match_libclangs_answers(tmp_path, monkeypatch):
    # Main-file offsets come from the raw location encoding (TUExtractor._raw_start);
    # with that disabled, libclang answers every lookup.  Macro bodies, macro
    # arguments and header code must give identical facts both ways.
    from threadlint.frontend import cfacts
    (tmp_path / "h.h").write_text("#define CALL(f, x) f(x)\nstatic inline int twice(int v) { return 2 * v; }\n")
    code = """#include "h.h"
int g;
struct s { int a; char *b; };
int use(struct s *p, int (*fp)(int)) {
    int r = CALL(twice, p->a) + CALL(fp, g);
    p->a = r;
    return CALL(twice, r);
}
"""
    fast = facts_of(tmp_path, code)
    seen = []
    real = cfacts.TUExtractor._raw_start
    monkeypatch.setattr(cfacts.TUExtractor, "_raw_start",
                        lambda self: seen.append(real(self)) or 1 << 40)
    slow = facts_of(tmp_path, code)
    assert seen and seen[0] < 1 << 31            # the fast path was in use above
    assert slow == fast
    assert [f["name"] for f in fast["functions"]] == ["use"]
    calls = [(n["n"], n["ind"], n.get("m"), n["l"]) for n in kinds(fn(fast, "use")["body"], "call")]
    assert [c for c in calls if not c[1]] == [("twice", False, "CALL", 5), ("twice", False, "CALL", 7)]
    assert [c[1:] for c in calls if c[1]] == [(True, "CALL", 5)]


def test_records_are_struct_definitions_only(tmp_path):
    # a forward declaration first must not hide the definition's fields
    # (TL501 names the field an assembly offset hits from the first record found)
    facts = facts_of(tmp_path, """
struct node;
typedef struct node node_t;
struct node { int value; node_t *next; };
union u;
""")
    (rec,) = facts["records"]
    assert (rec["name"], rec["l"]) == ("node", 4)
    assert [(f["name"], f["off"]) for f in rec["fields"]] == [("value", 0), ("next", 4)]
