"""Decision-boundary figures: class probabilities over a 2-D grid, with the data on top.

Two classes: P(class 1) in whole percent on a fixed 0..100 scale (white at 50%), drawn by one
contour trace that colours the plane and draws the 50% line from the same grid.
More classes: one heatmap per class, showing the winning class's probability only where that class
wins, so hue = predicted class and depth of colour = confidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dropout_viz.figures import style

DIFF_COLORSCALE = "Viridis"


def _check_probs(xs: np.ndarray, ys: np.ndarray, grid_probs: np.ndarray) -> np.ndarray:
    grid_probs = np.asarray(grid_probs, dtype=float)
    if grid_probs.ndim == 1:  # P(class 1) of a two-class problem
        grid_probs = np.column_stack([1.0 - grid_probs, grid_probs])
    if grid_probs.ndim != 2 or grid_probs.shape[0] != len(xs) * len(ys):
        raise ValueError(
            f"grid_probs must have shape ({len(xs) * len(ys)}, n_classes) for a "
            f"{len(ys)}x{len(xs)} grid, got {grid_probs.shape}"
        )
    return grid_probs


def _n_classes(grid_probs: np.ndarray, y_train, y_test, n_classes: int | None) -> int:
    if n_classes is not None:
        return int(n_classes)
    labels = [np.asarray(y, dtype=int) for y in (y_train, y_test) if y is not None and len(y)]
    seen = max((int(y.max()) + 1 for y in labels), default=0)
    return max(grid_probs.shape[1], seen, 2)


def percent(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities as whole percentages, one byte each: what the maps draw and ship (a
    fraction of a percent is invisible in a colour, and 8-bit arrays are a quarter of float32)."""
    return np.rint(np.asarray(probabilities) * 100).astype(np.uint8)


def two_class_colorscale() -> list[list[Any]]:
    """Class-0 colour → white at 0.5 → class-1 colour; tinted so data points stay visible."""
    return [
        [0.0, style.tint(style.class_color(0), 0.6)],
        [0.5, "rgb(255,255,255)"],
        [1.0, style.tint(style.class_color(1), 0.6)],
    ]


def _probability_traces(
    xs: np.ndarray,
    ys: np.ndarray,
    grid_probs: np.ndarray,
    n_classes: int,
    projector: bool,
    show_colorbar: bool,
    contour: bool,
) -> list[go.BaseTraceType]:
    shape = (len(ys), len(xs))
    if n_classes <= 2:
        common = dict(
            x=xs, y=ys, z=percent(grid_probs[:, 1]).reshape(shape), zmin=0, zmax=100,
            colorscale=two_class_colorscale(), showscale=show_colorbar,
            colorbar={"title": {"text": "P(class 1), %", "side": "right"}, "len": 0.8},
            hovertemplate="x=%{x:.2f}<br>y=%{y:.2f}<br>P(class 1)=%{z}%<extra></extra>",
            name="P(class 1)")
        if not contour:
            return [go.Heatmap(**common, zsmooth="best", meta={"role": "probability"})]
        # One grid draws both the colours and the 50% line (half the bytes of a heatmap
        # with a contour on top of it).
        return [go.Contour(
            **common, meta={"role": "probability", "boundary": 50},
            contours={"start": 50, "end": 50, "size": 1, "coloring": "heatmap",
                      "showlines": True},
            line={"width": 2.0 * style.line_scale(projector), "color": style.BOUNDARY_LINE})]

    winner = grid_probs.argmax(axis=1)
    confidence = grid_probs.max(axis=1).astype(np.float32)
    traces = []
    for k in range(n_classes):
        z = np.where(winner == k, confidence, np.nan).astype(np.float32).reshape(shape)
        color = style.class_color(k)
        traces.append(
            go.Heatmap(
                x=xs, y=ys, z=z, zmin=1.0 / n_classes, zmax=1.0,
                colorscale=[[0.0, style.tint(color, 0.08)], [1.0, style.tint(color, 0.6)]],
                showscale=False, hoverongaps=False, zsmooth="best",
                hovertemplate=(
                    f"x=%{{x:.2f}}<br>y=%{{y:.2f}}<br>class {k}, P=%{{z:.2f}}<extra></extra>"
                ),
                meta={"role": "probability", "class": k}, name=f"class {k} region",
            )
        )
    return traces


def _point_traces(
    X: np.ndarray | None,
    y: np.ndarray | None,
    kind: str,
    n_classes: int,
    projector: bool,
    showlegend: bool,
) -> list[dict[str, Any]]:
    """The data points of each class, filled (train) or hollow (test), as plain trace dicts:
    every boundary figure validates them when it adds them, and the epoch animation, which
    draws them once per panel, ships them as they are."""
    if X is None or y is None or len(X) == 0:
        return []
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    scale = style.line_scale(projector)
    traces = []
    for k in range(n_classes):
        pts = X[y == k]
        color = style.class_color(k)
        if kind == "train":
            marker = {"symbol": "circle", "size": 8 * scale, "color": color,
                      "line": {"color": style.POINT_OUTLINE, "width": 1 * scale}}
        else:
            # Open symbol: the ring is drawn in the class colour, thick enough to read.
            marker = {"symbol": "circle-open", "size": 9 * scale, "color": color,
                      "line": {"color": color, "width": 2.2 * scale}}
        traces.append(dict(
            type="scatter", x=pts[:, 0].astype(np.float32), y=pts[:, 1].astype(np.float32),
            mode="markers", marker=marker, name=kind,
            legendgroup=f"class {k}", legendgrouptitle={"text": f"class {k}"},
            showlegend=showlegend,
            hovertemplate=f"{kind}, class {k}<br>x=%{{x:.2f}}<br>y=%{{y:.2f}}<extra></extra>",
            meta={"role": kind, "class": k},
        ))
    return traces


# Streamlit's chart theme pads the axes 8 px away from the plot area; for a map framed by its
# mirrored axis lines that moves the frame off the map, onto the panel titles above it, into
# the neighbouring panel and under a legend below. Maps keep their frame on their edge.
FRAME_MARGIN = {"pad": 0}
# The legend under the panels starts this far below them (a fraction of the plotting height).
LEGEND_GAP = 0.04


def _axis_settings(xs: np.ndarray, ys: np.ndarray) -> tuple[dict, dict]:
    common = {"showgrid": False, "zeroline": False, "showline": True, "linecolor": "#999999",
              "mirror": True, "ticks": ""}
    xaxis = {**common, "range": [float(xs[0]), float(xs[-1])], "constrain": "domain"}
    yaxis = {**common, "range": [float(ys[0]), float(ys[-1])], "constrain": "domain"}
    return xaxis, yaxis


def boundary_figure(
    xs: np.ndarray,
    ys: np.ndarray,
    grid_probs: np.ndarray,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    title: str = "",
    n_classes: int | None = None,
    projector: bool = False,
    show_colorbar: bool = False,
) -> go.Figure:
    """Decision boundary of one model: probability heatmap, 0.5 contour, train/test points.

    grid_probs has shape (R*R, C) in the order of `make_grid` (a 1-D P(class 1) also works).
    """
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    grid_probs = _check_probs(xs, ys, grid_probs)
    n_classes = _n_classes(grid_probs, y_train, y_test, n_classes)
    fig = go.Figure()
    fig.add_traces(
        _probability_traces(xs, ys, grid_probs, n_classes, projector, show_colorbar, True)
    )
    fig.add_traces(_point_traces(X_train, y_train, "train", n_classes, projector, True))
    fig.add_traces(_point_traces(X_test, y_test, "test", n_classes, projector, True))
    xaxis, yaxis = _axis_settings(xs, ys)
    fig.update_layout(**style.base_layout(title, projector))
    fig.update_layout(
        xaxis=xaxis,
        yaxis={**yaxis, "scaleanchor": "x", "scaleratio": 1},
        # Legend below the plot: the right-hand side belongs to the colour bar.
        legend={"groupclick": "toggleitem", "itemsizing": "constant", "orientation": "h",
                "x": 0.0, "y": -0.06, "yanchor": "top"},
        margin=FRAME_MARGIN,
        meta=_points_meta(y_train, y_test, n_classes, len(xs)),
    )
    return fig


def _points_meta(y_train, y_test, n_classes: int, resolution: int) -> dict[str, Any]:
    def counts(y) -> list[int]:
        if y is None:
            return [0] * n_classes
        return np.bincount(np.asarray(y, dtype=int), minlength=n_classes)[:n_classes].tolist()

    return {"n_classes": n_classes, "resolution": resolution,
            "n_train": counts(y_train), "n_test": counts(y_test)}


def _diff_values(panel: dict[str, Any], xs, ys) -> np.ndarray:
    """|difference| map in 0..1: given directly ("values") or from two probability grids.

    For C classes the difference is the total-variation distance ½·Σ|P_a − P_b|, which for two
    classes equals |P_a(class 1) − P_b(class 1)|.
    """
    if "values" in panel:
        values = np.asarray(panel["values"], dtype=float).ravel()
        if values.size != len(xs) * len(ys):
            raise ValueError(
                f"diff values must have {len(xs) * len(ys)} entries, got {values.size}"
            )
        return values
    a = _check_probs(xs, ys, panel["a"])
    b = _check_probs(xs, ys, panel["b"])
    return 0.5 * np.abs(a - b).sum(axis=1)


def boundary_panels(
    panels: Sequence[dict[str, Any]],
    xs: np.ndarray,
    ys: np.ndarray,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    title: str = "",
    n_classes: int | None = None,
    ncols: int | None = None,
    projector: bool = False,
    show_colorbar: bool = False,
    show_points: bool = True,
    contour: bool = True,
    panel_height: int | None = None,
) -> go.Figure:
    """Several boundaries on one grid, side by side at ONE colour scale, rows wrapping at ncols.

    Each panel is {"grid_probs": (R*R, C), "title": str, "accuracy": float (optional)} or a
    difference panel {"kind": "diff", "title": str, "a": probs, "b": probs} /
    {"kind": "diff", "values": (R*R,)} drawn in a sequential scale with its own colour bar.
    """
    if not panels:
        raise ValueError("boundary_panels needs at least one panel")
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    n_panels = len(panels)
    ncols = min(n_panels, ncols or min(n_panels, 4))
    nrows = math.ceil(n_panels / ncols)
    titles = [_panel_title(p) for p in panels]
    has_diff = any(p.get("kind") == "diff" for p in panels)
    fig = make_subplots(
        rows=nrows, cols=ncols, subplot_titles=titles, shared_xaxes="all", shared_yaxes="all",
        # Room for the colour bar of a difference panel between columns.
        horizontal_spacing=(0.07 if has_diff else 0.02) if ncols > 1 else 0.0,
        vertical_spacing=0.25 / max(nrows, 1),
    )
    probs_panels = [p for p in panels if p.get("kind", "probs") != "diff"]
    # The first probability panel carries the one probability colour bar (if any).
    first_probability = next((i for i, p in enumerate(panels)
                              if p.get("kind", "probs") != "diff"), -1)
    if n_classes is None:
        first = _check_probs(xs, ys, probs_panels[0]["grid_probs"]) if probs_panels else None
        n_classes = _n_classes(first if first is not None else np.zeros((0, 2)),
                               y_train, y_test, None)
    for i, panel in enumerate(panels):
        for trace in _panel_traces(panel, i, xs, ys, n_classes, projector,
                                   show_colorbar and i == first_probability, contour):
            fig.add_trace(trace, row=i // ncols + 1, col=i % ncols + 1)
        if show_points:
            for trace in (
                _point_traces(X_train, y_train, "train", n_classes, projector, i == 0)
                + _point_traces(X_test, y_test, "test", n_classes, projector, i == 0)
            ):
                fig.add_trace({**trace, "meta": {**trace["meta"], "panel": i}},
                              row=i // ncols + 1, col=i % ncols + 1)
    _panels_layout(fig, panels, xs, ys, title, ncols, projector)
    panel_height = panel_height or (340 if projector else 260)
    fig.update_layout(
        height=nrows * panel_height + 80,
        margin=FRAME_MARGIN,
        legend={"groupclick": "toggleitem", "itemsizing": "constant", "orientation": "h",
                "x": 0.0, "y": -LEGEND_GAP, "yanchor": "top"},
        meta={**_points_meta(y_train, y_test, n_classes, len(xs)),
              "n_panels": n_panels, "nrows": nrows, "ncols": ncols},
    )
    return fig


def _panel_traces(panel: dict[str, Any], i: int, xs: np.ndarray, ys: np.ndarray,
                  n_classes: int, projector: bool, show_colorbar: bool,
                  contour: bool) -> list[go.BaseTraceType]:
    """Panel i's map: a |difference| heatmap, or the class probabilities (with the one
    probability colour bar when `show_colorbar`)."""
    if panel.get("kind", "probs") == "diff":
        values = _diff_values(panel, xs, ys).astype(np.float32).reshape(len(ys), len(xs))
        return [go.Heatmap(
            x=xs, y=ys, z=values, zmin=0.0, zmax=1.0, colorscale=DIFF_COLORSCALE,
            showscale=True, name="|difference|", meta={"role": "diff", "panel": i},
            hovertemplate="x=%{x:.2f}<br>y=%{y:.2f}<br>|Δ|=%{z:.2f}<extra></extra>",
        )]
    probs = _check_probs(xs, ys, panel["grid_probs"])
    traces = _probability_traces(xs, ys, probs, n_classes, projector, show_colorbar, contour)
    for trace in traces:
        trace.meta = {**trace.meta, "panel": i}
    return traces


def _panels_layout(fig: go.Figure, panels: Sequence[dict[str, Any]], xs: np.ndarray,
                   ys: np.ndarray, title: str, ncols: int, projector: bool) -> None:
    """Shared axes at equal aspect, the colour bars in their places, the titles' font."""
    xaxis, yaxis = _axis_settings(xs, ys)
    fig.update_layout(**style.base_layout(title, projector))
    fig.update_xaxes(**xaxis, showticklabels=False)
    fig.update_yaxes(**yaxis, showticklabels=False)
    # Equal aspect in every panel: each y axis is anchored to the x axis of its own subplot.
    for i in range(len(panels)):
        suffix = "" if i == 0 else str(i + 1)
        fig.layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", scaleratio=1)
    _place_diff_colorbars(fig, panels, ncols)
    for trace in fig.data:  # the one probability colour bar lies flat under the grid
        if trace.type == "heatmap" and trace.showscale and trace.meta["role"] == "probability":
            trace.colorbar = {"orientation": "h", "x": 1.0, "xanchor": "right", "y": -LEGEND_GAP,
                              "yanchor": "top", "len": 0.35, "thickness": 12,
                              "title": {"text": "P(class 1)", "side": "top"}}
    fig.update_annotations(font={"size": style.font_size(projector)})


def _panel_title(panel: dict[str, Any]) -> str:
    title = str(panel.get("title", ""))
    if panel.get("accuracy") is not None:
        title = f"{title} · acc {float(panel['accuracy']):.0%}" if title else (
            f"acc {float(panel['accuracy']):.0%}")
    return title


def _place_diff_colorbars(fig: go.Figure, panels: Sequence[dict[str, Any]], ncols: int) -> None:
    """Put each difference panel's colour bar right next to its own subplot, and the
    probability bar (Plotly's default place: the figure's right edge) to the right of any
    difference bar there, so the two never overlap."""
    right_edge = 0.0
    for trace in fig.data:
        meta = trace.meta if isinstance(trace.meta, dict) else {}
        if meta.get("role") != "diff":
            continue
        i = meta["panel"]
        suffix = "" if i == 0 else str(i + 1)
        xdom = fig.layout[f"xaxis{suffix}"].domain
        ydom = fig.layout[f"yaxis{suffix}"].domain
        x = min(xdom[1] + 0.005, 1.02)
        trace.colorbar = {"x": x, "xanchor": "left",
                          "y": (ydom[0] + ydom[1]) / 2, "len": ydom[1] - ydom[0],
                          "thickness": 12, "title": {"text": "|Δ|", "side": "right"}}
        right_edge = max(right_edge, x)
    if right_edge > 0.95:  # a difference bar in the last column: the probability bar after it
        for trace in fig.data:
            if getattr(trace, "showscale", None) and (trace.meta or {}).get("role") != "diff":
                trace.colorbar.x = right_edge + 0.09
                trace.colorbar.xanchor = "left"
