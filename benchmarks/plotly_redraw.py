"""Where a p move's drawing time goes in the browser: Plotly alone, without Streamlit.

    flock /tmp/cpu-heavy.lock python benchmarks/plotly_redraw.py

Builds the first tab's two figures (the epoch animation and the training curves) for p = 0.5
and p = 0.45 with the app's own code, loads plotly.js (the copy the plotly package ships) into
a blank page in headless Chromium, and times `Plotly.react` from one p to the other until the
next animation frame ("redraw": what a rerun with a new figure costs the live chart), and
`Plotly.animate` to one of its frames ("one frame": the epoch slider, Play, a held p); medians
of ROUNDS alternating rounds. Variants leave one part of the animation out, to show what each
part costs. The difference between these times and a p move
in `page_latency.py` is Streamlit's own work in the browser (messages, React, the chart
component). Not a test: nothing is asserted.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import plotly

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "browser")]

from harness import chromium  # noqa: E402

from dropout_viz import pipeline  # noqa: E402
from dropout_viz.figures import history_figure  # noqa: E402
from dropout_viz.settings import DEFAULTS  # noqa: E402
from dropout_viz.tab_figures import animation_figure  # noqa: E402

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
REDRAW_JS = """
async ([id, first, second, rounds]) => {
  const gd = document.getElementById(id);
  const draw = async f => {
    await Plotly.react(gd, f.data, f.layout, {displayModeBar: false});
    if (f.frames) await Plotly.addFrames(gd, f.frames);
  };
  const painted = () => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)));
  const median = times => times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  await draw(first);
  const redraws = [], frames = [];
  for (let i = 0; i < rounds; i++) {
    let started = performance.now();
    await draw(JSON.parse(JSON.stringify(i % 2 ? first : second)));
    await painted();
    redraws.push(performance.now() - started);
    const names = (gd._transitionData._frames || []).map(f => f.name);
    if (names.length) {  // one frame, as the epoch slider and a held p show it
      started = performance.now();
      await Plotly.animate(gd, [names[(i * 7) % names.length]], {mode: "immediate",
          frame: {duration: 0, redraw: true}, transition: {duration: 0}});
      await painted();
      frames.push(performance.now() - started);
    }
  }
  Plotly.purge(gd);
  return [median(redraws), frames.length ? median(frames) : null];
}
"""


ROUNDS = 15  # alternating redraws per row; the median is printed


def plain(spec: dict) -> dict:
    """A figure as the browser's JSON (typed arrays as lists)."""
    return json.loads(json.dumps(spec, default=lambda o: o.tolist() if hasattr(o, "tolist")
                                 else str(o)))


def figures(p: float) -> tuple[dict, dict]:
    settings = DEFAULTS.replace(p_hidden=p)
    run = pipeline.train_for(settings.train_key())
    return (plain(animation_figure(run, settings).to_dict()),
            plain(json.loads(history_figure(run.history).to_json())))


def without(animation: dict, part: str) -> dict:
    shown = copy.deepcopy(animation)
    if part == "frames":
        shown.pop("frames", None)
    elif part == "slider and buttons":
        shown["layout"].pop("sliders", None)
        shown["layout"].pop("updatemenus", None)
    else:
        drop = {"points": lambda t: t.get("name") in ("train", "test"),
                "maps": lambda t: t.get("type") == "contour",
                "links": lambda t: "weights" in str(t.get("name"))}[part]
        kept = [i for i, t in enumerate(shown["data"]) if not drop(t)]
        shown["data"] = [shown["data"][i] for i in kept]
        index = {old: new for new, old in enumerate(kept)}
        for frame in shown.get("frames", []):  # the frames update what is left, renumbered
            pairs = [(index[i], t) for i, t in zip(frame["traces"], frame["data"]) if i in index]
            frame["traces"], frame["data"] = [i for i, _ in pairs], [t for _, t in pairs]
    return shown


def main() -> int:
    from playwright.sync_api import sync_playwright

    (animation_a, history_a), (animation_b, history_b) = figures(0.5), figures(0.45)
    rows = [("animation", animation_a, animation_b, "g")]
    for part in ("frames", "slider and buttons", "points", "maps", "links"):
        rows.append((f"animation without {part}", without(animation_a, part),
                     without(animation_b, part), "g"))
    rows.append(("training curves", history_a, history_b, "h"))
    page_html = ("<html><body><div id=g style='width:1300px;height:700px'></div>"
                 "<div id=h style='width:1300px;height:400px'></div></body></html>")
    with sync_playwright() as playwright, chromium(playwright) as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_content(page_html)
        page.add_script_tag(path=str(PLOTLY_JS))
        print(f"{'':38s} {'redraw':>9s} {'one frame':>10s}")
        for label, first, second, div in rows:
            redraw, frame = page.evaluate(REDRAW_JS, [div, first, second, ROUNDS])
            shown = "" if frame is None else f"{frame:7.0f} ms"
            print(f"{label:38s} {redraw:6.0f} ms {shown}")
    print(f"plotly.js {plotly.__version__} (the plotly package's copy), Chromium headless")
    return 0


if __name__ == "__main__":
    sys.exit(main())
