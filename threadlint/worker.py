"""What a worker process does with one job (kept import-light for forking)."""
from __future__ import annotations


def run_job(job: tuple):
    kind = job[0]
    if kind == "c":
        _, path, args = job
        from threadlint.frontend.parse import parse_c
        return parse_c(path, list(args))
    raise ValueError(f"unknown job kind {kind!r}")
