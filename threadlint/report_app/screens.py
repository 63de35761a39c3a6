"""Modal screens: help, suppression reason, baseline target, rule explanation."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Markdown, Static

KEYS = [
    ("Browse", [
        ("↑↓ PgUp PgDn Home End", "move in the focused list"),
        ("← → Enter Space", "fold / unfold a group or a chain step"),
        ("Tab Shift+Tab", "next / previous pane"),
        ("z", "zoom the detail pane (Esc restores)"),
        ("?", "this help"),
        ("q Ctrl+C", "quit"),
    ]),
    ("Organise", [
        ("/", "filter; Enter or Esc returns to the list"),
        ("g", "group by rule → file → configuration"),
        ("o", "sort by severity → file → rule"),
    ]),
    ("Act", [
        ("e", "open the shown location in $EDITOR"),
        ("s", "suppress with a reason (writes a comment)"),
        ("b", "add to the baseline (on a group: all of it)"),
        ("x", "explain the rule"),
    ]),
]

FILTER_HELP = ("Filter terms, all must hold: rule:TL102,TL1  sev:error  path:src/*.c  "
               "config:aarch64  is:open|suppressed|baselined  free words  -negated")


def help_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for section, rows in KEYS:
        table.add_row(Text(section, style="bold underline"), "")
        for keys, what in rows:
            table.add_row(keys, what)
    return table


class Dialog(ModalScreen):
    """Escape closes every dialog with no result."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(Dialog):
    BINDINGS = [Binding("question_mark,q", "cancel", "Close", show=False)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="help") as box:
            box.border_title = "threadlint report — keys"
            box.border_subtitle = "Esc or ? to close"
            yield Static(help_table())
            yield Static(Text(FILTER_HELP, style="dim"), id="filter-help")


class PromptScreen(Dialog):
    """One line of input; dismisses with the stripped text, or None on Escape."""

    def __init__(self, title: str, question: Text | str, value: str = "", placeholder: str = "",
                 required: str = ""):
        super().__init__()
        self._title, self._question, self._value = title, question, value
        self._placeholder, self._required = placeholder, required

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = self._title
            box.border_subtitle = "Enter to confirm · Esc to cancel"
            yield Static(self._question, id="question")
            yield Input(self._value, placeholder=self._placeholder, id="answer")
            yield Static("", id="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text and self._required:
            self.query_one("#error", Static).update(Text(self._required, style="bold red"))
            return
        self.dismiss(text)


class ExplainScreen(Dialog):
    BINDINGS = [Binding("q,x", "cancel", "Close", show=False)]

    def __init__(self, rule_id: str, markdown: str):
        super().__init__()
        self._rule_id, self._markdown = rule_id, markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="explain") as box:
            box.border_title = f"threadlint explain {self._rule_id}"
            box.border_subtitle = "Esc to close"
            yield Markdown(self._markdown)

    def on_mount(self) -> None:
        self.query_one("#dialog").focus()
