"""Move p in the browser: the last frame of every p the server has drawn for these settings.

A p move normally waits for the server's rerun and for Plotly to redraw the whole animation.
When the server already holds the runs for other values of p (prepared while it was idle,
ui/prefetch.py, or asked for before), their animations' last frames ride along with the page
in this small component, and the moment the p slider reaches one of those values (dragging,
or a key press) the animation shows that frame, drawn in the page: merged into the figure as
the epoch slider's `Plotly.animate` merges a frame, then drawn once with `Plotly.react`, just
after the slider has asked the server for the rerun (so the two work at the same time). The
rerun brings the same picture, and everything else (the curves, the numbers, the epochs of the
new run).

What the browser shows is the server's own frame, so the two never disagree; and it shows it
only while the animation is at its last epoch (the frame it has), else it waits for the server.
The message changes only when the server holds one more p's picture; else it repeats
unchanged, and Streamlit sends a repeated large element once and refers to it by hash
afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

KEY = "p_scrub"
P_WIDGET = "p_hidden"  # the p slider's widget key (sidebar, or the present-mode bar)
EVENT = "dropout-viz-p"  # classroom.P_KEYS_JS sends it when a key press asks for a p
# A components-v2 component runs in the page itself, so it can listen to the p slider and
# reach the chart's Plotly graph (ui/live_chart.py puts Streamlit's copy of Plotly on `window`).
P_SCRUB_JS = """
let pictures = [], chart = "", lastEpoch = "", slider = "", asked = null;
// The slider (react-aria) moves its thumb without an input event: watch its value instead.
const watcher = new MutationObserver((changes) => {
  for (const change of changes) {
    if (change.target.matches(slider)) show(Number(change.target.value));
  }
});
const onAsked = (event) => show(Number(event.detail));
function show(p) {
  if (p === asked) return;  // React sets the attribute again on every render
  asked = p;
  const picture = pictures.find(([value]) => Math.abs(value - p) < 1e-6);
  const gd = document.querySelector(`.st-key-${chart} .js-plotly-plot`);
  if (!picture || !gd || !gd._fullLayout || !window.Plotly) return;  // the server will
  const epochs = (gd._fullLayout.sliders || [])[0];
  if (epochs && epochs.steps[epochs.active].label !== lastEpoch) return;  // not at the end
  // Drawn in a task of its own: this runs while the slider changes, before Streamlit sends
  // the rerun, which would otherwise wait for the drawing (the server then works meanwhile).
  setTimeout(() => { if (p === asked) draw(gd, picture); }, 0);
}
function draw(gd, picture) {
  // The frame merged into the figure as Plotly.animate merges it, then drawn once: animate
  // would draw the traces it animates and then redraw everything.
  const frame = picture[1], data = gd.data.slice();
  frame.traces.forEach((index, i) => { data[index] = merged(data[index], frame.data[i]); });
  window.Plotly.react(gd, data, merged(gd.layout, frame.layout || {}))
    .then(() => { gd.dataset.pScrubbed = String(picture[0]); gd.dataset.shows = picture[2]; });
}
// Objects merge key by key; arrays, typed arrays (as their {dtype, bdata} spec) and values
// replace.
function merged(old, update) {
  const isObject = (v) => v && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v);
  if (!isObject(old) || !isObject(update) || "bdata" in update) return update;
  const out = { ...old };
  for (const [key, value] of Object.entries(update)) out[key] = merged(old[key], value);
  return out;
}
export default function (component) {
  ({ pictures, chart, lastEpoch, slider } = component.data);
  // It draws nothing: take its slot out of the page's layout, or it leaves an empty gap.
  const host = component.parentElement.host || component.parentElement;
  const slot = host.closest('[data-testid="stElementContainer"]');
  if (slot) slot.style.display = "none";
  const thumb = document.querySelector(slider);
  asked = thumb ? Number(thumb.value) : null;  // what the page shows now
  watcher.observe(document.body, { subtree: true, attributeFilter: ["aria-valuetext"] });
  document.addEventListener("dropout-viz-p", onAsked);
  return () => {
    watcher.disconnect();
    document.removeEventListener("dropout-viz-p", onAsked);
  };
}
"""
NAME = "dropout_viz.p_scrub"
P_SCRUB = st.components.v2.component(NAME, js=P_SCRUB_JS)


def mount(pictures: Sequence[tuple[float, dict[str, Any], str]], chart: str,
          last_epoch: int) -> None:
    """The component, holding `pictures` ((p, last frame, picture id) triples) for the chart
    keyed `chart`, whose last frame is epoch `last_epoch`. It draws nothing; the graph it moves
    to a picture says so (`data-shows`, ui/live_chart.py)."""
    P_SCRUB(key=KEY, data={"pictures": [list(picture) for picture in pictures], "chart": chart,
                           "lastEpoch": str(last_epoch),
                           "slider": f'.st-key-{P_WIDGET} input[type="range"]'},
            width=1, height=0)
