"""The app in a real browser: it loads, a keyboard nudge of p re-renders the charts, scrubbing
the epoch updates the diagram, and no exception box appears.
DROPOUT_VIZ_SCREENSHOTS=1 refreshes the README's screenshot."""

from __future__ import annotations

import json
import os
import re

import pytest
from harness import (
    EXCEPTION,
    REPO,
    fingerprints,
    nudge,
    slider,
    wait_until_changed,
    wait_until_loaded,
)

pytestmark = pytest.mark.browser

CHARTS = ("network", "boundary", "history")


def title(chart: str) -> str:
    """A chart's title as read (Streamlit's theme wraps it in <b> tags in the browser)."""
    return re.sub(r"<[^>]+>", "", json.loads(chart)["title"]["text"])


def panel_titles(chart: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", text) for text in json.loads(chart)["annotations"]]
# The README's picture is refreshed only on request, so a test run leaves the tree clean.
README_SCREENSHOT = REPO / "assets" / "screenshot-action.png"


def test_page_loads_with_the_action_tab_and_saves_the_screenshot(server, page, tmp_path):
    page.goto(server.url)
    wait_until_loaded(page, CHARTS)
    assert page.locator(EXCEPTION).count() == 0
    assert page.get_by_role("tab", name="Dropout in action").get_attribute(
        "aria-selected") == "true"
    assert slider(page, "Dropout rate p").get_attribute("aria-valuetext") == "0.50"
    charts = fingerprints(page)
    assert set(charts) == set(CHARTS)
    assert title(charts["network"]) == "Thinned network of epoch 150"
    assert panel_titles(charts["boundary"])[0].startswith("Thinned network, epoch 150 · acc")
    shot = README_SCREENSHOT if os.environ.get("DROPOUT_VIZ_SCREENSHOTS") else tmp_path / "a.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000  # a real picture, not a blank page


def test_keyboard_nudge_of_p_rerenders_the_charts(server, page):
    page.goto(server.url)
    wait_until_loaded(page, CHARTS)
    before = fingerprints(page)

    nudge(page, "Dropout rate p", "ArrowLeft")
    wait_until_changed(page, before)

    assert slider(page, "Dropout rate p").get_attribute("aria-valuetext") == "0.45"
    assert re.search(r"[?&]p_hidden=0\.45(&|$)", page.url), page.url
    after = fingerprints(page)
    assert all(after[key] != before[key] for key in CHARTS)
    assert title(after["network"]) == "Thinned network of epoch 150"
    assert page.locator(EXCEPTION).count() == 0


def test_epoch_slider_updates_the_diagram_only_for_that_epoch(server, page):
    page.goto(server.url + "?epochs=60")
    wait_until_loaded(page, CHARTS)
    before = fingerprints(page)
    epoch = slider(page, "Epoch")
    assert epoch.get_attribute("aria-valuetext") == "60"

    nudge(page, "Epoch", "Home")
    wait_until_changed(page, {"network": before["network"], "boundary": before["boundary"]})

    assert epoch.get_attribute("aria-valuetext") == "1"
    after = fingerprints(page)
    assert title(after["network"]) == "Thinned network of epoch 1"
    assert panel_titles(after["boundary"])[0].startswith("Thinned network, epoch 1 · acc")
    assert json.loads(after["history"])["meta"]["epoch_marker"] == 1
    # Scrubbing changes no setting: the URL and the p slider stay as they were.
    assert "p_hidden" not in page.url
    assert slider(page, "Dropout rate p").get_attribute("aria-valuetext") == "0.50"
    assert page.locator(EXCEPTION).count() == 0
