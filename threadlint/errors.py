"""Error types the CLI maps to exit codes (see docs/usage.md)."""


class UsageError(Exception):
    """Bad flag, configuration, profile or input file: exit 2, one line."""

    exit_code = 2


class InternalError(Exception):
    """A bug or environment failure in threadlint itself: exit 3."""

    exit_code = 3
