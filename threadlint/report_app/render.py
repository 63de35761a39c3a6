"""Rich renderables shared by the browser and the static (non-TTY) report."""
from __future__ import annotations

from rich.text import Text

from threadlint.finding import Finding, Location

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}
SEVERITY_LETTER = {"error": "E", "warning": "W", "note": "N"}


def loc_str(loc: Location) -> str:
    return f"{loc.path}:{loc.line}:{loc.col}"


def severity_text(sev: str, short: bool = False) -> Text:
    return Text(SEVERITY_LETTER.get(sev, "?") if short else sev, style=SEVERITY_STYLE.get(sev, ""))


def short_path(path: str, width: int = 36) -> str:
    """Keep the file name and as much of its directory as fits: the list is narrow at 80 columns."""
    if len(path) <= width:
        return path
    parts = path.split("/")
    kept = parts[-1]
    for part in reversed(parts[:-1]):
        if len(part) + len(kept) + 3 > width:
            break
        kept = f"{part}/{kept}"
    return "…/" + kept


def finding_label(f: Finding, grouping: str, status: frozenset[str] = frozenset()) -> Text:
    """One line in the findings list; drops whatever the group heading already says."""
    t = Text.assemble(severity_text(f.severity, short=True), " ")
    if grouping != "rule":
        t.append(f.rule + " ", style="bold")
    where = f":{f.location.line}" if grouping == "file" else f"{short_path(f.location.path)}:{f.location.line}"
    t.append(where, style="underline" if not status else "")
    t.append(" ")
    # Before the message, or an 80-column list would crop it away.
    for s in sorted(status):
        t.append(f"[{s}] ", style="italic green")
    t.append(f.message, style="dim" if status else "")
    return t


def group_label(key: str, count: int, grouping: str, rule_name: str = "") -> Text:
    t = Text(key, style="bold")
    if grouping == "rule" and rule_name:
        t.append(f" {rule_name}")
    t.append(f"  ({count})", style="dim")
    return t


def chain_text(chain) -> str:
    return " → ".join(f"{r.function}()" if r.function else (r.label or loc_str(r.location))
                      for r in chain)
