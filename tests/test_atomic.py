"""No data loss: every file threadlint writes survives an interrupted write intact."""
import ast
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from test_errors import make_tree
from threadlint import fsutil

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def temps(directory):
    return glob.glob(os.path.join(str(directory), ".tl-*.tmp"))


def test_failed_replace_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "baseline.json"
    target.write_text("OLD")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        fsutil.atomic_write_text(str(target), "NEW" * 1000)
    assert target.read_text() == "OLD"
    assert temps(tmp_path) == []                     # the temporary file was removed


def test_mode_kept_and_symlink_not_followed(tmp_path):
    target = tmp_path / "report.sarif"
    target.write_text("old")
    target.chmod(0o640)
    fsutil.atomic_write_text(str(target), "new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640
    fresh = tmp_path / "fresh.json"
    old_mask = os.umask(0o022)
    try:
        fsutil.atomic_write_text(str(fresh), "{}")
    finally:
        os.umask(old_mask)
    assert fresh.stat().st_mode & 0o777 == 0o644     # like open(), not mkstemp's 0600
    # a link planted in a checked-out tree must not redirect the write outside it
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    link = tmp_path / "tree" / "baseline.json"
    link.parent.mkdir()
    link.symlink_to(outside)
    fsutil.atomic_write_text(str(link), "baseline")
    assert outside.read_text() == "precious"
    assert not link.is_symlink() and link.read_text() == "baseline"


CHILD = r"""
import os, signal, sys
from threadlint import fsutil
target, size = sys.argv[1], int(sys.argv[2])
fsutil.atomic_write_bytes(target, b"A" * size)
print("ready", flush=True)
n = 0
while True:                       # rewrite forever, alternating contents, until killed
    n += 1
    fsutil.atomic_write_bytes(target, (b"B" if n % 2 else b"A") * size)
"""


def test_sigkill_at_random_moments_never_tears_the_file(tmp_path):
    target = tmp_path / "big.sarif"
    size = 8 << 20
    rng = random.Random(8)
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(target), str(size)],
                                stdout=subprocess.PIPE, cwd=REPO, text=True)
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        kills += proc.returncode == -signal.SIGKILL
        data = target.read_bytes()
        assert len(data) == size and data in (b"A" * size, b"B" * size)
    assert kills == 6
    # at most the interrupted temporary files are left beside it, never a torn target
    assert all(os.path.basename(t).startswith(".tl-") for t in temps(tmp_path))


KILL_AT_REPLACE = r"""
import os, signal, sys
victim = os.path.abspath(sys.argv[1])
real_replace = os.replace
def replace(src, dst, **kw):
    if os.path.abspath(dst) == victim:       # the new data is written: die before the rename
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, **kw)
os.replace = replace
from threadlint.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run_killed(victim, argv):
    return subprocess.run([sys.executable, "-c", KILL_AT_REPLACE, str(victim), *argv],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


TREE = {"src/a.c": "int a(void) { return undeclared; }\n", "src/b.c": "int b;\n"}


@pytest.mark.parametrize("what", ["sarif", "json", "baseline"])
def test_killed_run_leaves_the_previous_report_intact(tmp_path, what):
    root, db = make_tree(tmp_path, TREE)
    target = tmp_path / f"out.{what}"
    base = ["check", root, "-p", db, "--profile", "wasi-libc", "--no-cache", "-q"]
    write = (["--write-baseline", str(target)] if what == "baseline"
             else ["--format", what, "-o", str(target)])
    ok = subprocess.run([sys.executable, "-m", "threadlint", *base, *write], cwd=REPO,
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode in (0, 1), ok.stderr
    previous = target.read_bytes()
    json.loads(previous)                                   # a complete document
    with open(os.path.join(root, "src/b.c"), "a") as fh:   # the next run has more to say
        fh.write("int c(void) { return also_undeclared; }\n")
    killed = run_killed(target, base + write)
    assert killed.returncode == -signal.SIGKILL
    assert target.read_bytes() == previous


def test_killed_cache_write_keeps_the_old_entry(tmp_path):
    root, db = make_tree(tmp_path, TREE)
    cache_dir = tmp_path / "cache"
    base = ["check", root, "-p", db, "--profile", "wasi-libc", "-q", "--cache-dir", str(cache_dir)]
    subprocess.run([sys.executable, "-m", "threadlint", *base], cwd=REPO, check=False, timeout=300)
    entries = sorted(glob.glob(str(cache_dir / "??" / "*.json")))
    assert len(entries) == 2
    before = {p: open(p, "rb").read() for p in entries}
    with open(os.path.join(root, "src/a.c"), "a") as fh:   # both entries are rewritten next run
        fh.write("int more;\n")
    with open(os.path.join(root, "src/b.c"), "a") as fh:
        fh.write("int more;\n")
    # kill the run when it replaces the first of them
    code = KILL_AT_REPLACE.replace("os.path.abspath(dst) == victim",
                                   "os.path.dirname(os.path.dirname(os.path.abspath(dst))) == victim")
    killed = subprocess.run([sys.executable, "-c", code, str(cache_dir), *base], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    for p, data in before.items():                         # complete entries of the first run
        assert open(p, "rb").read() == data


def _writes_files(call: ast.Call) -> bool:
    """open(..., 'w'/'a'/'x'/'+') or Path.write_text/write_bytes."""
    f = call.func
    if isinstance(f, ast.Attribute) and f.attr in ("write_text", "write_bytes"):
        return True
    if isinstance(f, ast.Name) and f.id == "open" or isinstance(f, ast.Attribute) and f.attr == "open" \
            and isinstance(f.value, ast.Name) and f.value.id in ("io", "builtins"):
        mode = call.args[1] if len(call.args) > 1 else next(
            (k.value for k in call.keywords if k.arg == "mode"), None)
        return isinstance(mode, ast.Constant) and isinstance(mode.value, str) \
            and any(c in mode.value for c in "wax+")
    return False


# Direct writes that are not to regular files we own: docs_gen regenerates the
# repository's own docs (a developer tool, not a run); the report writer writes
# into a device or FIFO given as -o (a rename would replace the node).
ALLOWED = {("fsutil.py", "*"), ("docs_gen.py", "*"), ("check.py", "_write_report")}


def test_threadlint_writes_files_only_atomically():
    offenders = []
    for pkg in ("threadlint", "rules"):
        for path in glob.glob(os.path.join(REPO, pkg, "**", "*.py"), recursive=True):
            name = os.path.basename(path)
            if (name, "*") in ALLOWED:
                continue
            with open(path, encoding="utf-8") as fh:
                tree = ast.parse(fh.read(), path)
            for fn in [tree] + [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
                if (name, getattr(fn, "name", "")) in ALLOWED:
                    continue
                body = fn.body if fn is not tree else [n for n in tree.body
                                                       if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
                offenders += [f"{os.path.relpath(path, REPO)}:{n.lineno}" for stmt in body
                              for n in _walk_no_defs(stmt)
                              if isinstance(n, ast.Call) and _writes_files(n)]
    assert sorted(set(offenders)) == []


def _walk_no_defs(node):
    """ast.walk that does not descend into nested functions (visited on their own)."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _walk_no_defs(child)


def test_writes_into_devices_in_place(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    fsutil.atomic_write_text(str(fifo), "through the pipe\n")
    assert reader.communicate(timeout=30)[0] == b"through the pipe\n"
    assert fifo.is_fifo()                                   # not replaced by a regular file
    fsutil.atomic_write_text(os.devnull, "discarded")
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)
