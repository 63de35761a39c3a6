"""Textual CSS of the browser (a Python string, so no package data is needed)."""

CSS = """
#topbar { height: 1; background: $panel; padding: 0 1; }
#filter-bar { height: 1; background: $surface; }
#filter-key { width: 3; padding: 0 1; color: $text-muted; }
#filter { height: 1; border: none; padding: 0 1 0 0; background: $surface; }
#filter:focus { background: $boost; }
#main { height: 1fr; }
#findings { border: round $primary 40%; border-title-align: left; scrollbar-size-vertical: 1; }
#findings:focus { border: round $accent; }
#detail { border: round $primary 40%; padding: 0 1; }
#detail:focus-within { border: round $accent 70%; }
#findings { overflow-x: hidden; }
#meta { height: auto; max-height: 5; }
#locations { height: auto; max-height: 8; margin-top: 1; overflow-x: hidden; scrollbar-size-vertical: 1; }
#code-title { height: 1; margin-top: 1; color: $text-muted; }
#code { height: 1fr; min-height: 3; }

/* 80x24 has no row to spare: no boxes, one separator line above the detail. */
Screen.-narrow #main { layout: vertical; }
Screen.-narrow #findings { height: 35%; min-height: 4; border: none; }
Screen.-narrow #detail { height: 1fr; border: none; border-top: solid $primary 60%; padding: 0 0; }
Screen.-narrow #detail:focus-within { border-top: solid $accent; }
Screen.-narrow #meta { max-height: 3; }
Screen.-narrow #locations { margin-top: 0; max-height: 4; }
Screen.-narrow #code-title { margin-top: 0; }
Screen.-wide #main { layout: horizontal; }
Screen.-wide #findings { width: 45%; }
Screen.-wide #detail { width: 1fr; }

#detail.-maximized #meta { max-height: 8; }
#detail.-maximized #locations { max-height: 12; }

/* dialogs */
ModalScreen { align: center middle; background: $background 60%; }
#dialog { width: 76; max-width: 100%; height: auto; max-height: 90%; border: round $accent;
          padding: 0 1; background: $surface; border-subtitle-color: $text-muted; }
#dialog.explain { height: 90%; width: 100; }
#dialog Input { margin: 1 0 0 0; }
#error { height: auto; }
#filter-help { margin-top: 1; }
"""
