"""Functional tests of the port rules TL201-TL701 on fixtures with inline expectations."""
import os
import shutil

from harness import check_fixture, run_rules

from threadlint import registry

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "rules")
PORT_RULES = ("TL201", "TL301", "TL401", "TL501", "TL502", "TL601", "TL701")


def by_line(findings):
    return {(f.location.path, f.location.line): f for f in findings}


def test_tl201_reports_the_root_stub_with_its_forwarders(tmp_path):
    found = by_line(check_fixture(os.path.join(FIXTURES, "TL201"), str(tmp_path), ["TL201"]))
    cond = found[("cond.c", 6)]
    assert cond.message.startswith("pthread_cond_timedwait ignores its timeout: returns ETIMEDOUT")
    assert "condition-variable wait" in cond.message and "central" in cond.message
    assert cond.configs == ("single", "threads")
    labels = {(r.location.path, r.location.line): r.label for r in cond.related}
    assert labels[("c11.c", 4)] == "cnd_timedwait forwards its timeout here"
    assert "alias" in labels[("cond.c", 14)]
    assert labels[("sem.c", 5)] == "the same gap in sem_timedwait"
    sem = found[("sem.c", 5)]
    assert "sets errno = ENOSYS and returns -1" in sem.message
    mutex = found[("mutex.c", 4)]
    assert "never reads its timeout parameter 'at'" in mutex.message
    assert ("c11.c", 9) in {(r.location.path, r.location.line) for r in mutex.related}
    # without threads nothing else could unlock the mutex: not waiting is right there
    assert mutex.configs == ("threads",)


def test_tl301_names_both_types(tmp_path):
    found = by_line(check_fixture(os.path.join(FIXTURES, "TL301"), str(tmp_path), ["TL301"]))
    assert "'mtx_t *' to 'pthread_mutex_t *'" in found[("puns.c", 4)].message
    assert "through void *" in found[("puns.c", 8)].message
    assert "through void *" in found[("puns.c", 12)].message
    assert found[("puns.c", 4)].key == "mtx_t->pthread_mutex_t"


def test_tl401_resolves_the_wrapper_definition(tmp_path):
    found = by_line(check_fixture(os.path.join(FIXTURES, "TL401"), str(tmp_path), ["TL401"]))
    asm = found[("user.c", 6)]
    assert "in assembly" in asm.message
    assert [(r.location.path, r.location.line) for r in asm.related] == [("context.S", 14)]
    assert "inline assembly calls __wasm_get_stack_pointer" in found[("user.c", 11)].message
    other = found[("user.c", 16)]
    assert "another translation unit" in other.message
    assert other.related[0].location.path == "wrapper.c"


def test_tl501_links_constants_and_offsets_to_c(tmp_path):
    found = by_line(check_fixture(os.path.join(FIXTURES, "TL501"), str(tmp_path), ["TL501"]))
    const = found[("start.s", 20)]
    assert "__default_stacksize" in const.message
    assert (const.related[0].location.path, const.related[0].location.line) == ("threads.c", 2)
    tls = found[("start.s", 12)]
    assert "offsetof(struct start_args, tls_base)" in tls.message
    assert tls.related[0].location.line == 7


def test_tl502_says_why(tmp_path):
    found = by_line(check_fixture(os.path.join(FIXTURES, "TL502"), str(tmp_path), ["TL502"]))
    assert "calls malloc, __allocate_tls, __copy_tls" in found[("task.S", 7)].message
    assert "2 C functions" in found[("task.S", 19)].message
    assert "28 instructions" in found[("task.S", 26)].message


def test_tl601_reports_the_configuration_where_the_code_is_wrong(tmp_path):
    found = check_fixture(os.path.join(FIXTURES, "TL601"), str(tmp_path), ["TL601"])
    got = {(f.location.path, f.location.line, f.configs) for f in found}
    assert got == {("tls.c", 10, ("p3",)), ("lockfile.c", 9, ("threads",)),
                   ("sched.c", 9, ("p3",))}
    tls = by_line(found)[("tls.c", 10)]
    assert "tests __wasi_cooperative_threads__, but __wasm_libcall_thread_context__ decides" \
        in tls.message
    assert "_REENTRANT" in by_line(found)[("lockfile.c", 9)].message


def test_tl601_needs_two_configurations(tmp_path):
    src = tmp_path / "one"
    shutil.copytree(os.path.join(FIXTURES, "TL601"), src)
    (src / "fixture.toml").write_text(
        '[configs.p3]\nargs = ["--target=wasm32-wasip3", "-I{dir}/plain"]\n')
    assert run_rules(str(src), str(tmp_path / "out"), ["TL601"]) == []


def test_tl701_unbuilt_duplicate(tmp_path):
    (f,) = check_fixture(os.path.join(FIXTURES, "TL701"), str(tmp_path), ["TL701"])
    assert f.related[0].location.path == "src/impl-coop/lock.c"


def test_tl701_backup_whitespace_and_empty_files(tmp_path):
    src = tmp_path / "tree"
    shutil.copytree(os.path.join(FIXTURES, "TL701"), src)
    (src / "src" / "impl-coop" / "lock.c~").write_text("int x;\n")
    (src / "src" / "impl-coop" / "lock copy.c").write_text("int y;\n")
    (src / "src" / "common.c").write_text("\n")            # built in both, now empty
    found = {(f.location.path, f.key) for f in run_rules(str(src), str(tmp_path / "o"), ["TL701"])}
    assert found == {("src/impl-threads/lock.c", "duplicate:src/impl-coop/lock.c"),
                     ("src/impl-coop/lock.c~", "backup"),
                     ("src/impl-coop/lock copy.c", "whitespace"),
                     ("src/common.c", "empty")}


def test_port_rules_are_documented():
    for rid in PORT_RULES:
        text = registry.explain(rid)
        for section in registry.DOC_SECTIONS:
            assert f"## {section}" in text, (rid, section)


# -- the facts these rules added to the frontend ------------------------------
C_FACTS = """\
#define SZ (64 * 2048)
unsigned stack_size = SZ;
static const int zero_init = 0;
int *pointer_global = 0;
struct args { void *stack; void *tls_base; long long wide; };
void f(void) {
#ifdef NOT_DEFINED
  int skipped;
#else
  __asm__("global.get __tls_base\\n drop");
#endif
}
"""


def test_c_facts_for_port_rules(tmp_path):
    from threadlint.frontend.parse import parse_c
    src = tmp_path / "f.c"
    src.write_text(C_FACTS)
    facts = parse_c(str(src), ["--target=wasm32-wasip3"])["facts"]
    values = {g["name"]: g.get("value") for g in facts["globals"]}
    assert values == {"stack_size": 131072, "zero_init": 0, "pointer_global": None}
    (rec,) = facts["records"]
    assert [(f["name"], f["off"]) for f in rec["fields"]] == [("stack", 0), ("tls_base", 4),
                                                              ("wide", 8)]
    assert rec["size"] == 16
    assert facts["skipped"] == [[7, 9]]                 # '#ifdef' .. '#else'
    (asm,) = [n for n in facts["functions"][0]["body"] if n["k"] == "asm"]
    assert "global.get __tls_base" in asm["x"]


def test_asm_facts_for_port_rules():
    from threadlint.frontend.asm import scan
    text = ("start:\n  .functype start (i32) -> ()\n#ifdef NOPE\n  call never\n#endif\n"
            "  local.get 0\n  i32.load 4\n  end_function\n")
    facts = scan("start.S", text, {})
    assert facts["skipped"] == [[3, 5]]
    (fn,) = facts["functions"]
    assert [(i["op"], i["args"], i["l"]) for i in fn["insns"]] == [
        ("local.get", ["0"], 6), ("i32.load", ["4"], 7)]
