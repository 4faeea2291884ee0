"""Figures of the ensemble behind dropout: a gallery of thinned sub-networks, their average beside
the test-time network, Monte-Carlo convergence and the sub-networks' disagreement map.

Pure builders: the dataclasses of `dropout_viz.ensemble` in, `go.Figure` out (no Streamlit).
Every figure carries a `layout.meta` with the numbers it shows, for tests and exports.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dropout_viz.figures import style
from dropout_viz.figures.boundary import _probability_traces, boundary_panels
from dropout_viz.figures.network import N_WIDTH_BUCKETS, link_buckets, link_opacity, link_width

if TYPE_CHECKING:  # the figures package stays free of engine imports at run time
    from dropout_viz.ensemble import (
        Comparison,
        Convergence,
        EnsembleResults,
        Gallery,
        PlotData,
        Uncertainty,
    )

GALLERY_COLUMNS = 4
GALLERY_WIDTH_PX = 880  # the main column of a wide page beside the sidebar, roughly
KIND_NAMES = {"arithmetic": "Mean", "geometric": "Normalised geometric mean"}
KIND_TITLES = {"arithmetic": ("Mean", "of {k} sub-networks"),
               "geometric": ("Normalised geometric", "mean of {k} sub-networks")}
MEASURE_NAMES = {"entropy": "mutual information (nats)", "std": "spread of P (std)"}
UNCERTAINTY_COLORSCALE = [[0.0, "#FFFFFF"], [0.25, "#E5DAEE"], [1.0, "#6A3D9A"]]


def test_time_name(convention: str) -> str:
    if convention == "standard":
        return "Test-time network (weights × q)"
    return "Test-time network (weights as trained)"


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
    scale = style.line_scale(projector)
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
        if not planar:
            continue
        # The boundary box: data coordinates scaled to width 1, aspect kept.
        box_top = top - DIAGRAM_HEIGHT - DIAGRAM_GAP
        x_origin, y_origin = (left, gallery.xs[0]), (box_top - box_height, gallery.ys[0])
        for trace in _probability_traces(_to_box(gallery.xs, x_origin, x_span),
                                         _to_box(gallery.ys, y_origin, x_span),
                                         gallery.grid_probs[i], data.n_classes, projector,
                                         False, False):
            trace.update(meta={**trace.meta, "panel": i}, hoverinfo="skip",
                         hovertemplate=None)
            traces.append(trace)
        for k_class in range(data.n_classes):
            pts = data.X_train[data.y_train == k_class]
            traces.append(go.Scatter(
                x=_to_box(pts[:, 0], x_origin, x_span), y=_to_box(pts[:, 1], y_origin, x_span),
                mode="markers", hoverinfo="skip", showlegend=False,
                marker={"size": 4.5 * scale, "color": style.class_color(k_class),
                        "line": {"color": style.POINT_OUTLINE, "width": 0.5}},
                meta={"role": "train", "class": k_class, "panel": i}))

    for (positive, b), parts in sorted(links.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        x, y = _segments_xy(parts)
        traces.append(go.Scatter(
            x=x, y=y, mode="lines", hoverinfo="skip", showlegend=False, connectgaps=False,
            line={"width": link_width(b, scale),
                  "color": style.POSITIVE_WEIGHT_COLOR if positive
                  else style.NEGATIVE_WEIGHT_COLOR},
            opacity=link_opacity(b), meta={"role": "links", "positive": positive, "bucket": b}))
    node_size = 8 * scale
    for is_dropped in (False, True):
        group = [n for n in nodes if n[4] == is_dropped]
        if not group:
            continue
        n_layers = len(gallery.weights[0]) + 1
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
        hovermode=False, margin={"l": 4, "r": 4, "t": title_room, "b": 4},
        meta={"k": k, "source": gallery.source, "epochs": gallery.epochs.tolist(),
              "accuracy": gallery.test_accuracy.tolist(), "dropped": dropped,
              "planar": planar, "ncols": ncols, "nrows": nrows})
    return go.Figure(data=traces, layout=layout)


def _scores_text(accuracy: float, loss: float) -> str:
    return f"acc {accuracy:.0%} · log-loss {loss:.2f}"


def comparison_figure(comparison: Comparison, data: PlotData, k: int, convention: str,
                      projector: bool = False) -> go.Figure:
    """Side by side at one scale: the average of the K shown sub-networks, the test-time network,
    and |difference| over the plane (total variation distance; |ΔP(class 1)| for two classes).

    With K = 4–16 the difference panel includes Monte-Carlo noise of about 1/√K besides the gap
    between the ensemble's average and weight scaling; the convergence figure's third panel
    shows the same measure against K."""
    if comparison.average is None or data.xs is None:
        raise ValueError("the comparison needs 2-D data (a plane to draw on)")
    avg, full = comparison.average_scores, comparison.test_time_scores
    # Three short lines per title, so three panels' titles never run into each other even in
    # projector fonts: what it is, which one, its test scores.
    what, detail = KIND_TITLES[comparison.kind]
    panels = [
        {"grid_probs": comparison.average,
         "title": f"{what}<br>{detail.format(k=k)}<br>"
                  f"{_scores_text(avg.accuracy, avg.log_loss)}"},
        {"grid_probs": comparison.test_time,
         "title": "Test-time network<br>"
                  f"{'weights × q' if convention == 'standard' else 'weights as trained'}<br>"
                  f"{_scores_text(full.accuracy, full.log_loss)}"},
        {"kind": "diff", "a": comparison.average, "b": comparison.test_time,
         "title": f"|difference|<br>same class on<br>{comparison.agreement:.0%} of test points"},
    ]
    fig = boundary_panels(panels, data.xs, data.ys, data.X_train, data.y_train, data.X_test,
                          data.y_test, n_classes=data.n_classes, ncols=3, projector=projector,
                          show_colorbar=data.n_classes <= 2,
                          panel_height=440 if projector else 360)
    # Two-line titles: lift them clear of the panels' frames.
    fig.update_annotations(yshift=8)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 120 if projector else 95, "b": 10})
    fig.update_layout(meta={
        **fig.layout.meta, "kind": comparison.kind, "k": k, "agreement": comparison.agreement,
        "average_accuracy": avg.accuracy, "average_log_loss": avg.log_loss,
        "test_time_accuracy": full.accuracy, "test_time_log_loss": full.log_loss,
        "mean_difference": comparison.gap})
    return fig


def convergence_figure(convergence: Convergence, projector: bool = False) -> go.Figure:
    """Test accuracy and log-loss of the MC average of K sub-networks against K (log scale),
    with the test-time network and the mean single sub-network as horizontal lines; third,
    the mean |difference| between that average and the test-time network (the comparison
    panel's measure), with the value for all draws pooled as a dotted line."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        "test accuracy", "test log-loss", "mean |difference| to test-time"),
        horizontal_spacing=0.08)
    fig.update_layout(**style.base_layout("", projector))
    fig.update_annotations(font={"size": style.font_size(projector)})
    width = 2.5 * style.line_scale(projector)
    ks = convergence.ks.astype(float)
    mc_color, band = style.CLASS_COLORS[0], style.rgba(style.CLASS_COLORS[0], 0.18)
    kind = "mean" if convergence.kind == "arithmetic" else "geometric mean"
    for col, (name, values, single, test_time, fmt) in enumerate((
            ("accuracy", convergence.accuracy, convergence.single.accuracy,
             convergence.test_time.accuracy, ".1%"),
            ("log-loss", convergence.log_loss, convergence.single.log_loss,
             convergence.test_time.log_loss, ".3f")), start=1):
        first = col == 1
        if convergence.repeats > 1:
            low, high = values.min(axis=0), values.max(axis=0)
            fig.add_trace(go.Scatter(
                x=np.concatenate([ks, ks[::-1]]), y=np.concatenate([high, low[::-1]]),
                mode="lines", fill="toself", fillcolor=band, line={"width": 0},
                hoverinfo="skip",
                name=f"range over {convergence.repeats} draws", legendgroup="band",
                showlegend=first, meta={"role": "band", "metric": name}), row=1, col=col)
        fig.add_trace(go.Scatter(
            x=ks, y=values.mean(axis=0), mode="lines+markers",
            name=f"MC {kind} of K sub-networks", legendgroup="mc", showlegend=first,
            line={"color": mc_color, "width": width},
            marker={"size": 7 * style.line_scale(projector)},
            hovertemplate=f"K = %{{x:.0f}}: %{{y:{fmt}}}<extra></extra>",
            meta={"role": "mc", "metric": name}), row=1, col=col)
        for label, value, color, dash, role in (
                ("test-time network", test_time, style.CLASS_COLORS[5], "dash", "test_time"),
                ("one sub-network (mean)", single, style.CLASS_COLORS[2], "dot", "single")):
            fig.add_trace(go.Scatter(
                x=[ks[0], ks[-1]], y=[value, value], mode="lines", name=label,
                legendgroup=role, showlegend=first,
                line={"color": color, "dash": dash, "width": width},
                hovertemplate=f"{label}: %{{y:{fmt}}}<extra></extra>",
                meta={"role": role, "metric": name, "value": float(value)}), row=1, col=col)
    gap = convergence.gap
    if convergence.repeats > 1:
        fig.add_trace(go.Scatter(
            x=np.concatenate([ks, ks[::-1]]),
            y=np.concatenate([gap.max(axis=0), gap.min(axis=0)[::-1]]),
            mode="lines", fill="toself", fillcolor=band, line={"width": 0}, hoverinfo="skip",
            legendgroup="band", showlegend=False, meta={"role": "band", "metric": "gap"}),
            row=1, col=3)
    fig.add_trace(go.Scatter(
        x=ks, y=gap.mean(axis=0), mode="lines+markers", legendgroup="mc", showlegend=False,
        name=f"MC {kind} of K sub-networks", line={"color": mc_color, "width": width},
        marker={"size": 7 * style.line_scale(projector)},
        hovertemplate="K = %{x:.0f}: %{y:.4f}<extra></extra>",
        meta={"role": "mc", "metric": "gap"}), row=1, col=3)
    pooled = f"all {convergence.pooled_k:,} pooled"
    fig.add_trace(go.Scatter(
        x=[ks[0], ks[-1]], y=[convergence.pooled_gap] * 2, mode="lines", name=pooled,
        legendgroup="pooled", line={"color": style.MARKER_LINE, "dash": "dot", "width": width},
        hovertemplate=f"{pooled}: %{{y:.4f}}<extra></extra>",
        meta={"role": "pooled", "metric": "gap", "value": convergence.pooled_gap,
              "k": convergence.pooled_k}), row=1, col=3)
    fig.update_xaxes(type="log", title_text="K sub-networks averaged", tickvals=ks,
                     ticktext=[str(int(k)) for k in ks], showgrid=True, gridcolor="#EEEEEE")
    fig.update_yaxes(showgrid=True, gridcolor="#EEEEEE", zeroline=False)
    fig.update_yaxes(tickformat=".1%", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=3)
    fig.update_layout(
        height=460 if projector else 380, hovermode="x unified",
        legend={"orientation": "h", "x": 0.0, "y": -0.25, "yanchor": "top"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        meta={"kind": convergence.kind, "ks": convergence.ks.tolist(),
              "repeats": convergence.repeats,
              "accuracy": convergence.accuracy.mean(axis=0).tolist(),
              "log_loss": convergence.log_loss.mean(axis=0).tolist(),
              "test_time_accuracy": convergence.test_time.accuracy,
              "single_accuracy": convergence.single.accuracy,
              "gap": convergence.gap.mean(axis=0).tolist(),
              "pooled_k": convergence.pooled_k, "pooled_gap": convergence.pooled_gap})
    return style.legible_axes(fig)


def uncertainty_figure(uncertainty: Uncertainty, data: PlotData,
                       projector: bool = False) -> go.Figure:
    """Where the sub-networks disagree: a white-to-purple map (white = zero: identical
    probabilities; it is above zero wherever they differ in confidence, even if all pick the
    same class) with the data on top. The scale is fixed (0 to the measure's maximum) so
    settings compare fairly."""
    if data.xs is None:
        raise ValueError("the uncertainty map needs 2-D data (a plane to draw on)")
    shape = (len(data.ys), len(data.xs))
    label = MEASURE_NAMES[uncertainty.measure]
    fig = go.Figure(go.Heatmap(
        x=data.xs, y=data.ys, z=uncertainty.values.reshape(shape), zmin=0.0,
        zmax=uncertainty.upper, colorscale=UNCERTAINTY_COLORSCALE, zsmooth="best",
        # Flat under the map: beside it, the equal-aspect plot leaves a gap before the bar.
        colorbar={"title": {"text": label, "side": "top"}, "orientation": "h", "x": 0.5,
                  "xanchor": "center", "y": -0.02, "yanchor": "top", "len": 0.7,
                  "thickness": 14},
        hovertemplate=f"x=%{{x:.2f}}<br>y=%{{y:.2f}}<br>{label}=%{{z:.3f}}<extra></extra>",
        meta={"role": "uncertainty"}, name=label))
    scale = style.line_scale(projector)
    for split, X, y in (("train", data.X_train, data.y_train), ("test", data.X_test, data.y_test)):
        for k in range(data.n_classes):
            pts = X[y == k]
            color = style.class_color(k)
            marker = ({"symbol": "circle", "size": 8 * scale, "color": color,
                       "line": {"color": style.POINT_OUTLINE, "width": scale}}
                      if split == "train" else
                      {"symbol": "circle-open", "size": 9 * scale, "color": color,
                       "line": {"color": color, "width": 2.2 * scale}})
            fig.add_trace(go.Scatter(
                x=pts[:, 0], y=pts[:, 1], mode="markers", marker=marker,
                name=f"class {k}, {split}", hoverinfo="skip", showlegend=False,
                meta={"role": split, "class": k}))
    fig.update_layout(**style.base_layout("", projector))
    common = {"showgrid": False, "zeroline": False, "showticklabels": False, "showline": True,
              "linecolor": "#999999", "mirror": True, "constrain": "domain"}
    fig.update_layout(
        xaxis={**common, "range": [float(data.xs[0]), float(data.xs[-1])]},
        yaxis={**common, "range": [float(data.ys[0]), float(data.ys[-1])],
               "scaleanchor": "x", "scaleratio": 1},
        height=600 if projector else 500,
        margin={"l": 10, "r": 10, "t": 20, "b": 10, "pad": 0},  # the frame on the map's edge
        meta={"measure": uncertainty.measure, "k": uncertainty.k, "upper": uncertainty.upper,
              "max": float(uncertainty.values.max()), "mean": float(uncertainty.values.mean()),
              "unanimous_max": uncertainty.unanimous_max})
    return fig


def ensemble_figures(results: EnsembleResults, projector: bool = False) -> dict[str, go.Figure]:
    """Every figure of the "Thinned sub-networks" tab (the comparison and uncertainty maps only
    for 2-D data)."""
    figures = {"gallery": gallery_figure(results.gallery, results.data, projector)}
    if results.data.planar:
        figures["comparison"] = comparison_figure(results.comparison, results.data,
                                                  results.gallery.k, results.convention,
                                                  projector)
    figures["convergence"] = convergence_figure(results.convergence, projector)
    if results.uncertainty is not None:
        figures["uncertainty"] = uncertainty_figure(results.uncertainty, results.data, projector)
    return figures
