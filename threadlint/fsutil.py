"""Atomic file writes: a reader (or an interrupted run) sees the old file or the new one.

The data goes to a temporary file in the same directory, is flushed to disk,
and replaces the target with one ``rename``; a run killed at any point leaves
the previous file intact (at worst a stray ``.tl-*.tmp`` beside it).
"""
from __future__ import annotations

import os
import stat
import tempfile


def atomic_write_bytes(path: str, data: bytes, mode: int | None = None,
                       durable: bool = True) -> None:
    """``durable=False`` skips the fsyncs: for rebuildable data (cache entries
    carry a checksum) where syncing every write would dominate a cold run."""
    # A symlink at ``path`` is replaced, not written through: a checked-out
    # tree must not be able to redirect our writes to a file outside it.
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    if st is not None and (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        # /dev/null, /dev/stdout, a pipe: a rename would replace the node itself
        with open(path, "wb") as fh:
            fh.write(data)
        return
    if mode is None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode):
            mode = st.st_mode & 0o7777                   # keep an existing file's mode
        else:
            mode = 0o666 & ~_umask()                     # as open() would create it
    fd, tmp = tempfile.mkstemp(prefix=".tl-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        _fsync_dir(directory)


def atomic_write_text(path: str, text: str, encoding: str = "utf-8", newline: str | None = None) -> None:
    if newline:
        text = text.replace("\n", newline)
    atomic_write_bytes(path, text.encode(encoding))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: str) -> None:
    """Make the rename itself durable (best effort; not every filesystem allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
