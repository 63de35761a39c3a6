"""Per-TU fact cache in ``.threadlint_cache/``.

An entry is valid when the libclang version, the threadlint version, the
fact extractor's code, the adapted arguments, and the content of the main file
and every file it included are unchanged.  Checking is cheap: each
dependency's (mtime_ns, size) is compared first and a file is hashed only when
its stat changed (memoised per run).

Robustness:

* Entries are written to a temporary file and renamed into place, so a reader
  (another run, or this one after a crash) sees the old entry or the new one.
  Two concurrent runs may both write an entry; the last rename wins and both
  versions are valid.
* Every entry starts with a checksum (CRC-32) of its body: a truncated,
  garbled or half-synced entry is detected, counted in ``corrupt`` and rebuilt.
* Racy stats (git's "racily clean" problem): a file modified within
  ``RACY_NS`` of the run's start may be modified again without its mtime
  moving, so its stat is not recorded as trustworthy and it is hashed on
  every later check.  A file modified after the run started is never cached
  from this run: its parsed content may differ from the content hashed now.
* After a content match with a changed stat (``git checkout``, ``touch``) the
  entry is rewritten with the new stat so later runs are stat-only again.

The object is per run: stats are memoised and never re-read.

Speed: a warm run decodes every entry's head (the result without function
bodies, ``frontend.summary``); the bodies (85% of the bytes, millions of
small objects in all) are decoded when a rule looks into that TU.  CPython's
cyclic GC would rescan that growing, acyclic heap again and again (measured:
3/4 of the decode time), so each decoded head is moved to the GC's permanent
generation (``gc.freeze``).
Reference counting still frees everything; only cycles among objects that
existed before the freeze are no longer collected, which a one-shot run does
not need.  An entry keeps its dependency list, its result's head and the
bodies on separate lines: ``lookup`` decodes only the first, so the engine
can start the workers on the misses first and decode the hits while they parse.
"""
from __future__ import annotations

import gc
import hashlib
import os
import time
import zlib

from threadlint import jsonio
from threadlint.frontend import summary
from threadlint.fsutil import atomic_write_bytes

CACHE_FORMAT = 6
RACY_NS = 2_000_000_000          # coarse-mtime filesystems (FAT: 2 s) included
UNTRUSTED_MTIME = -1             # stored for racy files: never equals a real mtime
_UNSEEN = object()
_GITIGNORE = "# created by threadlint: the fact cache is not source\n*\n"
_CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                 "# This file is a cache directory tag created by threadlint.\n")


def hash_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def checksum(body: bytes) -> bytes:
    """The integrity check of a record: CRC-32, as zip and PNG use, detects
    truncation, torn writes and flipped bits; nothing here needs a
    cryptographic hash (keys and file identities use ``hash_bytes``), and it
    is 5x faster than blake2b over the 14 MB a warm run reads."""
    return b"%08x" % zlib.crc32(body)


def source_hash(paths) -> str:
    """Hash of the names and contents of code files: keys of what that code
    computed (facts, parsed databases) change when the code does."""
    h = hashlib.blake2b(digest_size=8)
    for path in paths:
        with open(path, "rb") as fh:
            h.update(os.path.basename(path).encode() + b"\0" + fh.read())
    return h.hexdigest()


def _frontend_hash() -> str:
    """Facts depend on the extractor's code: a changed extractor invalidates the cache."""
    frontend = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frontend")
    return source_hash(os.path.join(frontend, n) for n in sorted(os.listdir(frontend)) if n.endswith(".py"))


class FactCache:
    def __init__(self, directory: str, libclang_version: str, tool_version: str):
        self.dir = directory
        self.salt = f"{CACHE_FORMAT}\0{libclang_version}\0{tool_version}\0{_frontend_hash()}"
        # Wall clock, as file mtimes are: anything modified after this may differ
        # from what this run parsed.
        self.started_ns = time.time_ns()
        self._hash_memo: dict[str, str | None] = {}
        self._stat_memo: dict[str, tuple | None] = {}
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self.missed: list[str] = []        # main files that had to be (re)parsed
        self._prepared = False

    # -- keys ------------------------------------------------------------
    def _entry_path(self, path: str, args) -> str:
        key = hash_bytes("\0".join([self.salt, path, *args]).encode())
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
                    self._hash_memo[path] = hash_bytes(fh.read())
            except OSError:
                self._hash_memo[path] = None
        return self._hash_memo[path]

    # -- API -------------------------------------------------------------
    def get(self, path: str, args) -> dict | None:
        """The cached parse result of ``path`` with ``args``, bodies included, or
        None (a miss)."""
        entry = self.lookup(path, args)
        if entry is None:
            return None
        result = summary.decode(entry.raw)
        if result is None:
            self.hits -= 1
            self.corrupt += 1
            return self._miss(path)
        return result

    def lookup(self, path: str, args) -> "Entry | None":
        """A valid entry for ``path`` with ``args`` (its result still encoded), or
        None (a miss).  Cheap: only the dependency list is decoded, so the engine
        can start parsing the misses before it decodes the hits."""
        entry_path = self._entry_path(path, args)
        try:
            with open(entry_path, "rb") as fh:
                raw = fh.read()
        except OSError:
            return self._miss(path)
        parts = _split(raw)
        if parts is None:
            self.corrupt += 1
            return self._miss(path)
        deps, result_raw = parts
        stat_of = self._stat_memo.get          # ~30k dependencies per warm run: no call per stat
        refreshed = False
        try:
            for dep, (mtime, size, digest) in deps.items():
                st = stat_of(dep, _UNSEEN)
                if st is _UNSEEN:
                    st = self._stat(dep)
                if st == (mtime, size):
                    continue
                if st is None or st[1] != size or self._content_hash(dep) != digest:
                    return self._miss(path)
                refreshed = True
        except (TypeError, ValueError):        # checksummed, but not a list of [mtime, size, hash]
            self.corrupt += 1
            return self._miss(path)
        self.hits += 1
        if refreshed:           # same content, new stat: store it (no extra hashing)
            self._write(path, args, list(deps), result_raw, {d: v[2] for d, v in deps.items()})
        return Entry(result_raw, list(deps))

    def put(self, path: str, args, result: dict, raw: bytes | None = None) -> None:
        """``raw``: ``result`` already encoded (``frontend.summary.encode``, by the
        worker), stored as is."""
        self._write(path, args, [path] + list(result.get("includes", [])),
                    raw if raw is not None else summary.encode(result))

    def get_value(self, kind: str, key) -> object | None:
        """A value stored with ``put_value`` under the same kind and key (a
        JSON-able list), for results that depend on nothing but the key and
        libclang (e.g. a configuration's predefined macros)."""
        body = read_record(self._value_path(kind, key))
        try:
            return None if body is None else jsonio.loads(body)
        except jsonio.DecodeError:
            return None

    def put_value(self, kind: str, key, value) -> None:
        try:
            self._prepare()
        except OSError:
            return
        write_record(self._value_path(kind, key), jsonio.dumps(value))

    def _value_path(self, kind: str, key) -> str:
        digest = hash_bytes(self.salt.encode() + b"\0" + kind.encode() + b"\0" + jsonio.dumps(key))
        return os.path.join(self.dir, "values", digest + ".json")

    # -- internals -------------------------------------------------------
    def _miss(self, path: str):
        self.misses += 1
        self.missed.append(path)
        return None

    def _write(self, path: str, args, dep_paths: list[str], result_raw: bytes,
               known: dict | None = None) -> None:
        deps = {}
        for dep in dep_paths:
            st = self._stat(dep)
            digest = known[dep] if known and dep in known else self._content_hash(dep)
            if st is None or digest is None or _fresh_stat(dep) != st:
                return              # vanished or changed mid-run: what was parsed is unknown
            recorded = recorded_stat(st, self.started_ns)
            if recorded is None:
                return              # modified after the run started: same reason
            deps[dep] = [*recorded, digest]
        try:
            self._prepare()
        except OSError:
            return                  # a read-only or full cache must not fail the analysis
        write_record(self._entry_path(path, args), jsonio.dumps(deps) + b"\n" + result_raw)

    def _prepare(self) -> None:
        """Create the directory with a .gitignore (so the cache never shows up in
        ``git status`` or a commit) and a CACHEDIR.TAG (so backups skip it)."""
        if self._prepared:
            return
        os.makedirs(self.dir, exist_ok=True)
        for name, text in ((".gitignore", _GITIGNORE), ("CACHEDIR.TAG", _CACHEDIR_TAG)):
            target = os.path.join(self.dir, name)
            if not os.path.exists(target):
                atomic_write_bytes(target, text.encode(), mode=0o644, durable=False)
        self._prepared = True


class Entry:
    """A valid cache entry whose parse result is still encoded."""

    __slots__ = ("raw", "deps")

    def __init__(self, raw: bytes, deps: list[str]):
        self.raw = raw
        self.deps = deps            # the main file and every file it included

    def load(self) -> tuple[dict, bytes] | None:
        """(the parse result without its function bodies, the encoded bodies)
        (``frontend.summary.split``), or None when it does not decode (a miss
        for the caller)."""
        return _split_frozen(self.raw)


def _split_frozen(raw: bytes):
    """Decode without cyclic-GC passes over the result (see the module doc)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return summary.split(raw)
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


def recorded_stat(st, started_ns: int) -> list[int] | None:
    """``[mtime_ns, size]`` as a cache records it: None when the file changed
    after the run started (what the run read is unknown), and an untrusted
    mtime when it changed within ``RACY_NS`` before (see the module doc)."""
    mtime, size = st
    if mtime > started_ns:
        return None
    return [UNTRUSTED_MTIME if mtime > started_ns - RACY_NS else mtime, size]


def write_record(path: str, body: bytes) -> None:
    """Write ``body`` behind its checksum, atomically; errors are ignored (the
    caches and memos are rebuildable, and a read-only one must not fail a run)."""
    try:
        atomic_write_bytes(path, checksum(body) + b"\n" + body, mode=0o644,
                           durable=False)
    except OSError:
        pass


def read_record(path: str) -> bytes | None:
    """The body of a record written by ``write_record``, or None when it is
    missing or damaged."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    return _checked_body(raw)


def _checked_body(raw: bytes) -> bytes | None:
    head, sep, body = raw.partition(b"\n")
    return body if sep and checksum(body) == head else None


def _split(raw: bytes):
    """(deps, encoded result) of a checksummed entry, or None when it is damaged."""
    body = _checked_body(raw)
    if body is None:
        return None
    deps_raw, sep, result_raw = body.partition(b"\n")
    if not sep:
        return None
    try:
        deps = jsonio.loads(deps_raw)
    except jsonio.DecodeError:
        return None
    if not isinstance(deps, dict):
        return None
    return deps, result_raw     # each dependency's shape is checked where it is read


def _decode(raw: bytes):
    """The whole entry as ``{"deps", "result"}``, or None when it is damaged."""
    parts = _split(raw)
    result = summary.decode(parts[1]) if parts is not None else None
    return None if result is None else {"deps": parts[0], "result": result}


def _fresh_stat(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
