"""threadlint: static analysis for libc threading ports."""

__version__ = "0.1.0"
