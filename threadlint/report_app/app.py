"""The full-screen report browser."""
from __future__ import annotations

import os
import subprocess

from rich.text import Text
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from threadlint.finding import Finding, Location
from threadlint.report_app import actions
from threadlint.report_app.model import ReportData
from threadlint.report_app.query import (GROUPINGS, SORTS, Query, filter_indices, group_indices,
                                         parse_query, severity_counts, sort_indices)
from threadlint.report_app.render import finding_label, group_label, loc_str
from threadlint.report_app.screens import ExplainScreen, HelpScreen, PromptScreen
from threadlint.report_app.source import SourceCache
from threadlint.report_app.styles import CSS
from threadlint.report_app.widgets import CodeView, DetailPane, FindingsTree, LocationsTree

FILTER_DELAY = 0.15      # seconds of typing pause before the list is rebuilt
FINDING_ACTIONS = {"edit", "suppress", "baseline", "explain", "cycle_group", "cycle_sort",
                   "focus_filter", "zoom", "help"}


class ReportApp(App[int]):
    TITLE = "threadlint report"
    CSS = CSS
    ENABLE_COMMAND_PALETTE = False
    # Below 120 columns the list sits above the detail pane, so 80x24 stays usable.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("g", "cycle_group", "Group"),
        Binding("o", "cycle_sort", "Sort"),
        Binding("e", "edit", "Edit"),
        Binding("s", "suppress", "Suppress"),
        Binding("b", "baseline", "Baseline"),
        Binding("x", "explain", "Explain"),
        Binding("z", "zoom", "Zoom", show=False),
    ]

    def __init__(self, data: ReportData, *, baseline_path: str | None = None,
                 grouping: str = "rule", sort: str = "severity", query: str = ""):
        super().__init__()
        self.data = data
        self.findings: list[Finding] = list(data.findings)   # lines move when we insert comments
        self.statuses: dict[int, frozenset[str]] = {}
        self.baseline_path = baseline_path or os.path.join(data.root, actions.DEFAULT_BASELINE)
        self.grouping, self.sort = grouping, sort
        self.query_text = query
        self.filter: Query = parse_query(query)
        self.visible_indices: list[int] = []
        self.current: int | None = None            # index of the finding in the detail pane
        self.shown_location: Location | None = None
        self.cache = SourceCache(data.root)
        self._filter_timer: Timer | None = None

    # --- layout -----------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="topbar")
        with Horizontal(id="filter-bar"):
            yield Static("/", id="filter-key")
            yield Input(self.query_text, placeholder="filter: rule:TL102 sev:error path:src/ config:x86 text",
                        id="filter")
        with Container(id="main"):
            yield FindingsTree(id="findings")
            yield DetailPane(id="detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.refresh_list()
        self.query_one(FindingsTree).focus()

    @property
    def findings_tree(self) -> FindingsTree:
        return self.query_one(FindingsTree)

    @property
    def detail_pane(self) -> DetailPane:
        return self.query_one(DetailPane)

    # --- the list -----------------------------------------------------------

    def refresh_list(self, *, only_if_changed: bool = False) -> None:
        """Recompute what is visible and rebuild the list, keeping the cursor on the same finding."""
        keep = self.current
        visible = sort_indices(self.findings, filter_indices(self.findings, self.filter, self.statuses), self.sort)
        if only_if_changed and visible == self.visible_indices:
            self.update_topbar()            # e.g. a new filter error; the list itself stands
            return
        self.visible_indices = visible
        tree = self.findings_tree
        tree.clear()
        tree.cursor_line = -1
        target = first = None
        for group in group_indices(self.findings, self.visible_indices, self.grouping, self.sort):
            label = group_label(group.key, len(group), self.grouping, self.data.rule_name(group.key))
            gnode = tree.root.add(label, data=("group", group.key), expand=True)
            for i in group.items:
                node = gnode.add_leaf(finding_label(self.findings[i], self.grouping,
                                                    self.statuses.get(i, frozenset())), data=("finding", i))
                first = first or node
                if i == keep and target is None:
                    target = node
        target = target or first
        if target is not None:
            tree.cursor_line = tree.line_of(target)
            tree.call_after_refresh(tree.scroll_to_node, target, animate=False)
        self.update_topbar()
        self.show_node(target)

    def update_topbar(self) -> None:
        shown, total = len(self.visible_indices), len(self.findings)
        counts = severity_counts(self.findings, self.visible_indices)
        t = Text.assemble(("threadlint ", "bold"), (f"{shown}/{total}", "bold"), " shown ",
                          (f"{counts['error']}E ", "red"), (f"{counts['warning']}W ", "yellow"),
                          (f"{counts['note']}N", "cyan"))
        if self.filter.errors:         # first, or the 80-column bar would crop it away
            t.append("  " + "; ".join(self.filter.errors), style="bold red")
        t.append(f"  group:{self.grouping} sort:{self.sort}  ")
        t.append(self.data.title, style="italic")
        t.truncate(max(self.size.width - 2, 20), overflow="ellipsis")
        self.query_one("#topbar", Static).update(t)

    def show_node(self, node) -> None:
        if node is None or node.data is None:
            self.current = None
            self.shown_location = None
            msg = "No findings match the filter." if self.findings else "No findings in this report."
            self.detail_pane.show_group(Text(msg, style="bold"))
            return
        kind, key = node.data
        if kind == "finding":
            self.show_finding(key)
        else:
            self.show_group(key, [c.data[1] for c in node.children])

    def show_finding(self, i: int) -> None:
        self.current = i
        f = self.findings[i]
        self.detail_pane.show_meta(f, self.data.rule_summary(f.rule), self.statuses.get(i, frozenset()))
        locations = self.detail_pane.query_one(LocationsTree)
        locations.display = True
        locations.show(i, f)
        self.show_location(f.location, "primary")

    def show_group(self, key: str, items: list[int]) -> None:
        self.current = None
        self.shown_location = None
        counts = severity_counts(self.findings, items)
        t = Text.assemble((f"{self.grouping} ", "dim"), (key, "bold"), f"  {len(items)} finding(s): ",
                          ", ".join(f"{n} {sev}" for sev, n in counts.items() if n))
        if self.grouping == "rule":
            t.append(f"\n{self.data.rule_name(key)}: {self.data.rule_summary(key)}", style="italic")
        t.append("\nb: add all findings of this group to the baseline", style="dim")
        self.detail_pane.show_group(t)

    def show_location(self, loc: Location, what: str) -> None:
        self.shown_location = loc
        self.detail_pane.show_code(f"{what}: {loc_str(loc)}", self.cache, loc)

    def on_tree_node_highlighted(self, event: FindingsTree.NodeHighlighted) -> None:
        if isinstance(event.control, FindingsTree):
            self.show_node(event.node)
        elif isinstance(event.control, LocationsTree) and event.node.data is not None:
            index, what, loc = event.node.data
            if index == self.current:
                self.show_location(loc, what)

    # --- filter, grouping, sorting -----------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter":
            return
        # Debounced: typing "rule:TL102" must not rebuild the list ten times.
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, lambda: self.apply_filter(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.apply_filter(event.value)
            self.findings_tree.focus()

    def apply_filter(self, text: str) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        if text == self.query_text:
            return
        self.query_text = text
        self.filter = parse_query(text)
        self.refresh_list(only_if_changed=True)

    def on_key(self, event) -> None:
        if event.key == "escape" and self.focused is self.query_one("#filter", Input):
            self.apply_filter(self.query_one("#filter", Input).value)
            self.findings_tree.focus()
            event.stop()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_cycle_group(self) -> None:
        self.grouping = GROUPINGS[(GROUPINGS.index(self.grouping) + 1) % len(GROUPINGS)]
        self.refresh_list()

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.refresh_list()

    def action_zoom(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        if self.current is None:
            return                  # a group has no code to zoom into
        self.screen.maximize(self.detail_pane, container=False)
        # Focus must be inside what is visible, or Textual moves it somewhere arbitrary.
        locations = self.query_one(LocationsTree)
        if locations.display:
            locations.focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def check_action(self, action: str, parameters) -> bool | None:
        # While a dialog is open the main screen's keys must not act behind it.
        if action in FINDING_ACTIONS and isinstance(self.screen, ModalScreen):
            return False
        return True

    # --- actions on findings ------------------------------------------------

    def _current_finding(self) -> Finding | None:
        if self.current is None:
            self.notify("Select a finding first.", severity="warning")
            return None
        return self.findings[self.current]

    def action_edit(self) -> None:
        loc = self.shown_location
        if loc is None and self._current_finding() is None:
            return
        loc = loc or self.findings[self.current].location
        cmd = actions.editor_command(actions.editor_from_env(), self.cache.abspath(loc.path), loc.line, loc.col)
        try:
            rc = self._run_in_terminal(cmd)
        except (OSError, SuspendNotSupported) as e:
            self.notify(f"cannot run {cmd[0]}: {getattr(e, 'strerror', None) or e}", severity="error")
            return
        self.cache.invalidate(loc.path)
        if rc != 0:
            self.notify(f"{os.path.basename(cmd[0])} exited with status {rc}", severity="warning")
        self.query_one(CodeView).redraw()

    def _run_in_terminal(self, cmd: list[str]) -> int:
        """Hand the terminal to a child process (headless, under tests, there is none to hand over)."""
        if self.is_headless:
            return subprocess.call(cmd)
        with self.suspend():
            return subprocess.call(cmd)

    def action_suppress(self) -> None:
        f = self._current_finding()
        if f is None:
            return
        i = self.current
        question = Text.assemble("Insert ", (f"threadlint: ignore[{f.rule}] <reason>", "bold"),
                                 f" above {loc_str(f.location)}.\nWhy is this finding not a bug?")
        self.push_screen(PromptScreen("Suppress " + f.rule, question, placeholder="reason",
                                      required="A reason is required."),
                         lambda reason: reason and self.suppress(i, reason))

    def suppress(self, i: int, reason: str) -> None:
        f = self.findings[i]
        path = f.location.path
        try:
            done = actions.suppress_in_file(self.cache.abspath(path), f.location.line, f.rule, reason, f.name)
        except (actions.ActionError, OSError) as e:
            self.notify(str(e), severity="error", timeout=8)
            return
        if done.inserted:
            # Everything at or below the new comment moved down.
            self.findings = [actions.shift_lines(g, path, done.line, done.inserted) for g in self.findings]
        self.cache.invalidate(path)
        line = self.findings[i].location.line
        for j, g in enumerate(self.findings):          # the comment covers the rule on that line
            if g.rule == f.rule and g.location.path == path and g.location.line == line:
                self.statuses[j] = self.statuses.get(j, frozenset()) | {"suppressed"}
        what = "suppressed" if done.written else "was already suppressed"
        self.notify(f"{f.rule} {what} at {path}:{line}")
        self.refresh_list()

    def action_baseline(self) -> None:
        node = self.findings_tree.cursor_node
        if node is None or node.data is None:
            self.notify("Select a finding first.", severity="warning")
            return
        kind, key = node.data
        items = [key] if kind == "finding" else [c.data[1] for c in node.children]
        what = f"{len(items)} finding(s) of {self.grouping} {key}" if kind == "group" else \
            f"{self.findings[key].rule} at {loc_str(self.findings[key].location)}"
        question = Text.assemble("Add ", (what, "bold"), " to this baseline file:")
        self.push_screen(PromptScreen("Add to baseline", question, value=self.baseline_path,
                                      required="A baseline file is required."),
                         lambda path: path and self.add_to_baseline(items, path))

    def add_to_baseline(self, items: list[int], path: str) -> None:
        try:
            actions.add_to_baseline(path, [self.findings[i] for i in items])
        except actions.ActionError as e:
            self.notify(str(e), severity="error", timeout=8)
            return
        self.baseline_path = path
        for i in items:
            self.statuses[i] = self.statuses.get(i, frozenset()) | {"baselined"}
        self.notify(f"{len(items)} finding(s) added to {path}")
        self.refresh_list()

    def action_explain(self) -> None:
        node = self.findings_tree.cursor_node
        rule = None
        if self.current is not None:
            rule = self.findings[self.current].rule
        elif node is not None and node.data and self.grouping == "rule":
            rule = node.data[1]
        if rule is None:
            self.notify("Select a finding first.", severity="warning")
            return
        self.push_screen(ExplainScreen(rule, actions.explain(rule, self.data.rules)))

    def action_quit(self) -> None:
        self.exit(0)
