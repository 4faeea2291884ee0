"""Figures of the "Build a sub-network" view: a clickable network diagram and knock-out bars,
and for regression the hand-made sub-network's curve beside the full network's.

Pure Plotly: arrays in, figures out. The diagram is `network_figure`'s, with each unit's
(layer, index) attached as customdata, so a click names the unit it hit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dropout_viz.figures import style
from dropout_viz.figures.regression import curves_figure, test_time_curve, thinned_curve

NODE_ROLES = {"nodes_kept": False, "nodes_dropped": True, "dropped_x": True}
COST_COLOR = style.NEGATIVE_WEIGHT_COLOR  # removing the unit makes the network worse
GAIN_COLOR = style.POSITIVE_WEIGHT_COLOR  # removing it makes the network better


def clickable(fig: go.Figure) -> go.Figure:
    """Give every unit marker of a `network_figure` its [layer, index (0-based)] as customdata.

    The node traces list the kept (or dropped) units in the order of layout.meta.nodes."""
    nodes = fig.layout.meta["nodes"]
    for trace in fig.data:
        role = (trace.meta or {}).get("role") if isinstance(trace.meta, dict) else None
        if role in NODE_ROLES:
            trace.customdata = [[n["layer"], n["index"]] for n in nodes
                                if n["dropped"] == NODE_ROLES[role]]
    fig.update_layout(clickmode="event+select")
    return fig


def knockout_figure(costs: Mapping[str, tuple[Sequence[str], np.ndarray]], measure_label: str,
                    projector: bool = False) -> go.Figure:
    """One bar chart per network (stacked vertically): the cost of removing each unit alone,
    sorted, costliest first. costs: network label → (unit names, costs in that order)."""
    labels = list(costs)
    fig = make_subplots(rows=len(labels), cols=1, subplot_titles=labels,
                        vertical_spacing=0.25 if len(labels) > 1 else 0.0)
    for row, label in enumerate(labels, start=1):
        names, values = costs[label]
        values = np.asarray(values, dtype=float)
        fig.add_trace(go.Bar(
            x=list(names), y=values.astype(np.float32),
            marker={"color": [COST_COLOR if v > 0 else GAIN_COLOR for v in values]},
            hovertemplate="unit %{x}: %{y:.4f}<extra></extra>", showlegend=False,
            name=label, meta={"role": "knockout", "network": label}), row=row, col=1)
        fig.update_xaxes(type="category", showticklabels=len(names) <= 40,
                         title_text="hidden unit (layer.unit), sorted", row=row, col=1)
        fig.update_yaxes(title_text=measure_label, zeroline=True, row=row, col=1)
    fig.update_layout(**style.base_layout("", projector))
    fig.update_annotations(font={"size": style.font_size(projector)})
    fig.update_layout(height=(320 if projector else 250) * len(labels) + 40, bargap=0.1,
                      meta={"networks": labels})
    return style.legible_axes(fig)


def handmade_curve_figure(xs: np.ndarray, handmade: np.ndarray, full: np.ndarray,
                          handmade_mse: float, full_mse: float, X_train, y_train, X_test, y_test,
                          full_name: str = "Full network",
                          projector: bool = False) -> go.Figure:
    """Regression's twin of the hand-made boundary panels: the hand-made sub-network's curve
    and the full test-time network's (each (R,) over the grid xs) over the points, the title
    with both test MSEs (y standardised)."""
    return curves_figure(xs, [thinned_curve("Your sub-network", handmade, handmade_mse),
                              test_time_curve(full_name, full, full_mse)],
                         X_train, y_train, X_test, y_test, projector=projector)
