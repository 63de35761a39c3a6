"""The previous run's result, reused when none of its inputs changed.

The fact cache makes a warm run skip libclang, but the whole-program rules
still need every TU's facts decoded and the call graph rebuilt: a second or
so on a libc.  When *nothing* the run depends on has changed since the last
run with the same settings, its findings cannot differ either (the analysis
is deterministic; ``tests/test_determinism.py``), so this memo hands them back
after a stat of each input, as ``make`` would.  Any change at all (one byte in
one header, a new file in the tree) misses, and the run goes through the fact
cache and re-runs every rule as usual.

Key (must be equal): the tool and rule-pack code, the libclang version, the
source root, the configurations (name and database path), the selected rules,
the profile's content and the analysis settings.

Inputs (stat must be equal, as (mtime_ns, size)):

* every file of the source tree (the same walk as the rules' file tree, so a
  file added or removed anywhere also misses);
* every other file the run read: compile databases, included headers (C and
  assembly), the configuration and profile files, outside the source root or
  under it in a directory the tree walk skips (a build directory's generated
  headers, ``.git``).

Racy stats are handled as in the fact cache: an input modified within
``RACY_NS`` before the run (or during it) is recorded as untrusted, so the
next run misses and refreshes the memo.  Results of runs where a TU crashed
or timed out are never stored (the next run should retry those TUs).  The
filters (suppressions, baseline, ``--diff-base``) are applied after the memo,
on every run, because they depend on things outside it (git state, the
baseline file).

The memo is one checksummed JSON file per key under the cache directory,
written atomically; a corrupt file is a miss.
"""
from __future__ import annotations

import json
import os
import time

from threadlint import jsonio
from threadlint.cache import hash_bytes, read_record, recorded_stat, write_record
from threadlint.finding import finding_from_dict
from threadlint.result import ConfigInfo, RuleMeta, RunResult

MEMO_FORMAT = 1


def code_fingerprint() -> str:
    """Stat of the engine's and the rule pack's Python files: an edited rule in
    an editable install invalidates memoised results (a wheel's version would
    not change)."""
    import threadlint
    import threadlint_rules
    parts = []
    for pkg in (threadlint, threadlint_rules):
        base = os.path.dirname(os.path.abspath(pkg.__file__))
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".py", ".toml")):
                    path = os.path.join(dirpath, name)
                    st = os.stat(path)
                    parts.append(f"{path}\0{st.st_mtime_ns}\0{st.st_size}")
    return hash_bytes("\n".join(parts).encode())


def _stat(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


class RunMemo:
    def __init__(self, cache_dir: str, root: str, key: dict):
        self.root = root
        self.key = json.dumps(key, sort_keys=True, separators=(",", ":"))
        self.path = os.path.join(cache_dir, "runs", hash_bytes(self.key.encode()) + ".json")
        self.started_ns = time.time_ns()

    # -- lookup ----------------------------------------------------------
    def lookup(self, tree: list[str]) -> RunResult | None:
        """``tree``: the run's listing of root (``inputs.tree_files``)."""
        body = read_record(self.path)
        if body is None:
            return None
        try:
            doc = jsonio.loads(body)
            if doc["key"] != self.key:
                return None
            if tree != doc["tree"]:
                return None
            for rel, st in zip(doc["tree"], doc["tree_stat"]):
                if _stat(os.path.join(self.root, rel)) != st:
                    return None
            for path, st in doc["outside"].items():
                if _stat(path) != st:
                    return None
            return _result_from_dict(doc["result"])
        except (KeyError, TypeError, ValueError):
            return None         # another format or a hand-edited file: a miss

    # -- store -----------------------------------------------------------
    def store(self, result: RunResult, tree: list[str], outside: set[str]) -> None:
        """Record ``result`` with the inputs it was computed from: ``tree``, the
        listing of root the run used, and ``outside``, absolute paths of the
        files it read (those the listing holds are recorded with it)."""
        listed = [os.path.join(self.root, rel) for rel in tree]
        tree_stat = [self._recorded(path) for path in listed]
        # what the listing does not hold: outside the root, or under it in a
        # directory the listing skips (a build directory's generated headers)
        listed_set = set(listed)
        outside_stat = {p: self._recorded(p) for p in sorted(outside) if p not in listed_set}
        if any(st is None for st in tree_stat) or any(st is None for st in outside_stat.values()):
            return                  # changed or vanished during the run
        write_record(self.path, jsonio.dumps({
            "key": self.key, "tree": tree, "tree_stat": tree_stat, "outside": outside_stat,
            "result": _result_to_dict(result)}))

    def _recorded(self, path: str):
        st = _stat(path)
        return None if st is None else recorded_stat(st, self.started_ns)


def _result_to_dict(r: RunResult) -> dict:
    return {"tool_version": r.tool_version, "libclang_version": r.libclang_version,
            "profile_name": r.profile_name, "configs": [c.to_dict() for c in r.configs],
            "rules": [[m.id, m.name, m.summary, m.severity, m.precision, m.doc] for m in r.rules],
            "findings": [f.to_dict() for f in r.findings], "notes": list(r.notes),
            "sources": list(r.sources)}


def _result_from_dict(d: dict) -> RunResult:
    return RunResult(tool_version=d["tool_version"], libclang_version=d["libclang_version"],
                     root="", profile_name=d["profile_name"],
                     configs=[ConfigInfo(**c) for c in d["configs"]],
                     rules=[RuleMeta(*m) for m in d["rules"]],
                     findings=[finding_from_dict(f) for f in d["findings"]],
                     notes=list(d["notes"]), sources=list(d["sources"]))
