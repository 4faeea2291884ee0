"""The reference multilayer perceptron: one forward and one backward pass, written plainly.

Every dropout site (the inputs, then each hidden layer) multiplies that layer's activations by
a *site multiplier* before they reach the next weight matrix; dropout.py says what it is in
training (the keep mask, × 1/q if inverted) and at test time (q if standard). So one forward
function serves training, thinned sub-networks, the weight-scaled network and stacks of K
sub-networks at once (multipliers of shape (K, 1, units) broadcast over the points).
The arrays may carry leading "model" axes: weights (..., fan_in, fan_out), biases (..., fan_out),
activations (..., n, units). Like CS231n's layers, `forward` returns the output (logits) and a
cache that `backward` consumes. The output unit is linear either way; the loss decides what it
means: "cross_entropy" (a softmax over the class logits, for classification) or "mse" (one
real-valued output and the mean squared error, for regression; `output_gradient` is where the
two differ). fast_path.py is the same two passes specialised for the training
loop; the tests check it against these.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dropout_viz.engine.dropout import (
    CONVENTIONS,
    test_time_multipliers,
    test_time_scale,
    training_multipliers,
)

ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("cross_entropy", "mse")


def activate(z: np.ndarray, activation: str, out: np.ndarray | None = None) -> np.ndarray:
    """The activation of z; out=z overwrites z (the forward pass does, to save allocations)."""
    if activation == "relu":
        return np.maximum(z, 0.0, out=out)
    if activation == "tanh":
        return np.tanh(z, out=out)
    if activation == "sigmoid":
        # The tanh form cannot overflow, unlike 1 / (1 + exp(-z)).
        h = np.multiply(z, 0.5, out=out)
        np.tanh(h, out=h)
        h += 1.0
        h *= 0.5
        return h
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def multiply_by_slope(grad: np.ndarray, h: np.ndarray, activation: str) -> None:
    """grad *= the activation's derivative, in terms of its output h (what the cache keeps)."""
    if activation == "relu":
        np.multiply(grad, h > 0.0, out=grad)
    elif activation == "tanh":
        grad *= 1.0 - h * h
    else:  # sigmoid
        grad *= h * (1.0 - h)


def combine_classes(ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
    """ufunc (np.maximum, np.add) over the last (class) axis, keeping it as length 1.

    One call per class column: NumPy reduces a short last axis one row at a time, many times
    slower on thousands of points. Every point combines its classes in the same order, whatever
    else shares the pass.
    """
    out = values[..., :1].copy()
    for c in range(1, values.shape[-1]):
        ufunc(out, values[..., c:c + 1], out=out)
    return out


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log-softmax over the last (class) axis: logits − max − log Σ exp(logits − max)."""
    shifted = logits - combine_classes(np.maximum, logits)
    shifted -= np.log(combine_classes(np.add, np.exp(shifted)))
    return shifted


def predicted_class(scores: np.ndarray) -> np.ndarray:
    """argmax over the last (class) axis; for two classes a comparison (the first wins ties, as
    argmax does), which is 10x faster than argmax's row-by-row loop on many rows."""
    if scores.shape[-1] == 2:
        return (scores[..., 1] > scores[..., 0]).astype(np.intp)
    return scores.argmax(axis=-1)


def forward(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    X: np.ndarray,
    activation: str,
    site_multipliers: Sequence[np.ndarray | float | None],
) -> tuple[np.ndarray, list]:
    """The logits (the last layer's pre-activations), and the cache for `backward`.

    site_multipliers[l] multiplies the input of weight layer l (None means 1: no dropout there);
    dropout.py says what they are in training and at test time.
    """
    cache = []
    layer_input = X
    last = len(weights) - 1
    for layer, (W, b) in enumerate(zip(weights, biases)):
        multiplier = site_multipliers[layer]
        dropped_input = layer_input if multiplier is None else layer_input * multiplier
        z = dropped_input @ W
        z += b[..., None, :]  # in place: one array less per layer
        cache.append((dropped_input, multiplier, layer_input))
        layer_input = activate(z, activation, out=z) if layer < last else z
    return layer_input, cache


def output_gradient(outputs: np.ndarray, targets: np.ndarray, loss: str) -> np.ndarray:
    """d(mean loss)/d(output pre-activations), a new array, for a batch of n points.

    cross_entropy: `outputs` are log_softmax(logits), targets one-hot; the gradient is
    (softmax − Y) / n. mse: `outputs` are the linear outputs ŷ, targets y of the same shape;
    the loss is the mean of (ŷ − y)² over every element, as torch.nn.MSELoss() defines it, so
    the gradient is 2(ŷ − y) / (n · outputs).
    """
    n = outputs.shape[-2]
    if loss == "mse":
        grad_z = outputs - targets
        grad_z *= 2.0 / (n * outputs.shape[-1])
        return grad_z
    grad_z = np.exp(outputs)
    grad_z -= targets
    grad_z *= 1.0 / n
    return grad_z


def backward(
    outputs: np.ndarray,
    targets: np.ndarray,
    cache: list,
    weights: Sequence[np.ndarray],
    activation: str,
    weight_grads: Sequence[np.ndarray] | None = None,
    bias_grads: Sequence[np.ndarray] | None = None,
    loss: str = "cross_entropy",
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradients of the mean loss (over the n axis) for every weight and bias, from `forward`'s
    cache and its outputs: `log_softmax(logits)` with one-hot targets for cross-entropy, the
    outputs themselves with (n, 1) targets for mse (see `output_gradient`).

    If `weight_grads`/`bias_grads` are given, the gradients are written into them (the trainer
    passes views of its flat gradient buffer, so the optimizer never concatenates anything).
    """
    grad_z = output_gradient(outputs, targets, loss)
    out_w = list(weight_grads) if weight_grads is not None else [None] * len(weights)
    out_b = list(bias_grads) if bias_grads is not None else [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        dropped_input, multiplier, layer_input = cache[layer]
        # .mT and the .sum method skip NumPy's Python-level wrappers (this loop is hot).
        out_w[layer] = np.matmul(dropped_input.mT, grad_z, out=out_w[layer])
        out_b[layer] = grad_z.sum(axis=-2, out=out_b[layer])
        if layer == 0:
            break
        grad_input = np.matmul(grad_z, weights[layer].mT)
        if multiplier is not None:
            grad_input *= multiplier
        # layer_input is the previous layer's activation output h.
        multiply_by_slope(grad_input, layer_input, activation)
        grad_z = grad_input
    return out_w, out_b


def mean_cross_entropy(log_probs: np.ndarray, targets_onehot: np.ndarray) -> np.ndarray:
    """Mean over the n axis; keeps any leading model axes."""
    return (log_probs * targets_onehot).sum(axis=(-1, -2)) * (-1.0 / log_probs.shape[-2])


def mean_squared_error(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean over the n axis (and the outputs) of (ŷ − y)², as torch.nn.MSELoss(); keeps any
    leading model axes."""
    residuals = outputs - targets
    return (residuals * residuals).mean(axis=(-1, -2))


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[np.asarray(y, dtype=np.int64)]


def training_targets(y: np.ndarray, n_outputs: int, loss: str) -> np.ndarray:
    """What the loss compares the outputs with: one-hot rows for cross-entropy, y as an (n, 1)
    column of floats for mse."""
    if loss == "mse":
        return np.asarray(y, dtype=np.float64).reshape(-1, 1)
    return one_hot(y, n_outputs)


class MLP:
    """A trained or hand-made network: weights, biases, activation, keep probabilities, convention
    and loss.

    weights[l] has shape (fan_in, fan_out); keep_probs has one entry per dropout site (the inputs
    first, then each hidden layer), q = 1 - p. loss="cross_entropy" makes it a classifier (one
    output per class, a softmax on top); loss="mse" a regression network with one linear output.
    """

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        activation: str = "relu",
        keep_probs: Sequence[float] | None = None,
        convention: str = "standard",
        loss: str = "cross_entropy",
    ):
        self.weights = [np.asarray(W, dtype=np.float64) for W in weights]
        self.biases = [np.asarray(b, dtype=np.float64) for b in biases]
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ValueError("need one bias vector per weight matrix, and at least one layer")
        for layer, (W, b) in enumerate(zip(self.weights, self.biases)):
            if W.ndim != 2 or b.shape != (W.shape[1],):
                raise ValueError(
                    f"layer {layer}: weights must be (fan_in, fan_out) and biases (fan_out,), "
                    f"got {W.shape} and {b.shape}"
                )
            if layer and W.shape[0] != self.weights[layer - 1].shape[1]:
                raise ValueError(f"layer {layer}: fan_in {W.shape[0]} does not match layer below")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
        keep_probs = (1.0,) * len(self.weights) if keep_probs is None else tuple(keep_probs)
        if len(keep_probs) != len(self.weights):
            raise ValueError(
                f"keep_probs needs one entry per dropout site (inputs, then each hidden layer): "
                f"{len(self.weights)} here, got {len(keep_probs)}"
            )
        if any(not 0.0 < q <= 1.0 for q in keep_probs):
            raise ValueError(f"keep probabilities must be in (0, 1], got {keep_probs}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if loss == "mse" and self.weights[-1].shape[1] != 1:
            raise ValueError("a regression network (loss='mse') has one output unit, got "
                             f"{self.weights[-1].shape[1]}")
        self.loss = loss
        self.activation = activation
        self.keep_probs = tuple(float(q) for q in keep_probs)
        self.convention = convention

    @classmethod
    def from_weights(cls, weights, biases, activation="relu", keep_probs=None,
                     convention="standard", loss="cross_entropy") -> MLP:
        return cls(weights, biases, activation, keep_probs, convention, loss)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.weights[0].shape[0],) + tuple(W.shape[1] for W in self.weights)

    @property
    def site_sizes(self) -> tuple[int, ...]:
        """Units at each dropout site: inputs, then each hidden layer."""
        return self.layer_sizes[:-1]

    def _multipliers(self, keep_masks) -> list:
        if keep_masks is None:
            return test_time_multipliers(self.keep_probs, self.convention)
        if len(keep_masks) != len(self.weights):
            raise ValueError(
                f"need one keep mask per dropout site ({len(self.weights)}), got {len(keep_masks)}"
            )
        for site, (mask, units) in enumerate(zip(keep_masks, self.site_sizes)):
            if np.shape(mask)[-1] != units:
                raise ValueError(f"keep mask {site} must have {units} units, got {np.shape(mask)}")
        return training_multipliers(keep_masks, self.keep_probs, self.convention)

    def outputs(self, X: np.ndarray, keep_masks=None) -> np.ndarray:
        """The output layer's values: the logits of a classifier, ŷ (n, 1) of a regression
        network. keep_masks as in `predict_proba`."""
        outputs, _ = forward(
            self.weights, self.biases, np.asarray(X, dtype=np.float64), self.activation,
            self._multipliers(keep_masks),
        )
        return outputs

    def log_proba(self, X: np.ndarray, keep_masks=None) -> np.ndarray:
        if self.loss == "mse":
            raise ValueError("a regression network (loss='mse') has no class probabilities; "
                             "use predict(X) for its outputs")
        return log_softmax(self.outputs(X, keep_masks))

    def predict_proba(self, X: np.ndarray, keep_masks=None) -> np.ndarray:
        """Class probabilities.

        keep_masks=None: the deterministic test-time network (standard: outgoing weights × q;
        inverted: weights as they are). Otherwise one 0/1 mask per site, of shape (units,) (one
        mask for every point), (n, units) (one per point) or (K, 1, units) (a stack of K
        sub-networks, giving (K, n, classes)): that thinned network exactly as it ran in training.
        """
        return np.exp(self.log_proba(X, keep_masks))

    def predict(self, X: np.ndarray, keep_masks=None) -> np.ndarray:
        """Classifier: the predicted class of each point (n,). Regression: the outputs ŷ
        (n, 1). keep_masks=None is the test-time network; masks give that thinned network."""
        if self.loss == "mse":
            return self.outputs(X, keep_masks)
        return self.log_proba(X, keep_masks).argmax(axis=-1)

    def loss_and_grads(self, X, y, keep_masks):
        """The mean loss (cross-entropy, or the MSE of torch.nn.MSELoss) of the thinned network
        given by keep_masks (None: the test-time network) on (X, y), and its gradients."""
        X = np.asarray(X, dtype=np.float64)
        targets = training_targets(y, self.weights[-1].shape[1], self.loss)
        outputs, cache = forward(
            self.weights, self.biases, X, self.activation, self._multipliers(keep_masks)
        )
        if self.loss == "mse":
            loss = float(mean_squared_error(outputs, targets))
        else:
            outputs = log_softmax(outputs)
            loss = float(mean_cross_entropy(outputs, targets))
        weight_grads, bias_grads = backward(
            outputs, targets, cache, self.weights, self.activation, loss=self.loss)
        return loss, (weight_grads, bias_grads)

    def hidden_activations(self, X: np.ndarray, keep_masks=None) -> list[np.ndarray]:
        """Each hidden layer's activation output (before that layer's own dropout)."""
        _, cache = forward(
            self.weights, self.biases, np.asarray(X, dtype=np.float64), self.activation,
            self._multipliers(keep_masks),
        )
        return [layer_input for _, _, layer_input in cache[1:]]

    def test_time_weights(self) -> list[np.ndarray]:
        """The weights the test-time network effectively uses (standard: each row × q)."""
        return [W * test_time_scale(q, self.convention) for W, q in zip(self.weights,
                                                                          self.keep_probs)]

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in self.layer_sizes)
        loss = ", mse" if self.loss == "mse" else ""
        return (f"MLP({sizes}, {self.activation}, keep_probs={self.keep_probs}, "
                f"{self.convention}{loss})")
