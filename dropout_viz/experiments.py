"""Experiments on top of the engine: with vs without dropout, sweeping p, classification.
A regression run gets the same experiments in mean squared error, and curves over x in place
of the decision boundaries.

Pure NumPy (no Streamlit, no Plotly), so the app, the command-line export and the tests compute
the same numbers.

* `twin_config`: the run's p = 0 twin (same data, seed, initial weights and batch order; only
  the dropout rates differ).
* `sweep_p`: p from 0 to 0.8 × a few seeds, each architecture trained in one vectorised
  `train_many` pass. Mode "width" keeps the layer width n; mode "active" keeps the expected
  number of active units q·n (Srivastava et al. 2014, §7.3), so n grows as p grows.
* `experiment_results`: every view of the tab; the hidden units' activations and unit maps
  come from `neurons`.
* `classification`: confusion matrix and misclassified examples (digits).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dropout_viz import pipeline
from dropout_viz.data import Dataset
from dropout_viz.engine import MLP, TrainConfig, TrainingRun, train, train_many
from dropout_viz.engine.run import history_keys, loss_for
from dropout_viz.neurons import ActivationStats, UnitMaps, compare_activations, unit_maps

SWEEP_PS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(9))  # 0, 0.1, ..., 0.8
SWEEP_SEEDS = 3
SWEEP_MODES = ("width", "active")
MAX_SWEEP_WIDTH = 1024  # the engine's limit on a layer's width

ProgressCallback = Callable[[float], "bool | None"]


# ----------------------------------------------------------------------------- with vs without


def twin_config(config: TrainConfig) -> TrainConfig:
    """The same configuration without dropout: p_hidden = p_input = 0, everything else equal."""
    return config.replace(p_hidden=0.0, p_input=0.0)


def generalisation_gap(run: TrainingRun) -> float:
    """Test loss minus training loss of the test-time network after the last epoch."""
    history = run.history
    if not len(history["test_loss"]):
        return math.nan
    return float(history["test_loss"][-1] - history["train_loss"][-1])


# ----------------------------------------------------------------------------- sweep over p


def active_width(width: int, p: float) -> int:
    """Width n(p) with the same expected number of active units as `width` at p = 0.

    (1 − p)·n(p) = width, rounded to the nearest unit and capped at the engine's limit.
    """
    return int(min(MAX_SWEEP_WIDTH, max(1, round(width / (1.0 - p)))))


def sweep_configs(base: TrainConfig, ps: Sequence[float] = SWEEP_PS, seeds: int = SWEEP_SEEDS,
                  mode: str = "width") -> list[list[TrainConfig]]:
    """configs[i][s]: `base` with p_hidden = ps[i] and training seed base.seed + s.

    The sweep varies the hidden dropout rate only; p_input stays as in `base`. In mode
    "active" every hidden layer's width is n(p) = base width / (1 − p) (see `active_width`).
    """
    if mode not in SWEEP_MODES:
        raise ValueError(f"mode must be one of {SWEEP_MODES}, got {mode!r}")
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    configs = []
    for p in ps:
        hidden = base.hidden if mode == "width" else \
            tuple(active_width(n, p) for n in base.hidden)
        configs.append([base.replace(p_hidden=float(p), hidden=hidden, seed=base.seed + s)
                        for s in range(seeds)])
    return configs


@dataclass(frozen=True)
class SweepResult:
    """Final-epoch metrics of every (p, seed) run: arrays of shape (len(ps), seeds).

    NaN marks a run that diverged before its first epoch finished (`diverged` says which runs
    diverged at all; the others' numbers are from their last finite epoch).
    """

    ps: np.ndarray  # (P,)
    seeds: tuple[int, ...]
    mode: str
    widths: tuple[tuple[int, ...], ...]  # hidden layer sizes used at each p
    metrics: dict[str, np.ndarray]  # run.history_keys → (P, S)
    diverged: np.ndarray  # (P, S) bool
    complete: bool = True  # False when on_progress stopped the sweep early

    def mean(self, key: str) -> np.ndarray:
        return np.nanmean(self.metrics[key], axis=1)

    def std(self, key: str) -> np.ndarray:
        """Spread over seeds (population standard deviation, ddof = 0)."""
        return np.nanstd(self.metrics[key], axis=1)

    def gap(self) -> np.ndarray:
        """Test minus training loss, (P, S)."""
        return self.metrics["test_loss"] - self.metrics["train_loss"]


def _cost(config: TrainConfig, n_features: int, n_outputs: int) -> float:
    sizes = (n_features,) + config.hidden + (n_outputs,)
    return config.epochs * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def final_metrics(run: TrainingRun) -> dict[str, float]:
    """The last completed epoch's metrics (NaN for a run with no finite epoch)."""
    return {key: float(values[-1]) if len(values) else math.nan
            for key, values in run.history.items()}


def sweep_p(dataset, base_config: TrainConfig, ps: Sequence[float] = SWEEP_PS,
            seeds: int = SWEEP_SEEDS, mode: str = "width",
            on_progress: ProgressCallback | None = None) -> SweepResult:
    """Train `base_config` at every p in `ps` with `seeds` training seeds; final metrics.

    Configurations sharing an architecture train together in one `train_many` pass (mode
    "width": all of them; mode "active": one pass per width). on_progress(fraction) gets the
    fraction done, weighted by each pass's arithmetic cost, and may return False to stop.
    """
    grid = sweep_configs(base_config, ps, seeds, mode)
    flat = [config for row in grid for config in row]
    groups: dict[tuple, list[int]] = {}
    for i, config in enumerate(flat):
        groups.setdefault(config.architecture(), []).append(i)
    n_features, n_outputs = dataset.X_train.shape[1], int(dataset.n_outputs)
    costs = {arch: len(idx) * _cost(flat[idx[0]], n_features, n_outputs)
             for arch, idx in groups.items()}
    total = sum(costs.values())
    done = 0.0
    runs: list[TrainingRun | None] = [None] * len(flat)
    stopped = False
    for arch, indices in groups.items():
        def report(fraction: float, start=done, share=costs[arch] / total):
            if on_progress is None:
                return None
            return on_progress(min(1.0, start + share * fraction))

        group_runs = train_many(dataset, [flat[i] for i in indices], report)
        for i, run in zip(indices, group_runs):
            runs[i] = run
        done += costs[arch] / total
        if any(run.stopped_at is not None for run in group_runs):
            stopped = True
            break

    n_ps, n_seeds = len(grid), seeds
    # A regression sweep has no accuracy keys (its losses are MSEs).
    metrics = {key: np.full((n_ps, n_seeds), np.nan) for key in history_keys(loss_for(dataset))}
    diverged = np.zeros((n_ps, n_seeds), dtype=bool)
    for i, run in enumerate(runs):
        if run is None:
            continue
        row, col = divmod(i, n_seeds)
        for key, value in final_metrics(run).items():
            if key in metrics:
                metrics[key][row, col] = value
        diverged[row, col] = run.diverged_at is not None
    return SweepResult(
        ps=np.asarray(ps, dtype=float), seeds=tuple(c.seed for c in grid[0]), mode=mode,
        widths=tuple(row[0].hidden for row in grid), metrics=metrics, diverged=diverged,
        complete=not stopped and all(run is not None for run in runs))


# ----------------------------------------------------------------------------- classification


@dataclass(frozen=True)
class Classification:
    """How a network classifies the test split."""

    confusion: np.ndarray  # (C, C): rows = true class, columns = predicted class
    predicted: np.ndarray  # (n_test,)
    probs: np.ndarray  # (n_test, C)
    misclassified: np.ndarray  # indices into the test split, most confident mistakes first

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(1, self.confusion.sum()))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def classification(net: MLP, dataset) -> Classification:
    """Confusion matrix and mistakes of the test-time network on the test split."""
    probs = net.predict_proba(dataset.X_test)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != dataset.y_test)
    confidence = probs[wrong, predicted[wrong]]
    return Classification(
        confusion=confusion_matrix(dataset.y_test, predicted, int(dataset.n_classes)),
        predicted=predicted, probs=probs, misclassified=wrong[np.argsort(-confidence,
                                                                         kind="stable")])


def example_images(dataset, indices: Sequence[int]) -> np.ndarray:
    """Test examples as images in raw pixel values: (k, rows, cols), e.g. 0..16 for digits."""
    if dataset.image_shape is None:
        raise ValueError(f"the {dataset.name} data set has no image shape")
    raw = dataset.unstandardize(dataset.X_test[np.asarray(indices, dtype=int)])
    return raw.reshape((-1,) + tuple(dataset.image_shape))


# ----------------------------------------------------------------------------- everything


@dataclass
class ExperimentResults:
    """Everything the Experiments tab draws for one run (what `experiments_figures` takes).

    planar data sets carry boundary grids and unit maps; 1-D regression sets carry curves over
    x; image data sets carry classification results and example images. `sweep` is optional
    (it trains 27 networks).
    """

    dataset: Dataset  # the points the boundary panels draw, the class names
    histories: dict[str, dict[str, np.ndarray]]  # label → per-epoch metrics (the run first)
    p_hidden: float
    epoch: int  # 0-based epoch whose mask the unit maps mark
    activations: dict[str, list[ActivationStats]]
    labels: tuple[str, str]  # ("p = 0.5", "p = 0")
    grid: tuple[np.ndarray, np.ndarray] | None = None  # (xs, ys) of the boundary plane
    grid_probs: dict[str, np.ndarray] | None = None  # label → (R*R, C)
    line: np.ndarray | None = None  # (R,) the xs a regression run's curves are drawn over
    curves: dict[str, np.ndarray] | None = None  # label → (R,) predictions over `line`
    units: UnitMaps | None = None
    classifications: dict[str, Classification] | None = None
    examples: dict[str, np.ndarray] | None = None  # label → (k, rows, cols) images
    sweep: SweepResult | None = None


def run_label(p_hidden: float, p_input: float = 0.0) -> str:
    text = f"p = {p_hidden:g}"
    return text + (f", inputs {p_input:g}" if p_input else "")


def experiment_results(run: TrainingRun, twin: TrainingRun, epoch: int = -1,
                       sweep: SweepResult | None = None, grid_resolution: int = 100,
                       unit_resolution: int = 40, n_examples: int = 8,
                       with_units: bool = True, curve_resolution: int = 200
                       ) -> ExperimentResults:
    """Compute every view of the tab from the run and its twin (pure; no training).

    with_units=False skips the unit maps (the app draws them per epoch on its own).
    """
    dataset = run.dataset
    config = run.config
    labels = (run_label(config.p_hidden, config.p_input), "p = 0 (no dropout)")
    net, twin_net = run.network(), twin.network()
    if epoch < 0:
        epoch += run.epochs_completed
    results = ExperimentResults(
        dataset=dataset, histories={labels[0]: run.history, labels[1]: twin.history},
        p_hidden=config.p_hidden, epoch=epoch,
        activations=compare_activations({labels[0]: net, labels[1]: twin_net}, dataset.X_train),
        labels=labels, sweep=sweep)
    if dataset.task == "regression":
        line = pipeline.grid_for(dataset, curve_resolution)
        results.line = line.xs
        results.curves = {labels[0]: net.predict(line.points)[:, 0],
                          labels[1]: twin_net.predict(line.points)[:, 0]}
    elif dataset.n_features == 2:
        grid = pipeline.grid_for(dataset, grid_resolution)
        results.grid = (grid.xs, grid.ys)
        results.grid_probs = {labels[0]: net.predict_proba(grid.points),
                              labels[1]: twin_net.predict_proba(grid.points)}
        if with_units:
            units = pipeline.grid_for(dataset, unit_resolution)
            results.units = unit_maps(run.network(epoch), units.xs, units.ys,
                                      shown_mask(run, epoch))
    else:
        results.classifications = {labels[0]: classification(net, dataset),
                                   labels[1]: classification(twin_net, dataset)}
        if dataset.image_shape is not None:
            results.examples = {
                label: example_images(dataset, c.misclassified[:n_examples])
                for label, c in results.classifications.items()}
    return results


def shown_mask(run: TrainingRun, epoch: int) -> list[np.ndarray]:
    """One (units,) keep mask per site for `epoch`: its mini-batch 1 (first example's mask
    under per-example scope), as the Dropout-in-action tab shows it."""
    return pipeline.view_mask(run.keep_masks(epoch, 0))


def results_for_run(run: TrainingRun, sweep_mode: str | None = "width",
                    on_progress: ProgressCallback | None = None) -> ExperimentResults:
    """Train the run's p = 0 twin (and the sweep, unless sweep_mode is None) and compute
    every view: what the command-line export needs from a finished run."""
    twin = train(run.dataset, twin_config(run.config), store_weights=False)
    sweep = None if sweep_mode is None else sweep_p(run.dataset, run.config, mode=sweep_mode,
                                                     on_progress=on_progress)
    return experiment_results(run, twin, sweep=sweep)
