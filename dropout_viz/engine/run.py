"""What a training run remembers: where the parameters live, the seeded initial weights, the
history, the kept weights of every epoch and the masks (replayed from the seed, never stored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dropout_viz.engine import masks as mask_lib
from dropout_viz.engine.network import MLP

if TYPE_CHECKING:  # training.py imports this module
    from dropout_viz.engine.training import TrainConfig


# What a run's history records each epoch: classification adds accuracies; for regression the
# losses are mean squared errors (in standardised target units) and there is no accuracy.
HISTORY_KEYS = ("thinned_loss", "train_loss", "test_loss", "train_acc", "test_acc")
REGRESSION_HISTORY_KEYS = ("thinned_loss", "train_loss", "test_loss")


def loss_for(dataset) -> str:
    """The loss a data set is trained with: "mse" for a regression set, else "cross_entropy"."""
    return "mse" if getattr(dataset, "task", "classification") == "regression" \
        else "cross_entropy"


def history_keys(loss: str) -> tuple[str, ...]:
    return REGRESSION_HISTORY_KEYS if loss == "mse" else HISTORY_KEYS


@dataclass(frozen=True)
class ParameterLayout:
    """Where each layer's weights and biases live inside the flat parameter vector."""

    layer_sizes: tuple[int, ...]

    @property
    def shapes(self) -> list[tuple[tuple[int, int], tuple[int]]]:
        return [((a, b), (b,)) for a, b in zip(self.layer_sizes[:-1], self.layer_sizes[1:])]

    @property
    def size(self) -> int:
        return sum(a * b + b for (a, b), _ in self.shapes)

    def views(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per-layer views (no copies) into flat of shape (..., P)."""
        lead = flat.shape[:-1]
        weights, biases, offset = [], [], 0
        for (fan_in, fan_out), _ in self.shapes:
            weights.append(flat[..., offset:offset + fan_in * fan_out].reshape(
                lead + (fan_in, fan_out)))
            offset += fan_in * fan_out
            biases.append(flat[..., offset:offset + fan_out])
            offset += fan_out
        return weights, biases

    def weight_mask(self) -> np.ndarray:
        """1 where the flat vector holds a weight, 0 for biases (L2 and max-norm skip biases)."""
        mask = np.zeros(self.size)
        weights, _ = self.views(mask)
        for W in weights:
            W[...] = 1.0
        return mask


def initial_parameters(layout: ParameterLayout, activation: str, seed: int,
                       init: str = "auto") -> np.ndarray:
    """Seeded initial weights (biases 0).

    "auto": He (normal, std √(2/fan_in)) for relu layers, Glorot uniform otherwise and for the
    softmax layer. "glorot": Glorot uniform everywhere, as Keras' Dense does by default.
    """
    rng = mask_lib.stream_rng(seed, mask_lib.INIT_STREAM)
    flat = np.zeros(layout.size)
    weights, _ = layout.views(flat)
    last = len(weights) - 1
    for layer, W in enumerate(weights):
        fan_in, fan_out = W.shape
        if init == "auto" and activation == "relu" and layer < last:
            W[...] = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=W.shape)
        else:
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            W[...] = rng.uniform(-limit, limit, size=W.shape)
    return flat


@dataclass
class TrainingRun:
    """One trained configuration: its history, every epoch's weights and a way to replay masks."""

    config: TrainConfig
    dataset: object
    history: dict[str, np.ndarray]
    layout: ParameterLayout
    initial_params: np.ndarray
    final_params: np.ndarray
    params_by_epoch: np.ndarray | None = None  # (len(snapshot_epochs), P), or None if not kept
    snapshot_every: int = 1
    diverged_at: int | None = None  # epoch whose updates produced a non-finite loss
    stopped_at: int | None = None  # epoch after which a caller asked to stop
    # "cross_entropy" (a classifier) or "mse" (regression: history has thinned_loss,
    # train_loss and test_loss as mean squared errors of the standardised targets, no accuracy)
    loss: str = "cross_entropy"

    @property
    def task(self) -> str:
        return "regression" if self.loss == "mse" else "classification"

    @property
    def epochs_completed(self) -> int:
        return len(self.history["train_loss"])

    def _network_from(self, flat: np.ndarray) -> MLP:
        weights, biases = self.layout.views(flat)
        return MLP([W.copy() for W in weights], [b.copy() for b in biases],
                   self.config.activation, self.config.keep_probs(), self.config.convention,
                   self.loss)

    def network(self, epoch: int = -1) -> MLP:
        """The network after `epoch` (0-based; -1 = the last completed epoch)."""
        completed = self.epochs_completed
        if completed == 0:
            return self._network_from(self.initial_params)
        if epoch < 0:
            epoch += completed
        if not 0 <= epoch < completed:
            raise ValueError(f"epoch must be in [0, {completed - 1}] (or negative), got {epoch}")
        if epoch == completed - 1:
            return self._network_from(self.final_params)
        if self.params_by_epoch is None:
            raise ValueError("this run kept only its final weights (store_weights=False)")
        stored = np.flatnonzero(self.snapshot_epochs == epoch)
        if not len(stored):
            raise ValueError(f"epoch {epoch} was not kept: this run stored every "
                             f"{self.snapshot_every}th epoch ({self.snapshot_epochs[:3]}...)")
        return self._network_from(self.params_by_epoch[stored[0]])

    @property
    def snapshot_epochs(self) -> np.ndarray:
        """The epochs whose weights `network(epoch)` can return."""
        completed = self.epochs_completed
        if self.params_by_epoch is None:
            return np.array([completed - 1]) if completed else np.array([], dtype=int)
        kept = np.arange(self.snapshot_every - 1, completed, self.snapshot_every)
        if completed and (not len(kept) or kept[-1] != completed - 1):
            kept = np.append(kept, completed - 1)
        return kept

    def initial_network(self) -> MLP:
        return self._network_from(self.initial_params)

    @property
    def n_batches(self) -> int:
        return mask_lib.n_batches(len(self.dataset.y_train), self.config.batch_size)

    def keep_masks(self, epoch: int, batch: int = 0) -> list[np.ndarray]:
        """The masks used in (epoch, batch), regenerated from the seed: one array per site."""
        if epoch < 0:
            epoch += self.epochs_completed
        return mask_lib.epoch_keep_masks(
            self.config.seed, epoch, batch, len(self.dataset.y_train), self.config.batch_size,
            self.layout.layer_sizes[:-1], self.config.keep_probs(), self.config.mask_scope,
        )

    def batch_indices(self, epoch: int, batch: int = 0) -> np.ndarray:
        """Which training examples (rows of X_train) formed that mini-batch."""
        n_train = len(self.dataset.y_train)
        batch_size = min(self.config.batch_size, n_train)
        order, _ = mask_lib.draw_epoch(self.config.seed, epoch, n_train, batch_size, 0, "epoch")
        return order[batch * batch_size:(batch + 1) * batch_size]


def kept_snapshots(snapshots, model: int, completed: int, final: np.ndarray) -> np.ndarray:
    """One model's stored parameters, in the order of TrainingRun.snapshot_epochs."""
    kept = [(epoch, flat[model]) for epoch, flat in snapshots if epoch < completed]
    if completed and (not kept or kept[-1][0] != completed - 1):
        kept.append((completed - 1, final))
    return np.array([flat for _, flat in kept]).reshape(len(kept), final.shape[-1])
