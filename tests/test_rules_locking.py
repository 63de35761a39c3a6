"""Functional tests of the locking rules TL101-TL104 on fixtures with inline expectations."""
import os

from harness import check_fixture

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "rules")


def test_tl102_lock_kind_mismatch(tmp_path):
    findings = check_fixture(os.path.join(FIXTURES, "TL102"), str(tmp_path), ["TL102"])
    by_line = {f.location.line: f for f in findings}
    member = next(f for f in findings if "c->lock" in f.message)
    assert "struct conn" in member.message and "declared STRONG" in member.message
    # the related location is the declaration inside the header's struct
    assert member.related[0].location.path == "conn.h"
    assert member.related[0].location.line == 8
    static = by_line[9]
    assert static.related[0].location.path == "mismatch.c" and "no-ops" in static.message
    pair = next(f for f in findings if "mystery" in f.message)
    assert "acquired as STRONG" in pair.message and "released as WEAK" in pair.message


def test_tl103_weak_lock_across_suspension(tmp_path):
    findings = check_fixture(os.path.join(FIXTURES, "TL103"), str(tmp_path), ["TL103"])
    assert all(f.configs == ("coop",) for f in findings), [f.configs for f in findings]
    by_fn = {f.function: f for f in findings}
    chain = by_fn["suspends_through_calls"]
    assert "refill -> wait_io -> wasip3_waitable_set_wait" in chain.message
    assert [r.label for r in chain.chain] == ["refill calls wait_io",
                                              "wait_io calls wasip3_waitable_set_wait"]
    assert chain.confidence == "high"
    assert "STRONG_LOCK" in by_fn["takes_strong_lock_inside"].message
    callback = by_fn["passes_a_suspending_callback"]
    assert callback.confidence == "low" and "yielding_hook is passed to run()" in callback.message


def test_tl104_lock_imbalance(tmp_path):
    findings = check_fixture(os.path.join(FIXTURES, "TL104"), str(tmp_path), ["TL104"])
    by_fn = {f.function: f for f in findings}
    early = by_fn["early_return_keeps_lock"]
    assert early.message.startswith("'table_lock' (STRONG) locked at line 11, returns locked at line 13")
    assert "line 15" in early.message
    assert "falls off the end" in by_fn["break_leaves_lock_held"].message
    assert "already unlocked at line 48" in by_fn["unlocks_twice"].message
    assert "did not lock it" in by_fn["unlocks_what_one_path_never_locked"].message
    assert "while already held" in by_fn["locks_twice"].message
    waits = by_fn["cond_wait_drops_unlock_error"]
    assert "pthread_mutex_unlock" in waits.message and "wasip3_thread_suspend" in waits.message


def test_tl101_unlocked_shared_state(tmp_path):
    findings = check_fixture(os.path.join(FIXTURES, "TL101"), str(tmp_path), ["TL101"])
    by_fn = {f.function: f for f in findings}
    borrowed = by_fn["borrowed_entry_used_after_wait"]
    assert "borrowed from descriptor_table_get_ref()" in borrowed.message
    labels = [r.label for r in borrowed.related]
    assert labels == ["'entry' obtained here", "may suspend here"]
    assert [r.location.line for r in borrowed.related] == [20, 23]
    assert [r.label for r in borrowed.chain] == ["block calls wasip3_waitable_set_wait"]
    assert "shared 'head'" in by_fn["global_pointer_used_after_wait"].message
    pair = by_fn["reset_without_lock"]
    assert "counter_lock" in pair.message and pair.related[0].function == "increment"


def test_header_scanner_tells_members_from_file_scope():
    from threadlint_rules._locking import scan_declarations
    text = """
#define DECLARE_STRONG_LOCK(name, ...) __VA_ARGS__ struct __coop_lock name
/* DECLARE_WEAK_LOCK(in_comment); */
extern "C" {
struct pthread {
    int tid;
    union { int a; DECLARE_WEAK_LOCK(inner); } u;
    DECLARE_WEAK_LOCK(killlock);
};
DECLARE_WEAK_LOCK(__thread_list_lock, extern hidden);
static inline void f(void) { DECLARE_STRONG_LOCK(local); }
const char *s = "DECLARE_STRONG_LOCK(in_string)";
}
"""
    found = scan_declarations(text, frozenset({"DECLARE_STRONG_LOCK", "DECLARE_WEAK_LOCK"}))
    got = [(d["args"], d["context"], d["record"], d["l"]) for d in found]
    assert got == [(["inner"], "member", "", 7), (["killlock"], "member", "pthread", 8),
                   (["__thread_list_lock", "extern hidden"], "file", "", 10),
                   (["local"], "block", "", 11)]
