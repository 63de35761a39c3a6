"""Lines changed since a git revision, for ``--diff-base REF``.

What counts as changed, relative to the merge base of REF and HEAD (so a
branch is compared with where it forked, as ``git diff REF...`` does, while
uncommitted and staged edits are included because the working tree is the
other side):

* every added or modified line of a tracked file (``git diff -U0``);
* for a pure deletion, the lines just before and after it (removing an unlock
  or a check can create a finding on its neighbour);
* every line of an untracked file that is not ignored (a new file that was not
  ``git add``-ed yet is still new code; build outputs belong in .gitignore).

git runs with an argument list (no shell), without external diff drivers,
textconv or colour, and with fixed ``a/``/``b/`` prefixes whatever the user's
configuration says.
"""
from __future__ import annotations

import os
import re
import subprocess

from threadlint.errors import UsageError

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


class AllLines:
    """Every line of a file (an untracked file)."""

    def __contains__(self, line) -> bool:
        return True

    def __repr__(self) -> str:
        return "AllLines()"


def _git(root: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(var, None)      # set by git hooks; we want the tree that holds root
    try:
        return subprocess.run(["git", "-C", root, *args], capture_output=True, env=env,
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        raise UsageError("--diff-base needs git, which was not found on PATH") from None


def _first_line(proc) -> str:
    err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return err[0] if err else f"exit code {proc.returncode}"


def base_commit(root: str, ref: str) -> tuple[str, str]:
    """(git top-level directory, commit to compare with) for REF."""
    if not ref or ref.startswith("-"):
        raise UsageError(f"--diff-base: {ref!r} is not a git revision")
    top = _git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise UsageError(f"--diff-base: {root} is not inside a git repository")
    toplevel = top.stdout.decode().strip()
    rev = _git(root, "rev-parse", "--verify", "--quiet", ref + "^{commit}")
    if rev.returncode != 0:
        raise UsageError(f"--diff-base: unknown git revision '{ref}' "
                         "(in CI, fetch it first: actions/checkout with fetch-depth: 0)")
    commit = rev.stdout.decode().strip()
    mb = _git(root, "merge-base", commit, "HEAD")
    if mb.returncode == 0 and mb.stdout.strip():
        commit = mb.stdout.decode().strip()
    return toplevel, commit


def changed_lines(root: str, ref: str) -> dict[str, set[int] | AllLines]:
    """Changed lines per file, paths relative to ``root`` ('/' separated)."""
    root = os.path.abspath(root)
    toplevel, commit = base_commit(root, ref)
    proc = _git(toplevel, "-c", "core.quotePath=false", "diff", "-U0", "--no-color",
                "--no-ext-diff", "--no-textconv", "--find-renames", "--ignore-submodules",
                "--src-prefix=a/", "--dst-prefix=b/", commit, "--")
    if proc.returncode != 0:
        raise UsageError(f"--diff-base: git diff failed: {_first_line(proc)}")
    by_top = parse_diff(proc.stdout.decode("utf-8", "surrogateescape"))
    untracked = _git(toplevel, "ls-files", "-z", "--others", "--exclude-standard")
    if untracked.returncode != 0:
        raise UsageError(f"--diff-base: git ls-files failed: {_first_line(untracked)}")
    for name in untracked.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if name:
            by_top[name] = AllLines()
    real_root = os.path.realpath(root)
    out: dict[str, set[int] | AllLines] = {}
    for name, lines in by_top.items():
        rel = os.path.relpath(os.path.join(os.path.realpath(toplevel), name), real_root)
        if not rel.startswith(".." + os.sep) and rel != "..":
            out[rel.replace(os.sep, "/")] = lines
    return out


def parse_diff(text: str) -> dict[str, set[int]]:
    """Changed new-side lines per path from ``git diff -U0`` output."""
    out: dict[str, set[int]] = {}
    current: set[int] | None = None
    for line in text.splitlines():
        if line.startswith("+++ "):
            target = line[4:]
            if target == "/dev/null":
                current = None          # deleted file: nothing to report on
                continue
            name = _unquote(target)
            name = name[2:] if name.startswith("b/") else name
            current = out.setdefault(name, set())
            continue
        if current is None:
            continue
        m = _HUNK.match(line)
        if not m:
            continue
        start = int(m.group(1))
        count = 1 if m.group(2) is None else int(m.group(2))
        if count:
            current.update(range(start, start + count))
        else:
            # pure deletion after new-side line `start`: its neighbours changed
            current.update(n for n in (start, start + 1) if n > 0)
    return out


def _unquote(name: str) -> str:
    """git's C-style quoting of unusual paths ("a\\tb", octal UTF-8 bytes)."""
    if not (len(name) >= 2 and name[0] == '"' and name[-1] == '"'):
        return name
    raw = bytearray()
    body = name[1:-1]
    i = 0
    simple = {"n": 10, "t": 9, '"': 34, "\\": 92, "a": 7, "b": 8, "f": 12, "r": 13, "v": 11}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in simple:
                raw.append(simple[nxt])
                i += 2
                continue
            if re.match(r"[0-7]{3}", body[i + 1:i + 4]):
                raw.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
        raw.extend(ch.encode("utf-8", "surrogateescape"))
        i += 1
    return raw.decode("utf-8", "surrogateescape")
