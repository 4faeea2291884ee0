"""The first tab's charts (ui/live_chart.py) in Chromium: a p move redraws each of them once, in
the graph it already has (no new chart, no second draw); a rerun that changes neither draws
nothing, nor does one whose picture the page already showed by itself (a held p); the graph
says what it shows (role figure, aria-label); it fills the projector's one-screen box; and its
Fullscreen button fills the screen with it until closed (from the keyboard too)."""

from __future__ import annotations

import pytest
from harness import (
    EXCEPTION,
    animation_title,
    click_epoch_slider,
    fingerprints,
    new_page,
    nudge,
    wait_until_changed,
    wait_until_loaded,
)

pytestmark = pytest.mark.browser
CHARTS = ("animation", "history")
# Count Plotly.react calls per graph, and mark each graph so that a new one would be noticed.
WATCH_JS = """
() => {
  window.__reacts = {};
  for (const key of ["animation", "history"]) {
    document.querySelector(`.st-key-${key} .js-plotly-plot`).__watched = true;
  }
  if (window.__reactWatched) return;
  window.__reactWatched = true;
  const react = window.Plotly.react;
  window.Plotly.react = function (gd, ...rest) {
    const holder = gd.closest('[class*="st-key-"]');
    const key = [...holder.classList].find(c => c.startsWith("st-key-")).slice(7);
    window.__reacts[key] = (window.__reacts[key] || 0) + 1;
    return react.call(this, gd, ...rest);
  };
}
"""
STATE_JS = """
() => Object.fromEntries(["animation", "history"].map(key => {
  const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
  return [key, {same: !!(gd && gd.__watched), graphs:
                document.querySelectorAll(`.st-key-${key} .js-plotly-plot`).length,
                reacts: (window.__reacts || {})[key] || 0,
                role: gd && gd.getAttribute("role"), label: gd && gd.getAttribute("aria-label")}];
}))
"""


def settle(page) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    page.wait_for_timeout(500)  # a component's effect runs after the run's last message


def test_a_p_move_redraws_each_chart_once_in_its_own_graph(page, server):
    page.goto(server.url)
    wait_until_loaded(page, CHARTS)
    settle(page)
    page.evaluate(WATCH_JS)
    before = fingerprints(page)
    nudge(page, "Dropout rate p", "ArrowLeft")
    wait_until_changed(page, {k: v for k, v in before.items() if k in CHARTS})
    settle(page)
    after = page.evaluate(STATE_JS)
    for key in CHARTS:
        assert after[key]["same"] and after[key]["graphs"] == 1, after
        assert after[key]["reacts"] == 1, after  # drawn once, not remounted and drawn twice
        assert after[key]["role"] == "figure" and any(c.isdigit() for c in after[key]["label"])
    assert page.locator(EXCEPTION).count() == 0

    # A rerun that changes neither chart (Streamlit's "R" key reruns the page) draws nothing.
    page.evaluate("() => { window.__reacts = {}; window.__runs = 0; }")
    page.evaluate("""() => new MutationObserver(() => { window.__runs += 1; }).observe(
        document.querySelector('[data-testid="stApp"]'),
        {attributes: true, attributeFilter: ['data-test-script-state']})""")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("r")
    page.wait_for_function("() => window.__runs >= 2")  # running, then not running
    settle(page)
    state = page.evaluate(STATE_JS)
    assert {key: (v["same"], v["reacts"]) for key, v in state.items()} == \
        {"animation": (True, 0), "history": (True, 0)}


def test_the_animation_fills_the_projector_box(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.goto(server.url + "?projector=1")
        wait_until_loaded(page, CHARTS)
        settle(page)
        box = page.locator(".st-key-one_screen").bounding_box()
        graph = page.locator(".st-key-animation .js-plotly-plot").bounding_box()
        assert box and graph and box["height"] > 300
        assert abs(graph["height"] - box["height"]) <= 4, (graph, box)
        assert graph["width"] > 0.9 * box["width"], (graph, box)
    finally:
        context.close()


DRAWN_JS = """() => {
  const gd = document.querySelector('.st-key-animation .js-plotly-plot');
  const plain = (v) => (Array.isArray(v) || ArrayBuffer.isView(v)) ? Array.from(v, plain) : v;
  const maps = gd._fullData.filter(t => t.meta && t.meta.role === "probability");
  return { title: gd._fullLayout.title.text, maps: JSON.stringify(maps.map(t => plain(t.z))),
           meta: JSON.stringify(gd.layout.meta),
           frames: gd._transitionData._frames.map(f => JSON.stringify(f.data)).join("|") };
}"""


def move_p(page, key: str) -> None:
    before = fingerprints(page)
    nudge(page, "Dropout rate p", key)
    wait_until_changed(page, {"history": before["history"]})
    settle(page)


def test_a_held_p_is_drawn_once_by_the_page_and_not_again_by_the_rerun(page, browser, server):
    page.goto(server.url)
    wait_until_loaded(page, CHARTS)
    move_p(page, "ArrowLeft")  # 0.45, then back: the page holds both pictures
    move_p(page, "ArrowRight")
    page.evaluate(WATCH_JS)
    page.evaluate("""() => { window.__addFrames = 0; const addFrames = window.Plotly.addFrames;
        window.Plotly.addFrames = function (...a) { window.__addFrames += 1;
                                                    return addFrames.apply(this, a); }; }""")
    move_p(page, "ArrowLeft")  # to 0.45 again: p_scrub shows it, the rerun only brings frames
    state = page.evaluate(STATE_JS)
    # One draw of the animation, the page's own (p_scrub's), and the rerun's frames taken in.
    assert page.evaluate("""() => document.querySelector(
        '.st-key-animation .js-plotly-plot').dataset.pScrubbed""") == "0.45"
    assert page.evaluate("() => window.__addFrames") == 1
    assert (state["animation"]["reacts"], state["history"]["reacts"]) == (1, 1), state
    assert state["animation"]["same"]
    held = page.evaluate(DRAWN_JS)

    # What a page opened at p = 0.45 draws: the same picture, facts and frames.
    with new_page(browser) as fresh:
        fresh.goto(server.url + "?p_hidden=0.45")
        wait_until_loaded(fresh, CHARTS)
        settle(fresh)
        assert fresh.evaluate(DRAWN_JS) == held
    # ... and the epoch slider then steps through the frames of p = 0.45.
    click_epoch_slider(page, 0.0)
    assert animation_title(page) == "Thinned network of epoch 1"
    assert page.locator(EXCEPTION).count() == 0


FRAMES_JS = """() => {
  const gd = document.querySelector('.st-key-animation .js-plotly-plot');
  return [gd._transitionData._frames.map(f => String(f.name)),
          gd._fullLayout.sliders[0].steps.map(s => String(s.args[0][0]))];
}"""


def test_after_many_p_moves_the_graph_has_every_frame_its_epoch_slider_names(
        page, browser, server):
    # New values, back over them, and down again over held ones: each held move swaps the
    # frames in place (a swap that deleted them all first lost some after a few moves).
    page.goto(server.url + "?seed=4712")
    wait_until_loaded(page, CHARTS)
    for key in ["ArrowLeft"] * 5 + ["ArrowRight"] * 5 + ["ArrowLeft"] * 5:
        move_p(page, key)
    frames, steps = page.evaluate(FRAMES_JS)
    assert len(steps) > 10 and frames == steps
    drawn = page.evaluate(DRAWN_JS)
    with new_page(browser) as fresh:  # the frames are those of the p shown
        fresh.goto(server.url + "?seed=4712&p_hidden=0.25")
        wait_until_loaded(fresh, CHARTS)
        settle(fresh)
        assert fresh.evaluate(DRAWN_JS) == drawn
    assert page.locator(EXCEPTION).count() == 0


FULLSCREEN_JS = """(key) => {
  const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
  const button = document.querySelector(`.st-key-${key} button.live-chart-fullscreen`);
  const box = gd.getBoundingClientRect();
  return {full: !!document.fullscreenElement && document.fullscreenElement.contains(gd),
          label: button.getAttribute("aria-label"), height: box.height, width: box.width,
          drawn: gd._fullLayout.height, window: [innerWidth, innerHeight]};
}"""


@pytest.mark.parametrize("key", CHARTS)
def test_a_live_chart_opens_fullscreen_and_fills_the_screen_until_closed(page, server, key):
    # The other tabs' charts have Streamlit's own Fullscreen button; the live charts have theirs.
    page.goto(server.url)
    wait_until_loaded(page, CHARTS)
    settle(page)
    before = page.evaluate(FULLSCREEN_JS, key)
    assert not before["full"] and before["label"] == "Fullscreen"
    button = page.locator(f".st-key-{key} button.live-chart-fullscreen")
    page.locator(f".st-key-{key}").hover()
    button.click()
    page.wait_for_function("(key) => document.fullscreenElement", arg=key)
    page.wait_for_timeout(500)  # the relayout after the change
    full = page.evaluate(FULLSCREEN_JS, key)
    width, height = full["window"]
    assert full["full"] and full["label"] == "Close fullscreen"
    assert height - 40 <= full["height"] <= height and full["width"] > 0.9 * width, full
    assert full["drawn"] == round(full["height"]), full

    # A rerun meanwhile (Streamlit's "R" key reruns the page) leaves it filling the screen.
    page.keyboard.press("r")
    settle(page)
    assert page.evaluate(FULLSCREEN_JS, key)["height"] == full["height"]

    # Closed from the keyboard: the chart takes its figure's own height again.
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.fullscreenElement")
    page.wait_for_timeout(500)
    closed = page.evaluate(FULLSCREEN_JS, key)
    assert closed["label"] == "Fullscreen" and closed["height"] == before["height"], closed
    assert page.locator(EXCEPTION).count() == 0
