"""From settings to what the views draw: data set, training configuration, grid predictions.

Pure functions (no Streamlit) so the app, the command line and the tests compute the same
thing. The app wraps the expensive ones in caches keyed by `Settings.data_key()` and
`Settings.train_key()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout_viz.data import Dataset, load_dataset, make_grid
from dropout_viz.engine import (
    MLP,
    TrainConfig,
    TrainingRun,
    accuracy,
    log_loss,
    train,
    train_many,
)
from dropout_viz.engine.dropout import (
    stacked_multipliers,
    test_time_multipliers,
    training_multipliers,
)
from dropout_viz.engine.network import forward, log_softmax
from dropout_viz.schema import ENGINE_FIELDS
from dropout_viz.settings import DataKey, TrainKey

GRID_RESOLUTION = 100


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
                         n_classes: int) -> float:
    """About how long `train` takes for `key` on such data: every mini-batch step's forward and
    backward pass (6 flops per weight per example) and optimizer update, plus each epoch's
    evaluation of the test-time network on all points (2 flops per weight per point)."""
    sizes = (n_features, *key.hidden, n_classes)
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    parameters = weights + sum(sizes[1:])
    batch = min(key.batch_size, n_train)
    steps = key.epochs * -(-n_train // batch)
    per_step = STEP_S + PER_PARAMETER_S * parameters + PER_FLOP_S * 6 * batch * weights
    per_epoch = PER_FLOP_S * 2 * (n_train + n_test) * weights
    return steps * per_step + key.epochs * per_epoch


@dataclass(frozen=True)
class Grid:
    """The plane a decision boundary is drawn on (standardised coordinates)."""

    xs: np.ndarray
    ys: np.ndarray
    points: np.ndarray  # (len(xs) * len(ys), 2)


def grid_for(dataset: Dataset, resolution: int = GRID_RESOLUTION) -> Grid:
    X_all = np.vstack([dataset.X_train, dataset.X_test])
    xs, ys, points = make_grid(X_all, resolution=resolution)
    return Grid(xs, ys, points)


def is_planar(dataset: Dataset) -> bool:
    """Decision boundaries and unit maps need a 2-D input."""
    return dataset.n_features == 2


def view_mask(keep_masks: list[np.ndarray], example: int = 0) -> list[np.ndarray]:
    """One (units,) mask per site: per-example masks show the given example's sub-network."""
    return [m if m.ndim == 1 else m[min(example, len(m) - 1)] for m in keep_masks]


@dataclass(frozen=True)
class Scores:
    accuracy: float
    log_loss: float


def scores(probs: np.ndarray, y: np.ndarray) -> Scores:
    return Scores(accuracy(probs, y), log_loss(probs, y))


def thinned_and_full(net: MLP, keep_mask: list[np.ndarray], points: np.ndarray,
                     dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of one thinned sub-network and of the test-time network at the same points.

    Both networks run as one stack of two through the one forward pass, in float32: the
    decision-boundary pictures need neither float64 nor two passes, and this is on the epoch
    slider's path.
    """
    if max(float(np.abs(W).max()) for W in net.weights) > 1e30:
        dtype = np.float64  # a nearly diverged network would overflow float32
    stacked = stacked_multipliers([training_multipliers(keep_mask, net.keep_probs, net.convention),
                                   test_time_multipliers(net.keep_probs, net.convention)],
                                  net.site_sizes, dtype)
    logits, _ = forward([W.astype(dtype) for W in net.weights],
                        [b.astype(dtype) for b in net.biases],
                        np.asarray(points, dtype), net.activation, stacked)
    probs = np.exp(log_softmax(logits))
    return probs[0], probs[1]
