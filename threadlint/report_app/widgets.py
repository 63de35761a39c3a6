"""The two trees and the detail pane of the main screen."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, Tree

from threadlint.finding import Finding, Location
from threadlint.report_app.render import loc_str, severity_text
from threadlint.report_app.source import SourceCache, snippet


class FindingsTree(Tree):
    """Group headings (data ``("group", key)``) over findings (data ``("finding", index)``)."""

    BINDINGS = [
        Binding("left", "collapse_or_parent", "Collapse", show=False),
        Binding("right", "expand_node", "Expand", show=False),
    ]

    def __init__(self, **kwargs):
        super().__init__("findings", **kwargs)
        self.show_root = False
        self.guide_depth = 2

    def action_collapse_or_parent(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded:
            node.collapse()
        elif node.parent is not None and not node.parent.is_root:
            self.move_cursor(node.parent)

    def action_expand_node(self) -> None:
        if self.cursor_node is not None and self.cursor_node.allow_expand:
            self.cursor_node.expand()

    def line_of(self, node) -> int:
        """The node's line, building the line cache now if nodes were just added."""
        self._tree_lines          # property with side effect: (re)builds the cache
        return node.line


class LocationsTree(Tree):
    """Primary, related and call-chain locations of one finding.

    Node data is ``(finding index, kind, Location)`` so that a highlight
    arriving late, after the user moved on, can be recognised and ignored.
    """

    def __init__(self, **kwargs):
        super().__init__("locations", **kwargs)
        self.show_root = False
        self.guide_depth = 2

    def show(self, index: int, f: Finding) -> None:
        self.clear()
        where = f" in {f.function}()" if f.function else ""
        self.root.add_leaf(Text.assemble(("primary ", "bold"), loc_str(f.location), where),
                           data=(index, "primary", f.location))
        if f.related:
            rel = self.root.add(Text(f"related ({len(f.related)})", style="bold"), expand=True)
            for r in f.related:
                rel.add_leaf(_step_label(r.label, r.location, r.function),
                             data=(index, "related", r.location))
        if f.chain:
            # Nested, caller first: each step is the child of the call that led to it.
            node = self.root.add(Text(f"call chain ({len(f.chain)} steps)", style="bold"), expand=True)
            for n, r in enumerate(f.chain, 1):
                node = node.add(_step_label(r.label, r.location, r.function),
                                data=(index, f"chain step {n}/{len(f.chain)}", r.location), expand=True)
        self.cursor_line = 0


def _step_label(label: str, loc: Location, function: str | None) -> Text:
    t = Text()
    if function:
        t.append(f"{function}() ", style="bold")
    t.append(label or "")
    t.append(f"  {loc_str(loc)}", style="dim")
    return t


class DetailPane(Vertical):
    ALLOW_MAXIMIZE = True

    def compose(self) -> ComposeResult:
        yield Static(id="meta")
        yield LocationsTree(id="locations")
        yield Static(id="code-title")
        yield CodeView(id="code")

    def show_meta(self, f: Finding, rule_summary: str, status: frozenset[str]) -> None:
        head = Text.assemble(severity_text(f.severity), " ", (f"{f.rule} {f.name}", "bold"))
        if f.confidence != "high":
            head.append(f"  confidence {f.confidence}", style="dim")
        for s in sorted(status):
            head.append(f"  [{s}]", style="italic green")
        head.append("\n")
        head.append(f.message)
        facts = []
        if f.function:
            facts.append(f"in {f.function}()")
        if f.configs:
            facts.append(", ".join(f.configs))
        if facts:
            head.append("\n" + " · ".join(facts), style="dim")
        if rule_summary:
            head.append(f"\n{rule_summary}", style="italic dim")
        self.query_one("#meta", Static).update(head)

    def show_group(self, text: Text) -> None:
        self.query_one("#meta", Static).update(text)
        self.query_one("#code-title", Static).update("")
        self.query_one(CodeView).clear(Text("Enter: collapse or expand this group", style="dim"))
        self.query_one(LocationsTree).display = False

    def show_code(self, title: str, cache: SourceCache, loc: Location) -> None:
        self.query_one("#code-title", Static).update(Text(title, style="bold"))
        self.query_one(CodeView).show(cache, loc)


class CodeView(Static):
    """The code around a location, as many lines as fit (it re-renders when resized or zoomed)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._target: tuple[SourceCache, Location] | None = None

    def show(self, cache: SourceCache, loc: Location) -> None:
        self._target = (cache, loc)
        self._render_code()

    def clear(self, message: Text) -> None:
        self._target = None
        self.update(message)

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Render again (after a resize, or when the file changed on disk)."""
        if self._target is not None:
            self._render_code()

    def _render_code(self) -> None:
        cache, loc = self._target
        height = self.size.height or 7          # before the first layout
        before = max(1, (height - 1) // 2)
        self.update(snippet(cache, loc, (before, max(1, height - 1 - before)), max_lines=max(height, 3)))
