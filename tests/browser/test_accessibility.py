"""Every tab at default settings passes axe-core's WCAG 2.1 A and AA rules in Chromium, and the
charts' own text (SVG, which axe cannot judge) has AA contrast on the white chart paper.

axe-core comes from the npm registry (`.ci/run` installs it into .cache/axe; see
harness.axe_script). The page is opened tall enough that every element is on screen, so axe can
measure the contrast of all of them and not only of those in a 1000-pixel window."""

from __future__ import annotations

import json

import pytest
from harness import (
    EXCEPTION,
    axe_violations,
    chart_text_contrast,
    new_page,
    wait_for_tab_charts,
    wait_until_loaded,
)

pytestmark = pytest.mark.browser

TABS = {  # tab: its label and the charts to wait for
    "action": ("Dropout in action", ("animation", "history")),
    "ensemble": ("Thinned sub-networks", ("ensemble_gallery", "ensemble_comparison",
                                          "ensemble_convergence", "ensemble_uncertainty")),
    "experiments": ("Experiments", ("twin_boundaries", "twin_curves", "activations")),
    "learn": ("Learn", ("learn_unit_input",)),
    "handmade": ("Build a sub-network", ("handmade_network", "handmade_boundary",
                                         "handmade_knockouts")),
}
AA_TEXT = 4.5  # WCAG 2.1 AA, 1.4.3: contrast of normal-size text


@pytest.fixture
def tall_page(browser):
    with new_page(browser, height=7000) as opened:
        yield opened


def describe(violations: list[dict]) -> str:
    return json.dumps([{**v, "nodes": v["nodes"][:5]} for v in violations], indent=1,
                      ensure_ascii=False)


@pytest.mark.parametrize("tab", list(TABS))
def test_tab_has_no_wcag_21_aa_violations(server, tall_page, tab):
    label, charts = TABS[tab]
    page = tall_page
    page.goto(f"{server.url}?tab={tab}")
    wait_until_loaded(page, charts, timeout_ms=180_000)
    assert page.get_by_role("tab", name=label).get_attribute("aria-selected") == "true"
    assert page.locator(EXCEPTION).count() == 0

    violations = axe_violations(page)
    assert violations == [], describe(violations)

    texts = chart_text_contrast(page)
    assert len(texts) > 5  # the charts' text was found and measured
    faint = [t for t in texts if t["ratio"] < AA_TEXT]
    assert faint == [], faint[:10]


# Projector mode (its larger text, the one-screen layouts) and present mode (p on the page,
# the keyboard listener) on the tabs they change.
CLASSROOM_MODES = [("action", "projector=1"), ("ensemble", "projector=1"),
                   ("action", "present=1&projector=1")]


@pytest.mark.parametrize(("tab", "flags"), CLASSROOM_MODES,
                         ids=[f"{tab}-{flags}" for tab, flags in CLASSROOM_MODES])
def test_classroom_modes_have_no_wcag_21_aa_violations(server, tall_page, tab, flags):
    label, charts = TABS[tab]
    page = tall_page
    page.goto(f"{server.url}?tab={tab}&{flags}")
    wait_until_loaded(page, charts, timeout_ms=180_000)
    assert page.locator(EXCEPTION).count() == 0
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    faint = [t for t in chart_text_contrast(page) if t["ratio"] < AA_TEXT]
    assert faint == [], faint[:10]


# Every tab on a regression set (curves over x instead of maps), and a running guided lesson
# (its panel above the tabs, with the answer shown).
REGRESSION_PAGES = [f"tab={tab}&dataset=sine" for tab in TABS] + [
    "preset=what-happens-in-the-gap&step=2"]


@pytest.mark.parametrize("query", REGRESSION_PAGES)
def test_regression_tabs_and_a_lesson_have_no_wcag_21_aa_violations(server, tall_page, query):
    page = tall_page
    page.goto(f"{server.url}?{query}")
    wait_for_tab_charts(page, timeout_ms=180_000)
    if "step=" in query:
        page.get_by_role("button", name="Show the answer").click()
        page.wait_for_selector(".st-key-lesson_panel [data-testid='stAlertContentSuccess']",
                               timeout=60_000)
        wait_for_tab_charts(page)
    assert page.locator(EXCEPTION).count() == 0
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    faint = [t for t in chart_text_contrast(page) if t["ratio"] < AA_TEXT]
    assert faint == [], faint[:10]
