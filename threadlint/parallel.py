"""Run parse jobs in worker processes.

Each job is a picklable tuple handled by ``threadlint.worker.run_job``; results
stream back as ``(index, ok, payload)``.  A job that crashes its worker
(libclang segfault, out of memory) or exceeds the per-job timeout yields
``ok=False`` with a description, the worker is replaced, and the remaining
jobs still run.

Every worker has its own pipe (no queue shared between workers): a worker
killed in the middle of sending cannot leave a lock held that would hang the
others, and its death is seen at once through its process sentinel.  Workers
run with an address-space limit (``THREADLINT_WORKER_MEMORY_MB``, default
``DEFAULT_MEMORY_MB``) so a source that includes ``/dev/zero`` fails that TU
instead of exhausting the machine.
"""
from __future__ import annotations

import gc
import os
import signal
import time
from collections import deque
from typing import Iterator

from threadlint import worker

DEFAULT_MEMORY_MB = 4096


def default_jobs() -> int:
    cpus = allowed_cpus()
    return max(1, len(cpus) if cpus else os.cpu_count() or 1)


def memory_limit_mb() -> int:
    """Per-worker address-space limit in MiB (0: none)."""
    try:
        return max(0, int(os.environ.get("THREADLINT_WORKER_MEMORY_MB", DEFAULT_MEMORY_MB)))
    except ValueError:
        return DEFAULT_MEMORY_MB


def allowed_cpus() -> set | None:
    """The CPUs this process may run on, or None where there is no CPU affinity."""
    try:
        return os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return None


def cpu_plan(n_workers: int, allowed: set | None) -> tuple[set | None, list[set]]:
    """(CPUs this process keeps while workers run, or None; the CPU sets workers
    are placed on, one per worker in turn).

    Measured on the 2-CPU machines this runs on (docs/design.md): left to the
    scheduler, a worker's result wakes this process onto the worker's own CPU
    (a synchronous wakeup) where it preempts the worker, and workers migrate;
    at ``-j 1`` the parse phase then took ~1 s longer per run (whole runs
    -6.5% once placed), at ``-j 2`` 3-10% longer.  So with a CPU to spare this
    process keeps one and the workers share the others; with none, each worker
    has a CPU of its own and this process runs wherever the kernel puts it.
    """
    cpus = sorted(allowed or ())
    if len(cpus) < 2:
        return None, []
    if n_workers < len(cpus):
        return {cpus[0]}, [set(cpus[1:])]
    return None, [{c} for c in cpus]


def _set_cpus(cpus, fallback=None) -> None:
    for choice in (cpus, fallback):
        if choice:
            try:
                os.sched_setaffinity(0, choice)
                return
            except (AttributeError, OSError):
                pass


class _Worker:
    def __init__(self, ctx, memory_mb: int, others: list, cpus: set | None = None,
                 all_cpus: set | None = None):
        self.conn, child = ctx.Pipe(duplex=True)
        # The forked child inherits the parent's end of its own pipe and of the
        # other workers' pipes; it closes them, so that when the parent dies
        # (even by SIGKILL) every pipe reads EOF and no worker lingers.
        parent_ends = [self.conn] + [w.conn for w in others]
        self.cpus = cpus
        self.proc = ctx.Process(target=_worker_main, daemon=True,
                                args=(child, parent_ends, memory_mb, os.getpid(), cpus, all_cpus))
        self.proc.start()
        child.close()
        self.jobs: deque[int] = deque()     # sent and not answered; the first is running
        self.key = None                     # affinity key of the last job it took
        self.since = 0.0                    # when the running job started

    def wants_job(self) -> bool:
        """Fewer than two jobs: the next one waits in its pipe while it runs
        one, so it never waits for this process between jobs.  A job queued
        behind one that hangs waits for the timeout, which the run waits for
        anyway; behind one that crashes it goes back to the queue at once."""
        return len(self.jobs) < 2

    def give(self, i: int, job) -> bool:
        if not self.jobs:
            self.since = time.monotonic()
        try:
            self.conn.send((i, job))
        except (OSError, ValueError):      # died before it could take the job
            return False
        self.jobs.append(i)
        return True

    def answered(self) -> None:
        """The running job's result arrived: the next one (if sent) runs from now."""
        self.jobs.popleft()
        self.since = time.monotonic()

    def finish(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass

    def stop(self, kill: bool) -> None:
        if kill and self.proc.is_alive():
            self.proc.kill()
        self.proc.join(1 if kill else 0.5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def run(jobs: list[tuple], n_workers: int, timeout: float | None,
        memory_mb: int | None = None, while_waiting=None, affinity=None) -> Iterator[tuple[int, bool, object]]:
    """Yield (index, ok, payload) for every job, in completion order.

    ``jobs`` may grow: jobs the caller appends while iterating (or from
    ``while_waiting``) run too, in the same workers.
    ``while_waiting``: called once in this process after the workers have their
    first jobs, before the first result is awaited (work that can overlap them).
    ``affinity``: job -> key (or None).  Jobs with the same key go to the
    worker that took the first of them, as long as it has any left, and it
    runs them one after the other (in list order) before it takes a job of
    another key: whatever a worker keeps for a key (a precompiled header, a TU
    to reparse) then serves the whole key.  Jobs are otherwise taken in list
    order; a worker with nothing else to do takes another worker's jobs.
    """
    if not jobs and while_waiting:
        while_waiting()
        while_waiting = None
    if not jobs:
        return
    if timeout is not None and not 0 < timeout < float("inf"):
        timeout = None                  # 0, inf: no limit
    # imported here: a run the memo answers starts no worker
    import multiprocessing as mp
    from multiprocessing.connection import wait
    ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
    memory_mb = memory_limit_mb() if memory_mb is None else memory_mb
    # Jobs not yet given to a worker, in list order, and the same per
    # affinity key (dicts as ordered sets: a job is taken from both at once).
    todo: dict[int, None] = {}
    keyed: dict = {}                    # affinity key -> {index: None}
    keys: list = []                     # keys[i]: job i's affinity key
    queued = 0                          # jobs[:queued] are queued or done
    workers: list[_Worker] = []
    n_workers = max(1, n_workers)
    owners: dict = {}                   # affinity key -> worker
    all_cpus = allowed_cpus()
    own_cpus, worker_cpus = cpu_plan(n_workers, all_cpus)

    def new_worker() -> _Worker:
        """A worker on the CPU set fewest live workers use."""
        cpus = min(worker_cpus, key=lambda c: sum(w.cpus == c for w in workers)) if worker_cpus else None
        w = _Worker(ctx, memory_mb, workers, cpus, all_cpus)
        workers.append(w)
        return w

    def queue(indices, front: bool = False) -> None:
        nonlocal todo
        for i in indices:
            while len(keys) <= i:
                keys.append(affinity(jobs[len(keys)]) if affinity is not None else None)
            if keys[i] is not None:
                keyed.setdefault(keys[i], {})[i] = None
        if front:       # rare (a worker died): rebuilding keeps both orders
            todo = dict.fromkeys([*indices, *todo])
            position = {i: n for n, i in enumerate(todo)}
            for key, mine in keyed.items():
                keyed[key] = dict.fromkeys(sorted(mine, key=position.__getitem__))
        else:
            todo.update(dict.fromkeys(indices))

    def take(i: int, w: _Worker) -> int:
        del todo[i]
        if keys[i] is not None:
            del keyed[keys[i]][i]
        w.key = keys[i]
        return i

    def next_for(w: _Worker) -> int:
        mine = keyed.get(w.key)
        if mine:                        # the rest of its current key first
            return take(next(iter(mine)), w)
        for i in todo:                  # the first job of a key nobody else has
            key = keys[i]
            if key is None or owners.setdefault(key, w) is w:
                return take(i, w)
        return take(next(iter(todo)), w)    # all are others': help them

    def retire(w: _Worker) -> None:
        """Stop a dead or late worker.  Jobs waiting behind its running one go
        back to the front of the queue; its affinity keys go to whoever comes next."""
        w.stop(kill=True)
        workers.remove(w)
        queue(list(w.jobs)[1:], front=True)
        for key in [k for k, owner in owners.items() if owner is w]:
            del owners[key]

    def assign(w: _Worker):
        """Give ``w`` its next job (it stays as it is when there is none).
        Returns whether ``w`` took one: a worker that died cannot (its
        replacement may have)."""
        while todo:
            i = next_for(w)
            if w.give(i, jobs[i]):
                return True
            if w.jobs:                  # its running job's failure is reported by the wait loop
                queue([i], front=True)
                return False
            yield i, False, _death(w)
            retire(w)
            w = new_worker()
        return False

    def feed():
        """Queue jobs appended since last time; start workers while there are
        fewer than ``n_workers``, then top up every worker that wants a job
        (each has a job running before any has one waiting)."""
        nonlocal queued
        queue(range(queued, len(jobs)))
        queued = len(jobs)
        while todo and len(workers) < n_workers:
            yield from assign(new_worker())
        for w in list(workers):
            while todo and w in workers and w.wants_job() and (yield from assign(w)):
                pass

    _set_cpus(own_cpus)
    try:
        yield from feed()
        if while_waiting:
            while_waiting()
            yield from feed()
        while any(w.jobs for w in workers):
            busy = [w for w in workers if w.jobs]
            wait_for = timeout - (time.monotonic() - min(w.since for w in busy)) if timeout else None
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                             timeout=max(0.0, wait_for) if wait_for is not None else None))
            now = time.monotonic()
            for w in busy:
                if w not in workers:        # replaced while an earlier result was handed on
                    continue
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except Exception:       # EOF or a torn message: the worker died
                        pass
                    else:
                        # The worker's queue is topped up before this result
                        # is handed on: it parses while the caller decodes.
                        w.answered()
                        yield from feed()
                        yield msg
                        yield from feed()       # jobs the caller appended
                        continue
                elif w.proc.sentinel not in ready and not (timeout and now - w.since >= timeout):
                    continue
                # crashed (sentinel or broken pipe) or late: replace the worker
                i = w.jobs[0]
                late = w.proc.sentinel not in ready and w.conn not in ready
                reason = f"timed out after {timeout:g} s" if late else _death(w)
                retire(w)
                yield i, False, reason
                yield from feed()
    finally:
        for w in workers:
            if w.proc.is_alive() and not w.jobs:
                w.finish()
        for w in workers:
            w.stop(kill=bool(w.jobs))
        if own_cpus:
            _set_cpus(all_cpus)


def _death(w: _Worker) -> str:
    w.proc.join(1)
    code = w.proc.exitcode
    if code is not None and code < 0:
        try:
            return f"worker crashed ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"worker crashed (exit code {code})"


def _worker_main(conn, parent_ends, memory_mb: int, parent_pid: int, cpus=None, all_cpus=None) -> None:
    for end in parent_ends:
        end.close()
    _set_cpus(cpus, all_cpus)       # all_cpus: not on the one the parent keeps, if that fails
    _die_with_parent(parent_pid)
    # The parent handles Ctrl-C and stops us; libclang's own crash reports go
    # to /dev/null (the crash becomes a TL002 finding) unless debugging.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The engine forks us with its GC off, and every object it made since is in
    # the youngest generation: the first collection here would walk (and copy,
    # page by page) all of them, 0.12 s after a warm run's decode.  Frozen,
    # they are never scanned; the GC then only sees what this worker makes
    # (it parses many TUs).
    gc.freeze()
    gc.enable()
    _limit_memory(memory_mb)
    if not os.environ.get("THREADLINT_DEBUG"):
        import faulthandler                 # inherited from a parent that enabled it
        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        i, job = task
        try:
            msg = (i, True, worker.run_job(job))
        except Exception as e:  # reported as a finding by the engine, never swallowed
            msg = (i, False, f"{type(e).__name__}: {e}")
        try:
            conn.send(msg)
        except (OSError, ValueError):
            return                  # parent gone
        except Exception as e:      # unpicklable payload: still answer
            conn.send((i, False, f"cannot return result: {type(e).__name__}: {e}"))


def _die_with_parent(parent_pid: int) -> None:
    """Linux: SIGKILL this worker when the parent dies, even in the middle of a
    parse (the pipe EOF only helps between jobs)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:      # the parent died before prctl took effect
        os._exit(1)


def _limit_memory(memory_mb: int) -> None:
    if not memory_mb:
        return
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = memory_mb << 20
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        if soft == resource.RLIM_INFINITY or soft > want:
            resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    except (ImportError, ValueError, OSError):
        pass                        # not supported here: run without a limit
