#!/usr/bin/env python3
"""Cold threadlint vs clang-tidy (one cheap check) on the same TUs, same run.

    python bench/bench_clang_tidy.py [--corpus DEST] [--config wasip3-coop] [--repeat 3]

Lays out the corpus (../shared/corpus/wasi-libc/setup.sh) unless --corpus
points at an existing layout, takes the TUs threadlint analyses for the
configuration (each distinct file+flags once), writes a compile database with
exactly those entries and CMake's own commands for clang-tidy (PyPI wheel
clang-tidy 23, which needs no adaptation), then alternates whole-process runs:

  threadlint check --no-cache -j N   (all default rules, text report to /dev/null)
  clang-tidy --checks=-*,misc-definitions-in-headers  (N processes over N slices)

for N = 1 and 2, and prints medians and the ratio threadlint / clang-tidy.

threadlint is first byte-compiled (``compileall``), as ``pip install .``
leaves it: an editable install under ``PYTHONDONTWRITEBYTECODE`` would
otherwise recompile its modules on every run (~0.05 s) that no installed copy
pays.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.normpath(os.path.join(REPO, "..", "shared", "corpus", "wasi-libc"))
CHECK = "-*,misc-definitions-in-headers"


def analysed_entries(db_path: str, root: str, config: str):
    """The database entries threadlint parses (one per distinct file + effective flags)."""
    sys.path.insert(0, REPO)
    from threadlint import adapter, compdb, profile as profile_mod, registry
    from threadlint.frontend.cxbind import clang_major
    prof = profile_mod.load("wasi-libc", registry.profile_schema())
    raw = json.load(open(db_path))
    entries = compdb.load(db_path, root)
    seen, keep = set(), []
    major = clang_major()
    for raw_entry, e in zip(raw, entries):
        if not e.file.endswith(".c"):
            continue
        kept, _ = adapter.dedupe_key(adapter.adapt(e.args, prof, major))
        key = (e.file, kept)
        if key not in seen:
            seen.add(key)
            keep.append(raw_entry)
    return keep


def timed(cmd_lists, env=None) -> float:
    """Wall time of running the commands concurrently (one process each)."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
             for c in cmd_lists]
    codes = [p.wait() for p in procs]
    elapsed = time.perf_counter() - t0
    if any(code not in (0, 1) for code in codes):
        raise SystemExit(f"command failed ({codes}): {cmd_lists[0][:6]}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", help="existing setup.sh layout (default: a fresh temp dir)")
    ap.add_argument("--config", default="wasip3-coop")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", default="1,2")
    args = ap.parse_args()

    tidy = shutil.which("clang-tidy")
    if not tidy:
        print("clang-tidy not found: pip install clang-tidy==23.1.4", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="tl-bench-")
    dest = args.corpus or os.path.join(tmp, "corpus")
    if not args.corpus:
        subprocess.run(["bash", os.path.join(CORPUS, "setup.sh"), dest], check=True, stdout=subprocess.DEVNULL)
    root = os.path.join(dest, "wasi-libc")
    build = os.path.join(dest, f"build-{args.config}")
    entries = analysed_entries(os.path.join(build, "compile_commands.json"), root, args.config)
    tidy_dir = os.path.join(tmp, "tidy")
    os.makedirs(tidy_dir)
    with open(os.path.join(tidy_dir, "compile_commands.json"), "w") as fh:
        json.dump(entries, fh)
    files = [e["file"] for e in entries]
    # biggest first, dealt round-robin so N slices get similar work
    files.sort(key=lambda f: -os.path.getsize(f))
    print(f"{len(files)} TUs ({args.config}); clang-tidy check {CHECK}; {args.repeat} alternating runs")

    import compileall
    import threadlint
    import rules
    for package in (threadlint, rules):
        compileall.compile_dir(os.path.dirname(package.__file__), quiet=1)
    env = dict(os.environ, CI="1")
    results = []
    for jobs in [int(j) for j in args.jobs.split(",")]:
        tl_cmd = [[sys.executable, "-m", "threadlint", "check", root, "-p", build, "--profile", "wasi-libc",
                   "--no-cache", "-j", str(jobs), "-q", "-o", os.path.join(tmp, "out.txt")]]
        slices = [files[i::jobs] for i in range(jobs)]
        ct_cmd = [[tidy, "-p", tidy_dir, f"--checks={CHECK}", "--quiet", *s] for s in slices]
        tl_times, ct_times = [], []
        for _ in range(args.repeat):
            tl_times.append(timed(tl_cmd, env))
            ct_times.append(timed(ct_cmd, env))
        tl, ct = statistics.median(tl_times), statistics.median(ct_times)
        ratios = [a / b for a, b in zip(tl_times, ct_times)]
        results.append((jobs, tl, ct, statistics.median(ratios)))
        print(f"-j {jobs}: threadlint {tl:6.2f} s  (runs {', '.join(f'{t:.2f}' for t in tl_times)})")
        print(f"      clang-tidy {ct:6.2f} s  (runs {', '.join(f'{t:.2f}' for t in ct_times)})")
        print(f"      ratio threadlint/clang-tidy = {statistics.median(ratios):.2f} (median of paired runs)")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
