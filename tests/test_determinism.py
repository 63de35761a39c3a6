"""The same input gives byte-identical JSON and SARIF: across runs, -j 1 and -j 2,
cold and warm fact cache, and Python hash seeds (set iteration order)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(root, out, fmt, jobs, seed, cache=None, builds=()):
    argv = [sys.executable, "-m", "threadlint", "check", root, "--profile", "wasi-libc",
            "--format", fmt, "-o", out, "-j", str(jobs), "-q"]
    argv += ["--cache-dir", cache] if cache else ["--no-cache"]
    for b in builds:
        argv += ["-p", b]
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stderr
    with open(out, "rb") as fh:
        return fh.read()


def variants(tmp_path, root, builds=()):
    """(json runs, sarif runs) over the run variants that must not matter."""
    cache = str(tmp_path / "cache")
    out = str(tmp_path / "out")
    docs = {"json": [], "sarif": []}
    plan = [("json", 1, 0, None), ("json", 2, 1, None), ("sarif", 2, 2, cache),   # cold cache
            ("sarif", 1, 3, None), ("json", 2, 4, cache), ("sarif", 1, 5, cache)]   # warm cache
    for fmt, jobs, seed, c in plan:
        docs[fmt].append(run(root, f"{out}.{seed}.{fmt}", fmt, jobs, seed, c, builds))
    return docs


def assert_identical(docs):
    for fmt, runs in docs.items():
        assert len(runs) == 3
        assert all(r == runs[0] for r in runs), f"{fmt} differs between runs"


def test_small_tree(tmp_path):
    """The example tree (every rule fires there next to a clean look-alike),
    three configurations."""
    root = str(tmp_path / "examples")
    shutil.copytree(os.path.join(REPO, "examples"), root,
                    ignore=shutil.ignore_patterns("build-*", ".threadlint_cache"))
    subprocess.run([sys.executable, os.path.join(root, "configure.py")], check=True,
                   stdout=subprocess.DEVNULL)
    docs = variants(tmp_path, root)
    assert_identical(docs)
    doc = json.loads(docs["json"][0])
    assert len(doc["configs"]) == 3 and sum(c["tus"] for c in doc["configs"]) > 0


SUBSET = {"wasip3-coop": ("/src/thread/coop-threads/", "/src/thread/common/"),
          "wasip3": ("/src/thread/single-threaded/",)}


def test_corpus_subset(tmp_path, corpus_dir):
    """The threading sources of the real corpus in two configurations."""
    builds = []
    for cfg, dirs in SUBSET.items():
        with open(os.path.join(corpus_dir, f"build-{cfg}", "compile_commands.json")) as fh:
            entries = [e for e in json.load(fh) if any(d in e["file"] for d in dirs)]
        d = tmp_path / f"build-{cfg}"
        d.mkdir()
        (d / "compile_commands.json").write_text(json.dumps(entries))
        builds.append(f"{cfg}={d}")
    root = os.path.join(corpus_dir, "wasi-libc")
    docs = variants(tmp_path, root, builds)
    assert_identical(docs)
    doc = json.loads(docs["json"][0])
    assert [c["name"] for c in doc["configs"]] == list(SUBSET)
    assert all(c["tus"] > 20 for c in doc["configs"])
    assert not any(f["rule"] == "TL002" for f in doc["findings"])   # a meaningful run, not errors
