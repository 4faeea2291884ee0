"""Figures of the Experiments tab: sweep over p, activation histograms, unit maps, confusion
matrices and misclassified images. Arrays in, `go.Figure` out (no Streamlit, no engine).

`experiments_figures(results, projector)` draws everything in one `ExperimentResults`
(dropout_viz.experiments) for the command-line export; the tab lays out the same builders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dropout_viz.figures import style
from dropout_viz.figures.boundary import boundary_panels
from dropout_viz.figures.curves import overlay_history_figure
from dropout_viz.figures.regression import Curve, curves_figure

if TYPE_CHECKING:  # only for annotations: figures do not import the engine
    from dropout_viz.experiments import ExperimentResults

# Diverging scale for unit outputs: vermillion below zero, white at zero, blue above.
UNIT_COLORSCALE = [[0.0, style.NEGATIVE_WEIGHT_COLOR], [0.5, "#FFFFFF"],
                   [1.0, style.POSITIVE_WEIGHT_COLOR]]
CONFUSION_COLORSCALE = [[0.0, "#FFFFFF"], [1.0, style.CLASS_COLORS[0]]]
MAX_UNITS_SHOWN = 16


def _run_colors(labels: Sequence[str]) -> dict[str, str]:
    # Same colours as overlay_history_figure: first run blue, second orange.
    return {label: style.class_color(i) for i, label in enumerate(labels)}


# ----------------------------------------------------------------------------- with vs without


def twin_boundary_figure(xs, ys, grid_probs: Mapping[str, np.ndarray],
                         accuracies: Mapping[str, float], X_train, y_train, X_test, y_test,
                         n_classes: int, projector: bool = False) -> go.Figure:
    """The two networks' decision boundaries side by side on one colour scale."""
    panels = [{"grid_probs": probs, "title": label, "accuracy": accuracies.get(label)}
              for label, probs in grid_probs.items()]
    for panel in panels:
        if panel["accuracy"] is None:
            del panel["accuracy"]
    # Two panels side by side have room to be larger than the default grid cells.
    return boundary_panels(panels, xs, ys, X_train, y_train, X_test, y_test,
                           n_classes=n_classes, ncols=len(panels), projector=projector,
                           panel_height=460 if projector else 380)


def twin_curve_figure(xs, curves: Mapping[str, np.ndarray], mses: Mapping[str, float],
                      X_train, y_train, X_test, y_test, projector: bool = False) -> go.Figure:
    """Regression's twin of twin_boundary_figure: each network's curve (R,) over the grid xs,
    both on one panel over the points, in the runs' colours of the training curves; the title
    gives each one's test MSE (mses, y standardised)."""
    colors = _run_colors(list(curves))
    return curves_figure(xs, [Curve(label, y, colors[label], role="run", mse=mses.get(label))
                              for label, y in curves.items()],
                         X_train, y_train, X_test, y_test, projector=projector)


def twin_curves_figure(histories: Mapping[str, Mapping[str, np.ndarray]],
                       projector: bool = False) -> go.Figure:
    return overlay_history_figure(histories, projector=projector,
                                  title="Training curves: with and without dropout")


# ----------------------------------------------------------------------------- sweep over p

SWEEP_PANELS = (("test_acc", "test accuracy", ".0%"), ("test_loss", "test loss", ".2f"),
                ("gap", "gap: test − train loss", ".2f"))
# Regression sweeps have no accuracy; their loss is the MSE (y standardised).
REGRESSION_SWEEP_PANELS = (("test_loss", "test MSE", ".3f"), ("gap", "gap: test − train MSE",
                                                               ".3f"))


def sweep_figure(ps: np.ndarray, metrics: Mapping[str, np.ndarray], current_p: float | None = None,
                 mode: str = "width", widths: Sequence[Sequence[int]] | None = None,
                 projector: bool = False) -> go.Figure:
    """Test accuracy, test loss and the train–test gap against p (mean over seeds, ±1 s.d.).

    metrics maps history keys ("test_acc", "test_loss", "train_loss", ...) to (P, seeds) arrays;
    the gap is test_loss − train_loss. A dotted line marks `current_p`. Without "test_acc"
    (regression) the panels are the test MSE and the gap in MSE.
    """
    ps = np.asarray(ps, dtype=float)
    panels = SWEEP_PANELS if "test_acc" in metrics else REGRESSION_SWEEP_PANELS
    values = {key: np.asarray(metrics[key], dtype=float)
              for key, _, _ in panels if key != "gap"}
    values["gap"] = np.asarray(metrics["test_loss"], float) - np.asarray(metrics["train_loss"],
                                                                         float)
    n_seeds = values["test_loss"].shape[1]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for _, t, _ in panels],
                        horizontal_spacing=0.08)
    title = ("Sweep over p, fixed width n" if mode == "width"
             else "Sweep over p, fixed expected active units (1 − p)·n")
    fig.update_layout(**style.base_layout(title, projector))
    fig.update_annotations(font={"size": style.font_size(projector)})
    scale = style.line_scale(projector)
    hover_widths = ([", ".join(str(n) for n in w) for w in widths] if widths is not None
                    else [""] * len(ps))
    for col, (key, label, fmt) in enumerate(panels, start=1):
        data = values[key]
        with np.errstate(all="ignore"):
            mean, spread = np.nanmean(data, axis=1), np.nanstd(data, axis=1)
        color = style.CLASS_COLORS[5] if key == "gap" else style.CLASS_COLORS[0]
        fig.add_trace(go.Scatter(
            x=np.repeat(ps, n_seeds), y=data.ravel(), mode="markers",
            marker={"size": 5 * scale, "color": style.rgba(color, 0.35)},
            name="single seed", showlegend=col == 1, legendgroup="seed",
            meta={"role": "seed_points", "key": key}, hoverinfo="skip"), row=1, col=col)
        fig.add_trace(go.Scatter(
            x=ps, y=mean, mode="lines+markers", name=f"mean of {n_seeds} seeds ± 1 s.d.",
            showlegend=col == 1, legendgroup="mean",
            line={"color": color, "width": 2.5 * scale}, marker={"size": 8 * scale},
            error_y={"type": "data", "array": spread, "visible": True, "thickness": 1.5 * scale,
                     "color": color},
            customdata=np.column_stack([spread, hover_widths]),
            hovertemplate=(f"p = %{{x:.1f}}<br>{label}: %{{y:{fmt}}} ± %{{customdata[0]:{fmt}}}"
                           + ("<br>width %{customdata[1]}" if widths is not None else "")
                           + "<extra></extra>"),
            meta={"role": "sweep_mean", "key": key}), row=1, col=col)
        fig.update_yaxes(tickformat=fmt, row=1, col=col)
    fig.update_xaxes(title_text="dropout rate p", dtick=0.1, showgrid=True, gridcolor="#EEEEEE",
                     zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#EEEEEE", zeroline=False)
    if current_p is not None:
        for col in range(1, len(panels) + 1):
            fig.add_vline(x=current_p, line={"color": style.MARKER_LINE, "dash": "dot",
                                             "width": 1.5 * scale}, row=1, col=col)
        fig.add_annotation(x=current_p, y=1.0, xref="x", yref="y domain", xanchor="left",
                           yanchor="top", text=f" your p = {current_p:g}", showarrow=False,
                           bgcolor="rgba(255,255,255,0.7)",
                           font={"size": style.font_size(projector), "color": style.MARKER_LINE})
    fig.update_layout(height=420 if projector else 360, hovermode="closest",
                      legend={"orientation": "h", "x": 0.0, "y": -0.22, "yanchor": "top"},
                      meta={"ps": ps.tolist(), "current_p": current_p, "mode": mode})
    return style.legible_axes(fig)


# ----------------------------------------------------------------------------- inside the neurons


def _attr(stats: Any, name: str) -> Any:
    return stats[name] if isinstance(stats, Mapping) else getattr(stats, name)


def activation_figure(layers: Mapping[str, Sequence[Any]], projector: bool = False) -> go.Figure:
    """Per hidden layer (rows): histogram of all activations (left, log scale) and of each
    unit's mean activation (right), one colour per network, bars overlaid.

    layers maps a network's label to one stats object per hidden layer, each with counts,
    edges (shared between networks), mean, near_zero and unit_means (dicts work too).
    """
    labels = list(layers)
    depth = min(len(v) for v in layers.values())
    colors = _run_colors(labels)
    titles = []
    for l in range(depth):
        titles += [f"hidden layer {l + 1}: activations", f"hidden layer {l + 1}: unit means"]
    fig = make_subplots(rows=depth, cols=2, subplot_titles=titles, horizontal_spacing=0.1,
                        vertical_spacing=0.28 / depth)
    fig.update_layout(**style.base_layout("What the hidden units output on the training data",
                                          projector))
    fig.update_annotations(font={"size": style.font_size(projector)})
    for l in range(depth):
        all_means = np.concatenate([np.asarray(_attr(layers[k][l], "unit_means"), float)
                                    for k in labels])
        mean_edges = np.linspace(min(0.0, all_means.min()), max(all_means.max(), 1e-9), 21)
        for label in labels:
            stats = layers[label][l]
            counts = np.asarray(_attr(stats, "counts"), dtype=float)
            edges = np.asarray(_attr(stats, "edges"), dtype=float)
            share = counts / max(counts.sum(), 1.0)
            mean, near_zero = float(_attr(stats, "mean")), float(_attr(stats, "near_zero"))
            name = f"{label}: mean {mean:.2f}, {near_zero:.0%} near 0"
            fig.add_trace(go.Bar(
                x=(edges[:-1] + edges[1:]) / 2, y=np.where(share > 0, share, np.nan),
                width=np.diff(edges), name=name, legendgroup=label, showlegend=l == 0,
                marker={"color": colors[label], "line": {"width": 0}}, opacity=0.55,
                meta={"role": "activations", "run": label, "layer": l + 1, "mean": mean,
                      "near_zero": near_zero},
                hovertemplate=f"{label}<br>activation %{{x:.2f}}: %{{y:.1%}}<extra></extra>",
            ), row=l + 1, col=1)
            fig.add_vline(x=mean, line={"color": colors[label], "dash": "dash",
                                        "width": 2 * style.line_scale(projector)},
                          row=l + 1, col=1)
            unit_means = np.asarray(_attr(stats, "unit_means"), dtype=float)
            unit_counts, _ = np.histogram(np.clip(unit_means, mean_edges[0], mean_edges[-1]),
                                          bins=mean_edges)
            fig.add_trace(go.Bar(
                x=(mean_edges[:-1] + mean_edges[1:]) / 2, y=unit_counts,
                width=np.diff(mean_edges), name=label, legendgroup=label, showlegend=False,
                marker={"color": colors[label], "line": {"width": 0}}, opacity=0.55,
                meta={"role": "unit_means", "run": label, "layer": l + 1},
                hovertemplate=f"{label}<br>mean %{{x:.2f}}: %{{y}} units<extra></extra>",
            ), row=l + 1, col=2)
        fig.update_yaxes(type="log", dtick=1, title_text="share (log scale)",
                         tickformat=".2~%", row=l + 1, col=1)
        fig.update_yaxes(title_text="units", row=l + 1, col=2)
        fig.update_xaxes(title_text="activation", row=l + 1, col=1)
        fig.update_xaxes(title_text="mean activation of a unit", row=l + 1, col=2)
    fig.update_layout(barmode="overlay", height=(300 if not projector else 380) * depth + 120,
                      legend={"orientation": "h", "x": 0.0, "y": -0.16 / depth, "yanchor": "top"},
                      meta={"runs": labels, "layers": depth})
    return style.legible_axes(fig)


def unit_maps_figure(xs, ys, maps: np.ndarray, dropped: Sequence[int] = (), layer: int = 1,
                     max_units: int = MAX_UNITS_SHOWN, ncols: int = 8,
                     projector: bool = False, title: str | None = None) -> go.Figure:
    """Each unit's output over the plane as a small heatmap (maps: (len(ys), len(xs), units)).

    Every map has its own colour range, white at 0, so its shape shows even when its values
    are small. Units in `dropped` are faded and marked ✕. Shows the first `max_units` units.
    """
    maps = np.asarray(maps, dtype=float)
    units = maps.shape[2]
    shown = min(units, max_units)
    ncols = min(ncols, shown)
    nrows = math.ceil(shown / ncols)
    dropped_set = {int(i) for i in dropped}
    names = [f"h{layer}.{i + 1}" + (" ✕" if i in dropped_set else "") for i in range(shown)]
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=names,
                        horizontal_spacing=0.012, vertical_spacing=0.09 / max(nrows, 1) + 0.03)
    if title is None:
        title = f"Hidden layer {layer}: each unit's output over the input plane"
        if shown < units:
            title += f" (first {shown} of {units})"
    fig.update_layout(**style.base_layout(title, projector))
    fig.update_annotations(font={"size": style.font_size(projector) - 3})
    for i in range(shown):
        z = maps[:, :, i].astype(np.float32)
        bound = float(np.max(np.abs(z))) or 1.0
        is_dropped = i in dropped_set
        fig.add_trace(go.Heatmap(
            x=xs, y=ys, z=z, zmin=-bound, zmax=bound, colorscale=UNIT_COLORSCALE,
            showscale=False, opacity=0.25 if is_dropped else 1.0,
            meta={"role": "unit_map", "layer": layer, "unit": i, "dropped": is_dropped},
            hovertemplate=f"{names[i]}<br>output %{{z:.2f}}<extra></extra>",
        ), row=i // ncols + 1, col=i % ncols + 1)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor=None)
    cell = 110 if not projector else 150
    fig.update_layout(height=nrows * cell + 80, margin={"l": 10, "r": 10, "t": 80, "b": 10},
                      meta={"layer": layer, "units": units, "shown": shown,
                            "dropped": sorted(dropped_set)})
    return fig


# ----------------------------------------------------------------------------- classification


def confusion_figure(confusions: Mapping[str, np.ndarray], class_names: Sequence[str],
                     projector: bool = False) -> go.Figure:
    """Confusion matrices side by side (rows: true class, columns: predicted), one scale."""
    labels = list(confusions)
    fig = make_subplots(rows=1, cols=len(labels), horizontal_spacing=0.08,
                        subplot_titles=[
                            f"{label}: {np.trace(m) / max(np.sum(m), 1):.1%} correct"
                            for label, m in confusions.items()])
    fig.update_layout(**style.base_layout("Confusion matrices on the test split", projector))
    fig.update_annotations(font={"size": style.font_size(projector)})
    names = [str(n) for n in class_names]
    # Colour the off-diagonal mistakes on their own scale so a handful of errors still shows.
    zmax = max(1, max(int(np.max(m - np.diag(np.diag(m)))) for m in confusions.values()))
    for col, (label, matrix) in enumerate(confusions.items(), start=1):
        matrix = np.asarray(matrix, dtype=int)
        fig.add_trace(go.Heatmap(
            x=names, y=names, z=np.minimum(matrix, zmax), zmin=0, zmax=zmax,
            colorscale=CONFUSION_COLORSCALE, showscale=False, text=matrix,
            texttemplate="%{text}", textfont={"size": style.font_size(projector) - 2},
            meta={"role": "confusion", "run": label, "counts": matrix.tolist()},
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
        ), row=1, col=col)
        fig.update_xaxes(title_text="predicted", type="category", row=1, col=col)
        fig.update_yaxes(title_text="true" if col == 1 else None, type="category",
                         autorange="reversed", row=1, col=col)
    side = 420 if not projector else 520
    fig.update_layout(height=side, meta={"runs": labels})
    return style.legible_axes(fig)


def images_figure(images: np.ndarray, true_labels: Sequence[Any], predicted: Sequence[Any],
                  title: str = "", projector: bool = False, max_value: float = 16.0,
                  ncols: int = 8) -> go.Figure:
    """Small grey-scale images (k, rows, cols), each titled "true → predicted"."""
    images = np.asarray(images, dtype=float)
    k = len(images)
    if k == 0:
        fig = go.Figure()
        fig.update_layout(**style.base_layout(title, projector))
        fig.add_annotation(text="No mistakes on the test split.", showarrow=False,
                           x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.update_layout(height=160, meta={"n_images": 0})
        return fig
    ncols = min(ncols, k)
    nrows = math.ceil(k / ncols)
    fig = make_subplots(rows=nrows, cols=ncols, horizontal_spacing=0.02,
                        vertical_spacing=0.12 / nrows,
                        subplot_titles=[f"{t} → {p}" for t, p in zip(true_labels, predicted)])
    fig.update_layout(**style.base_layout(title, projector))
    fig.update_annotations(font={"size": style.font_size(projector)})
    for i, image in enumerate(images):
        fig.add_trace(go.Heatmap(
            z=image[::-1], zmin=0.0, zmax=max_value, colorscale="Greys", showscale=False,
            meta={"role": "image", "true": str(true_labels[i]), "predicted": str(predicted[i])},
            hovertemplate="pixel %{z:.0f}<extra></extra>",
        ), row=i // ncols + 1, col=i % ncols + 1)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(height=nrows * (130 if not projector else 170) + 70,
                      meta={"n_images": k})
    return fig


# ----------------------------------------------------------------------------- everything


def final_test_mses(histories: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, float]:
    """Each regression run's test MSE after its last epoch (its history's test loss)."""
    return {label: float(history["test_loss"][-1]) for label, history in histories.items()}


def _slug(label: str) -> str:
    return "no-dropout" if label.startswith("p = 0 ") else "dropout"


def experiments_figures(results: ExperimentResults, projector: bool = False
                        ) -> dict[str, go.Figure]:
    """Every figure of the Experiments tab for one ExperimentResults (used by the export):
    decision boundaries for 2-D data, curves over x ("fits") for a 1-D regression."""
    dataset, histories = results.dataset, results.histories
    figures: dict[str, go.Figure] = {}
    if results.grid is not None and results.grid_probs is not None:
        xs, ys = results.grid
        accuracies = {label: float(history["test_acc"][-1])
                      for label, history in histories.items()}
        figures["boundaries"] = twin_boundary_figure(
            xs, ys, results.grid_probs, accuracies, dataset.X_train, dataset.y_train,
            dataset.X_test, dataset.y_test, int(dataset.n_classes), projector)
    if results.line is not None and results.curves is not None:  # regression: curves over x
        figures["fits"] = twin_curve_figure(
            results.line, results.curves, final_test_mses(histories), dataset.X_train,
            dataset.y_train, dataset.X_test, dataset.y_test, projector)
    figures["curves"] = twin_curves_figure(histories, projector)
    if results.classifications is not None:
        figures["confusion"] = confusion_figure(
            {label: c.confusion for label, c in results.classifications.items()},
            dataset.class_names, projector)
        for label, images in (results.examples or {}).items():
            c = results.classifications[label]
            shown = c.misclassified[:len(images)]
            figures[f"mistakes-{_slug(label)}"] = images_figure(
                images, [dataset.class_names[y] for y in dataset.y_test[shown]],
                [dataset.class_names[y] for y in c.predicted[shown]],
                title=f"Misclassified test digits, {label} (true → predicted)",
                projector=projector)
    if results.sweep is not None:
        sweep = results.sweep
        figures["sweep"] = sweep_figure(sweep.ps, sweep.metrics, results.p_hidden, sweep.mode,
                                        sweep.widths, projector)
    figures["activations"] = activation_figure(results.activations, projector)
    if results.units is not None:
        for layer, (maps, dropped) in enumerate(zip(results.units.maps, results.units.dropped),
                                                start=1):
            figures[f"units-{layer}"] = unit_maps_figure(
                results.units.xs, results.units.ys, maps, dropped, layer, projector=projector)
    return figures
