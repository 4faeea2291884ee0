"""The training loop's fast path: network.forward and backward, specialised for many small steps.

Like scikit-learn's `_forward_pass_fast` beside `_forward_pass`, this is the reference pass of
network.py again, with the same names and order, made fast for one job: the training loop.
Arrays this small cost per NumPy call more than per number, so each mini-batch step is compiled
once into a flat list of NumPy calls on preallocated views (`FastStep.plan_forward_backward`,
run by `FastStep.run`), and each epoch's shuffled data and dropout multipliers are written into
fixed buffers (`EpochInputs.fill`). The test-time evaluation after each epoch runs the same
compiled forward (`FastStep.plan_forward`). tests/test_engine_fast_path.py checks both against
network.forward/backward in float64; the README's Speed section says why each choice was made.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence

import numpy as np

from dropout_viz.engine import dropout
from dropout_viz.engine import masks as mask_lib
from dropout_viz.engine.network import activate, multiply_by_slope


def reduces_by_columns(rows: int, n_classes: int) -> bool:
    """Whether a reduction over the class axis should combine whole columns.

    NumPy reduces a short last axis one row at a time (~40 ns a row): with 2 classes and 400
    points that is 10x slower than combining columns, which wins from ~16 rows per extra class.
    The choice depends only on (rows, classes), never on leading model axes, so one network
    gives the same bits alone as inside a stack of many.
    """
    return n_classes >= 2 and rows >= 16 * (n_classes - 1)


def class_reduce_calls(ufunc: np.ufunc, values: np.ndarray, out: np.ndarray) -> list[tuple]:
    """ufunc.reduce over the last (class) axis into out (..., 1), as (function, args) calls."""
    n_classes = values.shape[-1]
    if values.ndim < 2 or not reduces_by_columns(values.shape[-2], n_classes):
        return [(ufunc.reduce, (values, -1, None, out, True))]
    column = [values[..., c:c + 1] for c in range(n_classes)]
    into_out = functools.partial(ufunc, out=out)  # np.maximum no longer takes out positionally
    return [(into_out, (column[0], column[1]))] + [(into_out, (out, column[c]))
                                                   for c in range(2, n_classes)]


@functools.cache
def _thread_pools():
    """The thread pools loaded when the engine first trains, NumPy's BLAS among them (the one
    the engine computes with), found once: finding them walks every loaded library, which
    costs more than a small run's epoch."""
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def one_blas_thread():
    """These matrices are small: a second BLAS thread only adds hand-over costs, and on a busy
    2-core server it can make training 20× slower. threadpoolctl ships with scikit-learn."""
    try:
        pools = _thread_pools()
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return contextlib.nullcontext()
    return pools.limit(limits=1, user_api="blas")


def run_calls(calls: Sequence[tuple]) -> None:
    """Run a list of (function, args) calls in order."""
    for function, args in calls:
        function(*args)


def log_softmax_calls(logits: np.ndarray, out: np.ndarray) -> list[tuple]:
    """network.log_softmax over the last axis of logits into out, as (function, args) calls on
    scratch buffers allocated here."""
    row_stat = np.empty(logits.shape[:-1] + (1,), logits.dtype)  # row max, then log-sum-exp
    exps = np.empty_like(logits)
    return (class_reduce_calls(np.maximum, logits, row_stat)
            + [(np.subtract, (logits, row_stat, out)), (np.exp, (out, exps))]
            + class_reduce_calls(np.add, exps, row_stat)
            + [(np.log, (row_stat, row_stat)), (np.subtract, (out, row_stat, out))])


def with_ones_column(X: np.ndarray) -> np.ndarray:
    return np.concatenate([X, np.ones(X.shape[:-1] + (1,), X.dtype)], axis=-1)


class FastStep:
    """The training loop's forward/backward pass: network.forward/backward, specialised.

    In the flat buffer each layer's W (fan_in, fan_out) is followed by its b (fan_out,), so W|b
    is one (fan_in + 1, fan_out) view. With a ones column appended to every layer input,
    z = [h, 1] @ [W; b] and dW|db = [h, 1]ᵀ @ grad_z are one matmul each. Scratch buffers are
    allocated once per batch size, and every array operation writes into them: these arrays are
    small, so the cost is per NumPy call rather than per number.
    """

    def __init__(self, layer_sizes, params: np.ndarray, grads: np.ndarray,
                 activation: str, n_models: int, dtype: np.dtype, loss: str = "cross_entropy"):
        self.sizes, self.activation, self.loss = tuple(layer_sizes), activation, loss
        self.relu = activation == "relu"
        self.n_models, self.dtype = n_models, dtype
        self.blocks, self.grad_blocks, self.weights_t = [], [], []
        self.contiguous_weights_t = []
        offset = 0
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            stop = offset + (fan_in + 1) * fan_out
            block = params[:, offset:stop].reshape(n_models, fan_in + 1, fan_out)
            grad_block = grads[:, offset:stop].reshape(n_models, fan_in + 1, fan_out)
            if not (np.shares_memory(block, params) and np.shares_memory(grad_block, grads)):
                raise AssertionError("W|b blocks must be views of the flat buffers")
            self.blocks.append(block)
            self.grad_blocks.append(grad_block)
            self.weights_t.append(block[:, :fan_in, :].mT)  # grad_input uses W without b
            # BLAS multiplies by a transposed right operand (NT) up to 2x slower than by a
            # contiguous one here, so the backward pass copies Wᵀ contiguous first.
            self.contiguous_weights_t.append(np.empty((n_models, fan_out, fan_in), dtype))
            offset = stop
        self._scratch: dict[int, dict] = {}

    def _inputs(self, n: int) -> list[np.ndarray]:
        """Per layer, an (M, n, fan_in + 1) input buffer whose last column is 1."""
        inputs = []
        for fan_in in self.sizes[:-1]:
            buffer = np.empty((self.n_models, n, fan_in + 1), self.dtype)
            buffer[..., -1] = 1.0
            inputs.append(buffer)
        return inputs

    def _buffers(self, n: int) -> dict:
        found = self._scratch.get(n)
        if found is None:
            shape = (self.n_models, n)
            inputs = self._inputs(n)
            found = self._scratch[n] = {
                "inputs": inputs,
                "units": [x[..., :-1] for x in inputs],
                "z": [np.empty(shape + (s,), self.dtype) for s in self.sizes[1:]],
                "gate": [np.empty(shape + (s,), bool) for s in self.sizes[:-1]],
                "slope": [np.empty(shape + (s,), self.dtype) for s in self.sizes[:-1]],
                "grad_input": [np.empty(shape + (s,), self.dtype) for s in self.sizes[:-1]],
                "row_max": np.empty(shape + (1,), self.dtype),
                "scale": 1.0 / n,
            }
        return found

    def _forward_calls(self, X_aug, site_multipliers, buf,
                       for_backward: bool = True) -> tuple[list[tuple], list]:
        """network.forward as calls: each layer's dropped input (with its ones column) times
        its W|b block. Returns the calls and the dropped inputs; the logits land in
        buf["z"][-1]. X_aug: (M or 1, n, features + 1) with a ones column last.

        for_backward=False (the evaluation) keeps nothing for a backward pass, so each product
        goes straight into the next layer's input buffer (`_hidden_in_place`)."""
        dropped_inputs, units = list(buf["inputs"]), buf["units"]
        ops: list[tuple] = []
        if site_multipliers[0] is None:
            dropped_inputs[0] = X_aug  # no input dropout: the data go in as they are
        else:
            ops.append((np.multiply, (X_aug[..., :-1], site_multipliers[0], units[0])))
        last = len(self.blocks) - 1
        for layer, block in enumerate(self.blocks):
            if layer == last:
                ops.append((np.matmul, (dropped_inputs[layer], block, buf["z"][layer])))
                break
            site = layer + 1
            if for_backward:
                ops.append((np.matmul, (dropped_inputs[layer], block, buf["z"][layer])))
                ops += self._hidden_for_backward(buf, site, site_multipliers[site])
            else:
                ops.append((np.matmul, (dropped_inputs[layer], block, units[site])))
                ops += self._hidden_in_place(buf["inputs"][site], site_multipliers[site])
        return ops, dropped_inputs

    def _hidden_for_backward(self, buf: dict, site: int, multiplier) -> list[tuple]:
        """Activation and dropout multiplier of the hidden layer before `site`, from its
        pre-activations z into the site's dropped input, keeping z (or the gate) for the slope."""
        z, dropped_input = buf["z"][site - 1], buf["units"][site]
        gate, slope = buf["gate"][site], buf["slope"][site]
        if self.relu:
            # relu as z·(z > 0) (np.maximum is ~3x slower per element); with dropout,
            # relu(z)·m = z·[(z > 0)·m], and (z > 0)·m is also the backward slope.
            if multiplier is None:
                return [(np.greater, (z, 0.0, gate)), (np.multiply, (z, gate, dropped_input))]
            # The gate straight into a float buffer: bool x float multiplies are slow.
            return [(np.greater, (z, 0.0, slope)), (np.multiply, (slope, multiplier, slope)),
                    (np.multiply, (z, slope, dropped_input))]
        return [(activate, (z, self.activation, z)),  # z keeps h, for the slope
                (np.copyto, (dropped_input, z)) if multiplier is None
                else (np.multiply, (z, multiplier, dropped_input))]

    def _hidden_in_place(self, full: np.ndarray, multiplier) -> list[tuple]:
        """Activation and dropout multiplier of a hidden layer whose pre-activations already
        sit in full[..., :-1] (full: the next layer's input buffer, ones column last)."""
        h = full[..., :-1]
        if self.relu:
            # relu over the whole contiguous buffer, ones column included (relu(1) = 1):
            # whole-buffer passes cost half as much as passes over the strided view.
            gate = np.empty(full.shape, bool)
            ops = [(np.greater, (full, 0.0, gate)), (np.multiply, (full, gate, full))]
        else:
            ops = [(activate, (h, self.activation, h))]
        return ops if multiplier is None else ops + [(np.multiply, (h, multiplier, h))]

    def plan_forward_backward(self, X_aug, Y, site_multipliers, shifted_out,
                              denominators_out) -> list[tuple]:
        """One mini-batch's forward and backward pass, compiled to a flat list of NumPy calls.

        Every operand is a view fixed in advance (the epoch buffers are refilled in place), so a
        step is just these calls with no Python decisions left in the hot loop: run it with
        `run(plan)`. X_aug: (M, n, features + 1) with a ones column; Y: one-hot targets. The
        logits minus their row maximum go to shifted_out and the softmax denominators to
        denominators_out (the epoch's loss is computed from them). The gradient of the batch's
        mean cross-entropy lands in the grads buffer.
        """
        buf = self._buffers(X_aug.shape[-2])
        ops, dropped_inputs = self._forward_calls(X_aug, site_multipliers, buf)
        z = buf["z"][-1]
        # Softmax once; d(mean CE)/d(logits) = (softmax - Y) / n.
        ops += class_reduce_calls(np.maximum, z, buf["row_max"])
        ops.append((np.subtract, (z, buf["row_max"], shifted_out)))
        ops.append((np.exp, (shifted_out, z)))
        ops += class_reduce_calls(np.add, z, denominators_out)
        ops += [(np.divide, (z, denominators_out, z)), (np.subtract, (z, Y, z)),
                (np.multiply, (z, buf["scale"], z))]
        return ops + self._backward_calls(z, dropped_inputs, site_multipliers, buf)

    def plan_forward_backward_mse(self, X_aug, Y, site_multipliers,
                                  residuals_out) -> list[tuple]:
        """`plan_forward_backward` for a regression network (network.output_gradient's "mse"):
        Y holds the (M, n, 1) targets, the residuals ŷ − y go to residuals_out (the epoch's MSE
        is computed from them), and the gradient of the batch's mean squared error,
        2(ŷ − y)/(n · outputs), lands in the grads buffer."""
        buf = self._buffers(X_aug.shape[-2])
        ops, dropped_inputs = self._forward_calls(X_aug, site_multipliers, buf)
        z = buf["z"][-1]
        ops += [(np.subtract, (z, Y, residuals_out)),
                (np.multiply, (residuals_out, 2.0 * buf["scale"] / z.shape[-1], z))]
        return ops + self._backward_calls(z, dropped_inputs, site_multipliers, buf)

    def _backward_calls(self, grad_z, dropped_inputs, site_multipliers, buf) -> list[tuple]:
        """network.backward from the output gradient grad_z down, as calls."""
        ops: list[tuple] = []
        for layer in range(len(self.blocks) - 1, -1, -1):
            ops.append((np.matmul, (dropped_inputs[layer].mT, grad_z, self.grad_blocks[layer])))
            if layer == 0:
                break
            grad_input = buf["grad_input"][layer]
            weights_t = self.contiguous_weights_t[layer]
            ops.append((np.copyto, (weights_t, self.weights_t[layer])))
            ops.append((np.matmul, (grad_z, weights_t, grad_input)))
            multiplier = site_multipliers[layer]
            if self.relu:
                slope = buf["gate"][layer] if multiplier is None else buf["slope"][layer]
                ops.append((np.multiply, (grad_input, slope, grad_input)))
            else:
                if multiplier is not None:
                    ops.append((np.multiply, (grad_input, multiplier, grad_input)))
                ops.append((multiply_by_slope, (grad_input, buf["z"][layer - 1], self.activation)))
            grad_z = grad_input
        return ops

    run = staticmethod(run_calls)

    def plan_forward(self, X_aug: np.ndarray, site_multipliers) -> tuple[list, np.ndarray]:
        """The networks' forward pass over X_aug ((n, features + 1), ones column last) with
        these multipliers (the trainer passes the test-time ones), compiled like
        `plan_forward_backward`. Running it leaves every model's log-probabilities (M, n,
        classes) in the returned buffer, or for loss="mse" the outputs ŷ (M, n, 1)."""
        buf = self._buffers(X_aug.shape[-2])
        ops, _ = self._forward_calls(X_aug, site_multipliers, buf, for_backward=False)
        result = np.empty_like(buf["z"][-1])
        if self.loss == "mse":
            return ops + [(np.copyto, (result, buf["z"][-1]))], result
        return ops + log_softmax_calls(buf["z"][-1], result), result


class EpochInputs:
    """One epoch's shuffled training data and dropout multipliers for every model, in buffers
    filled in place each epoch (so each mini-batch's views into them are made once).

    Models that share a seed share the data order and the random levels; each keeps a unit when
    its level is within that model's own threshold (so a sweep over p has nested masks).
    """

    def __init__(self, X_train_aug, Y_train, configs, site_sizes, batch_size, dtype):
        n_models, (n_train, width) = len(configs), X_train_aug.shape
        seeds = [c.seed for c in configs]
        self.X_train_aug, self.Y_train = X_train_aug, Y_train
        self.unique_seeds = sorted(set(seeds))
        # (index into unique_seeds, slice of models): consecutive models with the same seed.
        self.seed_runs = []
        for start, seed in enumerate(seeds):
            if start and seeds[start - 1] == seed:
                row, models = self.seed_runs[-1]
                self.seed_runs[-1] = (row, slice(models.start, start + 1))
            else:
                self.seed_runs.append((self.unique_seeds.index(seed), slice(start, start + 1)))
        self.site_sizes, self.n_units = site_sizes, sum(site_sizes)
        self.batch_size, self.scope = batch_size, configs[0].mask_scope
        self.X = np.empty((n_models, n_train, width), dtype)
        self.Y = np.empty((n_models, n_train, Y_train.shape[1]), dtype)
        mask_rows = mask_lib.mask_rows(self.scope, n_train, batch_size)
        # TrainConfig keeps q >= 0.05, so every threshold fits the levels' uint16.
        self.threshold = np.array([[dropout.keep_threshold(q) for q in c.keep_probs()]
                                   for c in configs], dtype=np.uint16)  # (M, sites)
        # Sites where every model keeps everything get no multiplier at all (None).
        self.dropout_sites = [s for s in range(len(site_sizes))
                              if np.any(self.threshold[:, s] < dropout.LEVELS - 1)]
        self.multipliers = [np.empty((n_models, mask_rows, size), dtype)
                            if s in self.dropout_sites else None
                            for s, size in enumerate(site_sizes)]
        self.threshold_column = {s: self.threshold[:, s][:, None, None] for s in self.dropout_sites}
        # Kept units × 1/q where the convention is inverted; None where every model trains
        # with plain 0/1 masks (standard convention).
        train_scale = np.array([[dropout.training_scale(q, c.convention) for q in c.keep_probs()]
                                for c in configs], dtype=dtype)
        self.scale_column = {s: None if np.all(train_scale[:, s] == 1) else
                             train_scale[:, s][:, None, None] for s in self.dropout_sites}

    def fill(self, epoch: int) -> None:
        n_train = len(self.Y_train)
        drawn = [mask_lib.draw_epoch(seed, epoch, n_train, self.batch_size, self.n_units,
                                     self.scope) for seed in self.unique_seeds]
        site_levels = [mask_lib.split_sites(levels, self.site_sizes) for _, levels in drawn]
        # One call per run of models sharing a seed (train_many sorts models by seed), with the
        # seed's draws broadcast over the run: no per-model copies of the shared randomness.
        for row, models in self.seed_runs:
            order = np.broadcast_to(drawn[row][0], (models.stop - models.start, n_train))
            np.take(self.X_train_aug, order, axis=0, out=self.X[models])
            np.take(self.Y_train, order, axis=0, out=self.Y[models])
            for s in self.dropout_sites:
                # The 0/1 keep mask goes straight into the float multipliers (a bool x float
                # multiply would cost more); scaled by 1/q below where the convention is inverted.
                dropout.kept(site_levels[row][s], self.threshold_column[s][models],
                             out=self.multipliers[s][models])
        for s in self.dropout_sites:
            if self.scale_column[s] is not None:
                self.multipliers[s] *= self.scale_column[s]
