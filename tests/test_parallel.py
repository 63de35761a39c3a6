"""Worker isolation: a TU that crashes, hangs or eats memory is one finding, not a failed run."""
import gc
import json
import multiprocessing as mp
import os
import signal
import time

import pytest

from test_errors import check, make_tree
from threadlint import parallel, worker

TREE = {
    "src/good.c": "int good(void) { return 0; }\n",
    "src/broken.c": "int broken(void) { return undeclared_thing; }\n",
    "src/victim.c": "int victim(void) { return 1; }\n",
    "src/other.c": '#include "nope.h"\nint other;\n',
}


def report(capsys, root, db, *extra):
    rc, out, err = check(capsys, root, "--format", "json", "-j", "2", *extra, db=db)
    assert rc in (0, 1), err
    return json.loads(out)


def sabotage(monkeypatch, action, name="victim.c"):
    """Make the worker job for ``name`` misbehave.  Workers are forked, so they
    inherit the patched ``threadlint.worker.run_job``."""
    real = worker.run_job

    def run_job(job):
        if job[0] == "c" and job[1].endswith(name):
            action()
        return real(job)

    monkeypatch.setattr(worker, "run_job", run_job)


def without(doc, path):
    return [f for f in doc["findings"] if f["location"]["path"] != path]


def test_segfault_in_a_worker_is_reported_and_the_rest_is_correct(tmp_path, capsys, monkeypatch):
    root, db = make_tree(tmp_path, TREE)
    normal = report(capsys, root, db)
    sabotage(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGSEGV))
    crashed = report(capsys, root, db)
    (f,) = [f for f in crashed["findings"] if f["location"]["path"] == "src/victim.c"]
    assert f["rule"] == "TL002"
    assert "worker crashed (SIGSEGV)" in f["message"] and "not analysed" in f["message"]
    # everything else is exactly what a run without the crash reports
    assert without(crashed, "src/victim.c") == without(normal, "src/victim.c")
    assert {f["location"]["path"] for f in normal["findings"] if f["rule"] == "TL002"} \
        == {"src/broken.c", "src/other.c"}
    assert crashed["configs"] == normal["configs"]


def test_hanging_tu_times_out(tmp_path, capsys, monkeypatch):
    root, db = make_tree(tmp_path, TREE)
    sabotage(monkeypatch, lambda: time.sleep(600))
    t0 = time.monotonic()
    doc = report(capsys, root, db, "--timeout", "2")
    assert time.monotonic() - t0 < 60
    (f,) = [f for f in doc["findings"] if f["location"]["path"] == "src/victim.c"]
    assert "timed out after 2 s" in f["message"]
    assert {f["location"]["path"] for f in doc["findings"] if f["rule"] == "TL002"} \
        == {"src/broken.c", "src/other.c", "src/victim.c"}


def test_timeout_from_configuration(tmp_path, capsys, monkeypatch):
    root, db = make_tree(tmp_path, TREE)
    with open(os.path.join(root, "threadlint.toml"), "w") as fh:
        fh.write("timeout = 1.5\n")
    sabotage(monkeypatch, lambda: time.sleep(600))
    doc = report(capsys, root, db)
    assert any("timed out after 1.5 s" in f["message"] for f in doc["findings"])


def test_memory_hog_is_stopped_by_the_worker_limit(tmp_path, capsys, monkeypatch):
    # a source may include /dev/zero: libclang would read it until the machine runs dry
    tree = dict(TREE, **{"src/victim.c": '#include "/dev/zero"\nint victim;\n'})
    root, db = make_tree(tmp_path, tree)
    monkeypatch.setenv("THREADLINT_WORKER_MEMORY_MB", "1024")
    doc = report(capsys, root, db, "--timeout", "120")
    (f,) = [f for f in doc["findings"] if f["location"]["path"] == "src/victim.c"]
    assert f["rule"] == "TL002"
    assert doc["configs"][0]["tus"] == 4


# -- parallel.run directly ------------------------------------------------------

def _jobs(n):
    return [("c", f"/nonexistent/{i}.c", ()) for i in range(n)]


@pytest.fixture
def fake_jobs(monkeypatch):
    """run_job stand-in: behaviour chosen by the job's file name.  Names that
    start with ``slow-`` first wait 0.2 s (the next job is sent meanwhile)."""
    def run_job(job):
        name = os.path.basename(job[1])
        if name == "look.c":
            return {"name": name, "next_job_waiting": _own_pipe().poll(2)}
        if name.startswith("slow-"):
            time.sleep(0.2)
            name = name[len("slow-"):]
        if name == "segv.c":
            os.kill(os.getpid(), signal.SIGSEGV)
        if name == "kill.c":
            os.kill(os.getpid(), signal.SIGKILL)
        if name == "exit.c":
            os._exit(0)
        if name == "sleep.c":
            time.sleep(600)
        if name == "sleep1.c":
            time.sleep(1)
        if name.startswith("nap"):
            time.sleep(0.05)
        if name == "raise.c":
            raise RuntimeError("bad input")
        if name == "gc.c":
            return {"name": name, "frozen": gc.get_freeze_count(), "gc_on": gc.isenabled()}
        if name == "unpicklable.c":
            return lambda: None
        return {"name": name, "pid": os.getpid(), "at": time.monotonic()}

    monkeypatch.setattr(worker, "run_job", run_job)


def _own_pipe():
    """In a worker: its end of the pipe to the engine (the only one it keeps open)."""
    from multiprocessing.connection import Connection
    gc.unfreeze()               # the pipe was made before the fork: frozen (see _worker_main)
    (conn,) = [o for o in gc.get_objects() if isinstance(o, Connection) and not o.closed]
    return conn


def test_worker_never_scans_what_the_engine_made_before_the_fork(fake_jobs):
    # The engine runs with its GC off: everything it made is in the youngest
    # generation, and a worker's first collection would walk it all (0.12 s
    # after a warm run had decoded its cache hits).
    was_on = gc.isenabled()
    gc.disable()
    try:
        model = [["ref", i] for i in range(100_000)]         # lists: always GC-tracked
        ((_, ok, payload),) = list(parallel.run([("c", "/x/gc.c", ())], 1, timeout=30))
    finally:
        if was_on:
            gc.enable()
    assert ok and payload["gc_on"] and payload["frozen"] >= len(model)


@pytest.mark.parametrize("n_workers", [1, 2, 3])
def test_every_job_answered_once(fake_jobs, n_workers):
    names = ["a.c", "segv.c", "b.c", "sleep.c", "kill.c", "c.c", "exit.c", "raise.c",
             "unpicklable.c", "d.c", "segv.c", "e.c"]
    jobs = [("c", f"/x/{n}", ()) for n in names]
    results = {}
    for i, ok, payload in parallel.run(jobs, n_workers, timeout=1.5):
        assert i not in results
        results[i] = (ok, payload)
    assert sorted(results) == list(range(len(jobs)))
    for i, n in enumerate(names):
        ok, payload = results[i]
        if n in ("a.c", "b.c", "c.c", "d.c", "e.c"):
            assert ok and payload["name"] == n
        else:
            assert not ok
    reasons = {names[i]: p for i, (ok, p) in results.items() if not ok}
    assert reasons["segv.c"] == "worker crashed (SIGSEGV)"
    assert reasons["kill.c"] == "worker crashed (SIGKILL)"
    assert reasons["exit.c"] == "worker crashed (exit code 0)"
    assert reasons["sleep.c"] == "timed out after 1.5 s"
    assert reasons["raise.c"] == "RuntimeError: bad input"
    assert reasons["unpicklable.c"].startswith("cannot return result")
    assert not mp.active_children()


def test_jobs_run_in_parallel(fake_jobs):
    pids = {p["pid"] for _, ok, p in parallel.run(_jobs(8), 2, timeout=30) if ok}
    assert len(pids) == 2 and os.getpid() not in pids


def test_abandoned_run_leaves_no_workers(fake_jobs):
    jobs = [("c", "/x/sleep.c", ())] + _jobs(5)
    gen = parallel.run(jobs, 2, timeout=None)
    next(gen)
    assert mp.active_children()
    gen.close()
    assert not mp.active_children()


def test_worker_memory_limit_applies(monkeypatch):
    import resource

    def run_job(job, ):
        return resource.getrlimit(resource.RLIMIT_AS)[0]

    monkeypatch.setattr(worker, "run_job", run_job)
    ((_, ok, soft),) = list(parallel.run(_jobs(1), 1, timeout=30, memory_mb=512))
    assert ok and soft == 512 << 20
    monkeypatch.setenv("THREADLINT_WORKER_MEMORY_MB", "0")
    ((_, ok, soft),) = list(parallel.run(_jobs(1), 1, timeout=30))
    assert ok and soft == resource.getrlimit(resource.RLIMIT_AS)[0]


ORPHAN = r"""
import os, sys, time
from threadlint import parallel, worker
worker.run_job = lambda job: time.sleep(600)          # every job hangs in a "parse"
gen = parallel.run([("c", "/x/a.c", ()), ("c", "/x/b.c", ())], 2, timeout=None)
import multiprocessing as mp
import threading
def report():
    time.sleep(1.0)
    print(" ".join(str(p.pid) for p in mp.active_children()), flush=True)
threading.Thread(target=report, daemon=True).start()
next(gen)
"""


def test_workers_die_with_a_killed_parent(tmp_path):
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-c", ORPHAN], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in pids if _alive(p)]
    proc.stdout.close()
    assert alive == []


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_wide_tree_subset_with_fallback_flags(tmp_path, corpus_dir):
    """bench/wide_tree.py on one corpus directory: the configurations' files and
    every other .c there (other architectures, Linux-only code) with fallback
    flags.  The full-tree figures come from the same script without --under."""
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    under = "libc-top-half/musl/src/thread"
    proc = subprocess.run([sys.executable, os.path.join(repo, "bench", "wide_tree.py"),
                           "--corpus", corpus_dir, "--out", str(tmp_path), "--under", under,
                           "-j", "2", "--timeout", "60", "--no-cache"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(tmp_path / "summary.json") as fh:
        s = json.load(fh)
    n_c = sum(f.endswith(".c") for _, _, fs in os.walk(os.path.join(corpus_dir, "wasi-libc", under))
              for f in fs)
    assert s["tree_c_files"] == n_c and s["fallback_files"] > 0
    assert s["per_config"]["fallback"]["tus"] == s["fallback_files"]
    for cfg, c in s["per_config"].items():
        assert c["timed_out"] == 0 and c["crashed"] == 0, cfg
        if cfg != "fallback":                  # the real configurations parse cleanly
            assert c["clean"] == c["tus"] > 0, cfg
    assert 0 < s["files_clean_everywhere"] <= n_c


def test_while_waiting_runs_once_after_the_workers_have_jobs(fake_jobs):
    calls = []
    jobs = [("c", f"/x/{n}.c", ()) for n in "abc"]
    results = []
    for item in parallel.run(jobs, 2, timeout=30, while_waiting=lambda: calls.append(len(results))):
        results.append(item)
    assert calls == [0] and len(results) == 3
    calls.clear()
    assert list(parallel.run([], 2, timeout=30, while_waiting=lambda: calls.append(1))) == []
    assert calls == [1]


@pytest.mark.parametrize("n_workers", [1, 2])
def test_jobs_appended_while_running_run_in_the_same_workers(fake_jobs, n_workers):
    jobs = [("c", "/x/a.c", ())]
    seen, pids = [], set()

    def more():                                 # e.g. decoding cache hits finds work
        jobs.append(("c", "/x/b.c", ()))

    for i, ok, payload in parallel.run(jobs, n_workers, timeout=30, while_waiting=more):
        assert ok
        seen.append(payload["name"])
        pids.add(payload["pid"])
        if payload["name"] in ("a.c", "b.c"):   # a result that asks for follow-ups
            jobs.append(("c", f"/x/{payload['name']}.more.c", ()))
    assert sorted(seen) == ["a.c", "a.c.more.c", "b.c", "b.c.more.c"]
    assert len(pids) <= n_workers and os.getpid() not in pids
    assert not mp.active_children()


def test_jobs_added_by_while_waiting_to_an_empty_run_are_run(fake_jobs):
    jobs = []
    results = list(parallel.run(jobs, 2, timeout=30, while_waiting=lambda: jobs.append(("c", "/x/late.c", ()))))
    assert [(i, ok, p["name"]) for i, ok, p in results] == [(0, True, "late.c")]


def test_jobs_with_one_affinity_key_go_to_one_worker(fake_jobs):
    # two groups interleaved in list order, plus unkeyed jobs: each group is
    # parsed by one worker (one precompiled header each), all jobs run.  The
    # jobs take equal time, so neither worker runs out of work early and
    # takes the other's group.
    names = [f"nap-{g}{i}.c" for i in range(6) for g in "ab"] + [f"nap-free{i}.c" for i in range(4)]
    jobs = [("c", f"/x/{n}", ()) for n in names]
    key = {n: n[4] if n[4] in "ab" else None for n in names}
    by_name = {}
    for i, ok, payload in parallel.run(jobs, 2, timeout=30, affinity=lambda job: key[os.path.basename(job[1])]):
        assert ok
        by_name[payload["name"]] = payload["pid"]
    assert sorted(by_name) == sorted(names)
    for group in "ab":
        assert len({pid for n, pid in by_name.items() if key[n] == group}) == 1
    assert len(set(by_name.values())) == 2


def test_a_worker_runs_the_jobs_of_its_key_one_after_the_other(fake_jobs):
    # three keys interleaved in list order: each worker runs all of one key
    # (in list order) before it starts another, so what it keeps for a key
    # (a TU to reparse) serves them all
    names = [f"nap-{g}{i}.c" for i in range(4) for g in "abc"]
    jobs = [("c", f"/x/{n}", ()) for n in names]
    runs: dict[int, list] = {}
    for _, ok, payload in parallel.run(jobs, 2, timeout=30, affinity=lambda job: os.path.basename(job[1])[4]):
        assert ok
        runs.setdefault(payload["pid"], []).append((payload["at"], payload["name"]))
    assert sum(len(r) for r in runs.values()) == len(names)
    for sequence in runs.values():
        order = [name for _, name in sorted(sequence)]
        keys = [name[4] for name in order]
        switches = sum(a != b for a, b in zip(keys, keys[1:]))
        assert switches == len(set(keys)) - 1, order
        assert order == sorted(order, key=lambda n: (keys.index(n[4]), n))


def test_a_worker_out_of_its_own_keyed_jobs_takes_another_workers(fake_jobs):
    # one group only, whose first job is slow: the other worker must not stay
    # idle while the group has jobs left (one may wait behind the slow job)
    jobs = [("c", "/x/sleep1.c", ())] + [("c", f"/x/g{i}.c", ()) for i in range(5)]
    pids = {}
    for _, ok, payload in parallel.run(jobs, 2, timeout=30, affinity=lambda job: "g"):
        assert ok
        pids[payload["name"]] = payload["pid"]
    assert len(pids) == 6
    assert sum(pids[f"g{i}.c"] != pids["sleep1.c"] for i in range(5)) >= 4


def test_a_running_worker_has_its_next_job_waiting(fake_jobs):
    # so it starts that job without waiting for the engine to take its result
    jobs = [("c", "/x/look.c", ()), ("c", "/x/a.c", ())]
    results = {i: p for i, ok, p in parallel.run(jobs, 1, timeout=30) if ok}
    assert results[0]["next_job_waiting"] is True and results[1]["name"] == "a.c"
    ((_, ok, alone),) = list(parallel.run(jobs[:1], 1, timeout=30))
    assert ok and alone["next_job_waiting"] is False


@pytest.mark.parametrize("n_workers", [1, 2])
def test_a_job_waiting_behind_one_that_fails_still_runs_once(fake_jobs, n_workers):
    # the running job crashes, times out or raises, while the next job waits
    # in the same worker's pipe: that job is answered once, by the
    # replacement worker when the worker died
    names = ["slow-segv.c", "a.c", "slow-sleep.c", "b.c", "slow-raise.c", "c.c", "slow-d.c", "e.c"]
    results = {}
    for i, ok, payload in parallel.run([("c", f"/x/{n}", ()) for n in names], n_workers, timeout=1.5):
        assert i not in results
        results[i] = (ok, payload["name"] if ok else payload)
    assert {names[i]: r for i, r in results.items()} == {
        "slow-segv.c": (False, "worker crashed (SIGSEGV)"), "a.c": (True, "a.c"),
        "slow-sleep.c": (False, "timed out after 1.5 s"), "b.c": (True, "b.c"),
        "slow-raise.c": (False, "RuntimeError: bad input"), "c.c": (True, "c.c"),
        "slow-d.c": (True, "d.c"), "e.c": (True, "e.c")}
    assert not mp.active_children()


needs_two_cpus = pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                                    reason="CPU placement needs CPU affinity and two CPUs")


@needs_two_cpus
def test_with_a_cpu_to_spare_the_engine_keeps_one_and_the_workers_use_the_others(monkeypatch):
    # a worker's result must not wake the engine onto the worker's own CPU
    monkeypatch.setattr(worker, "run_job", lambda job: sorted(os.sched_getaffinity(0)))
    before = os.sched_getaffinity(0)
    cpus = sorted(before)
    during = []
    results = []
    for _, ok, payload in parallel.run(_jobs(4), len(cpus) - 1, timeout=30):
        assert ok
        results.append(payload)
        during.append(os.sched_getaffinity(0))
    assert all(d == {cpus[0]} for d in during)
    assert all(r == cpus[1:] for r in results)
    assert os.sched_getaffinity(0) == before        # given back when the run ends


@needs_two_cpus
def test_without_a_cpu_to_spare_each_worker_has_its_own(monkeypatch):
    monkeypatch.setattr(worker, "run_job",
                        lambda job: (os.getpid(), sorted(os.sched_getaffinity(0))))
    before = os.sched_getaffinity(0)
    placed = {}
    for _, ok, (pid, cpus) in parallel.run(_jobs(8), len(before), timeout=30):
        assert ok and os.sched_getaffinity(0) == before
        placed[pid] = cpus
    assert sorted(c for cpus in placed.values() for c in cpus) == sorted(before)
