"""Download buttons a tab can add: its charts as standalone HTML, the run as data.

Files are built only when a button is clicked (`data=` is a callable), and clicking does not
rerun the page.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dropout_viz import export
from dropout_viz.engine import TrainingRun
from dropout_viz.settings import Settings


def _html_maker(fig: go.Figure, title: str):
    return lambda: export.figure_html(fig, title)


def download_figures(figures: dict[str, go.Figure], prefix: str) -> None:
    """One button per chart, in a popover: a standalone HTML file that works offline."""
    if not figures:
        return
    with st.popover("⬇ Download charts", help="Each chart as a standalone HTML page "
                    "(interactive, works offline)."):
        for name, fig in figures.items():
            stem = f"dropout_viz-{prefix}-{name.replace('_', '-')}"
            st.download_button(f"{name.replace('_', ' ')} (HTML)", _html_maker(fig, stem),
                               file_name=f"{stem}.html", mime="text/html",
                               key=f"download_{prefix}_chart_{name}", on_click="ignore",
                               icon=":material/download:")
        st.caption("For slides: the camera button on each chart saves a PNG at 2× scale.")


def download_run(run: TrainingRun, settings: Settings, prefix: str = "run") -> None:
    """The run as data: per-epoch history (CSV) and the final weights (NPZ)."""
    with st.popover("⬇ Download the run", help="Training history and final weights."):
        st.download_button("History (CSV)", lambda: export.history_csv(run.history),
                           file_name="dropout_viz-history.csv", mime="text/csv",
                           key=f"download_{prefix}_history", on_click="ignore",
                           icon=":material/table:")
        st.download_button("Weights (NPZ)", lambda: export.weights_npz(run, settings),
                           file_name="dropout_viz-weights.npz",
                           mime="application/octet-stream", key=f"download_{prefix}_weights",
                           on_click="ignore", icon=":material/download:")
        st.caption("Load the weights with numpy.load: W0, b0, W1, b1, … are (fan_in, fan_out) "
                   "matrices and biases; keep_probs, convention and settings_json describe "
                   "the run.")


def download_row(figures: dict[str, go.Figure], run: TrainingRun | None, settings: Settings,
                 prefix: str) -> None:
    """Both popovers side by side (the usual place: under a tab's charts)."""
    charts_col, run_col, _ = st.columns([1, 1, 3])
    with charts_col:
        download_figures(figures, prefix)
    if run is not None:
        with run_col:
            download_run(run, settings, prefix)
