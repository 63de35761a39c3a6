"""Regenerates the screenshots in docs/img/ (run: python tests/report_fixtures/make_screenshots.py).

Each scene drives the real browser headless on a copy of this fixture tree
and saves what the terminal shows with ``App.save_screenshot()``.
"""
import asyncio
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)
from threadlint.report_app.app import ReportApp  # noqa: E402
from threadlint.report_app.model import load_report  # noqa: E402

OUT = os.path.join(REPO, "docs", "img")
CHAIN_STEP = ["down", "down", "tab", "down", "down", "down", "down", "down"]
SCENES = [
    # (file, terminal size, keys)
    ("report-main.svg", (80, 24), []),
    ("report-chain.svg", (80, 24), CHAIN_STEP),
    ("report-filter.svg", (80, 24), ["g", "slash", *"-sev:note", "enter"]),
    ("report-help.svg", (80, 24), ["question_mark"]),
    ("report-suppress.svg", (80, 24), ["s", *"owner releases it"]),
    ("report-suppressed.svg", (80, 24), ["s", *"owner releases it", "enter"]),
    ("report-wide.svg", (140, 40), ["down", "down"]),
]


async def shoot(name, size, keys, report):
    app = ReportApp(load_report(report), baseline_path="threadlint-baseline.json")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause(0.3)
        app.save_screenshot(name, OUT)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, size, keys in SCENES:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(HERE, os.path.join(tmp, "fx"))   # the suppress scene edits a source
            asyncio.run(shoot(name, size, keys, os.path.join(tmp, "fx", "report.json")))
        print(os.path.join("docs", "img", name))


if __name__ == "__main__":
    main()
