"""A Plotly chart that a rerun redraws in place, once, and only when its figure changed.

`st.plotly_chart` puts a hash of the figure into the element's identity, so every new figure
(a new p, say) is a new element: the chart is mounted afresh and drawn twice (on mount, and
again when its own update event sets its state), and the old one is purged. For the epoch
animation (24 frames) each draw is the largest piece of work the browser does in a p move.
This component keeps one Plotly graph per key and calls `Plotly.react` on it once per new
figure; a rerun that brings the same bytes draws nothing, and one whose picture the graph
already shows (p_scrub moved it there, `shows`) only takes the new figure's frames. The page's
p_scrub component finds the graph as before (`.st-key-<key> .js-plotly-plot`).

Plotly.js is the copy Streamlit ships for its own Plotly chart (the module puts it on `window`):
the same code and version as every other chart of the page, and no second 4.7 MB download.
Where that module cannot be found (another Streamlit), `show` falls back to `st.plotly_chart`.
The figure is sent as the bytes of its JSON (what `st.plotly_chart` sends), with the alt text
and Plotly config beside it; Streamlit sends an unchanged element once and refers to it after.
Like Streamlit's own charts, each has a Fullscreen button (a real button, reached by Tab too):
the chart then fills the screen until Esc or the button again.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from dropout_viz.figures import PLOTLY_CONFIG

NAME = "dropout_viz.live_chart"
LIVE_CHART_JS = """
const PLOTLY_MODULE = "__PLOTLY_MODULE__";
function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  window.__dropoutVizPlotly ||= import(new URL(PLOTLY_MODULE, document.baseURI).href)
    .then(() => window.Plotly);
  return window.__dropoutVizPlotly;
}
function sameBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}
// Material Symbols "fullscreen" and "fullscreen_exit", the icons of Streamlit's own button.
const ICONS = {
  enter: "M7 14H5v5h5v-2H7v-3zm-2-4h2V7h3V5H5v5zm12 7h-3v2h5v-5h-2v3zM14 5v2h3v3h2V5h-5z",
  exit: "M5 16h3v3h2v-5H5v2zm3-8H5v2h5V5H8v3zm6 11h2v-3h3v-2h-5v5zm2-11V5h-2v5h5V8h-3z",
};
// Streamlit's "Fullscreen" button, which its own charts have: the chart then fills the screen
// (its figure's height set aside, as in the projector box) until Esc or the button again.
function addFullscreenButton(holder, gd) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "live-chart-fullscreen";
  const show = (full) => {
    const label = full ? "Close fullscreen" : "Fullscreen";
    button.setAttribute("aria-label", label);
    button.title = label;
    button.innerHTML = `<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">`
      + `<path fill="currentColor" d="${full ? ICONS.exit : ICONS.enter}"/></svg>`;
  };
  show(false);
  button.addEventListener("click", () => (document.fullscreenElement === holder
    ? document.exitFullscreen() : holder.requestFullscreen()));
  holder.addEventListener("fullscreenchange", () => {
    show(document.fullscreenElement === holder);
    gd.style.height = fills(gd) ? "100%" : "";
    if (gd._fullLayout && window.Plotly) {
      window.Plotly.relayout(gd, fills(gd) ? { autosize: true, height: null }
                                           : { height: gd._height });
    }
  });
  holder.prepend(button);
}
// Whether the graph fills its holder (the projector box, or the screen), or takes the
// figure's own height.
function fills(gd) {
  return gd._fill || document.fullscreenElement === gd.parentElement;
}
export default function (component) {
  const { data, parentElement } = component;
  // Called again with each new payload, in the same element: the graph lives on.
  let gd = parentElement.querySelector(":scope > .live-chart");
  if (!gd) {
    gd = document.createElement("div");
    gd.className = "live-chart";
    parentElement.classList.add("live-chart-holder");
    parentElement.appendChild(gd);
    addFullscreenButton(parentElement, gd);
    gd._resize = new ResizeObserver(() => {
      if (gd._fullLayout && window.Plotly) window.Plotly.Plots.resize(gd);
    });
    gd._resize.observe(gd);
  }
  const cleanup = () => { gd._resize.disconnect(); if (window.Plotly) window.Plotly.purge(gd); };
  if (sameBytes(gd._payload, data)) return cleanup;
  gd._payload = data;
  const { figure, config, alt, fill, shows } = JSON.parse(new TextDecoder().decode(data));
  gd.setAttribute("role", "figure");
  gd.setAttribute("aria-label", alt);
  gd._fill = fill;
  gd._height = figure.layout.height;
  gd.style.height = fills(gd) ? "100%" : "";
  if (fills(gd)) { delete figure.layout.height; figure.layout.autosize = true; }
  // One change of the graph at a time, in the order the payloads came: a frame swap never
  // interleaves with the redraw of a newer figure.
  gd._changes = (gd._changes || Promise.resolve()).then(() => plotly()).then(async (Plotly) => {
    if (gd._payload !== data) return;  // a newer figure came meanwhile
    const frames = figure.frames || [];
    const names = (list) => list.map((frame) => String(frame.name)).join();
    if (shows && gd.dataset.shows === shows && gd._fullLayout
        && names(frames) === names(gd._transitionData._frames)) {
      // The graph already shows this figure's picture (p_scrub drew it there): take the
      // figure's frames and facts, and skip a redraw that would draw the same picture. The
      // frames have the graph's frame names (the same epochs), so each replaces its namesake
      // (deleting them all first lost some of the ones added after, in Plotly 4.1).
      await Plotly.addFrames(gd, frames);
      gd.layout.meta = figure.layout.meta;
      return;
    }
    await Plotly.react(gd, { data: figure.data, layout: figure.layout, frames, config });
    gd.dataset.shows = shows || "";
  }).catch((error) => console.error("live chart", error));
  return cleanup;
}
"""


# The button sits in the chart's top right corner (above it, where Streamlit's own toolbar
# goes, the tabs or the page's header would cover it), with Plotly's mode bar moved left of
# it; it shows while the pointer is on the chart or the button has the keyboard's focus.
LIVE_CHART_CSS = """
.live-chart-holder { position: relative; }
.live-chart-holder:fullscreen { background: #ffffff; padding: 1rem; box-sizing: border-box; }
.live-chart-fullscreen {
  position: absolute; top: 0; right: 0; z-index: 2; display: flex; padding: 0.2rem;
  border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem; background: #ffffff;
  color: rgb(49, 51, 63); cursor: pointer; opacity: 0; }
.live-chart-holder:hover > .live-chart-fullscreen, .live-chart-fullscreen:focus-visible,
.live-chart-holder:fullscreen > .live-chart-fullscreen { opacity: 1; }
.live-chart-holder:fullscreen > .live-chart-fullscreen { top: 1rem; right: 1rem; }
.live-chart-holder .modebar-container { right: 2.25rem !important; }
"""


@functools.cache
def plotly_module() -> str | None:
    """The path (under the server's root) of Streamlit's Plotly chart module, or None."""
    found = sorted((Path(st.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js"))
    return f"static/js/{found[0].name}" if len(found) == 1 else None


@functools.cache
def _component():
    return st.components.v2.component(
        NAME, js=LIVE_CHART_JS.replace("__PLOTLY_MODULE__", plotly_module()), css=LIVE_CHART_CSS,
        isolate_styles=False)  # Plotly styles its graph from the page's own stylesheet


def payload(fig: go.Figure, alt: str, fill: bool = False, shows: str = "") -> bytes:
    """What the component receives: the figure's JSON with its alt text and Plotly config."""
    head = json.dumps({"config": PLOTLY_CONFIG, "alt": alt, "fill": fill, "shows": shows})
    return f'{head[:-1]}, "figure": '.encode() + pio.to_json(fig, validate=False).encode() + b"}"


def show(fig: go.Figure, key: str, alt: str, fill: bool = False, shows: str = "") -> None:
    """`fig` under `key`, described by `alt`; `fill`: as tall as its container (the projector
    box), else as tall as the figure's layout says. `shows` names the picture the figure
    draws (p_scrub's picture ids): a graph that already shows it takes the figure's frames
    without drawing it again."""
    if plotly_module() is None:
        st.plotly_chart(fig, key=key, config=PLOTLY_CONFIG, alt=alt,
                        height="stretch" if fill else "content")
        return
    _component()(key=key, data=payload(fig, alt, fill, shows), width="stretch",
                 height="stretch" if fill else "content")
