"""A guided lesson in Chromium, driven from the keyboard as a presenter's clicker would: a link
opens step 2, Page Down shows the answer and then the next step (the URL follows), Page Up goes
back, and outside present mode → does what Page Down does. Nothing is focused: the keys go to
the page, where the lesson's listener (classroom.page_keys) hears them."""

from __future__ import annotations

import re

import pytest
from harness import EXCEPTION, new_page, wait_until_loaded

pytestmark = pytest.mark.browser

PANEL = ".st-key-lesson_panel"


def step_shown(page, k: int, n: int) -> None:
    page.wait_for_function(
        "([sel, text]) => { const p = document.querySelector(sel);"
        " return p && p.innerText.includes(text); }",
        arg=[PANEL, f"Step {k} of {n}"], timeout=90_000)


def answer_shown(page) -> bool:
    return page.locator(f"{PANEL} [data-testid='stAlertContentSuccess']").count() > 0


def press_on_page(page, key: str) -> None:
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press(key)


def test_page_down_reveals_then_moves_on_and_the_link_follows_the_step(browser, server):
    with new_page(browser, 1440, 900) as page:
        page.goto(f"{server.url}?preset=spiral-stress-test&step=2")
        wait_until_loaded(page, ("animation",))
        step_shown(page, 2, 3)
        assert not answer_shown(page)
        question = page.locator(f"{PANEL} h4").inner_text()
        assert "?" in question

        press_on_page(page, "PageDown")  # first the answer ...
        page.wait_for_selector(f"{PANEL} [data-testid='stAlertContentSuccess']",
                               timeout=60_000)
        assert re.search(r"[?&]step=2(&|$)", page.url), page.url

        press_on_page(page, "PageDown")  # ... then the next step, with its settings
        step_shown(page, 3, 3)
        page.wait_for_function(r"() => /[?&]step=3(&|$)/.test(location.search)",
                               timeout=60_000)
        assert not answer_shown(page)

        press_on_page(page, "PageUp")  # back to step 2
        step_shown(page, 2, 3)
        page.wait_for_function(r"() => /[?&]step=2(&|$)/.test(location.search)",
                               timeout=60_000)

        press_on_page(page, "ArrowRight")  # outside present mode, → is Page Down
        page.wait_for_selector(f"{PANEL} [data-testid='stAlertContentSuccess']",
                               timeout=60_000)
        assert page.locator(EXCEPTION).count() == 0
