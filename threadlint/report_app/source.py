"""Reading the analysed sources for display, and turning locations into code snippets."""
from __future__ import annotations

import os
import re

from rich.syntax import Syntax
from rich.text import Text

from threadlint.finding import Location

_LEXERS = {".c": "c", ".h": "c", ".S": "gas", ".s": "gas", ".cc": "cpp", ".cpp": "cpp",
           ".hpp": "cpp", ".inc": "c", ".def": "c"}
_WORD = re.compile(r"\w+")
TAB = 8
# One flat colour over the span: 'reverse' would invert each token's own colours into a patchwork.
SPAN_STYLE = "bold #272822 on #e6db74"


def decode_source(data: bytes) -> tuple[str, str]:
    """C sources are UTF-8 or some 8-bit legacy encoding; latin-1 never fails to decode."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def lexer_for(path: str) -> str:
    return _LEXERS.get(os.path.splitext(path)[1], "c")


class SourceCache:
    """Lines of the sources under ``root``, read once (the detail pane re-reads on every cursor move)."""

    def __init__(self, root: str):
        self.root = root
        self._files: dict[str, tuple[list[str], str] | None] = {}

    def abspath(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(self.root, path)

    def get(self, path: str) -> tuple[list[str], str] | None:
        """(lines without their endings, encoding), or None if the file cannot be read."""
        if path not in self._files:
            try:
                with open(self.abspath(path), "rb") as fh:
                    text, enc = decode_source(fh.read())
            except OSError:
                self._files[path] = None
            else:
                # Compilers count lines at '\n'; splitlines() would also split at '\f', '\x1c'...
                lines = text.split("\n")
                if lines[-1] == "":
                    lines.pop()             # the final newline ends the last line, it starts none
                self._files[path] = ([ln.rstrip("\r") for ln in lines], enc)
        return self._files[path]

    def line(self, path: str, line: int) -> str:
        got = self.get(path)
        if got is None or not (1 <= line <= len(got[0])):
            return ""
        return got[0][line - 1]

    def invalidate(self, path: str | None = None) -> None:
        if path is None:
            self._files.clear()
        else:
            self._files.pop(path, None)


def char_col(line_text: str, byte_col: int, encoding: str) -> int:
    """libclang columns count bytes; convert a 1-based byte column to a 0-based character index."""
    if byte_col <= 1:
        return 0
    if line_text.isascii():
        return byte_col - 1
    raw = line_text.encode(encoding, "replace")
    return len(raw[:byte_col - 1].decode(encoding, "ignore"))


def span(lines: list[str], loc: Location, encoding: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """The (line, 0-based column) range to highlight; one word when the end is unknown."""
    text = lines[loc.line - 1] if loc.line <= len(lines) else ""
    start = char_col(text, loc.col, encoding)
    if loc.end_line >= loc.line and loc.end_col > 0:
        end_text = lines[loc.end_line - 1] if loc.end_line <= len(lines) else ""
        end = (loc.end_line, char_col(end_text, loc.end_col, encoding))
        if end > (loc.line, start):
            return (loc.line, start), end
    word = _WORD.match(text, start)
    return (loc.line, start), (loc.line, word.end() if word else min(start + 1, len(text)))


def snippet(cache: SourceCache, loc: Location, context: int | tuple[int, int] = 3, *, theme: str = "monokai",
            max_lines: int = 40, line_numbers: bool = True, background: str | None = None):
    """A rich Syntax of the lines around ``loc`` with the location's span highlighted.

    Only the window is handed to the lexer: highlighting whole files on every
    cursor move would be the slowest thing in the browser.
    """
    got = cache.get(loc.path)
    if got is None:
        return Text(f"(source not available: {cache.abspath(loc.path)})", style="dim italic")
    lines, enc = got
    if not 1 <= loc.line <= len(lines):
        return Text(f"(line {loc.line} is past the end of {loc.path}; has the file changed?)",
                    style="dim italic")
    before, after = context if isinstance(context, tuple) else (context, context)
    last = max(loc.line, min(loc.end_line or loc.line, len(lines)))
    first = max(1, loc.line - before)
    stop = min(len(lines), last + after, first + max_lines - 1)
    # Tabs are expanded here rather than by rich so that rich measures the
    # code right and the highlighted span lands on the right cells.
    code = "\n".join(ln.expandtabs(TAB) for ln in lines[first - 1:stop])
    syntax = Syntax(code, lexer_for(loc.path), theme=theme, line_numbers=line_numbers,
                    start_line=first, highlight_lines=set(range(loc.line, min(last, stop) + 1)),
                    word_wrap=False, tab_size=TAB, background_color=background)
    (sl, sc), (el, ec) = span(lines, loc, enc)
    sc = len(lines[sl - 1][:sc].expandtabs(TAB))
    ec = len(lines[el - 1][:ec].expandtabs(TAB)) if el <= len(lines) else ec
    # stylize_range counts lines from the start of the snippet, not of the file.
    syntax.stylize_range(SPAN_STYLE, (sl - first + 1, sc), (min(el, stop) - first + 1, ec))
    return syntax
