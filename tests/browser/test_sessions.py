"""Two students, one server: each sees only the points of the file they uploaded, on every tab,
even when all their other settings are equal, and a student who replaces a file sees the new one.
"""

from __future__ import annotations

import numpy as np
import pytest
from harness import EXCEPTION, SETTLED, new_page, wait_until_loaded

from dropout_viz.csv_data import dataset_from_csv

pytestmark = pytest.mark.browser

# The data points each chart draws, per chart key: for each panel of it (a chart may draw the
# same points in several panels) the number of distinct train and test points, "train/test".
POINT_COUNTS_JS = """
() => {
  const out = {};
  for (const gd of document.querySelectorAll('[class*="st-key-"] .js-plotly-plot')) {
    if (!gd._fullData) continue;
    const holder = gd.closest('[class*="st-key-"]');
    const key = [...holder.classList].find(c => c.startsWith('st-key-')).slice(7);
    const panels = {};
    for (const t of gd._fullData) {
      const role = t.meta && t.meta.role;
      if ((role !== 'train' && role !== 'test') || !t.x) continue;
      const panel = panels[t.meta.panel || 0] ||= {train: new Set(), test: new Set()};
      for (let i = 0; i < t.x.length; i++) panel[role].add(`${t.x[i]},${t.y[i]}`);
    }
    const counts = Object.values(panels).map(p => `${p.train.size}/${p.test.size}`);
    if (counts.length > 0) out[key] = [...new Set(counts)].sort();
  }
  return out;
}
"""


def write_csv(path, n_points: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_points, 2))
    label = (X[:, 0] * X[:, 1] > 0).astype(int)
    rows = "\n".join(f"{a:.5f},{b:.5f},{c}" for (a, b), c in zip(X, label, strict=True))
    path.write_text("x1,x2,label\n" + rows + "\n")


def upload(page, path) -> None:
    """Open the sidebar's Data group if needed, choose the file and wait until it is in use."""
    dropzone = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    if not dropzone.is_visible():
        page.get_by_text("Data", exact=True).first.click()
    dropzone.set_input_files(str(path))
    page.get_by_text(f"Using: {path.name}").wait_for(state="attached", timeout=60_000)
    page.wait_for_selector(SETTLED, timeout=90_000)


# Set when the page's script is asked to run or starts (a quick run may show only the first):
# a tab's click is done once its run has ended, so that the charts read afterwards are that
# tab's, not the last tab's still on the page.
RUN_STARTED_JS = """() => {
  window.__runStarted = false;
  const app = document.querySelector('[data-testid="stApp"]');
  const watch = new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') !== 'notRunning') {  // requested or running
      window.__runStarted = true;
      watch.disconnect();
    }
  });
  watch.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def open_tab(page, name: str) -> None:
    tab = page.get_by_role("tab", name=name)
    if tab.get_attribute("aria-selected") == "true":  # open already: no run
        page.wait_for_selector(SETTLED, timeout=90_000)
        return
    page.evaluate(RUN_STARTED_JS)
    tab.click()
    page.wait_for_function("() => window.__runStarted", timeout=90_000)
    page.wait_for_selector(SETTLED, timeout=90_000)


def split_counts(path) -> tuple[str, str]:
    """What a panel of this file's data shows: all its points, or its training points only."""
    data = dataset_from_csv(path.read_bytes(), test_fraction=0.4, seed=0)
    return f"{len(data.y_train)}/{len(data.y_test)}", f"{len(data.y_train)}/0"


def shows_only(counts: dict, path) -> bool:
    """Every panel of every chart with points shows exactly this file's points."""
    allowed = set(split_counts(path))
    return bool(counts) and all(set(c) <= allowed for c in counts.values())


def wait_for_points(page, path, timeout_ms: float = 90_000) -> dict:
    """The point counts of the charts, once they all show the points of `path` (or the last
    counts seen when the time runs out, for the assertion to report)."""
    allowed = list(split_counts(path))
    try:
        page.wait_for_function(
            """([js, allowed]) => { const c = (eval(js))();
                 const keys = Object.keys(c);
                 return keys.length > 0
                   && keys.every(k => c[k].every(n => allowed.includes(n))); }""",
            arg=[POINT_COUNTS_JS, allowed], polling=200, timeout=timeout_ms)
    except Exception:  # noqa: BLE001 - the assertion below says what was drawn instead
        pass
    return page.evaluate(POINT_COUNTS_JS)


TABS_WITH_POINTS = ("Dropout in action", "Thinned sub-networks", "Experiments")


def test_two_sessions_with_two_files_never_see_each_others_points(browser, server, tmp_path):
    files = {"a.csv": 60, "b.csv": 90, "c.csv": 75}
    for seed, (name, n) in enumerate(files.items()):
        write_csv(tmp_path / name, n, seed)
    with new_page(browser) as first, new_page(browser) as second:  # two students
        pages = [first, second]
        for page in pages:
            page.goto(server.url + "?epochs=20")
            wait_until_loaded(page, ("animation",))
        upload(pages[0], tmp_path / "a.csv")
        upload(pages[1], tmp_path / "b.csv")
        for tab in TABS_WITH_POINTS:
            for page, name in zip(pages, ("a.csv", "b.csv"), strict=True):
                open_tab(page, tab)
                counts = wait_for_points(page, tmp_path / name)
                assert shows_only(counts, tmp_path / name), (tab, name, counts)
                assert page.locator(EXCEPTION).count() == 0
        # Session 1 replaces its file: it sees the new points, session 2 still its own.
        open_tab(pages[0], "Dropout in action")
        upload(pages[0], tmp_path / "c.csv")
        counts = wait_for_points(pages[0], tmp_path / "c.csv")
        assert shows_only(counts, tmp_path / "c.csv"), counts
        open_tab(pages[1], "Dropout in action")
        counts = wait_for_points(pages[1], tmp_path / "b.csv")
        assert shows_only(counts, tmp_path / "b.csv"), counts
