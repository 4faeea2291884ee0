"""Training curves: loss and accuracy per epoch, with a marker at the epoch being inspected.

A regression history (no accuracy keys) gets the loss panel alone, its loss the MSE."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dropout_viz.figures import style

# (history key, panel column, label, colour, dash). "thinned" = measured on the thinned
# sub-networks that training actually used (dropout on), not on the test-time network.
CURVES: tuple[tuple[str, int, str, str, str], ...] = (
    ("train_loss", 1, "train", style.CLASS_COLORS[0], "solid"),
    ("test_loss", 1, "test", style.CLASS_COLORS[1], "solid"),
    ("thinned_loss", 1, "train, thinned nets", style.CLASS_COLORS[2], "dash"),
    ("train_acc", 2, "train", style.CLASS_COLORS[0], "solid"),
    ("test_acc", 2, "test", style.CLASS_COLORS[1], "solid"),
    ("thinned_acc", 2, "train, thinned nets", style.CLASS_COLORS[2], "dash"),
)


def has_accuracy(histories: Sequence[Mapping[str, np.ndarray]]) -> bool:
    """Classification histories have accuracies; a regression history has none (its loss is
    the MSE)."""
    return any(key.endswith("_acc") for history in histories for key in history)


def _two_panels(title: str, projector: bool, accuracy: bool = True) -> go.Figure:
    """A fresh copy of the empty loss and accuracy panels (copying is ~30× cheaper than
    make_subplots and its axis updates, and every new run draws its curves on them); the loss
    panel alone without accuracies."""
    return go.Figure(_empty_panels(title, projector, accuracy))


@functools.lru_cache(maxsize=8)
def _empty_panels(title: str, projector: bool, accuracy: bool) -> go.Figure:
    fig = make_subplots(rows=1, cols=2 if accuracy else 1,
                        subplot_titles=("loss", "accuracy") if accuracy else ("loss",),
                        horizontal_spacing=0.1)
    fig.update_layout(**style.base_layout(title, projector))
    fig.update_annotations(font={"size": style.font_size(projector)})
    fig.update_xaxes(title_text="epoch", showgrid=True, gridcolor="#EEEEEE", zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#EEEEEE", zeroline=False)
    fig.update_yaxes(title_text="cross-entropy" if accuracy else style.MSE_LABEL, row=1, col=1)
    if accuracy:
        fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_layout(
        height=440 if projector else 360,
        hovermode="x unified",
        legend={"orientation": "h", "x": 0.0, "y": -0.22, "yanchor": "top"},
    )
    return style.legible_axes(fig)  # the copies keep these axes, so their fonts too


def _epochs(values: np.ndarray) -> np.ndarray:
    return np.arange(1, len(values) + 1)


def _add_marker(fig: go.Figure, epoch_marker: int | None, n_epochs: int, projector: bool,
                accuracy: bool = True) -> None:
    if epoch_marker is None:
        return
    if not 1 <= epoch_marker <= max(n_epochs, 1):
        raise ValueError(f"epoch_marker must be in [1, {n_epochs}], got {epoch_marker}")
    line = {"color": style.MARKER_LINE, "dash": "dot", "width": 1.5 * style.line_scale(projector)}
    # Plain shape dicts in one update: add_vline per panel costs ~10 ms each, and the epoch
    # slider redraws this marker on every step.
    shapes = [{"type": "line", "x0": epoch_marker, "x1": epoch_marker, "xref": xref,
               "y0": 0, "y1": 1, "yref": f"{yref} domain", "line": line}
              for xref, yref in (("x", "y"), ("x2", "y2"))[:2 if accuracy else 1]]
    # Inside the plot, just right of the line, so it never collides with the panel title.
    note = {"x": epoch_marker, "y": 1.0, "xref": "x", "yref": "y domain", "xanchor": "left",
            "yanchor": "top", "text": f" epoch {epoch_marker}", "showarrow": False,
            "bgcolor": "rgba(255,255,255,0.7)",
            "font": {"size": style.font_size(projector), "color": style.MARKER_LINE}}
    fig.update_layout(shapes=list(fig.layout.shapes) + shapes,
                      annotations=list(fig.layout.annotations) + [note])


def _accuracy_range(fig: go.Figure) -> None:
    # Accuracy is a fraction: show 0..100 % unless the data need more room.
    values = [np.asarray(t.y, dtype=float) for t in fig.data if t.xaxis == "x2" and t.y is not None]
    low = min((float(np.nanmin(v)) for v in values if v.size), default=0.0)
    fig.update_yaxes(range=[min(0.0, low), 1.02], row=1, col=2)


def _finish(fig: go.Figure, accuracy: bool, epoch_marker: int | None, n_epochs: int,
            projector: bool) -> None:
    if accuracy:
        _accuracy_range(fig)
    _add_marker(fig, epoch_marker, n_epochs, projector, accuracy)


def history_figure(
    history: Mapping[str, np.ndarray],
    epoch_marker: int | None = None,
    projector: bool = False,
    title: str = "",
) -> go.Figure:
    """Loss (left) and accuracy (right) over epochs 1..E; a dotted line at `epoch_marker`.

    history maps names to per-epoch arrays: train_loss, test_loss, thinned_loss (dashed),
    train_acc, test_acc, thinned_acc (dashed); missing keys are skipped, others ignored.
    Without accuracies (regression) only the loss panel, in MSE.
    """
    accuracy = has_accuracy([history])
    fig = _two_panels(title, projector, accuracy)
    width = 2.5 * style.line_scale(projector)
    n_epochs = 0
    labelled: set[str] = set()  # each label once in the legend, for loss and accuracy alike
    for key, col, label, color, dash in CURVES:
        if key not in history:
            continue
        values = np.asarray(history[key], dtype=float)
        n_epochs = max(n_epochs, len(values))
        fig.add_trace(
            go.Scatter(
                x=_epochs(values), y=values, mode="lines", name=label,
                line={"color": color, "dash": dash, "width": width},
                legendgroup=label, showlegend=label not in labelled,
                meta={"role": "curve", "key": key},
                hovertemplate=f"{label}: %{{y:.3f}}<extra></extra>",
            ),
            row=1, col=col,
        )
        labelled.add(label)
    _finish(fig, accuracy, epoch_marker, n_epochs, projector)
    fig.update_layout(meta={"n_epochs": n_epochs, "epoch_marker": epoch_marker,
                            **({} if accuracy else {"loss": "mse"})})
    return fig


def overlay_history_figure(
    histories: Mapping[str, Mapping[str, np.ndarray]],
    epoch_marker: int | None = None,
    projector: bool = False,
    title: str = "",
) -> go.Figure:
    """Compare runs (e.g. "p = 0.5" vs "p = 0"): one colour per run, train dashed, test solid
    (the loss panel alone, in MSE, for regression histories)."""
    accuracy = has_accuracy(list(histories.values()))
    fig = _two_panels(title, projector, accuracy)
    width = 2.5 * style.line_scale(projector)
    n_epochs = 0
    labelled: set[str] = set()
    for r, (run, history) in enumerate(histories.items()):
        color = style.class_color(r)
        for split, dash in (("train", "dash"), ("test", "solid")):
            for col, metric in ((1, "loss"), (2, "acc")):
                key = f"{split}_{metric}"
                if key not in history:
                    continue
                values = np.asarray(history[key], dtype=float)
                n_epochs = max(n_epochs, len(values))
                fig.add_trace(
                    go.Scatter(
                        x=_epochs(values), y=values, mode="lines", name=f"{run}, {split}",
                        line={"color": color, "dash": dash, "width": width},
                        legendgroup=f"{run}, {split}",
                        showlegend=f"{run}, {split}" not in labelled,
                        meta={"role": "curve", "run": run, "key": key},
                        hovertemplate=f"{run}, {split}: %{{y:.3f}}<extra></extra>",
                    ),
                    row=1, col=col,
                )
                labelled.add(f"{run}, {split}")
    _finish(fig, accuracy, epoch_marker, n_epochs, projector)
    fig.update_layout(meta={"n_epochs": n_epochs, "epoch_marker": epoch_marker,
                            "runs": list(histories), **({} if accuracy else {"loss": "mse"})})
    return fig
