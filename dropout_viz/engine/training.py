"""Training: the configuration, the loop, and what a run remembers.

`train_many` trains several configurations of one architecture together: parameters of M
networks sit in one (M, P) buffer and every forward/backward pass carries a leading model axis,
so a sweep over p or seeds costs little more than one run. `train` is `train_many` of one
configuration, so the two cannot drift apart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dropout_viz.engine import masks as mask_lib
from dropout_viz.engine.fast_path import EpochInputs, FastStep, with_ones_column
from dropout_viz.engine.network import (
    ACTIVATIONS,
    CONVENTIONS,
    MLP,
    mean_cross_entropy,
    one_hot,
    predicted_class,
    test_time_multipliers,
)
from dropout_viz.engine.optimizers import OPTIMIZERS, make_optimizer

MAX_DROP = 0.95
INITIALISATIONS = ("auto", "glorot")
PRECISIONS = ("float64", "float32")
HISTORY_KEYS = ("thinned_loss", "train_loss", "test_loss", "train_acc", "test_acc")


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
        for name in ("p_input", "p_hidden"):
            p = getattr(self, name)
            if not isinstance(p, (int, float, np.floating, np.integer)) or not math.isfinite(p):
                raise _range_error(name, p, "the dropout rate must be a number in [0, 0.95]")
            if p >= 1:
                raise _range_error(
                    name, p, "p = 1 drops every unit, so nothing reaches the output and nothing "
                    "can learn; the dropout rate must be in [0, 0.95]")
            if not 0 <= p <= MAX_DROP:
                raise _range_error(name, p, "the dropout rate must be in [0, 0.95]")
        for name, choices in (("activation", ACTIVATIONS), ("mask_scope", mask_lib.MASK_SCOPES),
                              ("init", INITIALISATIONS), ("precision", PRECISIONS),
                              ("convention", CONVENTIONS), ("optimizer", OPTIMIZERS)):
            if getattr(self, name) not in choices:
                raise _range_error(name, getattr(self, name), f"choose one of {choices}")
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

    @property
    def epochs_completed(self) -> int:
        return len(self.history["train_loss"])

    def _network_from(self, flat: np.ndarray) -> MLP:
        weights, biases = self.layout.views(flat)
        return MLP([W.copy() for W in weights], [b.copy() for b in biases],
                   self.config.activation, self.config.keep_probs(), self.config.convention)

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


EpochCallback = Callable[[int, dict[str, np.ndarray]], "bool | None"]


def _test_time_metrics(log_probs: np.ndarray, Y_eval: np.ndarray, y_eval: np.ndarray,
                       n_train: int) -> dict[str, np.ndarray]:
    """Mean cross-entropy and accuracy of the test-time networks on the training points (the
    first n_train rows of log_probs) and on the test points, from one pass over both."""
    correct = predicted_class(log_probs) == y_eval
    train, test = slice(None, n_train), slice(n_train, None)
    return {
        "train_loss": mean_cross_entropy(log_probs[..., train, :], Y_eval[train]),
        "test_loss": mean_cross_entropy(log_probs[..., test, :], Y_eval[test]),
        "train_acc": correct[..., train].mean(axis=-1),
        "test_acc": correct[..., test].mean(axis=-1),
    }


def _train_group(dataset, configs: Sequence[TrainConfig], on_epoch: EpochCallback | None,
                 store_weights: bool) -> list[TrainingRun]:
    """Train configurations sharing one architecture together, in one vectorised pass."""
    first = configs[0]
    dtype = np.dtype(first.precision)
    X_train, y_train = np.asarray(dataset.X_train, dtype), np.asarray(dataset.y_train)
    X_test, y_test = np.asarray(dataset.X_test, dtype), np.asarray(dataset.y_test)
    n_train, n_classes = len(y_train), int(dataset.n_classes)
    layout = ParameterLayout((X_train.shape[1],) + first.hidden + (n_classes,))
    site_sizes = layout.layer_sizes[:-1]
    n_models, epochs = len(configs), first.epochs
    batch_size = min(first.batch_size, n_train)
    batches = mask_lib.n_batches(n_train, batch_size)
    activation, scope = first.activation, first.mask_scope

    seeds = [c.seed for c in configs]
    init_by_seed = {s: initial_parameters(layout, activation, s, first.init) for s in set(seeds)}
    params = np.stack([init_by_seed[s] for s in seeds]).astype(dtype)
    initial = params.copy()
    weights, _ = layout.views(params)

    def per_model(values) -> np.ndarray:
        return np.array(values, dtype=dtype)[:, None]

    optimizer = make_optimizer(first.optimizer, params, per_model([c.lr for c in configs]))
    grads = optimizer.grads  # the optimizer's own buffer: the backward pass writes into it
    l2 = per_model([c.l2 for c in configs]) * layout.weight_mask().astype(dtype)
    use_l2 = bool(np.any(l2))
    max_norm = np.array([c.max_norm if c.max_norm > 0 else np.inf for c in configs], dtype)
    use_max_norm = bool(np.isfinite(max_norm).any())
    train_scale = np.array([[1.0 / q if c.convention == "inverted" else 1.0 for q in c.keep_probs()]
                            for c in configs], dtype=dtype)
    # Test-time multipliers per model: (M, 1, 1) so they broadcast over points and units.
    test_mult = []
    for s in range(len(site_sizes)):
        values = [test_time_multipliers(c.keep_probs(), c.convention)[s] for c in configs]
        test_mult.append(None if all(v is None for v in values) else
                         np.array([1.0 if v is None else v for v in values], dtype)[:, None, None])

    Y_train = one_hot(y_train, n_classes).astype(dtype)
    Y_test = one_hot(y_test, n_classes).astype(dtype)
    X_eval = np.concatenate([X_train, X_test])
    Y_eval, y_eval = np.concatenate([Y_train, Y_test]), np.concatenate([y_train, y_test])
    history = {k: np.full((n_models, epochs), np.nan) for k in HISTORY_KEYS}
    # store_weights: True keeps every epoch, an int k keeps every k-th (bounding memory for
    # long runs of wide networks); the last epoch is always kept as final_params.
    snapshot_every = int(store_weights) if store_weights else 0
    snapshots: list[tuple[int, np.ndarray]] = []  # (epoch, (M, P) parameters after it)
    last_good = params.copy()
    active = np.ones(n_models, dtype=bool)
    diverged_at: list[int | None] = [None] * n_models
    stopped_after = None

    step = FastStep(layout.layer_sizes, params, grads, activation, n_models, dtype)
    # Inputs with a ones column appended, so each layer is one matmul with its W|b block.
    X_train_aug = with_ones_column(X_train)
    X_eval_aug = with_ones_column(X_eval)
    epoch_inputs = EpochInputs(X_train_aug, Y_train, configs, train_scale, site_sizes,
                                batch_size, dtype)
    # Summed loss of the epoch's thinned networks, from each batch's shifted logits and softmax
    # denominators (collected during the epoch, reduced once at its end).
    shifted_epoch = np.empty((n_models, n_train, n_classes), dtype)
    denominators_epoch = np.empty((n_models, n_train, 1), dtype)
    batch_plans = []
    for b in range(batches):
        rows = slice(b * batch_size, (b + 1) * batch_size)
        mask_index = {"example": rows, "batch": slice(b, b + 1), "epoch": slice(None)}[scope]
        multipliers = [None if m is None else m[:, mask_index] for m in epoch_inputs.multipliers]
        batch_plans.append(step.plan(epoch_inputs.X[:, rows], epoch_inputs.Y[:, rows],
                                     multipliers, shifted_epoch[:, rows],
                                     denominators_epoch[:, rows]))
    Y_epoch = epoch_inputs.Y
    # One pass over train and test points together (half the per-call overhead).
    evaluation, eval_log_probs = step.evaluation_plan(X_eval_aug, test_mult)

    for epoch in range(epochs):
        epoch_inputs.fill(epoch)
        with np.errstate(all="ignore"):
            for plan in batch_plans:
                step.run(plan)
                if use_l2:
                    grads += l2 * params
                optimizer.step(params, grads)
                if use_max_norm:
                    for W in weights:
                        norms = np.sqrt((W * W).sum(axis=-2, keepdims=True))
                        W *= np.minimum(1.0, max_norm[:, None, None] / np.maximum(norms, 1e-12))
            # -sum(Y · log softmax) = sum(log denominator) - sum(Y · shifted logits).
            thinned_loss = (np.log(denominators_epoch).sum(axis=(-1, -2), dtype=np.float64)
                            - (shifted_epoch * Y_epoch).sum(axis=(-1, -2), dtype=np.float64))

            step.run(evaluation)
            metrics = {"thinned_loss": thinned_loss / n_train,
                       **_test_time_metrics(eval_log_probs, Y_eval, y_eval, n_train)}
        finite = np.isfinite(params).all(axis=1) & np.isfinite(metrics["thinned_loss"]) \
            & np.isfinite(metrics["train_loss"])
        for m in np.flatnonzero(active & ~finite):
            diverged_at[m] = epoch
            active[m] = False
        if active.all():
            np.copyto(last_good, params)
            for key, values in metrics.items():
                history[key][:, epoch] = values
        else:  # a diverged network is frozen at its last finite weights; the others go on
            params[~active] = last_good[~active]
            last_good[active] = params[active]
            for key, values in metrics.items():
                history[key][active, epoch] = values[active]
        if snapshot_every and (epoch + 1) % snapshot_every == 0:
            snapshots.append((epoch, params.copy()))
        if on_epoch is not None and on_epoch(epoch, {k: v.copy() for k, v in metrics.items()}) \
                is False:
            stopped_after = epoch
            break
        if not active.any():
            break

    last_epoch = epoch
    runs = []
    for m, config in enumerate(configs):
        completed = last_epoch + 1 if diverged_at[m] is None else diverged_at[m]
        runs.append(TrainingRun(
            config=config, dataset=dataset,
            history={k: v[m, :completed].copy() for k, v in history.items()},
            layout=layout, initial_params=initial[m].copy(), final_params=params[m].copy(),
            params_by_epoch=_kept_snapshots(snapshots, m, completed, params[m])
            if snapshot_every else None,
            snapshot_every=max(snapshot_every, 1),
            diverged_at=diverged_at[m],
            stopped_at=stopped_after if diverged_at[m] is None else None,
        ))
    return runs


def _kept_snapshots(snapshots, model: int, completed: int, final: np.ndarray) -> np.ndarray:
    """One model's stored parameters, in the order of TrainingRun.snapshot_epochs."""
    kept = [(epoch, flat[model]) for epoch, flat in snapshots if epoch < completed]
    if completed and (not kept or kept[-1][0] != completed - 1):
        kept.append((completed - 1, final))
    return np.array([flat for _, flat in kept]).reshape(len(kept), final.shape[-1])


def _one_blas_thread():
    """These matrices are small: a second BLAS thread only adds hand-over costs, and on a busy
    2-core server it can make training 20× slower. threadpoolctl ships with scikit-learn."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _check_dataset(dataset) -> None:
    if len(dataset.y_train) < 2:
        raise ValueError("the training split needs at least 2 points")
    if int(dataset.n_classes) < 2:
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

    with _one_blas_thread():
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

        with _one_blas_thread():
            runs = _train_group(dataset, [configs[i] for i in indices], report, store_weights)
        for i, run in zip(indices, runs):
            results[i] = run
    return results
