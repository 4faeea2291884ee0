"""The Learn tab's figure: what one unit receives during training, over sampled masks, beside
what the test-time network feeds it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

from dropout_viz.figures.style import (
    CLASS_COLORS,
    MARKER_LINE,
    NEGATIVE_WEIGHT_COLOR,
    base_layout,
    legible_axes,
    line_scale,
)

if TYPE_CHECKING:  # only for annotations: a dataclass of numbers
    from dropout_viz.lesson import UnitInput


def site_name(site: int) -> str:
    """A dropout site in words: site 0 is the inputs, site l the l-th hidden layer."""
    return "the inputs" if site == 0 else f"hidden layer {site}"


def unit_input_figure(result: UnitInput, projector: bool = False) -> go.Figure:
    """Histogram of the unit's training-time inputs over sampled masks, with the test-time input."""
    scale = line_scale(projector)
    fig = go.Figure(go.Histogram(x=result.sampled, nbinsx=40, name="training-time inputs",
                                 marker={"color": CLASS_COLORS[4]}, opacity=0.8))
    lines = (
        (result.sampled_mean, f"mean over {result.n_masks} masks", CLASS_COLORS[0], "solid"),
        (result.test_time, "test-time input", CLASS_COLORS[1], "dash"),
        (result.without_fix, result.without_fix_text, NEGATIVE_WEIGHT_COLOR, "dot"),
    )
    for position, (value, label, color, dash) in enumerate(lines):
        fig.add_vline(x=value, line={"color": color, "dash": dash, "width": 3 * scale})
        # Dark text (orange on white is too faint to read, 2.3:1), framed in the line's colour.
        fig.add_annotation(x=value, y=1.0 - 0.13 * position, yref="paper", xanchor="left",
                           yanchor="top",
                           text=f" {label}: {value:.3g}", showarrow=False,
                           bgcolor="rgba(255,255,255,0.9)", font={"color": "#1A1A1A"},
                           bordercolor=color, borderwidth=2 * scale)
    fig.update_layout(**base_layout(
        f"Input of one unit after {site_name(result.site)}: training vs test time", projector))
    fig.update_layout(height=380 if projector else 320, showlegend=False, bargap=0.05)
    fig.update_xaxes(title_text="pre-activation z (input the unit receives)")
    fig.update_yaxes(title_text="masks", linecolor=MARKER_LINE)
    return legible_axes(fig)
