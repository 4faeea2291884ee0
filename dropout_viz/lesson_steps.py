"""The guided lessons' claims, measured: what a step's answer states, checked on its real run.

A step of a preset (presets.Step) may carry claims such as "the test loss is lower than with
p = 0" ({"check": "lower", "metric": "test_loss", "than": {"p_hidden": 0.0}}). Each metric of
presets.CLAIM_METRICS is computed here, once, from the step's run (and, for the ensemble's
metrics, the same sub-networks the "Thinned sub-networks" tab draws); the page shows these
numbers under the answer, and the tests run every claim of every step and assert it holds.

Pure NumPy (no Streamlit): runs come from `get_run(settings)`, by default trained here; the
page passes its shared cache instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dropout_viz import data, ensemble, experiments, lesson, pipeline
from dropout_viz.engine import TrainingRun
from dropout_viz.presets import CLAIM_METRICS, Claim, Preset, step_settings
from dropout_viz.schema import FIELD_SPECS
from dropout_viz.settings import Settings, format_value

BOUNDARY_RESOLUTION = pipeline.GRID_RESOLUTION  # the grid the full-size boundary panels use
RunSource = Callable[[Settings], TrainingRun]


def train_run(settings: Settings) -> TrainingRun:
    return pipeline.train_for(settings.train_key())


class StepRuns:
    """The runs (and ensembles) one step's claims need, each computed once."""

    def __init__(self, get_run: RunSource | None = None):
        self.get_run = get_run or train_run
        self._runs: dict[Settings, TrainingRun] = {}
        self._ensembles: dict[Settings, ensemble.EnsembleResults] = {}

    def run(self, settings: Settings) -> TrainingRun:
        if settings not in self._runs:
            self._runs[settings] = self.get_run(settings)
        return self._runs[settings]

    def ensemble(self, settings: Settings):
        """What the ensemble tab shows for these settings (K, gallery, average, measure, seed):
        EnsembleResults, or for a regression run the CurveEnsemble of its sub-networks' curves."""
        if settings not in self._ensembles:
            run = self.run(settings)
            if run.task == "regression":
                self._ensembles[settings] = ensemble.compute_curve_ensemble(
                    run, settings.k_subnets, settings.gallery_source, seed=settings.seed)
            else:
                self._ensembles[settings] = ensemble.compute_ensemble(
                    run, settings.k_subnets, settings.gallery_source, settings.ensemble_kind,
                    settings.uncertainty, seed=settings.seed)
        return self._ensembles[settings]


# ----------------------------------------------------------------------------- the metrics


def final(key: str) -> Callable[[TrainingRun], float]:
    return lambda run: float(run.history[key][-1]) if run.epochs_completed else math.nan


def test_loss_rise(run: TrainingRun) -> float:
    """The last epoch's test loss divided by the lowest it reached."""
    loss = np.asarray(run.history["test_loss"], dtype=float)
    return float(loss[-1] / loss.min()) if len(loss) else math.nan


def boundary_length(run: TrainingRun) -> float:
    """How long the test-time network's decision boundary is, in widths of the plot: class
    changes between neighbouring cells of the boundary grid, over its resolution. A boundary
    that bends around single points is longer than a smooth one."""
    if not pipeline.is_planar(run.dataset):
        return math.nan
    grid = pipeline.grid_for(run.dataset, BOUNDARY_RESOLUTION)
    classes = run.network().predict_proba(grid.points).argmax(axis=1)
    classes = classes.reshape(len(grid.ys), len(grid.xs))
    changes = (classes[1:] != classes[:-1]).sum() + (classes[:, 1:] != classes[:, :-1]).sum()
    return float(changes / BOUNDARY_RESOLUTION)


def loss_jitter(run: TrainingRun) -> float:
    """Mean change from one epoch to the next of the two solid loss curves (training and test
    split, test-time network) over the run's second half: how jagged the curves are."""
    half = run.epochs_completed // 2
    return float(np.mean([np.abs(np.diff(np.asarray(run.history[key])[half:])).mean()
                          for key in ("train_loss", "test_loss")]))


def sub_networks_trained(run: TrainingRun) -> float:
    """How many different masks (sub-networks) training used, regenerated from the seed."""
    rows = []
    for epoch in range(run.epochs_completed):
        for batch in range(run.n_batches):
            rows.append(np.hstack([np.atleast_2d(m) for m in run.keep_masks(epoch, batch)]))
    return float(len(np.unique(np.vstack(rows) > 0, axis=0)))


def _probe(run: TrainingRun) -> lesson.UnitInput | None:
    """The Learn tab's default probe (its first numbers before the reader picks)."""
    probe = lesson.default_probe(run)
    return None if probe is None else lesson.probe_result(run, *probe)


def input_mean_error(run: TrainingRun) -> float:
    result = _probe(run)
    return math.nan if result is None else abs(result.expected - result.test_time)


def input_sample_error(run: TrainingRun) -> float:
    result = _probe(run)
    return math.nan if result is None else \
        abs(result.sampled_mean - result.test_time) / result.standard_error


# Regression runs (1-D curves).


def curve_rise_and_fall(run: TrainingRun) -> float:
    """Total rise and fall of the test-time network's curve over the training points' range
    of x (Σ|Δŷ| along the drawn line, y standardised): a curve that chases single noisy
    points travels further up and down than a smooth one."""
    if not pipeline.is_curve(run.dataset):
        return math.nan
    line = pipeline.grid_for(run.dataset)
    x_train = run.dataset.X_train[:, 0]
    inside = (line.xs >= x_train.min()) & (line.xs <= x_train.max())
    return float(np.abs(np.diff(run.network().predict(line.points)[inside, 0])).sum())


def gap_mask(dataset, xs: np.ndarray) -> np.ndarray:
    """True where x (standardised) lies in the "gap" set's interval without training points."""
    low, high = dataset.standardize(np.reshape(data.GAP_INTERVAL, (2, 1)))[:, 0]
    return (xs > low) & (xs < high)


def test_mse_where(in_gap: bool) -> Callable[[TrainingRun], float]:
    """Test MSE of the test-time network on the test points inside (or outside) the gap."""
    def measure(run: TrainingRun) -> float:
        dataset = run.dataset
        if dataset.name != "gap":
            return math.nan
        pick = gap_mask(dataset, dataset.X_test[:, 0]) == in_gap
        return pipeline.scores(run.network().predict(dataset.X_test[pick]),
                               dataset.y_test[pick]).mse
    return measure


def band_gap_ratio(results: ensemble.CurveEnsemble, run: TrainingRun) -> float:
    """Mean width of the sub-networks' band inside the gap ÷ its mean width over the training
    points' range outside the gap."""
    if run.dataset.name != "gap":
        return math.nan
    x_train = results.data.X_train[:, 0]
    in_gap = gap_mask(run.dataset, results.xs)
    over_data = (results.xs >= x_train.min()) & (results.xs <= x_train.max()) & ~in_gap
    return float(results.sd[in_gap].mean() / results.sd[over_data].mean())


@dataclass(frozen=True)
class Metric:
    label: str
    # From a run, or (on_ensemble) from the ensemble tab's results and the run.
    measure: Callable[..., float]
    unit: str = "loss"  # how the value reads: "percent", "loss", "count", "small", "ratio"
    on_ensemble: bool = False


def _ens(measure) -> Callable[..., float]:
    """An ensemble metric that needs only the tab's results."""
    return lambda results, run: float(measure(results))


METRICS: dict[str, Metric] = {
    "train_acc": Metric("training accuracy", final("train_acc"), "percent"),
    "test_acc": Metric("test accuracy of the test-time network", final("test_acc"), "percent"),
    "train_loss": Metric("training loss", final("train_loss")),
    "test_loss": Metric("test loss", final("test_loss")),
    "gap": Metric("gap (test − training loss)", experiments.generalisation_gap),
    "test_loss_rise": Metric("last test loss ÷ lowest test loss", test_loss_rise, "ratio"),
    "boundary_length": Metric("boundary length (plot widths)", boundary_length, "ratio"),
    "loss_jitter": Metric("mean change of the loss curves per epoch (second half)",
                          loss_jitter, "small"),
    "sub_networks_trained": Metric("different sub-networks trained", sub_networks_trained,
                                   "count"),
    "sub_network_acc_spread": Metric(
        "highest − lowest test accuracy of the gallery's sub-networks", _ens(
            lambda r: r.gallery.test_accuracy.max() - r.gallery.test_accuracy.min()),
        "percent", True),
    "one_sub_network_acc": Metric("test accuracy of one sub-network (average over draws)",
                                  _ens(lambda r: r.convergence.single.accuracy), "percent", True),
    "average_test_loss": Metric("test loss of the gallery's average",
                                _ens(lambda r: r.comparison.average_scores.log_loss), "loss",
                                True),
    "average_agreement": Metric("test points where the average and the test-time network agree",
                                _ens(lambda r: r.comparison.agreement), "percent", True),
    "mc_gap": Metric("mean |difference| from the test-time network, many sub-networks pooled",
                     _ens(lambda r: r.convergence.pooled_gap), "small", True),
    "mc_gap_one": Metric("mean |difference| from the test-time network, one sub-network",
                         _ens(lambda r: r.convergence.gap.mean(axis=0)[0]), "small", True),
    "disagreement_max": Metric("highest disagreement on the plane",
                               _ens(lambda r: r.uncertainty.values.max()), "small", True),
    "input_mean_error": Metric("|exact mean training-time input − test-time input|",
                               input_mean_error, "small"),
    "input_sample_error": Metric("|sampled mean − test-time input| in standard errors",
                                 input_sample_error, "ratio"),
    "curve_rise_and_fall": Metric("total rise and fall of the test-time curve over the data "
                                  "(y standardised)", curve_rise_and_fall, "ratio"),
    "test_mse_in_gap": Metric("test MSE in the gap", test_mse_where(True)),
    "test_mse_off_gap": Metric("test MSE outside the gap", test_mse_where(False)),
    "band_gap_ratio": Metric("band width in the gap ÷ band width over the data",
                             band_gap_ratio, "ratio", True),
    "band_share": Metric("test points inside the band (mean ± 2 sd)",
                         _ens(lambda r: r.band_share), "percent", True),
    "mc_mean_test_mse": Metric("test MSE of the sub-networks' mean",
                               _ens(lambda r: r.mean_mse), "loss", True),
}
assert tuple(METRICS) == CLAIM_METRICS, "presets.CLAIM_METRICS and METRICS must match"


def format_metric(value: float, unit: str) -> str:
    if math.isnan(value):
        return "not measurable here"
    if unit == "percent":
        return f"{value:.1%}"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "small":
        return f"{value:.2g}" if abs(value) < 1e-3 else f"{value:.4f}"
    return f"{value:.2f}" if unit == "ratio" else f"{value:.3f}"


# ----------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    holds: bool
    text: str  # the numbers behind it, in words ("test loss 0.539; with p = 0: 0.947")


def measure(name: str, settings: Settings, runs: StepRuns) -> float:
    metric = METRICS[name]
    if metric.on_ensemble:
        return float(metric.measure(runs.ensemble(settings), runs.run(settings)))
    return float(metric.measure(runs.run(settings)))


def describe_changes(changes: dict[str, Any]) -> str:
    """Settings changes in words: "with p = 0", "with the mask scope “epoch”"."""
    parts = []
    for name, value in changes.items():
        spec, text = FIELD_SPECS[name], format_value(value)
        if name == "p_hidden":
            parts.append(f"p = {text}")
        elif spec.kind == "choice":
            parts.append(f"{spec.what} “{text}”")
        else:
            parts.append(f"{spec.label.lower()} = {text}")
    return "with " + ", ".join(parts)


def check_claim(claim: Claim, settings: Settings, runs: StepRuns) -> ClaimResult:
    """Measure `claim` on the run of `settings` (and the run it compares with)."""
    metric = METRICS[claim.metric]
    value = measure(claim.metric, settings, runs)
    text = f"{metric.label}: {format_metric(value, metric.unit)}"
    if claim.check in ("at_least", "at_most"):
        limit = float(getattr(settings, claim.value) if isinstance(claim.value, str)
                      else claim.value)
        holds = value >= limit if claim.check == "at_least" else value <= limit
        bound = format_metric(limit, metric.unit)
        return ClaimResult(claim, bool(holds), text + f" ({claim.check.replace('_', ' ')} "
                                                      f"{bound})")
    if isinstance(claim.than, str):
        other_metric = METRICS[claim.than]
        other = measure(claim.than, settings, runs)
        text += f"; {other_metric.label}: {format_metric(other, other_metric.unit)}"
    else:
        other = measure(claim.metric, settings.replace(**claim.than), runs)
        text += f"; {describe_changes(claim.than)}: {format_metric(other, metric.unit)}"
    if claim.check == "lower":
        holds = value * claim.by < other
    elif claim.check == "higher":
        holds = value > other * claim.by
    elif claim.check == "close":
        holds = abs(value - other) <= claim.within
    else:  # differs
        holds = abs(value - other) > claim.within
    return ClaimResult(claim, bool(holds), text)


def check_step(preset: Preset, index: int, get_run: RunSource | None = None,
               runs: StepRuns | None = None) -> list[ClaimResult]:
    """Every claim of step `index` of `preset`, measured on the step's own settings."""
    runs = runs or StepRuns(get_run)
    settings = step_settings(preset, index)
    return [check_claim(claim, settings, runs) for claim in preset.steps[index].claims]
