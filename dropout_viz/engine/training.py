"""Training: the configuration and the loop (what a run remembers is in run.py).

`train_many` trains several configurations of one architecture together: parameters of M
networks sit in one (M, P) buffer and every forward/backward pass carries a leading model axis,
so a sweep over p or seeds costs little more than one run. `train` is `train_many` of one
configuration, so the two cannot drift apart.

The loss follows from the data (run.loss_for): a regression set trains one linear output with
torch.nn.MSELoss's mean squared error, anything else a softmax with the cross-entropy; masks,
conventions, optimizers, L2, max-norm and divergence are the same code for both.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dropout_viz.engine import dropout
from dropout_viz.engine import masks as mask_lib
from dropout_viz.engine.fast_path import (
    EpochInputs,
    FastStep,
    one_blas_thread,
    with_ones_column,
)
from dropout_viz.engine.network import (
    mean_cross_entropy,
    mean_squared_error,
    predicted_class,
    training_targets,
)
from dropout_viz.engine.optimizers import make_optimizer
from dropout_viz.engine.run import (
    ParameterLayout,
    TrainingRun,
    history_keys,
    initial_parameters,
    kept_snapshots,
    loss_for,
)
from dropout_viz.schema import FIELD_SPECS

PRECISIONS = ("float64", "float32")
# TrainConfig fields checked by schema.FIELD_SPECS, the table the page, URL and CLI use.
TABLE_CHECKED = ("activation", "init", "p_input", "p_hidden", "mask_scope", "convention",
                 "optimizer")


def _range_error(name: str, value, allowed: str) -> ValueError:
    return ValueError(f"{name} = {value!r} is not allowed: {allowed}.")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (together with the data set).

    p_input / p_hidden: probability of DROPPING an input / hidden unit (q = 1 - p keeps it).
    mask_scope: "epoch" (one mask per layer for a whole epoch, as the original notes describe),
    "batch" (a new mask per mini-batch) or "example" (per example per step, as Keras/PyTorch).
    convention: "standard" (0/1 masks in training, weights × q at test time) or "inverted"
    (kept units × 1/q in training, weights as they are at test time).
    max_norm: cap on the L2 norm of each unit's incoming weights (0 = off).
    init: "auto" (He for relu layers, Glorot otherwise) or "glorot" (Keras' Dense default).
    precision: "float64" (default; exact replays) or "float32" (what PyTorch and Keras train
    in: about twice the arithmetic speed for wide layers, results agree to ~1e-6).
    """

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    p_input: float = 0.0
    p_hidden: float = 0.5
    mask_scope: str = "example"
    convention: str = "inverted"
    optimizer: str = "adam"
    lr: float = 0.01
    batch_size: int = 32
    epochs: int = 100
    l2: float = 0.0
    max_norm: float = 0.0
    seed: int = 0
    init: str = "auto"
    precision: str = "float64"

    def __post_init__(self):
        hidden = self.hidden
        if isinstance(hidden, (int, np.integer)):
            hidden = (int(hidden),)
        try:
            hidden = tuple(int(h) for h in hidden)
        except (TypeError, ValueError):
            raise _range_error("hidden", self.hidden, "give a tuple of layer widths") from None
        object.__setattr__(self, "hidden", hidden)
        if not hidden or any(h < 1 for h in hidden) or len(hidden) > 8:
            raise _range_error("hidden", self.hidden,
                               "give 1 to 8 hidden layers, each at least 1 unit wide")
        if max(hidden) > 1024:
            raise _range_error("hidden", self.hidden, "layer widths are limited to 1024")
        # The fields a run shares with the page are checked by the table's own validator, so
        # each has one range in every layer (p < 1 also keeps the fast path's uint16 keep
        # thresholds ≥ 0). The numbers below keep the engine's own, wider sanity checks, which
        # hold every value the table allows (tests/test_schema.py checks that).
        for name in TABLE_CHECKED:
            value = getattr(self, name)
            if name.startswith("p_") and isinstance(value, numbers.Real) and value >= 1:
                raise _range_error(
                    name, value, "p = 1 drops every unit, so nothing reaches the output and "
                    f"nothing can learn; the dropout rate must be {FIELD_SPECS[name].range_text()}")
            FIELD_SPECS[name].check(value)
        if self.precision not in PRECISIONS:
            raise _range_error("precision", self.precision, f"choose one of {PRECISIONS}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise _range_error("lr", self.lr, "the learning rate must be in (0, 10]")
        for name, low, high in (("batch_size", 1, 100_000), ("epochs", 1, 10_000),
                                ("seed", 0, 2**32 - 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) \
                    or not low <= value <= high:
                raise _range_error(name, value, f"must be a whole number in [{low}, {high}]")
        for name in ("l2", "max_norm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise _range_error(name, value, "must be a finite number ≥ 0 (0 = off)")

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def keep_probs(self) -> tuple[float, ...]:
        return (1.0 - self.p_input,) + (1.0 - self.p_hidden,) * len(self.hidden)

    def architecture(self) -> tuple:
        """What must agree for configurations to be trained together in one pass."""
        return (self.hidden, self.activation, self.optimizer, self.batch_size, self.epochs,
                self.mask_scope, self.init, self.precision)


EpochCallback = Callable[[int, dict[str, np.ndarray]], "bool | None"]


def _test_time_metrics(outputs: np.ndarray, Y_eval: np.ndarray, y_eval: np.ndarray,
                       n_train: int, loss: str) -> dict[str, np.ndarray]:
    """Mean loss (and, for a classifier, accuracy) of the test-time networks on the training
    points (the first n_train rows of outputs) and on the test points, from one pass over both.
    outputs: log-probabilities for cross-entropy, ŷ (M, n, 1) for mse."""
    train, test = slice(None, n_train), slice(n_train, None)
    if loss == "mse":
        return {"train_loss": mean_squared_error(outputs[..., train, :], Y_eval[train]),
                "test_loss": mean_squared_error(outputs[..., test, :], Y_eval[test])}
    log_probs = outputs
    correct = predicted_class(log_probs) == y_eval
    return {
        "train_loss": mean_cross_entropy(log_probs[..., train, :], Y_eval[train]),
        "test_loss": mean_cross_entropy(log_probs[..., test, :], Y_eval[test]),
        "train_acc": correct[..., train].mean(axis=-1),
        "test_acc": correct[..., test].mean(axis=-1),
    }


class _Group:
    """Configurations sharing one architecture, trained together: M networks in one (M, P)
    parameter buffer, the compiled mini-batch steps and evaluation, and each model's record."""

    def __init__(self, dataset, configs: Sequence[TrainConfig], store_weights: bool | int):
        first = self.first = configs[0]
        self.dataset, self.configs = dataset, configs
        self.loss = loss_for(dataset)
        dtype = self.dtype = np.dtype(first.precision)
        X_train, y_train = np.asarray(dataset.X_train, dtype), np.asarray(dataset.y_train)
        X_test, y_test = np.asarray(dataset.X_test, dtype), np.asarray(dataset.y_test)
        n_outputs = 1 if self.loss == "mse" else int(dataset.n_classes)
        self.n_train = len(y_train)
        self.layout = ParameterLayout((X_train.shape[1],) + first.hidden + (n_outputs,))
        n_models = len(configs)
        seeds = [c.seed for c in configs]
        init_by_seed = {s: initial_parameters(self.layout, first.activation, s, first.init)
                        for s in set(seeds)}
        self.params = np.stack([init_by_seed[s] for s in seeds]).astype(dtype)
        self.initial = self.params.copy()
        self.weights, _ = self.layout.views(self.params)
        self.optimizer = make_optimizer(first.optimizer, self.params,
                                        self._per_model([c.lr for c in configs]))
        self.l2 = self._per_model([c.l2 for c in configs]) \
            * self.layout.weight_mask().astype(dtype)
        self.use_l2 = bool(np.any(self.l2))
        self.max_norm = np.array([c.max_norm if c.max_norm > 0 else np.inf for c in configs],
                                 dtype)
        self.use_max_norm = bool(np.isfinite(self.max_norm).any())

        Y_train = training_targets(y_train, n_outputs, self.loss).astype(dtype)
        Y_test = training_targets(y_test, n_outputs, self.loss).astype(dtype)
        self.X_eval = np.concatenate([X_train, X_test])
        self.Y_eval = np.concatenate([Y_train, Y_test])
        self.y_eval = np.concatenate([y_train, y_test])
        self.history = {k: np.full((n_models, first.epochs), np.nan)
                        for k in history_keys(self.loss)}
        # store_weights: True keeps every epoch, an int k keeps every k-th (bounding memory for
        # long runs of wide networks); the last epoch is always kept as final_params.
        self.snapshot_every = int(store_weights) if store_weights else 0
        self.snapshots: list[tuple[int, np.ndarray]] = []  # (epoch, (M, P) parameters after it)
        self.last_good = self.params.copy()
        self.active = np.ones(n_models, dtype=bool)
        self.diverged_at: list[int | None] = [None] * n_models
        self.stopped_after: int | None = None
        self._compile(X_train, Y_train)

    def _per_model(self, values) -> np.ndarray:
        return np.array(values, dtype=self.dtype)[:, None]

    def _compile(self, X_train: np.ndarray, Y_train: np.ndarray) -> None:
        """The epoch buffers, each mini-batch's compiled step and the compiled evaluation."""
        n_models, n_train, dtype = len(self.configs), self.n_train, self.dtype
        n_outputs, site_sizes = Y_train.shape[1], self.layout.layer_sizes[:-1]
        batch_size = min(self.first.batch_size, n_train)
        self.step = FastStep(self.layout.layer_sizes, self.params, self.optimizer.grads,
                             self.first.activation, n_models, dtype, self.loss)
        # Inputs with a ones column appended, so each layer is one matmul with its W|b block.
        self.epoch_inputs = EpochInputs(with_ones_column(X_train), Y_train, self.configs,
                                        site_sizes, batch_size, dtype)
        # Summed loss of the epoch's thinned networks, from each batch's shifted logits and
        # softmax denominators, or residuals for mse (collected during the epoch, reduced once
        # at its end).
        self.shifted_epoch = np.empty((n_models, n_train, n_outputs), dtype)
        self.denominators_epoch = np.empty((n_models, n_train, 1), dtype)
        self.batch_plans = []
        for b in range(mask_lib.n_batches(n_train, batch_size)):
            rows = slice(b * batch_size, (b + 1) * batch_size)
            mask_rows = mask_lib.batch_rows(self.first.mask_scope, b, batch_size)
            multipliers = [None if m is None else m[:, mask_rows]
                           for m in self.epoch_inputs.multipliers]
            batch = (self.epoch_inputs.X[:, rows], self.epoch_inputs.Y[:, rows], multipliers,
                     self.shifted_epoch[:, rows])
            self.batch_plans.append(self.step.plan_forward_backward_mse(*batch)
                                    if self.loss == "mse" else self.step.plan_forward_backward(
                                        *batch, self.denominators_epoch[:, rows]))
        # Test-time multipliers per model: (M, 1, 1) so they broadcast over points and units.
        test_mult = []
        for s in range(len(site_sizes)):
            values = [dropout.test_time_multipliers(c.keep_probs(), c.convention)[s]
                      for c in self.configs]
            test_mult.append(None if all(v is None for v in values) else
                             np.array([1.0 if v is None else v for v in values],
                                      dtype)[:, None, None])
        # One pass over train and test points together (half the per-call overhead).
        self.evaluation, self.eval_outputs = self.step.plan_forward(
            with_ones_column(self.X_eval), test_mult)

    def train_epoch(self, epoch: int) -> dict[str, np.ndarray]:
        """One epoch of mini-batch steps, then every model's metrics."""
        step, params, grads, optimizer = self.step, self.params, self.optimizer.grads, \
            self.optimizer
        self.epoch_inputs.fill(epoch)
        with np.errstate(all="ignore"):
            for plan in self.batch_plans:
                step.run(plan)
                if self.use_l2:
                    grads += self.l2 * params
                optimizer.step(params, grads)
                if self.use_max_norm:
                    for W in self.weights:
                        norms = np.sqrt((W * W).sum(axis=-2, keepdims=True))
                        W *= np.minimum(1.0, self.max_norm[:, None, None]
                                        / np.maximum(norms, 1e-12))
            step.run(self.evaluation)
            return {"thinned_loss": self._thinned_loss(),
                    **_test_time_metrics(self.eval_outputs, self.Y_eval, self.y_eval,
                                         self.n_train, self.loss)}

    def _thinned_loss(self) -> np.ndarray:
        """Each model's mean loss over the epoch's thinned networks, (M,)."""
        if self.loss == "mse":  # shifted_epoch holds the residuals ŷ − y
            residuals = self.shifted_epoch
            return (residuals * residuals).sum(axis=(-1, -2), dtype=np.float64) \
                / (self.n_train * residuals.shape[-1])
        # -sum(Y · log softmax) = sum(log denominator) - sum(Y · shifted logits).
        summed = (np.log(self.denominators_epoch).sum(axis=(-1, -2), dtype=np.float64)
                  - (self.shifted_epoch * self.epoch_inputs.Y).sum(axis=(-1, -2),
                                                                   dtype=np.float64))
        return summed / self.n_train

    def record(self, epoch: int, metrics: dict[str, np.ndarray]) -> None:
        """History, divergence (a diverged network is frozen at its last finite weights; the
        others go on) and the kept weights of this epoch."""
        params, active, history = self.params, self.active, self.history
        finite = np.isfinite(params).all(axis=1) & np.isfinite(metrics["thinned_loss"]) \
            & np.isfinite(metrics["train_loss"])
        for m in np.flatnonzero(active & ~finite):
            self.diverged_at[m] = epoch
            active[m] = False
        if active.all():
            np.copyto(self.last_good, params)
            for key, values in metrics.items():
                history[key][:, epoch] = values
        else:
            params[~active] = self.last_good[~active]
            self.last_good[active] = params[active]
            for key, values in metrics.items():
                history[key][active, epoch] = values[active]
        if self.snapshot_every and (epoch + 1) % self.snapshot_every == 0:
            self.snapshots.append((epoch, params.copy()))

    def runs(self, last_epoch: int) -> list[TrainingRun]:
        runs = []
        for m, config in enumerate(self.configs):
            diverged_at = self.diverged_at[m]
            completed = last_epoch + 1 if diverged_at is None else diverged_at
            runs.append(TrainingRun(
                config=config, dataset=self.dataset,
                history={k: v[m, :completed].copy() for k, v in self.history.items()},
                layout=self.layout, initial_params=self.initial[m].copy(),
                final_params=self.params[m].copy(),
                params_by_epoch=kept_snapshots(self.snapshots, m, completed, self.params[m])
                if self.snapshot_every else None,
                snapshot_every=max(self.snapshot_every, 1),
                diverged_at=diverged_at,
                stopped_at=self.stopped_after if diverged_at is None else None,
                loss=self.loss,
            ))
        return runs


def _train_group(dataset, configs: Sequence[TrainConfig], on_epoch: EpochCallback | None,
                 store_weights: bool | int) -> list[TrainingRun]:
    """Train configurations sharing one architecture together, in one vectorised pass."""
    group = _Group(dataset, configs, store_weights)
    for epoch in range(configs[0].epochs):
        metrics = group.train_epoch(epoch)
        group.record(epoch, metrics)
        if on_epoch is not None and on_epoch(epoch, {k: v.copy() for k, v in metrics.items()}) \
                is False:
            group.stopped_after = epoch
            break
        if not group.active.any():
            break
    return group.runs(epoch)


def _check_dataset(dataset) -> None:
    if len(dataset.y_train) < 2:
        raise ValueError("the training split needs at least 2 points")
    if loss_for(dataset) == "cross_entropy" and int(dataset.n_classes) < 2:
        raise ValueError("need at least 2 classes to train a classifier")


def train(dataset, config: TrainConfig, on_epoch: EpochCallback | None = None,
          store_weights: bool | int = True) -> TrainingRun:
    """Train one network. on_epoch(epoch, metrics) may return False to stop after that epoch.

    If the loss or the weights become NaN/inf, training stops, `diverged_at` records the epoch,
    and the run keeps the last finite weights and the history up to that epoch.
    """
    _check_dataset(dataset)

    def report(epoch, metrics):
        if on_epoch is not None:
            return on_epoch(epoch, {k: float(v[0]) for k, v in metrics.items()})
        return None

    with one_blas_thread():
        return _train_group(dataset, [config], report, store_weights)[0]


def train_many(dataset, configs: Sequence[TrainConfig],
               on_progress: Callable[[float], bool | None] | None = None,
               store_weights: bool = False) -> list[TrainingRun]:
    """Train several configurations; those sharing an architecture train together in one pass.

    Returns one TrainingRun per config, in order; each equals what `train` gives for it alone.
    on_progress(fraction_done) may return False to stop early.
    """
    _check_dataset(dataset)
    configs = list(configs)
    if not configs:
        return []
    groups: dict[tuple, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(config.architecture(), []).append(i)
    total_epochs = sum(configs[idx[0]].epochs for idx in groups.values())
    done = [0]
    results: list[TrainingRun | None] = [None] * len(configs)
    for indices in groups.values():
        indices.sort(key=lambda i: configs[i].seed)  # models sharing a seed share draws: adjacent

        def report(epoch, metrics):
            done[0] += 1
            if on_progress is not None:
                return on_progress(done[0] / total_epochs)
            return None

        with one_blas_thread():
            runs = _train_group(dataset, [configs[i] for i in indices], report, store_weights)
        for i, run in zip(indices, runs):
            results[i] = run
    return results
