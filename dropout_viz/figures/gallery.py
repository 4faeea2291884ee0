"""The gallery of K thinned sub-networks: each one's diagram (dropped units grey, crossed out)
above its own decision boundary, all on ONE pair of axes.

Links are bucketed by the main diagram's rule (`figures.network.link_buckets`), so one weight
has one width in every picture of the app.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from dropout_viz.figures import style
from dropout_viz.figures.boundary import _probability_traces
from dropout_viz.figures.network import N_WIDTH_BUCKETS, link_buckets, link_opacity, link_width

if TYPE_CHECKING:  # only for annotations: dataclasses of arrays
    from dropout_viz.ensemble import Gallery, PlotData

GALLERY_COLUMNS = 4
GALLERY_WIDTH_PX = 880  # the main column of a wide page beside the sidebar, roughly


def sub_network_label(gallery: Gallery, i: int) -> str:
    if gallery.source == "trained":
        return f"epoch {int(gallery.epochs[i]) + 1}"
    return f"#{i + 1}"


# Gallery geometry, in the units of its one shared pair of axes: each cell is 1 wide.
CELL_GAP_X, CELL_GAP_Y = 0.14, 0.22
DIAGRAM_HEIGHT = 0.62
DIAGRAM_GAP = 0.06  # between a cell's diagram and its boundary
GALLERY_MAX_NODES = 10  # per layer; wider layers show 9 units and a "more" mark


def _diagram_geometry(weights, keep_masks, left: float, top: float, height: float,
                      max_nodes: int = GALLERY_MAX_NODES):
    """Node positions and link segments of one thinned sub-network drawn in a box.

    Returns (nodes, links, ellipses): nodes is a list of (x, y, layer, index, dropped);
    links maps (positive, bucket) to (m, 2, 2) segment arrays; ellipses is [(x, y)].
    """
    sizes = [weights[0].shape[0]] + [W.shape[1] for W in weights]
    n_layers = len(sizes)
    keep = [np.asarray(m) > 0.5 for m in keep_masks] + [np.ones(sizes[-1], dtype=bool)]
    shown = [min(n, max_nodes - 1) if n > max_nodes else n for n in sizes]
    slots = [s + (1 if s < n else 0) for s, n in zip(shown, sizes)]
    tallest = max(slots)
    xs = left + 0.12 + np.arange(n_layers) / max(n_layers - 1, 1) * 0.76

    def y_of(layer: int, slot: np.ndarray) -> np.ndarray:
        offset = (tallest - slots[layer]) / 2
        return top - height * (offset + slot + 0.5) / tallest

    nodes, ellipses = [], []
    links: dict[tuple[bool, int], list[np.ndarray]] = {}
    for layer in range(n_layers):
        ys = y_of(layer, np.arange(shown[layer]))
        nodes.extend((xs[layer], y, layer, i, not keep[layer][i]) for i, y in enumerate(ys))
        if slots[layer] > shown[layer]:
            ellipses.append((xs[layer], float(y_of(layer, np.array(shown[layer])))))
        if layer == n_layers - 1:
            break
        W = np.asarray(weights[layer])
        src = np.flatnonzero(keep[layer][:shown[layer]])
        dst = np.flatnonzero(keep[layer + 1][:shown[layer + 1]])
        if not src.size or not dst.size:
            continue
        values = W[np.ix_(src, dst)].ravel()
        bucket = link_buckets(values, float(np.abs(W).max()))
        ii, jj = np.meshgrid(src, dst, indexing="ij")
        segments = np.stack([
            np.column_stack([np.full(ii.size, xs[layer]), y_of(layer, ii.ravel())]),
            np.column_stack([np.full(ii.size, xs[layer + 1]), y_of(layer + 1, jj.ravel())]),
        ], axis=1)
        for positive in (True, False):
            for b in range(N_WIDTH_BUCKETS):
                chosen = ((values >= 0) == positive) & (bucket == b)
                if chosen.any():
                    links.setdefault((positive, b), []).append(segments[chosen])
    return nodes, links, ellipses


def _to_box(values, origin: tuple[float, float], span: float) -> np.ndarray:
    """Data coordinates into a gallery box: origin = (box position, data value there)."""
    return (origin[0] + (np.asarray(values, dtype=float) - origin[1]) / span).astype(np.float32)


def _segments_xy(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Line segments as one x and one y array with a NaN gap after each segment."""
    segments = np.concatenate(parts)
    gap = np.full((len(segments), 1), np.nan)
    x = np.hstack([segments[:, :, 0], gap]).ravel()
    y = np.hstack([segments[:, :, 1], gap]).ravel()
    return x.astype(np.float32), y.astype(np.float32)


def gallery_figure(gallery: Gallery, data: PlotData, projector: bool = False,
                   ncols: int = GALLERY_COLUMNS) -> go.Figure:
    """K small multiples: each sub-network's diagram (dropped units grey, crossed out) above
    its own decision boundary, titled with its test accuracy.

    Everything shares ONE pair of axes (cells side by side, links of all diagrams batched into
    a few traces), so K = 16 costs a few dozen traces, not hundreds. No contour lines: at
    thumbnail size the colours show the boundary, and the payload stays small.
    """
    k = gallery.k
    ncols = max(1, min(ncols, k))
    nrows = math.ceil(k / ncols)
    planar = data.planar and gallery.grid_probs is not None
    box_height = 0.0
    if planar:
        x_span = float(gallery.xs[-1] - gallery.xs[0]) or 1.0
        box_height = float(gallery.ys[-1] - gallery.ys[0]) / x_span
    cell_height = DIAGRAM_HEIGHT + (DIAGRAM_GAP + box_height if planar else 0.0)
    traces: list[go.BaseTraceType] = []
    nodes, ellipses, titles, dropped = [], [], [], []
    links: dict[tuple[bool, int], list[np.ndarray]] = {}
    for i in range(k):
        row, col = divmod(i, ncols)
        left = col * (1 + CELL_GAP_X)
        top = -row * (cell_height + CELL_GAP_Y)
        masks = [m[i] for m in gallery.keep_masks]
        dropped.append([np.flatnonzero(m < 0.5).tolist() for m in masks])
        cell_nodes, cell_links, cell_ellipses = _diagram_geometry(
            gallery.weights[i], masks, left, top, DIAGRAM_HEIGHT)
        nodes.extend((*node, i) for node in cell_nodes)
        ellipses.extend(cell_ellipses)
        for key, parts in cell_links.items():
            links.setdefault(key, []).extend(parts)
        titles.append({"x": left + 0.5, "y": top, "xref": "x", "yref": "y", "yanchor": "bottom",
                       "showarrow": False,
                       "text": f"{sub_network_label(gallery, i)} · acc "
                               f"{gallery.test_accuracy[i]:.0%}"})
        if planar:
            # The boundary box: data coordinates scaled to width 1, aspect kept.
            box_top = top - DIAGRAM_HEIGHT - DIAGRAM_GAP
            traces.extend(_cell_boundary_traces(gallery, data, i, (left, box_top - box_height),
                                                x_span, projector))
    scale = style.line_scale(projector)
    traces.extend(_link_traces(links, scale))
    traces.extend(_node_traces(nodes, ellipses, len(gallery.weights[0]) + 1, scale))
    layout = _gallery_layout(ncols, nrows, cell_height, titles, projector)
    layout["meta"] = {"k": k, "source": gallery.source, "epochs": gallery.epochs.tolist(),
                      "accuracy": gallery.test_accuracy.tolist(), "dropped": dropped,
                      "planar": planar, "ncols": ncols, "nrows": nrows}
    return go.Figure(data=traces, layout=layout)


def _cell_boundary_traces(gallery: Gallery, data: PlotData, i: int,
                          corner: tuple[float, float], x_span: float,
                          projector: bool) -> list[go.BaseTraceType]:
    """Sub-network i's boundary and the training points, in the box whose lower-left corner is
    `corner` (data coordinates scaled so that the box is 1 wide)."""
    x_origin, y_origin = (corner[0], gallery.xs[0]), (corner[1], gallery.ys[0])
    traces = []
    for trace in _probability_traces(_to_box(gallery.xs, x_origin, x_span),
                                     _to_box(gallery.ys, y_origin, x_span),
                                     gallery.grid_probs[i], data.n_classes, projector,
                                     False, False):
        trace.update(meta={**trace.meta, "panel": i}, hoverinfo="skip", hovertemplate=None)
        traces.append(trace)
    scale = style.line_scale(projector)
    for k_class in range(data.n_classes):
        pts = data.X_train[data.y_train == k_class]
        traces.append(go.Scatter(
            x=_to_box(pts[:, 0], x_origin, x_span), y=_to_box(pts[:, 1], y_origin, x_span),
            mode="markers", hoverinfo="skip", showlegend=False,
            marker={"size": 4.5 * scale, "color": style.class_color(k_class),
                    "line": {"color": style.POINT_OUTLINE, "width": 0.5}},
            meta={"role": "train", "class": k_class, "panel": i}))
    return traces


def _link_traces(links: dict[tuple[bool, int], list[np.ndarray]],
                 scale: float) -> list[go.Scatter]:
    """Every diagram's links in one trace per (sign, width bucket)."""
    traces = []
    for (positive, b), parts in sorted(links.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        x, y = _segments_xy(parts)
        traces.append(go.Scatter(
            x=x, y=y, mode="lines", hoverinfo="skip", showlegend=False, connectgaps=False,
            line={"width": link_width(b, scale),
                  "color": style.POSITIVE_WEIGHT_COLOR if positive
                  else style.NEGATIVE_WEIGHT_COLOR},
            opacity=link_opacity(b), meta={"role": "links", "positive": positive, "bucket": b}))
    return traces


def _node_traces(nodes: list[tuple], ellipses: list[tuple[float, float]], n_layers: int,
                 scale: float) -> list[go.Scatter]:
    """Kept and dropped units of every diagram (dropped ones crossed out), and the marks of
    layers too wide to draw whole."""
    traces = []
    node_size = 8 * scale
    for is_dropped in (False, True):
        group = [n for n in nodes if n[4] == is_dropped]
        if not group:
            continue
        fills = [style.DROPPED_FILL if is_dropped else
                 style.class_color(n[3]) if n[2] == n_layers - 1 else style.KEPT_FILL
                 for n in group]
        state = "dropped" if is_dropped else "kept"
        x = np.array([n[0] for n in group], dtype=np.float32)
        y = np.array([n[1] for n in group], dtype=np.float32)
        traces.append(go.Scatter(
            x=x, y=y, mode="markers", hoverinfo="skip", showlegend=False,
            marker={"size": node_size, "color": fills,
                    "line": {"width": 1.2 * scale,
                             "color": style.DROPPED_MARK if is_dropped else style.NODE_OUTLINE}},
            meta={"role": f"nodes_{state}", "panel": [n[5] for n in group]}))
        if is_dropped:
            traces.append(go.Scatter(
                x=x, y=y, mode="markers", hoverinfo="skip", showlegend=False,
                marker={"symbol": "x-thin-open", "size": 0.75 * node_size,
                        "color": style.DROPPED_MARK,
                        "line": {"width": 1.5 * scale, "color": style.DROPPED_MARK}},
                meta={"role": "dropped_x"}))
    if ellipses:
        traces.append(go.Scatter(
            x=[e[0] for e in ellipses], y=[e[1] for e in ellipses], mode="markers",
            hoverinfo="skip", showlegend=False,
            marker={"symbol": "line-ns-open", "size": node_size, "color": style.DROPPED_MARK,
                    "line": {"width": 1.5 * scale, "color": style.DROPPED_MARK}},
            meta={"role": "ellipsis"}))
    return traces


def _gallery_layout(ncols: int, nrows: int, cell_height: float, titles: list[dict],
                    projector: bool) -> dict:
    width = ncols + (ncols - 1) * CELL_GAP_X
    height = nrows * cell_height + (nrows - 1) * CELL_GAP_Y
    axis = {"visible": False, "fixedrange": True, "showgrid": False, "zeroline": False}
    # Sized for a column about GALLERY_WIDTH_PX wide; on other widths the equal aspect (which
    # keeps boundaries undistorted) shrinks the drawing toward the top rather than leaving a gap.
    px_per_unit = GALLERY_WIDTH_PX / max(width, GALLERY_COLUMNS)
    title_room = 36 if projector else 28
    layout = style.base_layout("", projector)
    layout.update(
        xaxis={**axis, "range": [-0.02, width + 0.02], "constrain": "domain"},
        yaxis={**axis, "range": [-height - 0.02, 0.02], "scaleanchor": "x", "scaleratio": 1,
               "constrain": "domain", "constraintoward": "top"},
        annotations=[{**t, "font": {"size": round(style.font_size(projector) * 0.9)}}
                     for t in titles],
        height=int(height * px_per_unit) + title_room + 20, showlegend=False,
        hovermode=False, margin={"l": 4, "r": 4, "t": title_room, "b": 4})
    return layout
