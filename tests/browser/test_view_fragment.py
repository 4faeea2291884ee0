"""A p move on the first tab reruns the page's view alone (page.py: a fragment), in Chromium:
the sidebar's controls are not sent again, and what p changes outside the view's own part
follows: the link to share, the URL, the preset picker's "Modified:". A change the view makes
to the sidebar's controls (a lesson's "Back to the step's settings") shows there at once, and
the lesson goes on."""

from __future__ import annotations

import pytest
from harness import (
    EXCEPTION,
    SETTLED,
    fingerprints,
    nudge,
    wait_until_changed,
    wait_until_loaded,
)

pytestmark = pytest.mark.browser

CHARTS = ("animation", "history")
SIDEBAR = '[data-testid="stSidebar"]'


def received_frames(page) -> list[bytes]:
    """Every websocket message the page receives from now on (Streamlit's ForwardMsgs)."""
    frames: list[bytes] = []
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: frames.append(
            payload if isinstance(payload, bytes) else payload.encode())))
    return frames


def checked_radio(page, key: str) -> str:
    """The label of a radio's checked option, once the page is idle (while a run draws, the
    old element can still be on the page beside the new one)."""
    page.wait_for_selector(SETTLED, timeout=60_000)
    return page.locator(f".st-key-{key} label:has(input:checked)").inner_text()


def test_a_p_move_reruns_the_view_alone_and_the_link_and_url_follow(page, server):
    frames = received_frames(page)
    page.goto(f"{server.url}?seed=31")
    wait_until_loaded(page, CHARTS)
    frames.clear()
    before = fingerprints(page)
    nudge(page, "Dropout rate p")
    wait_until_changed(page, before)
    page.wait_for_function("() => /[?&]p_hidden=0.45(&|$)/.test(location.search)",
                           timeout=60_000)
    moved = b"".join(frames)
    assert b"Dropout rate p" in moved  # the view draws p's slider (in the sidebar) ...
    assert b"Lesson preset" not in moved and b"Classroom" not in moved  # ... not the rest
    page.get_by_role("button", name="Copy this link").click()
    link = page.locator('[data-testid="stCode"]:visible')
    link.wait_for(timeout=30_000)
    assert "p_hidden=0.45" in link.inner_text() and "seed=31" in link.inner_text()
    page.keyboard.press("Escape")

    frames.clear()  # a rerun of the whole page (the R key) does send them
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("r")
    page.wait_for_selector(SETTLED, timeout=60_000)
    page.wait_for_timeout(500)
    assert b"Lesson preset" in b"".join(frames)
    assert page.locator(EXCEPTION).count() == 0


def test_a_p_move_that_departs_from_a_preset_says_so_in_the_sidebar(page, server):
    page.goto(f"{server.url}?preset=epoch-vs-example")
    wait_until_loaded(page, CHARTS)
    offer_back = f"{SIDEBAR} .st-key-_reapply_preset"
    assert page.locator(offer_back).count() == 0
    before = fingerprints(page)
    nudge(page, "Dropout rate p")
    wait_until_changed(page, before)
    # The picker's caption names what differs and offers the lesson's settings back.
    page.wait_for_selector(offer_back, timeout=60_000)
    assert "Modified: dropout rate p" in page.locator(SIDEBAR).inner_text()
    assert page.locator(EXCEPTION).count() == 0


def test_the_lessons_back_button_sets_the_sidebars_controls_back(page, server):
    # Step 4 of "standard vs inverted": the first tab, inverted dropout.
    page.goto(f"{server.url}?preset=standard-vs-inverted&step=4")
    wait_until_loaded(page, CHARTS)
    assert checked_radio(page, "convention").startswith("inverted")
    page.locator(".st-key-convention label:has-text('standard')").first.click()
    back = page.locator(".st-key-_lesson_reapply button")
    back.wait_for(timeout=60_000)  # the panel says the step's settings were changed
    assert checked_radio(page, "convention").startswith("standard")
    back.click()  # a button of the view: its callback sets the sidebar's control
    page.wait_for_function(
        "() => { const c = document.querySelector('.st-key-convention label:has(input:checked)');"
        " return c && c.innerText.startsWith('inverted'); }", timeout=60_000)
    page.wait_for_selector(".st-key-_lesson_reapply", state="detached", timeout=60_000)
    assert "Step 4 of 4" in page.locator(".st-key-lesson_panel").inner_text()  # it goes on
    assert "step=4" in page.url
    assert page.locator(EXCEPTION).count() == 0
