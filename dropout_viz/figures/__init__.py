"""Pure Plotly figure builders: arrays in, `go.Figure` out (no Streamlit, no engine)."""

from dropout_viz.figures.boundary import boundary_figure, boundary_panels
from dropout_viz.figures.curves import history_figure, overlay_history_figure
from dropout_viz.figures.network import network_figure
from dropout_viz.figures.style import PLOTLY_CONFIG, base_layout

__all__ = [
    "PLOTLY_CONFIG",
    "base_layout",
    "boundary_figure",
    "boundary_panels",
    "history_figure",
    "network_figure",
    "overlay_history_figure",
]
