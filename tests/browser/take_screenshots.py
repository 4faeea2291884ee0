"""Screenshots of every tab, normal and projector mode, in headless Chromium.

    python tests/browser/take_screenshots.py [--out DIR] [--readme]

Writes <tab>.png and <tab>-projector.png into DIR (default: a new temporary folder, printed);
with --readme also refreshes the README's pictures (assets/screenshot-<tab>.png, normal mode).
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
README_NAMES = {"action": "action", "ensemble": "ensemble", "experiments": "experiments",
                "learn": "learn", "handmade": "handmade"}


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--readme", action="store_true")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="dropout_viz-shots-"))
    out.mkdir(parents=True, exist_ok=True)
    with StreamlitServer() as server, sync_playwright() as playwright, \
            chromium(playwright) as browser:
        for projector in (False, True):
            for tab, charts in TABS.items():
                with new_page(browser, args.width, args.height) as page:
                    query = f"?tab={tab}" + ("&projector=1" if projector else "")
                    page.goto(server.url + query)
                    wait_until_loaded(page, charts)
                    page.wait_for_timeout(500)  # let Plotly finish its last redraw
                    if page.locator(EXCEPTION).count():
                        print(f"{tab}{' projector' if projector else ''}: EXCEPTION on the page")
                    path = out / f"{tab}{'-projector' if projector else ''}.png"
                    page.screenshot(path=str(path))
                    print(path)
                    if args.readme and not projector:
                        shutil.copy(path, REPO / "assets" / f"screenshot-{README_NAMES[tab]}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
