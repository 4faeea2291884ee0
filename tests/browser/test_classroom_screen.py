"""The classroom screen in Chromium: in projector mode the first tab's diagram, both boundary
maps and the epoch controls lie inside a 1280×720 and a 1920×1080 window; the Thinned
sub-networks tab shows eight sub-networks and their average in a 1920×1080 one; present mode
starts with the sidebar closed, and ← / → pressed on the page (no widget focused) move p and
the URL. A laptop window (1440×900) without projector mode keeps the page inside its width."""

from __future__ import annotations

import re

import pytest
from harness import (
    ANIMATION_TITLE_JS,
    EXCEPTION,
    SETTLED,
    animation_title,
    new_page,
    slider,
    wait_until_loaded,
)

from dropout_viz.ui.action_tab import EPOCH_LABEL

pytestmark = pytest.mark.browser

PROJECTOR_SIZES = [(1280, 720), (1920, 1080)]

# JavaScript: the window-relative boxes of what the room must see in one chart: the whole
# drawing (its SVG), each subplot's plotting area (Plotly's drag rectangles: the diagram and
# the maps), the Play / Pause buttons and the epoch slider's rail.
BOXES_JS = """
(key) => {
  const chart = document.querySelector(`.st-key-${key} .js-plotly-plot`);
  const box = el => { const r = el.getBoundingClientRect();
                      return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                              width: r.width, height: r.height}; };
  return {
    svg: box(chart.querySelector('.main-svg')),
    plots: [...chart.querySelectorAll('.nsewdrag')].map(box),
    buttons: [...chart.querySelectorAll('.updatemenu-button')].map(box),
    rail: [...chart.querySelectorAll('.slider-rail-rect')].map(box),
  };
}
"""


def sidebar_box(page) -> dict:
    return page.evaluate("""() => { const r = document.querySelector('[data-testid="stSidebar"]')
                                      .getBoundingClientRect();
                                return {left: r.left, right: r.right, width: r.width}; }""")


def inside(box: dict, width: int, height: int) -> bool:
    return (box["top"] >= 0 and box["left"] >= 0 and box["bottom"] <= height
            and box["right"] <= width and box["width"] > 0 and box["height"] > 0)


def overlaps(a: dict, b: dict) -> bool:
    return not (a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
                or a["right"] <= b["left"] or b["right"] <= a["left"])


@pytest.mark.parametrize(("width", "height"), PROJECTOR_SIZES, ids=["720p", "1080p"])
def test_projector_mode_shows_diagram_maps_and_epoch_controls_on_one_screen(
        browser, server, width, height):
    with new_page(browser, width, height) as page:
        page.goto(f"{server.url}?projector=1")
        wait_until_loaded(page, ("animation",))
        assert page.locator(EXCEPTION).count() == 0
        boxes = page.evaluate(BOXES_JS, "animation")
        assert inside(boxes["svg"], width, height), boxes["svg"]
        diagram, *maps = boxes["plots"]  # subplot order: the diagram (x/y), then x2/y2, x3/y3
        assert len(maps) == 2
        for part in (diagram, *maps, *boxes["buttons"], *boxes["rail"]):
            assert inside(part, width, height), part
        assert len(boxes["buttons"]) == 2 and len(boxes["rail"]) == 1
        # Beside each other, not stacked, and the maps at a size a room can read.
        assert diagram["right"] <= maps[0]["left"] < maps[1]["left"]
        assert all(m["height"] >= 0.25 * height for m in maps), maps
        # Play / Pause clear of the maps.
        assert not any(overlaps(b, m) for b in boxes["buttons"] for m in maps)
        if height >= 900:  # the keyboard's epoch slider fits under the chart too
            twin = page.evaluate("""() => { const r = document.querySelector(
                '.st-key-action_epoch').getBoundingClientRect();
                return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                        width: r.width, height: r.height}; }""")
            assert inside(twin, width, height), twin


def test_projector_mode_shows_eight_sub_networks_and_their_average_on_one_screen(browser, server):
    width, height = 1920, 1080
    with new_page(browser, width, height) as page:
        page.goto(f"{server.url}?tab=ensemble&projector=1")
        wait_until_loaded(page, ("ensemble_gallery", "ensemble_comparison"))
        assert page.locator(EXCEPTION).count() == 0
        gallery = page.evaluate(BOXES_JS, "ensemble_gallery")
        assert inside(gallery["svg"], width, height), gallery["svg"]
        titles = page.locator(".st-key-ensemble_gallery .annotation-text").all_text_contents()
        assert len([t for t in titles if re.match(r"#\d+ · acc", t)]) >= 8, titles
        comparison = page.evaluate(BOXES_JS, "ensemble_comparison")
        assert len(comparison["plots"]) == 3  # the average, the test-time network, |difference|
        for panel in comparison["plots"]:
            assert inside(panel, width, height), panel


def test_present_mode_closes_the_sidebar_and_the_arrow_keys_move_p(browser, server):
    with new_page(browser, 1440, 900) as page:
        page.goto(f"{server.url}?present=1")
        wait_until_loaded(page, ("animation",))
        assert page.locator(EXCEPTION).count() == 0
        assert sidebar_box(page)["right"] <= 0  # closed: off the left edge
        thumb = page.locator('.st-key-present_bar input[type="range"]'
                             '[aria-label="Dropout rate p"]')
        assert thumb.get_attribute("aria-valuetext") == "0.50"
        # No widget has the focus: the keys go to the page, and the listener moves p.
        page.locator(".st-key-animation").click(position={"x": 5, "y": 5})
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            r"() => /[?&]p_hidden=0\.55(&|$)/.test(location.search)", timeout=60_000)
        assert re.search(r"[?&]present=1(&|$)", page.url), page.url
        page.wait_for_function(
            """() => { const t = document.querySelector(
                   '.st-key-present_bar input[type="range"][aria-label="Dropout rate p"]');
                 return t && t.getAttribute('aria-valuetext') === '0.55'; }""", timeout=60_000)
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(
            r"() => /[?&]p_hidden=0\.45(&|$)/.test(location.search)", timeout=90_000)
        # A key that belongs to a focused widget stays with it: the epoch slider steps back.
        before = animation_title(page)
        slider(page, EPOCH_LABEL).focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("(before) => (TITLE)() !== before".replace(
            "(TITLE)", "(" + ANIMATION_TITLE_JS.strip() + ")"), arg=before, timeout=60_000)
        page.wait_for_selector(SETTLED)
        assert re.search(r"[?&]p_hidden=0\.45(&|$)", page.url), page.url
        assert thumb.get_attribute("aria-valuetext") == "0.45"
        assert page.locator(EXCEPTION).count() == 0


def test_a_laptop_window_keeps_the_normal_page_inside_its_width(browser, server):
    width, height = 1440, 900
    with new_page(browser, width, height) as page:
        page.goto(server.url)
        wait_until_loaded(page, ("animation",))
        boxes = page.evaluate(BOXES_JS, "animation")
        assert boxes["svg"]["left"] >= 0 and boxes["svg"]["right"] <= width, boxes["svg"]
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        assert slider(page, "Dropout rate p").count() == 1  # p in the sidebar, as usual
        assert sidebar_box(page)["left"] == 0 and sidebar_box(page)["width"] > 200  # open


def test_projector_mode_fits_the_regression_curve_panel_on_a_720p_screen(browser, server):
    # 1000 epochs: the longest title ("Thinned network of epoch 1000") beside the curves'
    # legend, whose names are longer than the maps' class names.
    width, height = 1280, 720
    with new_page(browser, width, height) as page:
        page.goto(f"{server.url}?dataset=sine&projector=1&epochs=1000&n_samples=60")
        wait_until_loaded(page, ("animation",), timeout_ms=180_000)
        assert page.locator(EXCEPTION).count() == 0
        boxes = page.evaluate(BOXES_JS, "animation")
        diagram, curves = boxes["plots"]  # one panel of curves beside the diagram
        for part in (diagram, curves, *boxes["buttons"], *boxes["rail"]):
            assert inside(part, width, height), part
        assert diagram["right"] <= curves["left"] and curves["height"] >= 0.25 * height
        title, legend = page.evaluate("""() => {
            const chart = document.querySelector('.st-key-animation .js-plotly-plot');
            const box = el => { const r = el.getBoundingClientRect();
                                return {top: r.top, bottom: r.bottom, left: r.left,
                                        right: r.right}; };
            return [box(chart.querySelector('.gtitle')), box(chart.querySelector('.legend'))];
        }""")
        assert not overlaps(title, legend), (title, legend)
