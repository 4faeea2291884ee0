"""Moving p in the browser (ui/p_scrub.py), in Chromium: once the page holds the pictures of
the p grid, a p move shows the new p's picture with the server stopped (SIGSTOP), and it is
exactly the picture the server draws once it runs again. Not at the last epoch, the chart waits
for the server. Dragging the thumb moves the picture with it; in present mode, ← anywhere on
the page does the same."""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager

import pytest
from harness import (
    EXCEPTION,
    animation_title,
    click_epoch_slider,
    fingerprints,
    nudge,
    slider,
    wait_until_changed,
    wait_until_loaded,
)

pytestmark = pytest.mark.browser
CHARTS = ("animation", "history")
P_LABEL = "Dropout rate p"
GRAPH = ".st-key-animation .js-plotly-plot"
# What the animation draws: its maps' z (or curves' y), the crossed-out units, the panel titles,
# and the p the page last showed by itself.
DRAWN_JS = """
(graph) => {
  const gd = document.querySelector(graph);
  const plain = (v) => (Array.isArray(v) || ArrayBuffer.isView(v)) ? Array.from(v, plain) : v;
  const role = (name) => gd._fullData.filter(t => t.meta && t.meta.role === name);
  return { scrubbed: gd.dataset.pScrubbed || null,
           maps: JSON.stringify(role("probability").map(t => plain(t.z))),
           dropped: JSON.stringify(role("nodes_dropped").map(t => [plain(t.x), plain(t.y)])),
           notes: gd._fullLayout.annotations.map(a => a.text) };
}
"""


def drawn(page) -> dict:
    return page.evaluate(DRAWN_JS, GRAPH)


@contextmanager
def server_stopped(server):
    """The server process frozen: whatever the page does meanwhile, it does by itself."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def wait_for_scrubbed(page, p: str, timeout_ms: float = 30_000) -> None:
    page.wait_for_function("([graph, p]) => document.querySelector(graph).dataset.pScrubbed === p",
                           arg=[GRAPH, p], timeout=timeout_ms)


def move_p(page, key: str) -> None:
    """A keyboard nudge of p, until the page has the server's run for it."""
    before = fingerprints(page)
    nudge(page, P_LABEL, key)
    wait_until_changed(page, {"history": before["history"]})


def count_scrubs(page) -> None:
    """Log every p the chart shows by itself (the chart is drawn anew when a server's run
    lands, and its attribute with it)."""
    page.evaluate("""() => { window.__scrubs = [];
        new MutationObserver((changes) => { for (const c of changes)
            window.__scrubs.push(c.target.dataset.pScrubbed); })
          .observe(document.body, {subtree: true, attributeFilter: ["data-p-scrubbed"]}); }""")


def scrubs(page) -> list[str]:
    return page.evaluate("() => window.__scrubs")


def hold_pictures(page) -> None:
    """p to 0.45 and back: the server then holds both runs and the page both pictures. The
    move back already shows its picture by itself."""
    count_scrubs(page)
    move_p(page, "ArrowLeft")
    move_p(page, "ArrowRight")
    assert scrubs(page)[-1:] == ["0.5"]


def test_p_moves_in_the_browser_to_the_picture_the_server_then_draws(server, page):
    page.goto(server.url)
    wait_until_loaded(page, CHARTS)
    # The component draws nothing and takes no room (no empty gap under the epoch slider).
    slot = page.locator(".st-key-p_scrub")
    page.wait_for_function("() => getComputedStyle(document.querySelector('.st-key-p_scrub'))"
                           ".display === 'none'")
    assert slot.bounding_box() is None
    hold_pictures(page)
    before = drawn(page)
    history = fingerprints(page)["history"]

    with server_stopped(server):
        nudge(page, P_LABEL, "ArrowLeft")
        wait_for_scrubbed(page, "0.45")
        scrubbed = drawn(page)
        assert fingerprints(page)["history"] == history  # the rest waits for the server
    assert scrubbed["maps"] != before["maps"]
    assert animation_title(page) == "Thinned network of epoch 150"

    wait_until_changed(page, {"history": history})
    served = drawn(page)
    assert slider(page, P_LABEL).get_attribute("aria-valuetext") == "0.45"
    for part in ("maps", "dropped", "notes"):
        assert served[part] == scrubbed[part], part

    # At an earlier epoch the page has no picture to show: the server's run draws the move.
    click_epoch_slider(page, 0.0)
    assert animation_title(page) == "Thinned network of epoch 1"
    history = fingerprints(page)["history"]
    shown_before = scrubs(page)
    with server_stopped(server):
        nudge(page, P_LABEL, "ArrowRight")
        time.sleep(1.5)
        assert scrubs(page) == shown_before
        assert animation_title(page) == "Thinned network of epoch 1"
    wait_until_changed(page, {"history": history})
    assert drawn(page)["maps"] == before["maps"]  # the server's frame of p = 0.5
    assert slot.bounding_box() is None  # still out of the layout after the page's reruns
    assert page.locator(EXCEPTION).count() == 0


# The p slider's thumb (its value label is centred over it) and its rail.
SLIDER_GEOMETRY_JS = """() => {
  const widget = document.querySelector('.st-key-p_hidden [data-testid="stSlider"]');
  const label = widget.querySelector('[data-testid="stSliderThumbValue"]').getBoundingClientRect();
  const rail = widget.querySelector('[role="group"] > div').getBoundingClientRect();
  return { x: label.x + label.width / 2, railWidth: rail.width,
           y: widget.querySelector('input[type="range"]').getBoundingClientRect().y + 8 };
}"""


def test_dragging_p_moves_the_picture_with_the_thumb(server, page):
    page.goto(server.url)
    wait_until_loaded(page, CHARTS)
    hold_pictures(page)
    thumb = page.evaluate(SLIDER_GEOMETRY_JS)
    step = thumb["railWidth"] / 18  # 0 to 0.9 in steps of 0.05
    history = fingerprints(page)["history"]
    shown_before = len(scrubs(page))
    with server_stopped(server):  # the slider sends its value on release
        page.mouse.move(thumb["x"], thumb["y"])
        page.mouse.down()
        page.mouse.move(thumb["x"] - step, thumb["y"], steps=4)  # to 0.45, still held
        page.wait_for_function("() => window.__scrubs.at(-1) === '0.45'", timeout=30_000)
        scrubbed = drawn(page)
        page.mouse.up()
    assert scrubs(page)[shown_before:] == ["0.45"]
    wait_until_changed(page, {"history": history})
    page.wait_for_function(r"() => /[?&]p_hidden=0\.45(&|$)/.test(location.search)",
                           timeout=60_000)
    assert drawn(page)["maps"] == scrubbed["maps"]
    assert page.locator(EXCEPTION).count() == 0


def test_an_arrow_key_in_present_mode_moves_p_in_the_browser(server, page):
    page.goto(server.url + "?present=1")
    wait_until_loaded(page, CHARTS)
    hold_pictures(page)
    history = fingerprints(page)["history"]

    with server_stopped(server):
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.keyboard.press("ArrowLeft")  # the page's own key listener (classroom.P_KEYS_JS)
        wait_for_scrubbed(page, "0.45")
        scrubbed = drawn(page)
    wait_until_changed(page, {"history": history})
    # The server's run is p = 0.45 (the URL is written at its end) and draws the same picture.
    # (That the key moves the slider itself is test_classroom_screen's.)
    page.wait_for_function(r"() => /[?&]p_hidden=0\.45(&|$)/.test(location.search)",
                           timeout=60_000)
    assert drawn(page)["maps"] == scrubbed["maps"]
    assert page.locator(EXCEPTION).count() == 0


# The order of the rerun's request (any websocket message the page sends) and of every
# Plotly.react on the page.
ORDER_LOG_JS = """() => { window.__order = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (...args) {
    window.__order.push("send"); return send.apply(this, args); };
  const react = window.Plotly.react;
  window.Plotly.react = function (...args) {
    window.__order.push("react"); return react.apply(this, args); }; }"""


def test_the_rerun_is_asked_for_before_the_page_draws_the_held_picture(server, page):
    """The page's own drawing of a held p must not hold back the request for the server's run:
    the server works while the browser draws."""
    page.goto(server.url)
    wait_until_loaded(page, CHARTS)
    hold_pictures(page)
    page.evaluate(ORDER_LOG_JS)
    history = fingerprints(page)["history"]
    with server_stopped(server):
        nudge(page, P_LABEL, "ArrowLeft")
        wait_for_scrubbed(page, "0.45")
        order = page.evaluate("() => window.__order")
    assert "react" in order and "send" in order, order
    assert order.index("send") < order.index("react"), order
    wait_until_changed(page, {"history": history})
    assert page.locator(EXCEPTION).count() == 0
