"""Regression in a real browser: `?dataset=sine` opens the epoch animation with the curves over
the points and test MSEs in the titles, the animation's slider scrubs it in the browser, a
keyboard nudge of p retrains and redraws, and every tab draws its charts without an exception
box for `sine` and for `gap`."""

from __future__ import annotations

import json
import re

import pytest
from harness import (
    EXCEPTION,
    animation_title,
    click_epoch_slider,
    fingerprints,
    nudge,
    wait_for_tab_charts,
    wait_until_changed,
    wait_until_loaded,
)

pytestmark = pytest.mark.browser

TAB_NAMES = ("Thinned sub-networks", "Experiments", "Learn", "Build a sub-network")


def annotations(chart: str) -> list[str]:
    """A chart's annotation texts as drawn, tags removed (harness.fingerprints' form)."""
    return [re.sub(r"<[^>]+>", " ", text) for text in json.loads(chart)["annotations"]]


def test_sine_link_draws_curves_scrubs_and_retrains(server, page):
    page.goto(f"{server.url}?dataset=sine")
    wait_until_loaded(page, ("animation", "history"))
    assert page.locator(EXCEPTION).count() == 0
    charts = fingerprints(page)
    texts = " ".join(annotations(charts["animation"]))
    assert re.search(r"test MSE \d\.\d{3}", texts), texts
    # The curve panel's traces: the points (train filled, test hollow) and two curves.
    traces = page.evaluate("""() => document.querySelector('.st-key-animation .js-plotly-plot')
                                   .data.map(t => [t.mode, t.name])""")
    assert any(mode == "lines" for mode, _ in traces), traces
    assert {"train", "test"} <= {name for _, name in traces}, traces

    before = animation_title(page)
    click_epoch_slider(page, 0.0)  # scrubbing runs in the browser: no rerun needed
    page.wait_for_function("(b) => document.querySelector('.st-key-animation .gtitle')"
                           ".textContent !== b", arg=before, timeout=30_000)

    charts = fingerprints(page)
    nudge(page, "Dropout rate p", "ArrowLeft")
    wait_until_changed(page, charts)
    assert re.search(r"[?&]p_hidden=0\.45(&|$)", page.url), page.url
    assert page.locator(EXCEPTION).count() == 0


@pytest.mark.parametrize("dataset", ["sine", "gap"])
def test_every_tab_draws_for_a_regression_set(server, page, dataset):
    page.goto(f"{server.url}?dataset={dataset}")
    wait_until_loaded(page, ("animation",))
    for name in TAB_NAMES:
        page.get_by_role("tab", name=name).click()
        wait_for_tab_charts(page)
        assert page.locator(EXCEPTION).count() == 0, f"{name} shows an exception"
