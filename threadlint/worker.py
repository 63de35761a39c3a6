"""What a worker process does with one job (kept import-light for forking)."""
from __future__ import annotations


def run_job(job: tuple):
    """The job's result."""
    kind = job[0]
    if kind == "c":
        _, path, args, prefix, pch_dir = job
        from threadlint.frontend.parse import parse_c
        from threadlint.frontend.summary import encode
        # JSON bytes, not a dict: the engine decodes the head and stores the
        # same bytes in the fact cache (no pickle round trip, no re-encoding)
        return encode(parse_c(path, list(args), prefix, pch_dir))
    raise ValueError(f"unknown job kind {kind!r}")
