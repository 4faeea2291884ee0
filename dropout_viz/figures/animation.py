"""One figure that steps through training in the browser: the thinned network of each kept epoch
beside the thinned and full networks' decision boundaries (classification) or curves over the
points (regression), as Plotly animation frames with a slider and a Play button. Scrubbing
needs no server round trip. The layout, the controls and the projector placement are shared;
only the panel's content differs (BoundaryFrames or CurveFrames).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dropout_viz.figures import style
from dropout_viz.figures.boundary import (
    FRAME_MARGIN,
    _axis_settings,
    _point_traces,
    _probability_traces,
    percent,
)
from dropout_viz.figures.network import LABEL_LINES, network_spec
from dropout_viz.figures.regression import CurveFrames, frame_axes, frame_curve_traces, frame_title
from dropout_viz.figures.spec import AnimatedFigure, typed, typed_arrays

FRAME_DURATION_MS = 300  # Play: one kept epoch every 0.3 s
# Pixels from the plot's bottom to the row of Play / Pause and the epoch shown (normal,
# projector); the slider's rail runs below that row.
CONTROL_ROW_PX = {False: 40, True: 48}
CONTROLS_PX = {False: 150, True: 170}  # the bottom margin that holds both rows
SLIDER_BODY_PX = 62  # a Plotly slider's rail and step labels (projector font)
# Projector mode puts everything on one screen: the diagram on the left at full height, the
# two maps on the right with Play and the epoch slider under them. The page stretches the
# chart to the window's height (ui/classroom.py), so its parts are placed in fractions of the
# plot; PROJECTOR_HEIGHT is the height an export (or a page without that rule) gets, and the
# diagram's units are sized for the 1280×720 projector, the smallest supported.
PROJECTOR_HEIGHT = 580
PROJECTOR_NET_HEIGHT = 600  # what network_spec sizes the units for (not the drawn height)
PROJECTOR_NET_X = [0, 0.42]
PROJECTOR_LABEL_SIZE = 18  # the diagram's layer labels there (the projector font is 22)
PROJECTOR_PANELS_X = ([0.47, 0.725], [0.745, 1.0])


@dataclass(frozen=True)
class BoundaryFrames:
    """Per-frame grid probabilities of the thinned and the full network, and the data on top.

    thinned / full: (F, R*R, C) in the order of `make_grid`; thinned_acc / full_acc: (F,) test
    accuracies; full_title names the full network's panel.
    """

    xs: np.ndarray
    ys: np.ndarray
    thinned: np.ndarray
    full: np.ndarray
    thinned_acc: Sequence[float]
    full_acc: Sequence[float]
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    full_title: str = "Full network"


PanelFrames = BoundaryFrames | CurveFrames  # what the panel beside the diagram draws


def panel_title(name: str, accuracy: float) -> str:
    """A boundary panel's title in short lines ("Thinned network<br>epoch 150<br>acc 85%"): a
    panel is about 150 px wide in a 1024-pixel window, and its neighbour's title sits beside it.
    The part of `name` after its first comma goes on a line of its own."""
    head, _, detail = name.partition(", ")
    return "<br>".join(part for part in (head, detail, f"acc {float(accuracy):.0%}") if part)


def _panel_titles(epoch: int, boundary: PanelFrames, f: int) -> list[dict[str, Any]]:
    if isinstance(boundary, CurveFrames):  # one panel: both curves, both MSEs
        titles: tuple[str, ...] = (frame_title(boundary, f, epoch),)
    else:
        titles = (panel_title(f"Thinned network, epoch {epoch}", boundary.thinned_acc[f]),
                  panel_title(boundary.full_title, boundary.full_acc[f]))
    return [{"text": text, "x": 0.5, "y": 1.0, "xref": f"x{i + 2} domain",
             "yref": f"y{i + 2} domain", "xanchor": "center", "yanchor": "bottom",
             "showarrow": False} for i, text in enumerate(titles)]


def _network_annotations(net: dict[str, Any], beside: bool = False) -> list[dict[str, Any]]:
    # The layer labels sit on top of the diagram's own axis, not of the whole figure.
    notes = [{**a, "yref": "y domain"} for a in net["layout"]["annotations"]]
    if beside:  # smaller labels, and every other one raised by their own three lines
        raise_px = int(LABEL_LINES * _label_line() + 4)
        notes = [{**a, "font": {"size": PROJECTOR_LABEL_SIZE},
                  "yshift": raise_px if a.get("yshift") else 0} for a in notes]
    return notes


def _label_line() -> float:
    return 1.35 * PROJECTOR_LABEL_SIZE


def projector_top(net_layout: dict[str, Any]) -> int:
    """The one-screen layout's top margin: the title's line and two rows of (smaller) layer
    labels, as network_spec reserves them (stagger or not)."""
    line = 1.35 * style.font_size(True)
    staggered = any(a.get("yshift") for a in net_layout["annotations"])
    labels = LABEL_LINES * _label_line() * (2 if staggered else 1) + (4 if staggered else 0)
    return int(labels + 8 + 1.3 * line)


def _slider_controls(labels: Sequence[int], active: int, projector: bool,
                     beside_diagram: bool = False) -> dict[str, Any]:
    instant = {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
               "transition": {"duration": 0}}
    steps = [{"label": str(e), "method": "animate", "args": [[str(e)], instant]}
             for e in labels]
    size = style.font_size(projector)
    play = {"label": "▶ Play", "method": "animate",
            "args": [None, {"mode": "immediate", "fromcurrent": True,
                            "frame": {"duration": FRAME_DURATION_MS, "redraw": True},
                            "transition": {"duration": 0}}]}
    pause = {"label": "❚❚ Pause", "method": "animate",
             "args": [[None], {"mode": "immediate", "frame": {"duration": 0, "redraw": False},
                               "transition": {"duration": 0}}]}
    # Two rows under the plot, the same at every width: Play / Pause on the left and the
    # epoch shown on the right, then the rail across the whole figure (a rail starting beside
    # the buttons ran under them in a narrow window).
    rail_top = CONTROL_ROW_PX[projector]
    if beside_diagram:
        # Under the maps, inside the plot: anchored at its bottom, so they stay put whatever
        # height the page gives the chart. The rail's labels need about 60 px below it.
        left = PROJECTOR_PANELS_X[0][0]
        return {
            "sliders": [{"active": active, "steps": steps, "x": left, "len": 1.0 - left,
                         "y": 0.0, "yanchor": "bottom",
                         "pad": {"t": rail_top, "b": 0, "l": 0, "r": 0},
                         "currentvalue": {"prefix": "Epoch ", "xanchor": "right", "offset": 16,
                                          "font": {"size": size}},
                         "font": {"size": max(size - 4, 10)}}],
            "updatemenus": [{"type": "buttons", "direction": "left", "showactive": False,
                             "x": left, "xanchor": "left", "y": 0.0, "yanchor": "bottom",
                             "pad": {"b": SLIDER_BODY_PX}, "buttons": [play, pause],
                             "font": {"size": size}}],
        }
    return {
        "sliders": [{"active": active, "steps": steps, "x": 0.0, "len": 1.0, "y": 0.0,
                     "yanchor": "top", "pad": {"t": rail_top, "b": 0, "l": 0, "r": 0},
                     "currentvalue": {"prefix": "Epoch ", "xanchor": "right", "offset": 16,
                                      "font": {"size": size}},
                     "font": {"size": max(size - 4, 10)}}],
        "updatemenus": [{"type": "buttons", "direction": "left", "showactive": False,
                         "x": 0.0, "xanchor": "left", "y": 0.0, "yanchor": "top",
                         "pad": {"t": rail_top - 4}, "buttons": [play, pause],
                         "font": {"size": size}}],
    }


def epoch_animation_figure(
    epochs: Sequence[int],
    weights: Sequence[Sequence[np.ndarray]],
    keep_masks: Sequence[Sequence[np.ndarray]],
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    boundary: PanelFrames | None = None,
    projector: bool = False,
) -> go.Figure:
    """The thinned network of each epoch in `epochs` (1-based labels), one animation frame each.

    weights[f] / keep_masks[f] are frame f's weight matrices and one (units,) keep mask per
    dropout site. With BoundaryFrames, two heatmap panels (thinned, full) with 0.5 contours sit
    beside the diagram; with CurveFrames, one panel with both networks' curves over the points.
    Training points filled, test points hollow (static traces).
    The figure itself shows the last frame; frame names are the epoch labels.

    layout.meta: layer_sizes, epochs, and per frame {"epoch", "dropped", "n_dropped",
    "thinned_acc", "full_acc"} (accuracies None without a boundary; with curves they are None
    and the frame also has "thinned_mse", "full_mse").
    """
    if not epochs or not len(weights) == len(keep_masks) == len(epochs):
        raise ValueError(f"need one weights and keep_masks entry per epoch: {len(epochs)} "
                         f"epochs, {len(weights)} weights, {len(keep_masks)} keep masks")
    labels = [int(e) for e in epochs]
    active = len(labels) - 1
    beside = projector and boundary is not None  # the one-screen layout
    nets = _frame_networks(labels, weights, keep_masks, input_names, output_names, projector,
                           beside)
    n_net = len(nets[0]["data"])
    # The ellipsis and the unit names (and the node layout) never change; links and units do.
    animated_net = [i for i, t in enumerate(nets[0]["data"])
                    if t["meta"]["role"] not in ("ellipsis", "labels")]
    panel_traces, updates = _panel_content(boundary, labels, active, projector)
    traces = list(nets[active]["data"]) + panel_traces  # the diagram's, then the panel's
    animated = animated_net + [n_net + i for i in range(len(updates[0]))]

    def frame_annotations(f: int) -> list[dict[str, Any]]:
        notes = _network_annotations(nets[f], beside)
        return notes + (_panel_titles(labels[f], boundary, f) if boundary is not None else [])

    frames = []
    for f, e in enumerate(labels):
        data = [_frame_trace(nets[f]["data"][i]) for i in animated_net]
        data += [typed_arrays(update) for update in updates[f]]  # only the new z (or y)
        frames.append({"name": str(e), "data": data, "traces": animated,
                       "layout": {"title": {"text": f"Thinned network of epoch {e}"},
                                  "annotations": frame_annotations(f)}})
    layout = _animation_layout(nets, labels, boundary, projector, frame_annotations(active))
    return AnimatedFigure({"data": [typed_arrays(t) for t in traces], "layout": layout,
                           "frames": frames})


def _frame_networks(labels, weights, keep_masks, input_names, output_names,
                    projector: bool, beside: bool) -> list[dict]:
    """Each frame's network diagram as a plain spec (Plotly validates the figure's own traces
    once, not 40 copies of them)."""
    nets = [network_spec(w, m, input_names=input_names, output_names=output_names,
                         title=f"Thinned network of epoch {e}", projector=projector,
                         fixed_slots=True, height=PROJECTOR_NET_HEIGHT if beside else None)
            for e, w, m in zip(labels, weights, keep_masks, strict=True)]
    for net in nets:  # labels of the outer units may reach past the diagram's own axes
        for trace in net["data"]:
            trace["cliponaxis"] = False
    return nets


def _panel_content(boundary: PanelFrames | None, labels: list[int], active: int,
                   projector: bool) -> tuple[list[dict], list[list[dict]]]:
    """The panel's traces (those that change per frame first, then the static points) and
    each frame's updates of the changing ones: only their new z (maps) or y (curves)."""
    if boundary is None:
        return [], [[] for _ in labels]
    changing, points, updates = (
        frame_curve_traces(boundary, labels, active, projector)
        if isinstance(boundary, CurveFrames) else _boundary_traces(boundary, active, projector))
    return changing + points, updates


def _boundary_traces(boundary: BoundaryFrames, active: int, projector: bool):
    """The two maps at the shown frame, the points on both panels, and every frame's maps'
    new z (their x, y and colours stay)."""
    xs, ys = np.asarray(boundary.xs, float), np.asarray(boundary.ys, float)
    map_traces = []
    for panel, probs in enumerate((boundary.thinned[active], boundary.full[active])):
        map_traces += _panel_traces(xs, ys, probs, boundary.n_classes, projector, panel)
    shape, kinds = (len(ys), len(xs)), [t["type"] for t in map_traces]
    zs = [[z for probs in (boundary.thinned[f], boundary.full[f])
           for z in _probability_z(np.asarray(probs), boundary.n_classes, shape)]
          for f in range(len(boundary.thinned))]
    updates = [[{"type": kind, "z": z} for kind, z in zip(kinds, frame, strict=True)]
               for frame in zs]
    point_traces = [_on_panel(trace, panel) for panel in range(2) for trace in (
        _point_traces(boundary.X_train, boundary.y_train, "train", boundary.n_classes,
                      projector, panel == 0)
        + _point_traces(boundary.X_test, boundary.y_test, "test", boundary.n_classes,
                        projector, panel == 0))]
    return map_traces, point_traces, updates


def _animation_layout(nets: list[dict], labels: list[int], boundary: PanelFrames | None,
                      projector: bool, annotations: list[dict]) -> dict[str, Any]:
    """The figure's layout at the shown (last) frame: the diagram's axes, the two maps beside
    it, the legend, Play and the epoch slider, and the per-frame facts in meta."""
    active = len(labels) - 1
    beside = projector and boundary is not None
    net_layout = nets[active]["layout"]
    base = style.base_layout(f"Thinned network of epoch {labels[active]}", projector)
    layout = {**base, "template": base["template"].to_plotly_json()}
    height = _place_panels(layout, net_layout, boundary, projector)
    controls_px = CONTROLS_PX[projector]
    layout.update(
        annotations=annotations,
        title={**base["title"], "yref": "container", "y": 1.0, "yanchor": "top",
               "pad": {"t": 8}},
        height=height,
        # No axis padding (Streamlit's theme adds 8 px, which moved the maps' frames off the
        # maps and the right one onto the figure's edge), and a little room on the right.
        margin={**FRAME_MARGIN, "l": 6, "r": 12,
                "t": projector_top(net_layout) if beside else int(net_layout["margin"]["t"]),
                "b": 8 if beside else controls_px},
        hovermode="closest",
        showlegend=boundary is not None,
        **_slider_controls(labels, active, projector, beside_diagram=beside),
        meta={
            "layer_sizes": net_layout["meta"]["layer_sizes"],
            "epochs": labels,
            "frames": [{"epoch": e, "dropped": net["layout"]["meta"]["dropped"],
                        "n_dropped": net["layout"]["meta"]["n_dropped"],
                        **_frame_scores(boundary, f)}
                       for f, (e, net) in enumerate(zip(labels, nets, strict=True))],
        },
    )
    return layout


def _frame_scores(boundary: PanelFrames | None, f: int) -> dict[str, Any]:
    """Frame f's test scores for layout.meta: accuracies (None without), and MSEs."""
    if isinstance(boundary, BoundaryFrames):
        return {"thinned_acc": float(boundary.thinned_acc[f]),
                "full_acc": float(boundary.full_acc[f])}
    return {"thinned_acc": None, "full_acc": None, **({} if boundary is None else {
        "thinned_mse": float(boundary.thinned_mse[f]), "full_mse": float(boundary.full_mse[f])})}


def _place_panels(layout: dict, net_layout: dict, boundary: PanelFrames | None,
                  projector: bool) -> int:
    """Put the diagram's axes (and the maps' beside it) into `layout`; returns its height."""
    net_height = int(net_layout["height"])
    x_net, y_net = net_layout["xaxis"], net_layout["yaxis"]
    controls_px = CONTROLS_PX[projector]
    if boundary is None:
        layout.update(xaxis=x_net, yaxis=y_net)
        return net_height + controls_px
    if projector:
        height = PROJECTOR_HEIGHT
        # The maps hang from the top of the plot (their titles and the legend above them,
        # in the top margin); Play and the slider sit under them at the plot's bottom.
        domains = (PROJECTOR_NET_X, [0, 1], *PROJECTOR_PANELS_X, [0.4, 1.0])
    else:
        height = max(net_height, 520) + controls_px
        # Room right of the diagram for its output names (they reach past its axis) and
        # above the maps for their three-line titles; the 1024-pixel window is the test.
        domains = ([0, 0.36], [0, 1], [0.43, 0.71], [0.72, 1.0], [0, 0.86])
    net_x, net_y, x2, x3, boundary_y = domains
    # Longer names than the maps': 2 px less clears a 4-digit epoch's title at 1280 pixels.
    curves = not isinstance(boundary, BoundaryFrames)
    layout.update(
        xaxis={**x_net, "domain": net_x}, yaxis={**y_net, "domain": net_y},
        **_panel_axes(boundary, x2, x3, boundary_y, projector),
        # Top right: above the panels (the slider runs along the bottom), or of the whole
        # figure in projector mode.
        legend={"groupclick": "toggleitem", "itemsizing": "constant", "orientation": "h",
                "x": 1.0, "xanchor": "right", "y": 1.0,
                **({"yref": "container", "yanchor": "top"} if projector
                   else {"yanchor": "bottom"}),
                "font": {"size": style.font_size(projector) - (2 if projector and curves else 0)}},
    )
    return height


def _panel_axes(boundary: PanelFrames, x2: list, x3: list, panel_y: list,
                projector: bool) -> dict[str, dict]:
    """The panels' axes: two equal-aspect maps, or one curve panel across both maps' width.
    One panel for regression: the gap between the thinned and the full network is the lesson,
    read directly where they share axes; a 1-D curve wants width; the points are drawn once."""
    panel = {"showticklabels": False, "fixedrange": False}
    if isinstance(boundary, CurveFrames):
        x_axis, y_axis = frame_axes(boundary)
        return {"xaxis2": {**x_axis, **panel, "domain": [x2[0], x3[1]], "anchor": "y2"},
                "yaxis2": {**y_axis, **panel, "domain": panel_y, "anchor": "x2"}}
    x_axis, y_axis = _axis_settings(np.asarray(boundary.xs, float),
                                    np.asarray(boundary.ys, float))
    if projector:  # the maps keep to the top of their space, clear of the controls
        y_axis = {**y_axis, "constraintoward": "top"}
    return {
        "xaxis2": {**x_axis, **panel, "domain": x2, "anchor": "y2"},
        "yaxis2": {**y_axis, **panel, "domain": panel_y, "anchor": "x2",
                   "scaleanchor": "x2", "scaleratio": 1},
        "xaxis3": {**x_axis, **panel, "domain": x3, "anchor": "y3", "matches": "x2"},
        # No scaleanchor: it matches y2 (Plotly would ignore it and warn at every redraw).
        "yaxis3": {**y_axis, **panel, "domain": panel_y, "anchor": "x3", "matches": "y2"},
    }


def _panel_traces(xs, ys, probs, n_classes: int, projector: bool, panel: int) -> list[dict]:
    return [_on_panel(trace, panel)
            for trace in _probability_traces(xs, ys, np.asarray(probs), n_classes, projector,
                                             show_colorbar=False, contour=True)]


def _on_panel(trace: go.BaseTraceType | dict, panel: int) -> dict[str, Any]:
    """A boundary trace as a plain dict on panel 0 (thinned) or 1 (full): axes x2/y2, x3/y3."""
    spec = trace if isinstance(trace, dict) else trace.to_plotly_json()
    return {**spec, "xaxis": f"x{panel + 2}", "yaxis": f"y{panel + 2}",
            "meta": {**spec["meta"], "panel": panel}}


def _probability_z(probs: np.ndarray, n_classes: int, shape: tuple[int, int]) -> list[np.ndarray]:
    """The z of each trace `_probability_traces` draws for these probabilities, in its order:
    P(class 1) in whole percent for the one two-class map, or per class its probability where
    it wins."""
    if n_classes <= 2:
        return [percent(probs[:, 1]).reshape(shape)]
    winner, confidence = probs.argmax(axis=1), probs.max(axis=1).astype(np.float32)
    return [np.where(winner == k, confidence, np.nan).astype(np.float32).reshape(shape)
            for k in range(n_classes)]


# What changes between frames of the diagram; the style (widths, sizes, outlines) stays with the
# figure's traces, and Plotly merges a frame into them. Smaller frames validate and ship faster.
_FRAME_KEYS = ("type", "x", "y", "text", "textposition", "hovertext")


def _frame_trace(trace: dict[str, Any]) -> dict[str, Any]:
    slim = {key: typed(trace[key]) for key in _FRAME_KEYS if key in trace}
    if isinstance(trace.get("marker", {}).get("color"), list):  # per-unit fills
        slim["marker"] = {"color": trace["marker"]["color"]}
    return slim
