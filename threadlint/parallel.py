"""Run parse jobs in worker processes.

Each job is a picklable tuple handled by ``threadlint.worker.run_job``; results
stream back as ``(index, ok, payload)``.  A job that crashes its worker
(libclang segfault) or exceeds the per-job timeout yields ``ok=False`` with a
description, and the remaining jobs still run.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from typing import Iterable, Iterator

from threadlint import worker


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run(jobs: list[tuple], n_workers: int, timeout: float) -> Iterator[tuple[int, bool, object]]:
    """Yield (index, ok, payload) for every job, in completion order."""
    if not jobs:
        return
    n_workers = max(1, min(n_workers, len(jobs)))
    ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
    todo = list(range(len(jobs)))
    todo.reverse()                      # pop() from the end keeps the caller's order
    results: mp.Queue = ctx.Queue()
    workers: dict[int, dict] = {}       # pid -> {"proc", "task_q", "job", "since"}

    def start_worker():
        task_q = ctx.SimpleQueue()
        proc = ctx.Process(target=_worker_main, args=(task_q, results), daemon=True)
        proc.start()
        w = {"proc": proc, "task_q": task_q, "job": None, "since": 0.0}
        workers[proc.pid] = w
        return w

    def feed(w):
        if todo:
            i = todo.pop()
            w["job"] = i
            w["since"] = time.monotonic()
            w["task_q"].put((i, jobs[i]))
        else:
            w["job"] = None
            w["task_q"].put(None)

    for _ in range(n_workers):
        start_worker()
    for w in list(workers.values()):
        feed(w)
    remaining = len(jobs)
    try:
        while remaining:
            try:
                pid, i, ok, payload = results.get(timeout=0.2)
            except queue.Empty:
                now = time.monotonic()
                for pid, w in list(workers.items()):
                    proc = w["proc"]
                    if w["job"] is None:
                        continue
                    dead = not proc.is_alive()
                    late = timeout and now - w["since"] > timeout
                    if dead or late:
                        i = w["job"]
                        if late and not dead:
                            proc.kill()
                            reason = f"timed out after {timeout:g} s"
                        else:
                            reason = f"worker crashed (exit code {proc.exitcode})"
                        proc.join(1)
                        del workers[pid]
                        remaining -= 1
                        yield i, False, reason
                        if todo:
                            feed(start_worker())
                continue
            w = workers.get(pid)
            if w is None or w["job"] != i:
                continue                # a late message from a worker we gave up on
            remaining -= 1
            yield i, ok, payload
            feed(w)
    finally:
        for w in workers.values():
            if w["proc"].is_alive():
                try:
                    w["task_q"].put(None)
                except Exception:
                    pass
        for w in workers.values():
            w["proc"].join(0.5)
            if w["proc"].is_alive():
                w["proc"].kill()
                w["proc"].join()


def _worker_main(task_q, results):
    pid = os.getpid()
    while True:
        task = task_q.get()
        if task is None:
            return
        i, job = task
        try:
            payload = worker.run_job(job)
            results.put((pid, i, True, payload))
        except Exception as e:  # reported as a finding by the engine, never swallowed
            results.put((pid, i, False, f"{type(e).__name__}: {e}"))


def run_inline(jobs: Iterable[tuple]):
    """Same protocol without processes (``-j 1`` debugging, tests)."""
    for i, job in enumerate(jobs):
        try:
            yield i, True, worker.run_job(job)
        except Exception as e:
            yield i, False, f"{type(e).__name__}: {e}"
