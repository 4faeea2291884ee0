"""Figures of the ensemble behind dropout: a gallery of thinned sub-networks (`gallery`), their
average beside the test-time network, Monte-Carlo convergence and the sub-networks'
disagreement map.

Pure builders: the dataclasses of `dropout_viz.ensemble` in, `go.Figure` out (no Streamlit).
Every figure carries a `layout.meta` with the numbers it shows, for tests and exports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dropout_viz.figures import style
from dropout_viz.figures.boundary import boundary_panels
from dropout_viz.figures.gallery import gallery_figure
from dropout_viz.figures.regression import subnetworks_figure

if TYPE_CHECKING:  # the figures package stays free of engine imports at run time
    from dropout_viz.ensemble import (
        Comparison,
        Convergence,
        CurveEnsemble,
        EnsembleResults,
        PlotData,
        Uncertainty,
    )

KIND_NAMES = {"arithmetic": "Mean", "geometric": "Normalised geometric mean"}
KIND_TITLES = {"arithmetic": ("Mean", "of {k} sub-networks"),
               "geometric": ("Normalised geometric", "mean of {k} sub-networks")}
MEASURE_NAMES = {"entropy": "mutual information (nats)", "std": "spread of P (std)"}
UNCERTAINTY_COLORSCALE = [[0.0, "#FFFFFF"], [0.25, "#E5DAEE"], [1.0, "#6A3D9A"]]


def test_time_name(convention: str) -> str:
    if convention == "standard":
        return "Test-time network (weights × q)"
    return "Test-time network (weights as trained)"


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
    """Test accuracy and log-loss (regression: the test MSE) of the MC average of K
    sub-networks against K (log scale), with the test-time network and the mean single
    sub-network as horizontal lines; last, the mean |difference| between that average and the
    test-time network (the comparison panel's measure), with the value for all draws pooled
    as a dotted line."""
    panels = _metric_panels(convergence)
    gap_col = len(panels) + 1
    fig = make_subplots(rows=1, cols=gap_col, subplot_titles=(
        *(title for _, title, *_ in panels), "mean |difference| to test-time"),
        horizontal_spacing=0.08)
    fig.update_layout(**style.base_layout("", projector))
    fig.update_annotations(font={"size": style.font_size(projector)})
    _metric_traces(fig, convergence, panels, projector)
    _gap_traces(fig, convergence, gap_col, projector)
    ks = convergence.ks.astype(float)
    fig.update_xaxes(type="log", title_text="K sub-networks averaged", tickvals=ks,
                     ticktext=[str(int(k)) for k in ks], showgrid=True, gridcolor="#EEEEEE")
    fig.update_yaxes(showgrid=True, gridcolor="#EEEEEE", zeroline=False)
    for col, (*_, fmt) in enumerate(panels, start=1):
        if fmt.endswith("%"):
            fig.update_yaxes(tickformat=fmt, row=1, col=col)
    fig.update_yaxes(rangemode="tozero", row=1, col=gap_col)
    fig.update_layout(
        height=460 if projector else 380, hovermode="x unified",
        legend={"orientation": "h", "x": 0.0, "y": -0.25, "yanchor": "top"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10}, meta=_convergence_meta(convergence))
    return style.legible_axes(fig)


def _metric_panels(c: Convergence) -> tuple[tuple, ...]:
    """(name, title, values (repeats, L), one sub-network's, test-time's, format) per panel."""
    if c.mse is not None:
        return (("MSE", "test MSE (y standardised)", c.mse, c.single.mse, c.test_time.mse,
                 ".3f"),)
    return (("accuracy", "test accuracy", c.accuracy, c.single.accuracy,
             c.test_time.accuracy, ".1%"),
            ("log-loss", "test log-loss", c.log_loss, c.single.log_loss, c.test_time.log_loss,
             ".3f"))


def _convergence_meta(c: Convergence) -> dict:
    if c.mse is not None:
        scores = {"mse": c.mse.mean(axis=0).tolist(), "test_time_mse": c.test_time.mse,
                  "single_mse": c.single.mse}
    else:
        scores = {"accuracy": c.accuracy.mean(axis=0).tolist(),
                  "log_loss": c.log_loss.mean(axis=0).tolist(),
                  "test_time_accuracy": c.test_time.accuracy,
                  "single_accuracy": c.single.accuracy}
    return {"kind": c.kind, "ks": c.ks.tolist(), "repeats": c.repeats, **scores,
            "gap": c.gap.mean(axis=0).tolist(), "pooled_k": c.pooled_k,
            "pooled_gap": c.pooled_gap}


def _kind_name(convergence: Convergence) -> str:
    return "mean" if convergence.kind == "arithmetic" else "geometric mean"


def _band(fig: go.Figure, ks: np.ndarray, values: np.ndarray, col: int, **trace) -> None:
    """The range over the repeated draws, as a filled band."""
    fig.add_trace(go.Scatter(
        x=np.concatenate([ks, ks[::-1]]),
        y=np.concatenate([values.max(axis=0), values.min(axis=0)[::-1]]),
        mode="lines", fill="toself", fillcolor=style.rgba(style.CLASS_COLORS[0], 0.18),
        line={"width": 0}, hoverinfo="skip", legendgroup="band", **trace), row=1, col=col)


def _metric_traces(fig: go.Figure, convergence: Convergence, panels: tuple[tuple, ...],
                   projector: bool) -> None:
    """The metric panels (accuracy and log-loss, or MSE) of the average against K, with the
    test-time network and one sub-network as lines."""
    width = 2.5 * style.line_scale(projector)
    ks = convergence.ks.astype(float)
    for col, (name, _, values, single, test_time, fmt) in enumerate(panels, start=1):
        first = col == 1
        if convergence.repeats > 1:
            _band(fig, ks, values, col, name=f"range over {convergence.repeats} draws",
                  showlegend=first, meta={"role": "band", "metric": name})
        fig.add_trace(go.Scatter(
            x=ks, y=values.mean(axis=0), mode="lines+markers",
            name=f"MC {_kind_name(convergence)} of K sub-networks", legendgroup="mc",
            showlegend=first, line={"color": style.CLASS_COLORS[0], "width": width},
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


def _gap_traces(fig: go.Figure, convergence: Convergence, col: int, projector: bool) -> None:
    """The last panel: the mean |difference| to the test-time network against K, and pooled."""
    width = 2.5 * style.line_scale(projector)
    ks, gap = convergence.ks.astype(float), convergence.gap
    if convergence.repeats > 1:
        _band(fig, ks, gap, col, showlegend=False, meta={"role": "band", "metric": "gap"})
    fig.add_trace(go.Scatter(
        x=ks, y=gap.mean(axis=0), mode="lines+markers", legendgroup="mc", showlegend=False,
        name=f"MC {_kind_name(convergence)} of K sub-networks",
        line={"color": style.CLASS_COLORS[0], "width": width},
        marker={"size": 7 * style.line_scale(projector)},
        hovertemplate="K = %{x:.0f}: %{y:.4f}<extra></extra>",
        meta={"role": "mc", "metric": "gap"}), row=1, col=col)
    pooled = f"all {convergence.pooled_k:,} pooled"
    fig.add_trace(go.Scatter(
        x=[ks[0], ks[-1]], y=[convergence.pooled_gap] * 2, mode="lines", name=pooled,
        legendgroup="pooled", line={"color": style.MARKER_LINE, "dash": "dot", "width": width},
        hovertemplate=f"{pooled}: %{{y:.4f}}<extra></extra>",
        meta={"role": "pooled", "metric": "gap", "value": convergence.pooled_gap,
              "k": convergence.pooled_k}), row=1, col=col)


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


def curve_ensemble_figures(results: CurveEnsemble, projector: bool = False
                           ) -> dict[str, go.Figure]:
    """The tab's figures for a regression run: the K sub-networks' curves with their mean, band
    and the test-time network over the points, and the MC mean's test MSE as K grows."""
    data = results.data
    return {"subnetworks": subnetworks_figure(
                results.xs, results.curves, results.mean, results.sd, results.test_time,
                data.X_train, data.y_train, data.X_test, data.y_test, results.mean_mse,
                results.test_time_mse, test_time_name(results.convention), projector),
            "convergence": convergence_figure(results.convergence, projector)}
