"""Error types the CLI maps to exit codes (see docs/usage.md)."""
from __future__ import annotations

import errno


class UsageError(Exception):
    """Bad flag, configuration, profile or input file: exit 2, one line."""

    exit_code = 2


class InternalError(Exception):
    """A bug or environment failure in threadlint itself: exit 3."""

    exit_code = 3


# OS errors that describe the user's environment (a full disk, a read-only or
# forbidden path), not a bug in threadlint: reported like bad input.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR,
                       errno.ENOTDIR, errno.EDQUOT, errno.ENAMETOOLONG, errno.ELOOP}


def as_usage_error(e: BaseException) -> str | None:
    """One-line message when ``e`` reports bad input or environment, else None (a bug)."""
    name = type(e).__name__
    if name == "BaselineError":               # threadlint.baseline; not imported here (cycle)
        return str(e)
    if name == "LibclangError":               # clang.cindex, when a worker loads it first
        return libclang_message(e)
    if isinstance(e, OSError) and e.errno in _ENVIRONMENT_ERRNOS and e.filename:
        return f"{e.filename}: {e.strerror}"
    return None


def libclang_message(e: BaseException, library: str = "") -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    # cindex appends a long hint to the loader's message; keep the loader's part
    first = first.split("To provide the path")[0].strip().rstrip(".")
    where = f" {library}" if library and library not in first else ""
    return (f"cannot load the libclang library{where}: {first} "
            "(reinstall the libclang-ng wheel, or point LIBCLANG_LIBRARY_FILE at libclang.so)")
