"""A classroom at once: 20 browser sessions against one `streamlit run app.py` server.

Not part of the quick run (marked `load`, excluded by pyproject's addopts). Run it with

    python -m pytest -m load tests/load -s

Each session opens the page, then drags two sliders (p and the layer width, by arrow keys, each
press a rerun that supersedes the one before) to its own settings, so the server trains 20
different runs while all sessions wait. Two rounds with different settings: the second shows
whether memory keeps growing. Checked: no exception box on any page, every page settles, each
shows the settings it asked for, and the server's resident memory (VmRSS from /proc) stays
within the bound the caches are designed for. Measurements are printed. Loopback only.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from harness import CHROMIUM_ARGS, EXCEPTION, SETTLED, StreamlitServer, chromium_path  # noqa: E402

from dropout_viz.ui.cache import MAX_PREPARED, MAX_RUNS  # noqa: E402
from dropout_viz.ui.prefetch import MAX_RUN_BYTES  # noqa: E402
from dropout_viz.ui.runs import SNAPSHOT_BUDGET_BYTES  # noqa: E402

pytestmark = pytest.mark.load

SESSIONS = 20
SETTLE_TIMEOUT_MS = 180_000  # per wait; every wait is bounded
MAX_CORRECTIONS = 8
MB = 2**20
# Designed bound: MAX_RUNS cached runs of at most SNAPSHOT_BUDGET_BYTES of weights each and
# MAX_PREPARED prepared ones (prefetch.py) of at most MAX_RUN_BYTES, plus the interpreter,
# Streamlit, scikit-learn and per-session messages (headroom).
HEADROOM_BYTES = 600 * MB


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class RssSampler(threading.Thread):
    """Peak resident memory of one process, sampled every 0.1 s until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self._stop_event = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self._stop_event.wait(0.1)

    def stop(self) -> int:
        self._stop_event.set()
        self.join(timeout=5)
        return self.peak


async def move_slider(page, label: str, key: str, times: int, target: str) -> int:
    """Arrow-key presses on a slider's thumb (each one a rerun superseding the last), then
    corrections until it shows `target`: a rerun that redraws the slider can take the focus
    away mid-sequence, so a press may be lost. Returns the number of corrections (bounded)."""
    thumb = page.locator(f'input[type="range"][aria-label="{label}"]')
    await page.wait_for_selector(SETTLED, timeout=SETTLE_TIMEOUT_MS)
    for _ in range(times):
        await thumb.press(key, timeout=SETTLE_TIMEOUT_MS)  # focuses the thumb first
        await asyncio.sleep(0.05)
    for correction in range(MAX_CORRECTIONS + 1):
        await page.wait_for_selector(SETTLED, timeout=SETTLE_TIMEOUT_MS)
        value = await thumb.get_attribute("aria-valuetext", timeout=SETTLE_TIMEOUT_MS)
        if value == target:
            return correction
        toward = "ArrowLeft" if float(value) > float(target) else "ArrowRight"
        await thumb.press(toward, timeout=SETTLE_TIMEOUT_MS)
    raise AssertionError(f"slider {label!r} did not reach {target} (shows {value})")


async def one_student(browser, url: str, index: int, round_no: int) -> dict:
    """Open the page, move p and width to this student's values, wait until it settles."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    started = time.monotonic()
    try:
        await page.goto(url, timeout=SETTLE_TIMEOUT_MS)
        await page.wait_for_selector(SETTLED, timeout=SETTLE_TIMEOUT_MS)
        opened = time.monotonic() - started
        p_presses = index % 4 + 1  # p = 0.45, 0.40, 0.35, 0.30
        width_presses = index // 4 + 1 + 5 * round_no  # width 65..69, then 70..74
        expected_p = f"{0.5 - 0.05 * p_presses:.2f}".rstrip("0")
        expected_width = str(64 + width_presses)
        moved = time.monotonic()
        corrections = await move_slider(page, "Dropout rate p", "ArrowLeft", p_presses,
                                        f"{0.5 - 0.05 * p_presses:.2f}")
        corrections += await move_slider(page, "Units per layer", "ArrowRight", width_presses,
                                         expected_width)
        # Under load a slider moved earlier can show its older value again after a later
        # move (seen about once in 20 sessions); count it and set it back, bounded.
        reverted = await move_slider(page, "Dropout rate p", "ArrowLeft", 0,
                                     f"{0.5 - 0.05 * p_presses:.2f}")
        # Settled on the new settings: the URL carries them, the script is idle and the
        # action tab's two charts (the epoch animation and the curves) are drawn.
        try:
            await page.wait_for_function(
                """([p, w]) => {
                     const q = new URL(location).searchParams;
                     const app = document.querySelector('[data-testid="stApp"]');
                     const charts = [...document.querySelectorAll(
                         '.st-key-animation .js-plotly-plot, .st-key-history .js-plotly-plot')]
                       .filter(gd => gd._fullLayout).length;
                     return q.get('p_hidden') === p && q.get('width') === w && app &&
                            app.getAttribute('data-test-script-state') === 'notRunning' &&
                            charts >= 2;
                   }""", arg=[expected_p, expected_width], timeout=SETTLE_TIMEOUT_MS)
        except Exception as error:
            state = await page.locator('[data-testid="stApp"]').get_attribute(
                "data-test-script-state")
            raise AssertionError(f"session {index} did not settle on p={expected_p}, "
                                 f"width={expected_width}: url {page.url}, state {state}, "
                                 f"text {(await page.inner_text('body'))[:400]!r}") from error
        settled = time.monotonic() - moved
        return {"index": index, "opened_s": opened, "settled_s": settled,
                "corrections": corrections, "reverted": reverted,
                "exceptions": await page.locator(EXCEPTION).count(),
                "charts": await page.locator(
                    '.st-key-animation .js-plotly-plot, .st-key-history .js-plotly-plot').count(),
                "errors": await page.locator('[data-testid="stAlert"]').all_inner_texts()}
    finally:
        await context.close()


async def classroom(url: str, round_no: int) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(),
                                                   args=CHROMIUM_ARGS)
        try:
            return await asyncio.gather(*(one_student(browser, url, i, round_no)
                                          for i in range(SESSIONS)))
        finally:
            await browser.close()


def test_twenty_sessions_at_once(tmp_path, monkeypatch):
    # A classroom server does not watch its source files (edits must not reload it mid-lesson).
    monkeypatch.setenv("STREAMLIT_SERVER_FILE_WATCHER_TYPE", "none")
    with StreamlitServer(log_path=tmp_path / "server.log") as server:
        pid = server.process.pid
        baseline = rss_bytes(pid)
        sampler = RssSampler(pid)
        sampler.start()
        report = []
        try:
            for round_no in range(2):
                began = time.monotonic()
                results = asyncio.run(classroom(server.url, round_no))
                wall = time.monotonic() - began
                after = rss_bytes(pid)
                report.append((round_no, wall, after, results))
        finally:
            peak = sampler.stop()

    print(f"\nclassroom load: {SESSIONS} sessions at once, 2 rounds, server RSS at start "
          f"{baseline / MB:.0f} MB, peak {peak / MB:.0f} MB "
          f"(cache: MAX_RUNS={MAX_RUNS}, {SNAPSHOT_BUDGET_BYTES // MB} MB of weights per run)")
    for round_no, wall, after, results in report:
        settle = [r["settled_s"] for r in results]
        opened = [r["opened_s"] for r in results]
        print(f"round {round_no + 1}: all settled after {wall:.1f} s; first page load median "
              f"{statistics.median(opened):.1f} s, max {max(opened):.1f} s; after the slider "
              f"moves median {statistics.median(settle):.1f} s, max {max(settle):.1f} s; "
              f"RSS after the round {after / MB:.0f} MB; lost key presses corrected: "
              f"{sum(r['corrections'] for r in results)}; sliders found reverted: "
              f"{sum(r['reverted'] > 0 for r in results)}")

    for _, _, _, results in report:
        assert len(results) == SESSIONS
        for result in results:
            assert result["exceptions"] == 0, result
            assert result["charts"] == 2, result  # the action tab drew both its charts
            assert not [e for e in result["errors"] if "went wrong" in e], result
    bound = (baseline + MAX_RUNS * SNAPSHOT_BUDGET_BYTES + MAX_PREPARED * MAX_RUN_BYTES
             + HEADROOM_BYTES)
    assert peak < bound, f"peak RSS {peak / MB:.0f} MB above the bound {bound / MB:.0f} MB"
    growth_first = report[0][2] - baseline
    growth_second = report[1][2] - report[0][2]
    # The second round (20 new runs into an LRU that already holds 20) grows less than the
    # first: the caches evict instead of accumulating.
    assert growth_second < max(growth_first, 150 * MB), (growth_first, growth_second)
