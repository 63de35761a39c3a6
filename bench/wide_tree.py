#!/usr/bin/env python3
"""Whole-tree scale run: threadlint on every ``.c`` file of the corpus tree.

    python bench/wide_tree.py [--corpus DEST] [-j N] [--timeout S] [--no-cache]
                              [--fallback nearest|common] [--select RULES] [--out DIR]
                              [--under SUBDIR]

The three build configurations analyse the files they build with their own
flags.  Every other ``.c`` file under the tree (other architectures, tests,
Linux-only code: about half the tree) goes into a fourth configuration,
``fallback``, written as a compile database with fallback flags:

* ``nearest`` (default): the flags of the nearest file the primary
  configuration builds (same directory, else the closest ancestor), so e.g. an
  unbuilt musl file gets musl's internal include paths;
* ``common``: the primary configuration's most common flags, for every file.

threadlint then runs once over all four configurations, through its CLI
(``python -m threadlint check ... --format json``), with a per-TU timeout.
The script reports, per configuration and per file, how many translation
units parse cleanly (no TL002: no error diagnostics, no crash, no timeout),
how many timed out or crashed, the exit code and the wall time, and writes
``summary.json`` next to the report.  Exit status: 0 when threadlint
completed (exit 0 or 1), 1 otherwise.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.normpath(os.path.join(REPO, "..", "shared", "corpus", "wasi-libc"))
CONFIGS = ("wasip3-coop", "wasip3", "wasip1-threads")
PRIMARY = CONFIGS[0]

sys.path.insert(0, REPO)


def corpus_layout(dest: str | None, out: str) -> str:
    """DEST with wasi-libc/ and build-*/ (laid out by setup.sh when not given)."""
    if dest:
        return os.path.abspath(dest)
    dest = os.path.join(out, "corpus")
    subprocess.run(["bash", os.path.join(CORPUS, "setup.sh"), dest], check=True,
                   stdout=subprocess.DEVNULL)
    return dest


def config_databases(dest: str, out: str, under: str) -> dict[str, str]:
    """name -> compile_commands.json of each configuration (restricted to
    ``under`` when given: filtered copies are written to ``out``)."""
    dbs = {cfg: os.path.join(dest, f"build-{cfg}", "compile_commands.json") for cfg in CONFIGS}
    if not under:
        return dbs
    prefix = os.path.join(dest, "wasi-libc", under).rstrip(os.sep) + os.sep
    for cfg, db in dbs.items():
        with open(db, encoding="utf-8") as fh:
            entries = [e for e in json.load(fh)
                       if os.path.normpath(os.path.join(e["directory"], e["file"])).startswith(prefix)]
        path = os.path.join(out, f"build-{cfg}", "compile_commands.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(entries, fh)
        dbs[cfg] = path
    return dbs


def fallback_database(dest: str, out: str, mode: str, under: str = "") -> tuple[str, int, int]:
    """Write a compile database for the .c files no configuration builds.

    Returns (path, number of tree .c files, number given fallback flags)."""
    from threadlint import compdb
    from threadlint.inputs import tree_files

    src = os.path.join(dest, "wasi-libc")
    built: set[str] = set()
    by_dir: dict[str, list[str]] = {}
    flag_count: collections.Counter = collections.Counter()
    for cfg in CONFIGS:
        for e in compdb.load(os.path.join(dest, f"build-{cfg}", "compile_commands.json"), src):
            built.add(e.file)
            if cfg == PRIMARY and e.file.endswith(".c"):
                by_dir.setdefault(os.path.dirname(e.file), list(e.args))
                flag_count[e.args] += 1
    common = list(flag_count.most_common(1)[0][0])
    prefix = (under.rstrip("/") + "/") if under else ""
    tree_c = [os.path.join(src, rel) for rel in tree_files(src)
              if rel.endswith(".c") and rel.startswith(prefix)]
    entries = []
    for path in tree_c:
        if path in built:
            continue
        args = common if mode == "common" else _nearest(path, by_dir, src) or common
        entries.append({"directory": src, "file": path, "arguments": ["clang", *args, "-c", path]})
    build = os.path.join(out, "build-fallback")
    os.makedirs(build, exist_ok=True)
    db = os.path.join(build, "compile_commands.json")
    with open(db, "w", encoding="utf-8") as fh:
        json.dump(entries, fh, indent=1)
    return db, len(tree_c), len(entries)


def _nearest(path: str, by_dir: dict, src: str):
    d = os.path.dirname(path)
    while True:
        if d in by_dir:
            return by_dir[d]
        # else the closest ancestor (musl/src/thread/x86_64 -> musl/src/thread)
        if d == src or os.path.dirname(d) == d:
            return None
        d = os.path.dirname(d)


def run_threadlint(dest: str, dbs: dict, fallback_db: str, out: str, args) -> tuple[int, float, str]:
    report = os.path.join(out, "report.json")
    cmd = [sys.executable, "-m", "threadlint", "check", os.path.join(dest, "wasi-libc"),
           "--profile", "wasi-libc", "--format", "json", "-o", report, "-q",
           "--timeout", str(args.timeout), "-j", str(args.jobs)]
    for cfg, db in dbs.items():
        cmd += ["-p", f"{cfg}={db}"]
    cmd += ["-p", f"fallback={fallback_db}"]
    if args.select:
        cmd += ["--select", args.select]
    if args.no_cache:
        cmd.append("--no-cache")
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc.returncode, time.monotonic() - t0, proc.stderr.strip()


def summarize(report_path: str, n_tree: int, n_fallback: int) -> dict:
    with open(report_path, encoding="utf-8") as fh:
        doc = json.load(fh)
    tus = {c["name"]: c["tus"] for c in doc["configs"]}
    failed: dict[str, set] = {c: set() for c in tus}
    kinds: collections.Counter = collections.Counter()
    failed_files: set[str] = set()
    for f in doc["findings"]:
        if f["rule"] != "TL002":
            continue
        path = f["location"]["path"]
        failed_files.add(path)
        msg = f["message"]
        kind = "timed out" if "timed out" in msg else "crashed" if "crashed" in msg else "errors"
        for cfg in f["configs"]:
            failed[cfg].add(path)
            kinds[(cfg, kind)] += 1
    per_config = {}
    for cfg, n in tus.items():
        per_config[cfg] = {"tus": n, "clean": n - len(failed[cfg]), "with_errors": kinds[(cfg, "errors")],
                           "timed_out": kinds[(cfg, "timed out")], "crashed": kinds[(cfg, "crashed")]}
    return {"tree_c_files": n_tree, "fallback_files": n_fallback,
            "files_clean_everywhere": n_tree - len(failed_files), "files_with_tl002": len(failed_files),
            "per_config": per_config, "findings": len(doc["findings"]),
            "by_rule": doc["summary"]["by_rule"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", help="existing layout with wasi-libc/ and build-*/ (default: set one up)")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per TU (default 60)")
    ap.add_argument("--fallback", choices=("nearest", "common"), default="nearest")
    ap.add_argument("--select", help="rules to run (default: all default rules)")
    ap.add_argument("--no-cache", action="store_true", help="parse everything (cold run)")
    ap.add_argument("--out", help="directory for the fallback database and the report")
    ap.add_argument("--under", default="", help="only files under this directory of the tree "
                                                "(e.g. libc-top-half/musl/src/thread)")
    args = ap.parse_args(argv)
    out = os.path.abspath(args.out or tempfile.mkdtemp(prefix="tl-wide-"))
    os.makedirs(out, exist_ok=True)
    dest = corpus_layout(args.corpus, out)
    dbs = config_databases(dest, out, args.under)
    fallback_db, n_tree, n_fallback = fallback_database(dest, out, args.fallback, args.under)
    code, seconds, stderr = run_threadlint(dest, dbs, fallback_db, out, args)
    print(f"threadlint exit code {code} after {seconds:.0f} s (-j {args.jobs}, --timeout {args.timeout:g}, "
          f"{'cold' if args.no_cache else 'fact cache on'}, fallback flags: {args.fallback})")
    if code not in (0, 1):
        print(f"FAILED: {stderr}")
        return 1
    summary = summarize(os.path.join(out, "report.json"), n_tree, n_fallback)
    summary.update(exit_code=code, seconds=round(seconds, 1), jobs=args.jobs, timeout=args.timeout,
                   fallback=args.fallback, cache=not args.no_cache)
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2, sort_keys=True)
    print(f"{n_tree} .c files in the tree; {n_tree - n_fallback} built by a configuration, "
          f"{n_fallback} analysed with fallback flags")
    print(f"files parsing cleanly in every configuration that analyses them: "
          f"{summary['files_clean_everywhere']} / {n_tree}")
    print(f"{'configuration':<16}{'TUs':>6}{'clean':>7}{'errors':>8}{'timeout':>9}{'crashed':>9}")
    for cfg, s in summary["per_config"].items():
        print(f"{cfg:<16}{s['tus']:>6}{s['clean']:>7}{s['with_errors']:>8}{s['timed_out']:>9}{s['crashed']:>9}")
    print(f"findings: {summary['findings']} {summary['by_rule']}")
    print(f"report: {os.path.join(out, 'report.json')}; summary: {os.path.join(out, 'summary.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
