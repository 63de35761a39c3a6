"""The port rules TL201-TL701 on the real wasi-libc tree with its three builds.

Each test checks what was judged real when every finding was read, and that
the false positives fixed at the root stay fixed.  Findings are identified by
file, function and source text, not by line numbers.
"""
import os

import pytest

from corpus import CONFIGS
from threadlint import __version__, engine, profile, registry
from threadlint.cache import FactCache
from threadlint.frontend.cxbind import clang_version
from threadlint.inputs import load_configs

PORT = ["TL201", "TL301", "TL401", "TL501", "TL502", "TL601", "TL701"]
COOP = ("build-wasip3-coop",)


@pytest.fixture(scope="module")
def corpus(corpus_dir, tmp_path_factory):
    root = os.path.join(corpus_dir, "wasi-libc")
    builds = [os.path.join(corpus_dir, f"build-{c}") for c in CONFIGS]
    cache = FactCache(str(tmp_path_factory.mktemp("port-cache")), clang_version(), __version__)
    opts = engine.Options(root=root, configs=load_configs(builds, root, None),
                          profile=profile.load("wasi-libc", registry.profile_schema()),
                          rules=registry.decide(PORT, None), jobs=2, cache=cache)
    findings = engine.run(opts).findings

    def text(path, line):
        with open(os.path.join(root, path), encoding="utf-8") as fh:
            return fh.read().splitlines()[line - 1]
    return findings, text


def rule(findings, rid):
    return [f for f in findings if f.rule == rid]


def test_tl201_the_cooperative_timeout_stubs(corpus):
    findings, text = corpus
    found = rule(findings, "TL201")
    assert {f.function for f in found} == {
        "__pthread_cond_timedwait", "__pthread_mutex_timedlock", "__pthread_rwlock_timedrdlock",
        "__pthread_rwlock_timedwrlock", "sem_timedwait", "__pthread_timedjoin_np"}
    for f in found:
        assert f.configs == COOP and "/coop-threads/" in f.location.path
        assert text(f.location.path, f.location.line).strip() == "if (at) {" or \
            text(f.location.path, f.location.line).strip() == "if (ts) {"
    cond = next(f for f in found if f.function == "__pthread_cond_timedwait")
    assert "condition-variable wait" in cond.message
    mutex = next(f for f in found if f.function == "__pthread_mutex_timedlock")
    assert any(r.function == "mtx_timedlock" for r in mutex.related)
    # single-threaded timed locks/joins fail at once by design (nothing could unlock)
    assert not [f for f in findings if f.rule == "TL201" and "single-threaded" in f.location.path]


def test_tl301_c11_mutex_puns(corpus):
    findings, text = corpus
    found = {(f.location.path, f.configs) for f in rule(findings, "TL301")}
    assert ("libc-top-half/musl/src/thread/common/mtx_timedlock.c",
            ("build-wasip1-threads", "build-wasip3-coop")) in found
    for f in rule(findings, "TL301"):
        assert "(pthread_mutex_t *)" in text(f.location.path, f.location.line)


def test_tl401_accessors_in_assembly(corpus):
    findings, text = corpus
    found = rule(findings, "TL401")
    assert {(f.function, f.key) for f in found} == {
        ("get_stack_pointer", "__wasm_get_stack_pointer"), ("__copy_tls", "__wasm_set_tls_base")}
    for f in found:
        assert f.configs == COOP
        assert f.related[0].location.path.endswith("__libcall_thread_context.S")
    # __copy_tls sets up TLS and only briefly touches the TLS base: not an accessor
    assert not [f for f in found if "wasi-threads/pthread_create.c" in f.location.path]


def test_tl501_constants_and_offsets(corpus):
    findings, text = corpus
    found = rule(findings, "TL501")
    const = [f for f in found if f.key == "const:131072"]
    assert len(const) == 1 and "__default_stacksize" in const[0].message
    assert const[0].related[0].location.path.endswith("thread/common/default_attr.c")
    offsets = {(os.path.basename(f.location.path), f.key)
               for f in found if f.key.startswith("offset")}
    assert offsets == {(name, f"offset:start_args.{field}")
                       for name in ("__wasi_coop_thread_start.s", "wasi_thread_start.s")
                       for field in ("stack", "tls_base")}


def test_tl502_task_initialisation_in_assembly(corpus):
    findings, _ = corpus
    found = rule(findings, "TL502")
    assert {f.function for f in found} == {"__wasm_init_task", "__wasm_init_async_task"}
    assert all(f.configs == COOP for f in found)
    assert "malloc" in next(f for f in found if f.function == "__wasm_init_async_task").message


def test_tl601_stack_pointer_global_in_the_single_threaded_wasip3_build(corpus):
    findings, text = corpus
    (f,) = rule(findings, "TL601")
    assert f.configs == ("build-wasip3",)
    assert "__stack_pointer" in text(f.location.path, f.location.line)
    assert "#ifdef __wasi_cooperative_threads__" in text(f.location.path,
                                                         f.related[0].location.line)


def test_tl701_unbuilt_wasi_threads_copies(corpus):
    findings, _ = corpus
    found = rule(findings, "TL701")
    assert len(found) >= 10
    for f in found:
        assert "/thread/wasi-threads/" in f.location.path
        assert "/thread/coop-threads/" in f.related[0].location.path
