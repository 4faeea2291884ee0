"""The app in a real browser: it loads, a keyboard nudge of p re-renders the charts, scrubbing
the epoch animation's slider redraws the diagram without a rerun, its keyboard twin steps it from
the keyboard, and no exception box appears.
DROPOUT_VIZ_SCREENSHOTS=1 refreshes the README's screenshot."""

from __future__ import annotations

import json
import os
import re

import pytest
from harness import (
    EXCEPTION,
    REPO,
    animation_title,
    click_epoch_slider,
    fingerprints,
    nudge,
    record_script_states,
    script_states_since,
    slider,
    wait_for_animation_title,
    wait_until_changed,
    wait_until_loaded,
)

pytestmark = pytest.mark.browser

CHARTS = ("animation", "history")


def title(chart: str) -> str:
    """A chart's title as read (Streamlit's theme wraps it in <b> tags in the browser)."""
    return re.sub(r"<[^>]+>", "", json.loads(chart)["title"]["text"])


def panel_titles(chart: str) -> list[str]:
    """The two boundary panels' titles, their lines joined by spaces: the last two
    annotations, after the layer labels."""
    return [re.sub(r"<[^>]+>", "", text.replace("<br>", " "))
            for text in json.loads(chart)["annotations"]][-2:]
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
    assert title(charts["animation"]) == "Thinned network of epoch 150"
    assert panel_titles(charts["animation"])[0].startswith("Thinned network epoch 150 acc")
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
    # The URL is written at the end of the run, which may finish after the charts arrive.
    page.wait_for_function(r"() => /[?&]p_hidden=0\.45(&|$)/.test(location.search)",
                           timeout=60_000)
    assert re.search(r"[?&]p_hidden=0\.45(&|$)", page.url), page.url
    after = fingerprints(page)
    assert all(after[key] != before[key] for key in CHARTS)
    assert title(after["animation"]) == "Thinned network of epoch 150"
    assert page.locator(EXCEPTION).count() == 0


def test_epoch_slider_redraws_the_frame_in_the_browser_without_a_rerun(server, page):
    page.goto(server.url + "?epochs=60")
    wait_until_loaded(page, CHARTS)
    assert animation_title(page) == "Thinned network of epoch 60"
    history_before = fingerprints(page)["history"]
    record_script_states(page)
    started = page.evaluate("() => performance.now()")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    click_epoch_slider(page, 0.0)  # the rail's left end: the first frame

    assert animation_title(page) == "Thinned network of epoch 1"
    gd = page.locator(".st-key-animation .js-plotly-plot")
    layout = gd.evaluate("gd => ({meta: gd.layout.meta, notes: gd.layout.annotations.map("
                         "a => a.text), active: gd.layout.sliders[0].active})")
    assert layout["active"] == 0
    first = layout["meta"]["frames"][0]
    assert first["epoch"] == 1
    assert f"{len(first['dropped'][1])} dropped" in layout["notes"][1]
    assert layout["notes"][-2].startswith("Thinned network<br>epoch 1<br>acc")
    # The crossed-out units drawn are epoch 1's (hover text of the dropped-units trace).
    dropped = gd.evaluate("gd => gd.data.find(t => t.meta && t.meta.role === 'nodes_dropped')"
                          ".hovertext.length")
    drawn_first = sum(sum(i < 15 for i in units) if n > 16 else len(units) for units, n in
                      zip(first["dropped"], layout["meta"]["layer_sizes"], strict=False))
    assert dropped == drawn_first

    click_epoch_slider(page, 1.0)  # and back to the last
    assert animation_title(page) == "Thinned network of epoch 60"
    # No Streamlit rerun and no request to the server: the frames were all in the page.
    assert [state for state, _ in script_states_since(page, started)] == []
    assert page.locator('[data-testid="stApp"]').get_attribute(
        "data-test-script-state") == "notRunning"
    assert requests == []
    assert fingerprints(page)["history"] == history_before
    # Scrubbing changes no setting: the URL and the p slider stay as they were.
    assert "p_hidden" not in page.url
    assert slider(page, "Dropout rate p").get_attribute("aria-valuetext") == "0.50"
    assert page.locator(EXCEPTION).count() == 0


def test_keyboard_twin_steps_the_epoch_view_from_the_keyboard(server, page):
    page.goto(server.url + "?epochs=60")
    wait_until_loaded(page, CHARTS)
    gd = page.locator(".st-key-animation .js-plotly-plot")
    chart = page.locator('.st-key-animation [role="figure"]')  # the chart with its text
    twin = slider(page, "Epoch shown")
    assert twin.get_attribute("aria-valuetext") == "60"
    assert animation_title(page) == "Thinned network of epoch 60"
    assert chart.get_attribute("aria-label").startswith("Thinned network of epoch 60: hidden 1 ")
    epochs = gd.evaluate("gd => gd.layout.meta.epochs")
    history_before = fingerprints(page)["history"]

    # The thumb is in the Tab order; ArrowLeft is the kept epoch before the last.
    assert twin.get_attribute("tabindex") == "0"
    nudge(page, "Epoch shown", "ArrowLeft")
    wait_for_animation_title(page, f"Thinned network of epoch {epochs[-2]}")
    assert twin.get_attribute("aria-valuetext") == str(epochs[-2])
    assert gd.evaluate("gd => gd.layout.sliders[0].active") == len(epochs) - 2

    # Home: the first epoch, its crossed-out units and panel titles, and the accessible name.
    nudge(page, "Epoch shown", "Home")
    wait_for_animation_title(page, "Thinned network of epoch 1")
    layout = gd.evaluate("gd => ({meta: gd.layout.meta, notes: gd.layout.annotations.map("
                         "a => a.text), active: gd.layout.sliders[0].active})")
    assert layout["active"] == 0
    first = layout["meta"]["frames"][0]
    assert layout["notes"][-2].startswith("Thinned network<br>epoch 1<br>acc")
    dropped = gd.evaluate("gd => gd.data.find(t => t.meta && t.meta.role === 'nodes_dropped')"
                          ".x.length")
    assert dropped == sum(sum(i < 15 for i in units) for units in first["dropped"][1:])
    assert chart.get_attribute("aria-label").startswith(
        f"Thinned network of epoch 1: hidden 1 drops {first['n_dropped'][1]} of 64 units")

    # End: back to the last epoch. The view is no setting: the URL and the other charts stay.
    nudge(page, "Epoch shown", "End")
    wait_for_animation_title(page, "Thinned network of epoch 60")
    assert fingerprints(page)["history"] == history_before
    assert "epoch" not in page.url.split("?", 1)[-1].replace("epochs=60", "")
    assert page.locator(EXCEPTION).count() == 0
