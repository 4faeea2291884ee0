"""From settings to what the views draw: data set, training configuration, grid predictions.

Pure functions (no Streamlit) so the app, the command line and the tests compute the same
thing. The app wraps the expensive ones in caches keyed by `Settings.data_key()` and
`Settings.train_key()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout_viz.data import Dataset, load_dataset, make_grid, make_line
from dropout_viz.engine import (
    MLP,
    TrainConfig,
    TrainingRun,
    accuracy,
    log_loss,
    train,
    train_many,
)
from dropout_viz.engine.dropout import test_time_multipliers
from dropout_viz.engine.inference import stacked_predict
from dropout_viz.engine.network import forward, log_softmax, mean_squared_error
from dropout_viz.schema import ENGINE_FIELDS
from dropout_viz.settings import DataKey, TrainKey

GRID_RESOLUTION = 100
CURVE_RESOLUTION = 200  # points along x where a regression curve is drawn


def dataset_for(key: DataKey) -> Dataset:
    return load_dataset(key.dataset, n_samples=key.n_samples, noise=key.noise,
                        test_fraction=key.test_fraction, seed=key.data_seed)


def config_for(key: TrainKey) -> TrainConfig:
    """The engine's configuration: every training field by its own name (schema.ENGINE_FIELDS),
    and the network's shape as `hidden`."""
    return TrainConfig(hidden=key.hidden, **{name: getattr(key, name) for name in ENGINE_FIELDS})


def train_for(key: TrainKey, dataset: Dataset | None = None, on_epoch=None) -> TrainingRun:
    return train(dataset if dataset is not None else dataset_for(key.data), config_for(key),
                 on_epoch=on_epoch)


def train_together(keys: list[TrainKey], dataset: Dataset, on_progress=None,
                   store_weights: bool | int = True) -> list[TrainingRun]:
    """`train_for` of several keys on one data set in one `train_many` call: the same runs,
    trained as a stack where they share an architecture."""
    return train_many(dataset, [config_for(k) for k in keys], on_progress=on_progress,
                      store_weights=store_weights)


# Seconds per unit of training work on this project's 2-core machine (one BLAS thread), from a
# few measured runs: the fixed cost of one mini-batch step, per parameter (gradient and Adam),
# and per floating-point operation. Enough to warn before a run of minutes, not a promise.
STEP_S, PER_PARAMETER_S, PER_FLOP_S = 50e-6, 10e-9, 1e-10


def estimated_training_s(key: TrainKey, n_train: int, n_test: int, n_features: int,
                         n_outputs: int) -> float:
    """About how long `train` takes for `key` on such data: every mini-batch step's forward and
    backward pass (6 flops per weight per example) and optimizer update, plus each epoch's
    evaluation of the test-time network on all points (2 flops per weight per point)."""
    sizes = (n_features, *key.hidden, max(n_outputs, 1))
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    parameters = weights + sum(sizes[1:])
    batch = min(key.batch_size, n_train)
    steps = key.epochs * -(-n_train // batch)
    per_step = STEP_S + PER_PARAMETER_S * parameters + PER_FLOP_S * 6 * batch * weights
    per_epoch = PER_FLOP_S * 2 * (n_train + n_test) * weights
    return steps * per_step + key.epochs * per_epoch


def estimated_training_s_on(key: TrainKey, dataset: Dataset) -> float:
    """`estimated_training_s` for training `key` on `dataset`."""
    return estimated_training_s(key, len(dataset.y_train), len(dataset.y_test),
                                dataset.n_features, dataset.n_outputs)


@dataclass(frozen=True)
class Grid:
    """The plane a decision boundary is drawn on, or for a curve (`is_curve`) the line of x
    values (standardised coordinates)."""

    xs: np.ndarray
    ys: np.ndarray | None  # None for a curve
    points: np.ndarray  # (len(xs) * len(ys), 2), or (len(xs), 1) for a curve


def grid_for(dataset: Dataset, resolution: int | None = None) -> Grid:
    """Where to evaluate the networks for a picture: a resolution² grid over the plane
    (GRID_RESOLUTION by default), or for a curve `resolution` x values (CURVE_RESOLUTION)."""
    X_all = np.vstack([dataset.X_train, dataset.X_test])
    if is_curve(dataset):
        xs, points = make_line(X_all, resolution=resolution or CURVE_RESOLUTION)
        return Grid(xs, None, points)
    xs, ys, points = make_grid(X_all, resolution=resolution or GRID_RESOLUTION)
    return Grid(xs, ys, points)


def is_planar(dataset: Dataset) -> bool:
    """Decision boundaries and unit maps need a 2-D input."""
    return dataset.n_features == 2


def is_curve(dataset: Dataset) -> bool:
    """A regression on one input: drawn as curves y(x)."""
    return dataset.n_features == 1 and dataset.task == "regression"


def view_mask(keep_masks: list[np.ndarray], example: int = 0) -> list[np.ndarray]:
    """One (units,) mask per site: per-example masks show the given example's sub-network."""
    return [m if m.ndim == 1 else m[min(example, len(m) - 1)] for m in keep_masks]


@dataclass(frozen=True)
class Scores:
    """A classifier's accuracy and log-loss, or a regression network's MSE (the others None)."""

    accuracy: float | None
    log_loss: float | None
    mse: float | None = None


def scores(values: np.ndarray, y: np.ndarray) -> Scores:
    """Scores of class probabilities (n, classes ≥ 2), or of regression outputs (n, 1) against
    targets y (n,): their MSE as torch.nn.MSELoss, in the dataset's standardised units."""
    values = np.asarray(values)
    if values.shape[-1] == 1:
        return Scores(None, None, float(mean_squared_error(values, np.reshape(y, (-1, 1)))))
    return Scores(accuracy(values, y), log_loss(values, y))


def score_on_test(net: MLP, dataset: Dataset,
                  keep_masks: list[np.ndarray] | None = None) -> float:
    """What a panel's title reports: the test accuracy of a classifier, or the test MSE of a
    regression network (`scores`). keep_masks=None is the test-time network."""
    X, y = dataset.X_test, dataset.y_test
    if net.loss == "mse":
        return scores(net.predict(X, keep_masks), y).mse
    return accuracy(net.predict_proba(X, keep_masks), y)


def thinned_and_full(net: MLP, keep_mask: list[np.ndarray], points: np.ndarray,
                     dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of one thinned sub-network and of the test-time network at the same points
    (for a regression network their outputs, (n, 1) each).

    The thinned network runs as the smaller dense network it is (`stacked_predict`, the one
    path of every sampled sub-network: its dropped units folded out), the test-time network
    through the forward pass at full width; both in float32: the decision-boundary pictures
    need no more, and this is on the path of every new run's animation.
    """
    if max(float(np.abs(W).max()) for W in net.weights) > 1e30:
        dtype = np.float64  # a nearly diverged network would overflow float32
    X = np.asarray(points, dtype)
    weights = [W.astype(dtype) for W in net.weights]  # cast once, for both networks
    biases = [b.astype(dtype) for b in net.biases]
    thinned = stacked_predict(weights, biases, net.activation, net.keep_probs,
                              net.convention, [np.asarray(m)[None] for m in keep_mask], X,
                              dtype, net.loss)[0]
    logits, _ = forward(weights, biases, X, net.activation,
                        test_time_multipliers(net.keep_probs, net.convention))
    return thinned, logits if net.loss == "mse" else np.exp(log_softmax(logits))
