"""Each tab's figures for a finished run and its settings: the numbers from pipeline, ensemble,
experiments and lesson, the drawing from figures/. No Streamlit: the page (ui/) caches and shows
these figures, and the export (`export.py`, `python -m dropout_viz export`) writes them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go

from dropout_viz import ensemble, experiments, pipeline
from dropout_viz.data import Dataset
from dropout_viz.engine import MLP, TrainingRun
from dropout_viz.figures import boundary_panels, history_figure, network_figure
from dropout_viz.figures.animation import BoundaryFrames, epoch_animation_figure
from dropout_viz.figures.ensemble import curve_ensemble_figures, ensemble_figures
from dropout_viz.figures.experiments import experiments_figures
from dropout_viz.figures.lesson import unit_input_figure
from dropout_viz.figures.regression import (
    CurveFrames,
    curves_figure,
    test_time_curve,
    thinned_curve,
)
from dropout_viz.lesson import default_probe, probe_result
from dropout_viz.settings import Settings

MAX_FRAMES = 24  # animation frames: kept epochs, subsampled evenly
FRAME_GRID = 40  # boundary grid of the frames (the single-epoch export keeps 100×100)


# ----------------------------------------------------------------------------- Dropout in action


def output_names(dataset: Dataset) -> list[str]:
    """The diagram's output units: one per class, or a regression network's one output y."""
    if dataset.task == "regression":
        return ["y"]
    return [f"class {name}" for name in dataset.class_names]


def input_names(dataset: Dataset) -> list[str] | None:
    """The diagram's input units by name where there are few (x1, x2; a curve's x); the 64
    pixels of digits go unnamed."""
    if pipeline.is_planar(dataset) or pipeline.is_curve(dataset):
        return list(dataset.feature_names)
    return None


def net_title(settings: Settings) -> str:
    if settings.convention == "standard":
        return "Full network, weights × q"
    return "Full network, weights as trained"


def frame_epochs(run: TrainingRun, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """At most `max_frames` kept epochs (0-based), evenly spaced, always the first and last."""
    kept = run.snapshot_epochs
    picks = np.unique(np.rint(np.linspace(0, len(kept) - 1, min(len(kept), max_frames))))
    return kept[picks.astype(int)]


def thinned_and_full_view(net: MLP, keep_mask: list[np.ndarray], dataset: Dataset,
                          grid: pipeline.Grid) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One thinned sub-network and the full network at the grid's points and their test scores
    (thinned, full, thinned_score, full_score): class probabilities and test accuracies, or
    for a curve the outputs (R,) and test MSEs."""
    thinned, full = pipeline.thinned_and_full(net, keep_mask, grid.points)
    if pipeline.is_curve(dataset):
        thinned, full = thinned[:, 0], full[:, 0]
    return (thinned, full, pipeline.score_on_test(net, dataset, keep_mask),
            pipeline.score_on_test(net, dataset))


def panel_frames(dataset: Dataset, nets: list[MLP], masks: list[list[np.ndarray]],
                 settings: Settings) -> BoundaryFrames | CurveFrames | None:
    """The animation's panel beside the diagram: both networks' boundaries on the plane, or
    their curves over the points; None for inputs with no picture (digits)."""
    curve = pipeline.is_curve(dataset)
    if not (curve or pipeline.is_planar(dataset)):
        return None
    grid = pipeline.grid_for(dataset, resolution=None if curve else FRAME_GRID)
    # Each epoch's thinned and full network run as one stack of two, in float32 (one stack
    # of all epochs is slower: its layers no longer fit in the processor's cache).
    views = [thinned_and_full_view(net, mask, dataset, grid)
             for net, mask in zip(nets, masks, strict=True)]
    thinned, full, thinned_score, full_score = zip(*views, strict=True)
    data = (dataset.X_train, dataset.y_train, dataset.X_test, dataset.y_test)
    if curve:
        return CurveFrames(grid.xs, np.stack(thinned), np.stack(full), list(thinned_score),
                           list(full_score), *data, full_title=net_title(settings))
    return BoundaryFrames(grid.xs, grid.ys, np.stack(thinned), np.stack(full),
                          list(thinned_score), list(full_score), *data,
                          n_classes=dataset.n_classes, full_title=net_title(settings))


def animation_figure(run: TrainingRun, settings: Settings,
                     max_frames: int = MAX_FRAMES) -> go.Figure:
    """The thinned network and both boundaries (or curves) at every frame epoch, as one
    animated figure (the browser scrubs it without the server). Shown masks: first example /
    mini-batch."""
    dataset = run.dataset
    epochs = frame_epochs(run, max_frames)
    nets = [run.network(int(e)) for e in epochs]
    masks = [pipeline.view_mask(run.keep_masks(int(e), 0)) for e in epochs]
    return epoch_animation_figure(
        [int(e) + 1 for e in epochs], [net.weights for net in nets], masks,
        input_names=input_names(dataset), output_names=output_names(dataset),
        boundary=panel_frames(dataset, nets, masks, settings), projector=settings.projector)


def history_view(run: TrainingRun, settings: Settings) -> go.Figure:
    """The first tab's training curves, without an epoch marker (the animation's slider cannot
    move one in another chart)."""
    return history_figure(run.history, projector=settings.projector)


def action_figures(run: TrainingRun, settings: Settings, epoch: int) -> dict[str, go.Figure]:
    """The tab's figures at one epoch (what the command-line export writes): the thinned
    network, both networks' boundaries (a plane) or curves (regression), the history."""
    dataset = run.dataset
    net = run.network(epoch)
    keep_mask = pipeline.view_mask(run.keep_masks(epoch, 0))
    projector = settings.projector
    figures = {"network": network_figure(
        net.weights, keep_mask, input_names=input_names(dataset),
        output_names=output_names(dataset), title=f"Thinned network of epoch {epoch + 1}",
        projector=projector)}
    thinned_name = f"Thinned network, epoch {epoch + 1}"
    if pipeline.is_curve(dataset):
        grid = pipeline.grid_for(dataset)
        thinned, full, thinned_mse, full_mse = thinned_and_full_view(net, keep_mask, dataset,
                                                                     grid)
        figures["curves"] = curves_figure(
            grid.xs, [thinned_curve(thinned_name, thinned, thinned_mse),
                      test_time_curve(net_title(settings), full, full_mse)],
            dataset.X_train, dataset.y_train, dataset.X_test, dataset.y_test,
            projector=projector)
    elif pipeline.is_planar(dataset):
        grid = pipeline.grid_for(dataset)
        thinned, full, thinned_acc, full_acc = thinned_and_full_view(net, keep_mask, dataset,
                                                                     grid)
        figures["boundary"] = boundary_panels(
            [{"grid_probs": thinned, "title": thinned_name, "accuracy": thinned_acc},
             {"grid_probs": full, "title": net_title(settings), "accuracy": full_acc}],
            grid.xs, grid.ys, dataset.X_train, dataset.y_train, dataset.X_test,
            dataset.y_test, n_classes=dataset.n_classes, ncols=2, projector=projector,
            panel_height=520 if projector else 420)
    figures["history"] = history_figure(run.history, epoch_marker=epoch + 1,
                                        projector=projector)
    return figures


# ----------------------------------------------------------------------------- Learn


def learn_figures(run: TrainingRun, settings: Settings) -> dict[str, go.Figure]:
    """The tab's figures for the default probe."""
    probe = default_probe(run)
    if probe is None:
        return {}
    return {"unit_input": unit_input_figure(probe_result(run, *probe), settings.projector)}


# ----------------------------------------------------------------------------- every tab


def _action(run: TrainingRun, settings: Settings) -> dict[str, go.Figure]:
    return action_figures(run, settings, run.epochs_completed - 1)


def _ensemble(run: TrainingRun, settings: Settings) -> dict[str, go.Figure]:
    # Seeded by the training seed, as on the page, so the export shows the same gallery.
    if run.task == "regression":
        curves = ensemble.compute_curve_ensemble(run, settings.k_subnets,
                                                 settings.gallery_source, seed=settings.seed)
        return curve_ensemble_figures(curves, projector=settings.projector)
    results = ensemble.compute_ensemble(run, settings.k_subnets, settings.gallery_source,
                                        settings.ensemble_kind, settings.uncertainty,
                                        seed=settings.seed)
    return ensemble_figures(results, projector=settings.projector)


def _experiments(run: TrainingRun, settings: Settings) -> dict[str, go.Figure]:
    # Trains the p = 0 twin and the sweep over p, as the tab does.
    results = experiments.results_for_run(run, settings.sweep_mode)
    return experiments_figures(results, settings.projector)


# tab → its figure builder
FIGURE_BUILDERS: dict[str, Callable[[TrainingRun, Settings], dict[str, go.Figure]]] = {
    "action": _action, "ensemble": _ensemble, "experiments": _experiments, "learn": learn_figures}


def tab_figures(run: TrainingRun, settings: Settings,
                tabs: tuple[str, ...] | None = None) -> dict[str, dict[str, go.Figure]]:
    """Every tab's figures for this run (the final epoch where a tab shows one epoch)."""
    return {tab: FIGURE_BUILDERS[tab](run, settings) for tab in tabs or tuple(FIGURE_BUILDERS)}
