"""A Streamlit server on a free loopback port and a headless Chromium page to drive it.

Shared by the end-to-end tests (tests/browser/) and benchmarks/page_latency.py. Chromium is
Debian's (`apt-get install -y chromium`), driven by Playwright; `playwright install` is not
needed. Charts are read back from Plotly's graph divs (`.js-plotly-plot`), found by the
Streamlit key of their element (`.st-key-<key>`). axe-core (the accessibility checker) comes
from the npm registry into .cache/axe (`.ci/run` installs it; `axe_script` does if it is
missing and npm is there) and is injected into the page by Playwright.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app.py"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SETTLED = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EXCEPTION = '[data-testid="stException"]'
AXE_VERSION = "4.14.1"  # pinned: a newer axe may add rules, which should be a deliberate update
AXE_DIR = REPO / ".cache" / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")  # axe's tags for WCAG 2.1 A and AA


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StreamlitServer:
    """`streamlit run <script>` in its own process group; `url` once healthy."""

    def __init__(self, script: Path | str = APP, port: int | None = None,
                 startup_timeout_s: float = 90.0, log_path: Path | str | None = None):
        self.script = Path(script)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.startup_timeout_s = startup_timeout_s
        self.log_path = Path(log_path) if log_path else None
        self.process: subprocess.Popen | None = None

    def start(self) -> StreamlitServer:
        command = [sys.executable, "-m", "streamlit", "run", str(self.script),
                   "--server.headless", "true", "--server.address", "127.0.0.1",
                   "--server.port", str(self.port), "--browser.gatherUsageStats", "false"]
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout_s
        health = f"{self.url}_stcore/health"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.process.returncode} "
                                   f"before it was healthy (log: {self.log_path})")
            try:
                with urllib.request.urlopen(health, timeout=2) as response:
                    if response.status == 200 and response.read().strip() == b"ok":
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"streamlit was not healthy on {health} after "
                           f"{self.startup_timeout_s:.0f} s")

    def stop(self) -> None:
        """End the server and whatever it started (its own process group, by id)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("chromium is not installed: apt-get install -y chromium")
    return path


@contextmanager
def chromium(playwright):
    browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@contextmanager
def new_page(browser, width: int = 1440, height: int = 1000):
    """A page in a fresh browser context (its own session: cookies, storage, websocket)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        yield context.new_page()
    finally:
        context.close()


# JavaScript: a fingerprint of each keyed Plotly chart (title, meta, annotations, trace data)
# so a change of content can be detected without caring how Plotly stores arrays.
FINGERPRINTS_JS = """
() => {
  const out = {};
  for (const gd of document.querySelectorAll('[class*="st-key-"] .js-plotly-plot')) {
    if (!gd._fullLayout || !gd.data) continue;  // not drawn yet
    const holder = gd.closest('[class*="st-key-"]');
    const key = [...holder.classList].find(c => c.startsWith('st-key-')).slice(7);
    const layout = gd.layout || {};
    out[key] = JSON.stringify({
      title: layout.title, meta: layout.meta,
      annotations: (layout.annotations || []).map(a => a.text),
      data: gd.data.map(t => [t.x, t.y, t.z]),
    });
  }
  return out;
}
"""

# JavaScript predicate: the script is idle and every chart named in `before` shows new content.
CHANGED_JS = """
([before, fingerprints]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const now = (FP)();
  for (const key of Object.keys(before)) {
    if (!(key in now) || now[key] === before[key]) return false;
  }
  window.__settledAt = performance.now();
  return true;
}
""".replace("(FP)", "(" + FINGERPRINTS_JS.strip() + ")")


# JavaScript: record every change of the script state with its time (for the benchmark's
# breakdown of a rerun into "until the script starts", "script", "drawing after the script").
STATE_LOG_JS = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__stateLog = [];
  new MutationObserver(() => window.__stateLog.push(
      [app.getAttribute('data-test-script-state'), performance.now()]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}
"""


def record_script_states(page) -> None:
    page.evaluate(STATE_LOG_JS)


def script_states_since(page, started_ms: float) -> list[tuple[str, float]]:
    return [(state, at) for state, at in page.evaluate("() => window.__stateLog || []")
            if at >= started_ms]


def fingerprints(page) -> dict[str, str]:
    return page.evaluate(FINGERPRINTS_JS)


def wait_until_loaded(page, chart_keys: tuple[str, ...] = (), timeout_ms: float = 90_000) -> None:
    """The first run finished and the named charts are drawn."""
    page.wait_for_selector(SETTLED, timeout=timeout_ms)
    keys = list(chart_keys)
    page.wait_for_function(
        """(keys) => {
             const app = document.querySelector('[data-testid="stApp"]');
             if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
             const drawn = k => { const gd = document.querySelector(`.st-key-${k} .js-plotly-plot`);
                                  return gd && gd._fullLayout; };
             if (!keys.every(drawn)) return false;
             window.__settledAt = performance.now();
             return true; }""",
        arg=keys, polling="raf", timeout=timeout_ms)


def wait_for_tab_charts(page, timeout_ms: float = 120_000) -> None:
    """The script is idle and the open tab shows at least one drawn chart (whatever its key)."""
    page.wait_for_selector(SETTLED, timeout=timeout_ms)
    page.wait_for_function(
        """() => { const app = document.querySelector('[data-testid="stApp"]');
             const panel = document.querySelector('[role="tabpanel"]:not([hidden])');
             return app.getAttribute('data-test-script-state') === 'notRunning' && panel
                    && [...panel.querySelectorAll('.js-plotly-plot')]
                           .some(gd => gd._fullLayout); }""",
        polling="raf", timeout=timeout_ms)


def wait_until_changed(page, before: dict[str, str], timeout_ms: float = 90_000) -> None:
    """The script is idle again and every chart in `before` shows different content."""
    page.wait_for_function(CHANGED_JS, arg=[before, None], polling="raf", timeout=timeout_ms)


def slider(page, label: str):
    """The keyboard-focusable thumb of the slider labelled `label` (an input[type=range])."""
    return page.locator(f'input[type="range"][aria-label="{label}"]')


def nudge(page, label: str, key: str = "ArrowLeft") -> float:
    """Focus a slider's thumb and press a key; returns performance.now() just before."""
    thumb = slider(page, label)
    thumb.focus()
    started = page.evaluate("() => performance.now()")
    thumb.press(key)
    return started


# The epoch animation's Plotly slider: clicking its rail jumps to the nearest step, entirely in
# the browser (Plotly.animate), so no Streamlit rerun follows.
ANIMATION_RAIL = ".st-key-animation .slider-group .slider-rail-touch-rect"
ANIMATION_TITLE_JS = """
() => { const t = document.querySelector('.st-key-animation .gtitle');
        return t ? t.textContent : null; }
"""


def animation_title(page) -> str | None:
    """The epoch animation's title as drawn in its SVG ("Thinned network of epoch e")."""
    return page.evaluate(ANIMATION_TITLE_JS)


def wait_for_animation_title(page, expected: str, timeout_ms: float = 60_000) -> None:
    """Until the epoch animation's drawn title is `expected` and the script is idle."""
    page.wait_for_function(
        """(expected) => { const app = document.querySelector('[data-testid="stApp"]');
             return app && app.getAttribute('data-test-script-state') === 'notRunning'
                    && (TITLE)() === expected; }""".replace(
            "(TITLE)", "(" + ANIMATION_TITLE_JS.strip() + ")"),
        arg=expected, polling="raf", timeout=timeout_ms)


def click_epoch_slider(page, fraction: float) -> float:
    """Click the animation's slider rail at `fraction` (0 = first step, 1 = last) and wait
    until the drawn title changes; returns milliseconds from the mouse press to that frame."""
    rail = page.locator(ANIMATION_RAIL)
    rail.scroll_into_view_if_needed()  # a click outside the window reaches nothing
    box = rail.bounding_box()
    before = animation_title(page)
    page.evaluate("""() => { window.__pressedAt = null;
        document.addEventListener('mousedown', () => { window.__pressedAt = performance.now(); },
                                  {capture: true, once: true}); }""")
    page.mouse.click(box["x"] + 4 + fraction * (box["width"] - 8), box["y"] + box["height"] / 2)
    page.wait_for_function(
        """(before) => { const now = (TITLE)();
             if (now === null || now === before) return false;
             window.__drawnAt = performance.now(); return true; }""".replace(
            "(TITLE)", "(" + ANIMATION_TITLE_JS.strip() + ")"),
        arg=before, polling="raf", timeout=10_000)
    return page.evaluate("() => window.__drawnAt - window.__pressedAt")


def axe_script() -> Path:
    """axe.min.js of axe-core AXE_VERSION, installed from the npm registry if it is missing
    (`npm install --prefix .cache/axe axe-core@AXE_VERSION`, as `.ci/run` does)."""
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(f"axe-core is not in {AXE_DIR} and npm is not installed: "
                               "apt-get install -y npm, or run .ci/run")
        subprocess.run([npm, "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund",
                        "--no-save", f"axe-core@{AXE_VERSION}"], check=True,
                       stdout=subprocess.DEVNULL)
    return AXE_SCRIPT


# JavaScript: axe-core over the whole document with the given rule tags; the violations, each
# with its nodes (CSS selector, a piece of HTML, axe's summary of what fails).
AXE_RUN_JS = """
async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                          resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160),
                              summary: n.failureSummary}))}));
}
"""


def axe_violations(page, tags=WCAG_21_AA) -> list[dict]:
    """Inject axe-core into the page (once) and return its violations for `tags`."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe_script()))
    return page.evaluate(AXE_RUN_JS, list(tags))


# JavaScript: every non-empty text of the Plotly charts (SVG, which axe cannot judge: it marks
# them "needs review") with its fill colour's contrast against the charts' white paper.
SVG_TEXT_CONTRAST_JS = r"""
() => {
  const channel = v => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const out = [];
  for (const text of document.querySelectorAll('.js-plotly-plot svg text')) {
    if (!text.textContent.trim() || !text.getClientRects().length) continue;
    const style = getComputedStyle(text);
    const rgb = (style.fill.match(/[\d.]+/g) || []).map(Number);
    if (rgb.length < 3) continue;
    const alpha = (rgb.length > 3 ? rgb[3] : 1) * parseFloat(style.opacity || '1')
                  * parseFloat(style.fillOpacity || '1');
    // Over white: the colour as drawn, then its relative luminance.
    const [r, g, b] = rgb.slice(0, 3).map(c => alpha * c + (1 - alpha) * 255);
    const lum = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const holder = text.closest('[class*="st-key-"]');
    const key = holder ? [...holder.classList].find(c => c.startsWith('st-key-')).slice(7) : '';
    out.push({chart: key, text: text.textContent.slice(0, 40), fill: style.fill,
              ratio: 1.05 / (lum + 0.05)});
  }
  return out;
}
"""


def chart_text_contrast(page) -> list[dict]:
    return page.evaluate(SVG_TEXT_CONTRAST_JS)
