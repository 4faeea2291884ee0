"""Regression figures (1-D x → y): networks' curves over the data points.

One idea, one place: `point_traces` and `curve_trace` draw the points and a curve, and
`curves_figure` puts curves over points. The sub-networks' band (`subnetworks_figure`), the
epoch animation's curve panel (`CurveFrames`, `frame_curve_traces`), with vs without dropout
and the hand-made sub-network all build on them. x and y are standardised by the data layer,
so an MSE is in units of y's variance; every label says so (style.MSE_LABEL).

Pure Plotly: arrays in, figures out. Traces are built as plain dicts (what the animation's
ready spec needs); `go.Figure` validates them for the other figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dropout_viz.figures import style

# Shown under the sub-networks' figure (dropout-facts.md: with dropout alone the band is model
# uncertainty; the noise in the data is not in it).
BAND_CAPTION = (
    "The shaded band is the mean ± 2 standard deviations of the sub-networks' predictions at "
    "each x: how much the thinned networks disagree there (model uncertainty). It leaves out "
    "the noise in the data itself, so points may lie outside it. Compare its width where "
    "there are training points with its width where there are none.")


def mse_text(mse: float) -> str:
    """The one way a test MSE is written on a chart: "test MSE 0.123"."""
    return f"test MSE {float(mse):.3f}"


@dataclass(frozen=True)
class Curve:
    """One network's prediction y (R,) over the grid xs, drawn as a line called `name`;
    `mse` is its test MSE (y standardised), shown in the title."""

    name: str
    y: np.ndarray
    color: str
    dash: str = "solid"
    role: str = "curve"
    mse: float | None = None


def thinned_curve(name: str, y: np.ndarray, mse: float | None = None) -> Curve:
    return Curve(name, y, style.THINNED_CURVE_COLOR, "solid", "thinned", mse)


def test_time_curve(name: str, y: np.ndarray, mse: float | None = None) -> Curve:
    return Curve(name, y, style.TEST_TIME_CURVE_COLOR, "dash", "test_time", mse)


def _axes(axes: tuple[str, str]) -> dict[str, str]:
    return {"xaxis": axes[0], "yaxis": axes[1]}


def point_traces(X_train, y_train, X_test, y_test, projector: bool = False,
                 axes: tuple[str, str] = ("x", "y"), showlegend: bool = True) -> list[dict]:
    """Training points filled, test points hollow (as on the maps), X (n, 1) and y (n,)."""
    scale = style.line_scale(projector)
    color = style.REGRESSION_POINT_COLOR
    markers = {"train": {"symbol": "circle", "size": 7 * scale, "color": color,
                         "line": {"color": "#FFFFFF", "width": 0.5 * scale}},
               "test": {"symbol": "circle-open", "size": 8 * scale, "color": color,
                        "line": {"color": color, "width": 1.8 * scale}}}
    traces = []
    for kind, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
        if X is None or y is None or len(X) == 0:
            continue
        traces.append({
            "type": "scatter", "mode": "markers", "name": kind, "showlegend": showlegend,
            "x": np.asarray(X, dtype=np.float32).reshape(len(X), -1)[:, 0],
            "y": np.asarray(y, dtype=np.float32), "marker": markers[kind],
            "hovertemplate": f"{kind}<br>x=%{{x:.2f}}<br>y=%{{y:.2f}}<extra></extra>",
            "meta": {"role": kind, "n": len(X)}, **_axes(axes)})
    return traces


def curve_trace(xs: np.ndarray, curve: Curve, projector: bool = False,
                axes: tuple[str, str] = ("x", "y")) -> dict[str, Any]:
    """One curve as a line over the grid xs (float32: a screen shows no more)."""
    return {
        "type": "scatter", "mode": "lines", "name": curve.name,
        "x": np.asarray(xs, dtype=np.float32), "y": np.asarray(curve.y, dtype=np.float32),
        "line": {"color": curve.color, "dash": curve.dash,
                 "width": 2.5 * style.line_scale(projector)},
        "hovertemplate": f"{curve.name}<br>x=%{{x:.2f}}: %{{y:.2f}}<extra></extra>",
        "meta": {"role": curve.role, "name": curve.name,
                 "mse": None if curve.mse is None else float(curve.mse)}, **_axes(axes)}


def value_range(points: Sequence[np.ndarray], curves: Sequence[np.ndarray]) -> list[float]:
    """One y range for every frame: the points and curves, padded by 8%. A curve far off the
    points (an untrained network's first epochs) is cut half the points' span beyond them,
    so the points stay readable."""
    ys = np.concatenate([np.ravel(p) for p in points if p is not None and len(p)])
    low, high = float(ys.min()), float(ys.max())
    span = max(high - low, 1e-6)
    finite = [np.ravel(c)[np.isfinite(np.ravel(c))] for c in curves]
    values = np.concatenate([ys, *finite])
    low = max(float(values.min()), low - 0.5 * span)
    high = min(float(values.max()), high + 0.5 * span)
    pad = 0.08 * (high - low)
    return [low - pad, high + pad]


def curve_axes(xs: np.ndarray, y_range: Sequence[float],
               titles: bool = True) -> tuple[dict, dict]:
    """The x axis over the grid and the y axis over `y_range`, fixed (no autorange)."""
    font = {"color": style.AXIS_TEXT_COLOR}  # Streamlit's theme would lighten the template's
    common = {"showgrid": True, "gridcolor": "#EEEEEE", "zeroline": False, "showline": True,
              "linecolor": "#999999", "mirror": True, "ticks": "", "tickfont": font,
              "showticklabels": titles}
    xaxis = {**common, "range": [float(xs[0]), float(xs[-1])]}
    yaxis = {**common, "range": [float(v) for v in y_range]}
    if titles:
        xaxis["title"] = {"text": "x (standardised)", "font": font}
        yaxis["title"] = {"text": "y (standardised)", "font": font}
    return xaxis, yaxis


def curves_title(curves: Sequence[Curve]) -> str:
    """Each curve's "name: test MSE 0.123", a line each (two side by side overflow a projector)."""
    return "<br>".join(f"{c.name}: {mse_text(c.mse)}" for c in curves if c.mse is not None)


def curves_figure(xs: np.ndarray, curves: Sequence[Curve], X_train, y_train, X_test=None,
                  y_test=None, title: str | None = None, projector: bool = False,
                  under: Sequence[dict] = (), meta: dict | None = None) -> go.Figure:
    """Curves over the points: xs (R,), each curve's y (R,), X (n, 1), y (n,). `under` are
    traces drawn beneath the points (a band, thin lines). The title states each curve's MSE
    unless one is given; layout.meta lists the curves with their MSEs."""
    xs = np.asarray(xs, dtype=float)
    traces = [*under, *point_traces(X_train, y_train, X_test, y_test, projector),
              *(curve_trace(xs, c, projector) for c in curves)]
    shown = [c.y for c in curves] + [t["y"] for t in under]
    xaxis, yaxis = curve_axes(xs, value_range([y_train, y_test], shown))
    title = curves_title(curves) if title is None else title
    fig = go.Figure(data=traces)
    fig.update_layout(**style.base_layout(title, projector))
    # Room for every line of the title (the base layout has room for one).
    title_line = 1.35 * round(style.font_size(projector) * 1.2)
    fig.update_layout(
        margin={"t": int(24 + title_line * (title.count("<br>") + 1))},
        xaxis=xaxis, yaxis=yaxis, height=520 if projector else 420, hovermode="closest",
        legend={"orientation": "h", "x": 0.0, "y": 0.0, "yref": "container",
                "yanchor": "bottom", "itemsizing": "constant"},
        meta={"curves": [{"name": c.name, "role": c.role,
                          "mse": None if c.mse is None else float(c.mse)} for c in curves],
              "n_train": 0 if X_train is None else len(X_train),
              "n_test": 0 if X_test is None else len(X_test), "resolution": len(xs),
              **(meta or {})})
    return fig


def subnetworks_figure(xs: np.ndarray, sub_curves: np.ndarray, mean: np.ndarray,
                       sd: np.ndarray, test_time: np.ndarray, X_train, y_train, X_test, y_test,
                       mean_mse: float, test_time_mse: float,
                       test_time_name: str = "Test-time network",
                       projector: bool = False) -> go.Figure:
    """K sub-networks' curves (K, R) as thin lines, their mean (R,), the band mean ± 2 sd
    (sd (R,): their spread, as the engine's `mc_mean_and_sd` computes it), and the test-time
    network's curve (R,) dashed, over the points. mean_mse / test_time_mse: test MSEs of the
    mean of these K and of the test-time network."""
    xs = np.asarray(xs, dtype=float)
    sub_curves = np.asarray(sub_curves, dtype=float)
    mean, sd = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
    k = len(sub_curves)
    upper, lower = mean + 2 * sd, mean - 2 * sd
    under = [{
        "type": "scatter", "mode": "lines", "name": "mean ± 2 sd", "fill": "toself",
        "x": np.concatenate([xs, xs[::-1]]).astype(np.float32),
        "y": np.concatenate([upper, lower[::-1]]).astype(np.float32),
        "fillcolor": style.rgba(style.MEAN_CURVE_COLOR, 0.18), "line": {"width": 0},
        "hoverinfo": "skip", "meta": {"role": "band"}}, _thin_lines(xs, sub_curves, projector)]
    curves = [Curve(f"Mean of {k} sub-networks", mean, style.MEAN_CURVE_COLOR, role="mean",
                    mse=mean_mse), test_time_curve(test_time_name, test_time, test_time_mse)]
    widest = int(np.argmax(sd))
    return curves_figure(xs, curves, X_train, y_train, X_test, y_test, projector=projector,
                         under=under, meta={"k": k, "widest_x": float(xs[widest]),
                                            "widest_sd": float(sd[widest]),
                                            "mean_sd": float(sd.mean())})


def _thin_lines(xs: np.ndarray, sub_curves: np.ndarray, projector: bool) -> dict[str, Any]:
    """All K curves in one trace, broken by a gap after each (one legend entry, one trace
    however large K is)."""
    k, r = sub_curves.shape
    gaps = np.full((k, 1), np.nan)
    return {"type": "scatter", "mode": "lines", "name": f"{k} sub-networks",
            "x": np.tile(np.append(xs, np.nan), k).astype(np.float32),
            "y": np.hstack([sub_curves, gaps]).ravel().astype(np.float32),
            "line": {"color": style.rgba(style.THINNED_CURVE_COLOR, 0.35),
                     "width": 1.0 * style.line_scale(projector)},
            "connectgaps": False, "hoverinfo": "skip", "meta": {"role": "sub_networks", "k": k}}


# --------------------------------------------------------------------------- the animation


@dataclass(frozen=True)
class CurveFrames:
    """The epoch animation's regression panel (the twin of BoundaryFrames): per frame the
    thinned and the full network's predictions over the grid, and the data under them.

    xs: (R,); thinned / full: (F, R); thinned_mse / full_mse: (F,) test MSEs (y standardised);
    X_train (n, 1), y_train (n,), X_test (m, 1), y_test (m,); full_title names the full
    network's curve.
    """

    xs: np.ndarray
    thinned: np.ndarray
    full: np.ndarray
    thinned_mse: Sequence[float]
    full_mse: Sequence[float]
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    full_title: str = "Full network"


def frame_curves(frames: CurveFrames, f: int, epoch: int) -> list[Curve]:
    return [thinned_curve(f"Thinned network, epoch {epoch}", frames.thinned[f],
                          frames.thinned_mse[f]),
            test_time_curve(frames.full_title, frames.full[f], frames.full_mse[f])]


def frame_title(frames: CurveFrames, f: int, epoch: int) -> str:
    """The panel's title at frame f: each network's test MSE on a line of its own."""
    return "<br>".join(f"{c.name}: {mse_text(c.mse)}" for c in frame_curves(frames, f, epoch))


def frame_curve_traces(frames: CurveFrames, epochs: Sequence[int], active: int,
                       projector: bool, axes: tuple[str, str] = ("x2", "y2")):
    """The animation's panel: both curves at the shown frame (animated), the points (static,
    in the figure only), and each frame's update: the two curves' new y, nothing else."""
    xs = np.asarray(frames.xs, dtype=float)
    # Legend names without the epoch: the legend is static, the title says the epoch.
    shown = [thinned_curve("Thinned network", frames.thinned[active]),
             test_time_curve("Full network", frames.full[active])]  # title: which weights
    animated = [curve_trace(xs, c, projector, axes) for c in shown]
    static = point_traces(frames.X_train, frames.y_train, frames.X_test, frames.y_test,
                          projector, axes)
    updates = [[{"type": "scatter", "y": np.asarray(frames.thinned[f], dtype=np.float32)},
                {"type": "scatter", "y": np.asarray(frames.full[f], dtype=np.float32)}]
               for f in range(len(epochs))]
    return animated, static, updates


def frame_axes(frames: CurveFrames) -> tuple[dict, dict]:
    """The panel's axes, one range for all frames (a frame never rescales them)."""
    y_range = value_range([frames.y_train, frames.y_test], [frames.thinned, frames.full])
    return curve_axes(np.asarray(frames.xs, dtype=float), y_range, titles=False)
