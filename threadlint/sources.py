"""Lines of source files under a root, each file read once per run."""
from __future__ import annotations

import os


class SourceLines:
    def __init__(self, root: str):
        self.root = root
        self._lines: dict[str, list[str]] = {}

    def lines(self, rel: str) -> list[str]:
        if rel not in self._lines:
            try:
                with open(os.path.join(self.root, rel), encoding="utf-8", errors="replace") as fh:
                    self._lines[rel] = fh.read().splitlines()
            except OSError:
                self._lines[rel] = []
        return self._lines[rel]

    def line(self, rel: str, no: int) -> str:
        """Line ``no`` (1-based), or '' when the file or line does not exist."""
        lines = self.lines(rel)
        return lines[no - 1] if 0 < no <= len(lines) else ""
