"""Regenerates report.json from the sources in src/ (run: python make_report.py).

The findings are hand-written (they are what the engine would say about these
sources); fingerprints are computed the engine's way so the baseline action
writes realistic entries.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from threadlint.finding import Finding, Location, Related, compute_fingerprint  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ALL = ("aarch64-linux", "riscv64-linux", "x86_64-linux")

RULES = {
    "TL101": ("missing-barrier", "Shared data published to another thread without a barrier", "warning", "medium"),
    "TL102": ("lock-kind-mismatch", "A lock released with a primitive of another kind than the one that took it", "error", "high"),
    "TL103": ("sleep-under-spinlock", "A call that may sleep is reachable while a spinlock is held", "error", "high"),
    "TL104": ("unbalanced-lock", "A lock taken on one path and released on another", "warning", "medium"),
    "TL105": ("lost-wakeup", "A condition read outside the lock that protects it", "warning", "low"),
    "TL201": ("asm-unlocked-rmw", "Read-modify-write instruction without a lock prefix", "error", "high"),
    "TL202": ("spin-without-pause", "Spin loop without a pause/yield hint", "note", "high"),
}


def L(path, line, col=1, end_line=0, end_col=0):
    return Location(path, line, col, end_line, end_col)


def R(loc, label, function=None):
    return Related(loc, label, function)


M = "thread/mutex.c"
C = "thread/cond.c"
FINDINGS = [
    dict(rule="TL102", loc=L(M, 19, 2, 19, 28), function="__pthread_mutex_unlock", configs=ALL,
         message="mutex m->_m_lock released with __spin_unlock() but taken with a_cas()",
         related=(R(L(M, 11, 7, 11, 35), "taken here", "__pthread_mutex_lock"),), key="m->_m_lock"),
    dict(rule="TL103", loc=L(M, 31, 2, 31, 15), function="__lock_all", configs=("aarch64-linux", "x86_64-linux"),
         message="take_global() may sleep while spinlock big_lock is held",
         related=(R(L(M, 30, 2, 30, 24), "spinlock taken here", "__lock_all"),),
         chain=(R(L(M, 31, 2), "calls take_global()", "__lock_all"),
                R(L(M, 25, 2), "calls __pthread_mutex_lock()", "take_global"),
                R(L(M, 14, 9), "may block in __pthread_mutex_timedlock()", "__pthread_mutex_lock")),
         key="big_lock"),
    dict(rule="TL103", loc=L(M, 45, 2, 45, 25), function=None, configs=ALL,
         message="LOCK_BOTH(): __pthread_mutex_lock() may sleep while spinlock a is held",
         related=(R(L(M, 44, 2), "spinlock taken here"),), key="a"),
    dict(rule="TL104", loc=L(M, 38, 3, 38, 38), function="__fork_handler", configs=("riscv64-linux",),
         message="global_mutex is locked on one path and unlocked on another",
         related=(R(L(M, 40, 3, 40, 40), "unlocked here", "__fork_handler"),), key="global_mutex"),
    dict(rule="TL101", loc=L(C, 8, 5, 8, 16), function="pthread_cond_signal", configs=ALL,
         message="c->_c_seq updated without a barrier before __wake()",
         related=(R(L(C, 9, 5), "waiters woken here", "pthread_cond_signal"),), key="c->_c_seq"),
    dict(rule="TL105", loc=L(C, 15, 15, 15, 24), function="pthread_cond_wait", configs=ALL, confidence="medium",
         message="c->_c_seq read before the mutex is released; a signal in between is lost",
         chain=(R(L(C, 15, 15), "reads c->_c_seq", "pthread_cond_wait"),
                R(L(C, 16, 5), "calls pthread_mutex_unlock()", "pthread_cond_wait"),
                R(L(C, 17, 5), "waits on c->_c_seq", "pthread_cond_wait")), key="c->_c_seq"),
    dict(rule="TL101", loc=L("thread/tls_legacy.c", 9, 3, 9, 16), function="__tls_get",
         configs=("aarch64-linux", "riscv64-linux"), confidence="low",
         message="tls_ready published without a barrier", key="tls_ready"),
    dict(rule="TL201", loc=L("arch/x86_64/atomic.S", 6, 2, 6, 22), function="a_cas", configs=("x86_64-linux",),
         message="cmpxchg without a lock prefix is not atomic on SMP", key="cmpxchg"),
    dict(rule="TL202", loc=L("arch/x86_64/spin.s", 4, 5, 4, 17), function="__spin_lock", configs=("x86_64-linux",),
         message="spin loop without a pause hint", key="1b"),
]


def build() -> dict:
    findings = []
    for d in FINDINGS:
        name, _summary, severity, _precision = RULES[d["rule"]]
        f = Finding(rule=d["rule"], name=name, severity=severity, message=d["message"], location=d["loc"],
                    function=d.get("function"), related=d.get("related", ()), chain=d.get("chain", ()),
                    configs=tuple(d["configs"]), confidence=d.get("confidence", "high"), key=d.get("key", ""))
        with open(os.path.join(HERE, "src", f.location.path), "rb") as fh:
            code_line = fh.read().decode("utf-8", "replace").split("\n")[f.location.line - 1]
        findings.append(Finding(**{**f.__dict__, "fingerprint": compute_fingerprint(f, code_line)}))
    return {
        "format": "threadlint-report", "format_version": 1,
        "tool": {"name": "threadlint", "version": "0.1.0", "libclang": "18.1.8"},
        "root": "src",          # relative to this file; real reports hold an absolute path
        "profile": "musl-like",
        "configs": [{"name": c, "database": "", "tus": 3, "asm_files": 2} for c in ALL],
        "rules": {rid: {"name": n, "summary": s, "severity": sev, "precision": p}
                  for rid, (n, s, sev, p) in RULES.items()},
        "findings": [f.to_dict() for f in findings],
        "stale_baseline": [],
        "summary": {"findings": len(findings)},
    }


if __name__ == "__main__":
    with open(os.path.join(HERE, "report.json"), "w", encoding="utf-8") as fh:
        fh.write(json.dumps(build(), indent=2, sort_keys=True) + "\n")
