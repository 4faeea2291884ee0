"""Screenshots of every tab, normal and projector mode, in headless Chromium.

    python tests/browser/take_screenshots.py [--out DIR] [--readme] [--width W --height H]
                                             [--tabs action,ensemble] [--present]

Writes <tab>.png and <tab>-projector.png into DIR (default: a new temporary folder, printed);
with --present also <tab>-present.png (present=1) and <tab>-present-projector.png; with
--readme also refreshes the README's pictures (assets/screenshot-<tab>.png, normal mode).
Not a test: for looking at what the page shows.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    EXCEPTION,
    REPO,
    StreamlitServer,
    chromium,
    new_page,
    wait_until_loaded,
)

TABS = {"action": ("animation",), "ensemble": ("ensemble_gallery",),
        "experiments": ("twin_boundaries",), "learn": (),
        "handmade": ("handmade_network", "handmade_boundary")}
MODES = {"": "", "-projector": "&projector=1", "-present": "&present=1",
         "-present-projector": "&present=1&projector=1"}  # file suffix: URL flags
README_NAMES = {"action": "action", "ensemble": "ensemble", "experiments": "experiments",
                "learn": "learn", "handmade": "handmade"}


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--readme", action="store_true")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--tabs", default=",".join(TABS))
    parser.add_argument("--present", action="store_true")
    args = parser.parse_args(argv)
    modes = dict(MODES) if args.present else {k: MODES[k] for k in ("", "-projector")}
    out = args.out or Path(tempfile.mkdtemp(prefix="dropout_viz-shots-"))
    out.mkdir(parents=True, exist_ok=True)
    with StreamlitServer() as server, sync_playwright() as playwright, \
            chromium(playwright) as browser:
        for suffix, flags in modes.items():
            for tab in args.tabs.split(","):
                with new_page(browser, args.width, args.height) as page:
                    page.goto(f"{server.url}?tab={tab}{flags}")
                    wait_until_loaded(page, TABS[tab])
                    page.wait_for_timeout(500)  # let Plotly finish its last redraw
                    if page.locator(EXCEPTION).count():
                        print(f"{tab}{suffix}: EXCEPTION on the page")
                    path = out / f"{tab}{suffix}.png"
                    page.screenshot(path=str(path))
                    print(path)
                    if args.readme and not suffix:
                        shutil.copy(path, REPO / "assets" / f"screenshot-{README_NAMES[tab]}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
