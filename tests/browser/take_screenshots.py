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
import re
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
    wait_for_tab_charts,
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
    parser.add_argument("--query", default="",
                        help="more of the link, e.g. dataset=sine or preset=NAME&step=2")
    args = parser.parse_args(argv)
    modes = dict(MODES) if args.present else {k: MODES[k] for k in ("", "-projector")}
    out = args.out or Path(tempfile.mkdtemp(prefix="dropout_viz-shots-"))
    out.mkdir(parents=True, exist_ok=True)
    with StreamlitServer() as server, sync_playwright() as playwright, \
            chromium(playwright) as browser:
        for suffix, flags in modes.items():
            for tab in args.tabs.split(","):
                with new_page(browser, args.width, args.height) as page:
                    extra = f"&{args.query}" if args.query else ""
                    page.goto(f"{server.url}?tab={tab}{flags}{extra}")
                    if args.query:  # other data, other charts: any chart of the tab will do
                        wait_for_tab_charts(page)
                    else:
                        wait_until_loaded(page, TABS[tab])
                    page.wait_for_timeout(500)  # let Plotly finish its last redraw
                    if page.locator(EXCEPTION).count():
                        print(f"{tab}{suffix}: EXCEPTION on the page")
                    name = re.sub(r"[^A-Za-z0-9]+", "-", args.query).strip("-")
                    path = out / f"{tab}{suffix}{'-' + name if name else ''}.png"
                    page.screenshot(path=str(path))
                    print(path)
                    if args.readme and not suffix:
                        shutil.copy(path, REPO / "assets" / f"screenshot-{README_NAMES[tab]}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
