"""Per-TU fact cache in ``.threadlint_cache/``.

An entry is valid when the libclang version, the adapted arguments, and the
content of the main file and every file it included are unchanged.  Checking
is cheap: each dependency's (mtime_ns, size) is compared first and a file is
hashed only when its stat changed (memoised per run).  Entries are written
atomically (temp file + rename) with a checksum, so a truncated or corrupt
entry is detected and rebuilt, and concurrent runs never see half a file.
"""
from __future__ import annotations

import hashlib
import json
import os

from threadlint.fsutil import atomic_write_bytes

CACHE_FORMAT = 2


def _hash_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _frontend_hash() -> str:
    """Facts depend on the extractor's code: a changed extractor invalidates the cache."""
    frontend = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frontend")
    h = hashlib.blake2b(digest_size=8)
    for name in sorted(os.listdir(frontend)):
        if name.endswith(".py"):
            with open(os.path.join(frontend, name), "rb") as fh:
                h.update(name.encode() + b"\0" + fh.read())
    return h.hexdigest()


class FactCache:
    def __init__(self, directory: str, libclang_version: str, tool_version: str):
        self.dir = directory
        self.salt = f"{CACHE_FORMAT}\0{libclang_version}\0{tool_version}\0{_frontend_hash()}"
        self._hash_memo: dict[str, str | None] = {}
        self._stat_memo: dict[str, tuple | None] = {}
        self.hits = 0
        self.misses = 0
        self.corrupt = 0

    # -- keys ------------------------------------------------------------
    def _entry_path(self, path: str, args) -> str:
        key = _hash_bytes("\0".join([self.salt, path, *args]).encode())
        return os.path.join(self.dir, key[:2], key + ".json")

    def _stat(self, path: str):
        if path not in self._stat_memo:
            try:
                st = os.stat(path)
                self._stat_memo[path] = (st.st_mtime_ns, st.st_size)
            except OSError:
                self._stat_memo[path] = None
        return self._stat_memo[path]

    def _content_hash(self, path: str):
        if path not in self._hash_memo:
            try:
                with open(path, "rb") as fh:
                    self._hash_memo[path] = _hash_bytes(fh.read())
            except OSError:
                self._hash_memo[path] = None
        return self._hash_memo[path]

    # -- API -------------------------------------------------------------
    def get(self, path: str, args) -> dict | None:
        entry_path = self._entry_path(path, args)
        try:
            with open(entry_path, "rb") as fh:
                raw = fh.read()
        except OSError:
            self.misses += 1
            return None
        doc = self._decode(raw)
        if doc is None:
            self.corrupt += 1
            self.misses += 1
            return None
        for dep, (mtime, size, digest) in doc["deps"].items():
            st = self._stat(dep)
            if st is None:
                self.misses += 1
                return None
            if st == (mtime, size):
                continue
            if self._content_hash(dep) != digest:
                self.misses += 1
                return None
        self.hits += 1
        return doc["result"]

    def put(self, path: str, args, result: dict) -> None:
        deps = {}
        for dep in [path] + list(result.get("includes", [])):
            st = self._stat(dep)
            digest = self._content_hash(dep)
            if st is None or digest is None:
                return              # a dependency vanished mid-run: do not cache
            deps[dep] = [st[0], st[1], digest]
        body = json.dumps({"deps": deps, "result": result}, separators=(",", ":")).encode()
        data = _hash_bytes(body).encode() + b"\n" + body
        try:
            atomic_write_bytes(self._entry_path(path, args), data, mode=0o644)
        except OSError:
            pass                    # a read-only cache must not fail the analysis

    @staticmethod
    def _decode(raw: bytes):
        head, sep, body = raw.partition(b"\n")
        if not sep or _hash_bytes(body).encode() != head:
            return None
        try:
            doc = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("deps"), dict) or "result" not in doc:
            return None
        return doc
