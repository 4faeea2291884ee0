"""Backpropagation through dropout sites checked against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_viz.engine import ACTIVATIONS, CONVENTIONS, MLP

N_POINTS, LAYER_SIZES = 7, (4, 5, 6, 3)  # 2 hidden layers, 3 classes
KEEP_PROBS = (0.8, 0.6, 0.6)  # p_input = 0.2, p_hidden = 0.4
EPS = 1e-6


def random_net(activation: str, convention: str, seed: int) -> MLP:
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, 0.8, size=(a, b)) for a, b in zip(LAYER_SIZES, LAYER_SIZES[1:])]
    biases = [rng.normal(0.0, 0.3, size=b) for b in LAYER_SIZES[1:]]
    return MLP(weights, biases, activation, KEEP_PROBS, convention)


def random_masks(shared: bool, seed: int) -> list[np.ndarray]:
    """One 0/1 keep mask per site, (units,) shared by all points or (n, units) per point."""
    rng = np.random.default_rng(seed)
    masks = []
    for units, q in zip(LAYER_SIZES[:-1], KEEP_PROBS):
        shape = (units,) if shared else (N_POINTS, units)
        mask = (rng.random(shape) < q).astype(float)
        mask.flat[0] = 1.0  # at least one unit per site survives, so every layer matters
        masks.append(mask)
    return masks


def pre_activations(net: MLP, X: np.ndarray, masks: list[np.ndarray]) -> list[np.ndarray]:
    """Every hidden layer's input to the activation, recomputed by hand."""
    scale = [q if net.convention == "inverted" else 1.0 for q in net.keep_probs]
    h, result = X, []
    for layer in range(len(net.weights) - 1):
        z = (h * masks[layer] / scale[layer]) @ net.weights[layer] + net.biases[layer]
        result.append(z)
        h = np.maximum(z, 0.0)
    return result


def numerical_gradient(net: MLP, X, y, masks, array: np.ndarray) -> np.ndarray:
    """Central differences of the loss with respect to every entry of `array` (in place)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + EPS
        loss_plus, _ = net.loss_and_grads(X, y, masks)
        array[index] = original - EPS
        loss_minus, _ = net.loss_and_grads(X, y, masks)
        array[index] = original
        grad[index] = (loss_plus - loss_minus) / (2 * EPS)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Relative error of the whole array, ‖a − n‖ / (‖a‖ + ‖n‖)."""
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / max(scale, 1e-300))


@pytest.mark.parametrize("shared_masks", [True, False], ids=["shared-mask", "per-example-mask"])
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences(activation, convention, shared_masks):
    seed = ACTIVATIONS.index(activation) * 10 + CONVENTIONS.index(convention) * 2 + shared_masks
    net = random_net(activation, convention, seed)
    rng = np.random.default_rng(seed + 100)
    X = rng.normal(size=(N_POINTS, LAYER_SIZES[0]))
    y = rng.integers(0, LAYER_SIZES[-1], size=N_POINTS)
    masks = random_masks(shared_masks, seed + 200)
    assert any((m == 0).any() for m in masks), "the masks must actually drop something"

    loss, (weight_grads, bias_grads) = net.loss_and_grads(X, y, masks)
    assert np.isfinite(loss) and loss > 0
    if activation == "relu":
        # Finite differences straddling a kink would be wrong, not the backward pass: keep every
        # hidden pre-activation well away from 0 compared with what a step of EPS can move it.
        assert min(np.abs(z).min() for z in pre_activations(net, X, masks)) > 1e-4

    assert_gradients_match(net, X, y, masks, weight_grads, bias_grads)


def assert_gradients_match(net: MLP, X, y, masks, weight_grads, bias_grads) -> None:
    """Every weight's and bias's gradient against central differences of the loss."""
    for layer in range(len(net.weights)):
        for analytic, array in ((weight_grads[layer], net.weights[layer]),
                                (bias_grads[layer], net.biases[layer])):
            numeric = numerical_gradient(net, X, y, masks, array)
            assert analytic.shape == array.shape
            assert relative_error(analytic, numeric) < 1e-6
            # Entry by entry too: absolute error tiny next to the largest gradient entry.
            assert np.max(np.abs(analytic - numeric)) < 1e-7 * max(np.abs(numeric).max(), 1e-3)


def test_dropped_hidden_unit_gets_exactly_zero_gradient():
    """A hidden unit whose shared keep mask is 0 neither feeds nor learns in that step."""
    net = random_net("tanh", "inverted", seed=7)
    rng = np.random.default_rng(8)
    X = rng.normal(size=(N_POINTS, LAYER_SIZES[0]))
    y = rng.integers(0, 3, size=N_POINTS)
    masks = [np.ones(u) for u in LAYER_SIZES[:-1]]
    masks[1][2] = 0.0  # unit 2 of hidden layer 1
    _, (weight_grads, bias_grads) = net.loss_and_grads(X, y, masks)
    assert np.all(weight_grads[0][:, 2] == 0.0)  # its incoming weights
    assert bias_grads[0][2] == 0.0
    assert np.all(weight_grads[1][2, :] == 0.0)  # its outgoing weights
    assert np.abs(weight_grads[0][:, [0, 1, 3, 4]]).min() > 0.0
