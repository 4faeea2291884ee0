"""The training loop's fast path (engine/fast_path.py) against the reference passes of
engine/network.py: the same logits, log-probabilities and gradients, for every activation,
with and without input dropout, for a stack of several models at once."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_viz.engine import dropout
from dropout_viz.engine.fast_path import FastStep, with_ones_column
from dropout_viz.engine.network import (
    ACTIVATIONS,
    MLP,
    backward,
    forward,
    log_softmax,
    one_hot,
)
from dropout_viz.engine.run import ParameterLayout

SIZES = (3, 7, 5, 4)  # 3 inputs, two hidden layers, 4 classes
N_MODELS, N_POINTS = 3, 40


def random_case(activation: str, input_dropout: bool, seed: int):
    rng = np.random.default_rng(seed)
    layout = ParameterLayout(SIZES)
    params = rng.normal(0, 0.7, size=(N_MODELS, layout.size))
    grads = np.full_like(params, np.nan)  # every entry must be written
    step = FastStep(SIZES, params, grads, activation, N_MODELS, np.dtype(np.float64))
    X = rng.normal(size=(N_POINTS, SIZES[0]))
    Y = one_hot(rng.integers(0, SIZES[-1], N_POINTS), SIZES[-1])
    keep_probs = (0.8 if input_dropout else 1.0, 0.5, 0.6)
    masks = [(rng.random((N_MODELS, N_POINTS, units)) < q).astype(float)
             for units, q in zip(SIZES[:-1], keep_probs)]
    multipliers = [None if q == 1.0 else m * dropout.training_scale(q, "inverted")
                   for m, q in zip(masks, keep_probs)]
    return layout, params, grads, step, X, Y, keep_probs, multipliers


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("input_dropout", [False, True])
def test_a_compiled_training_step_equals_the_reference_forward_and_backward(activation,
                                                                            input_dropout):
    layout, params, grads, step, X, Y, _, multipliers = random_case(
        activation, input_dropout, seed=ACTIVATIONS.index(activation) + 10 * input_dropout)
    X_aug = np.broadcast_to(with_ones_column(X), (N_MODELS,) + X.shape[:1] + (X.shape[1] + 1,))
    Y_models = np.broadcast_to(Y, (N_MODELS,) + Y.shape)
    shifted = np.empty((N_MODELS, N_POINTS, SIZES[-1]))
    denominators = np.empty((N_MODELS, N_POINTS, 1))
    step.run(step.plan_forward_backward(X_aug, Y_models, multipliers, shifted, denominators))

    for m in range(N_MODELS):
        weights, biases = layout.views(params[m])
        site_multipliers = [None if mult is None else mult[m] for mult in multipliers]
        logits, cache = forward(weights, biases, X, activation, site_multipliers)
        log_probs = log_softmax(logits)
        np.testing.assert_allclose(shifted[m] - np.log(denominators[m]), log_probs,
                                   rtol=0, atol=1e-12)
        weight_grads, bias_grads = backward(log_probs, Y, cache, weights, activation)
        fast_w, fast_b = layout.views(grads[m])
        for reference, fast in zip(weight_grads + bias_grads, fast_w + fast_b):
            np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("convention", dropout.CONVENTIONS)
def test_the_compiled_evaluation_equals_the_reference_test_time_network(activation, convention):
    layout, params, _, step, X, _, keep_probs, _ = random_case(activation, True, seed=7)
    test_time = [None if f is None else np.full((N_MODELS, 1, 1), f)
                 for f in dropout.test_time_multipliers(keep_probs, convention)]
    plan, log_probs = step.plan_forward(with_ones_column(X), test_time)
    step.run(plan)
    for m in range(N_MODELS):
        weights, biases = layout.views(params[m])
        net = MLP(weights, biases, activation, keep_probs, convention)
        np.testing.assert_allclose(log_probs[m], net.log_proba(X), rtol=0, atol=1e-12)
    # Not a vacuous comparison: the models differ, and so do their predictions.
    assert np.abs(log_probs[0] - log_probs[1]).max() > 1e-3


def test_the_reference_log_softmax_is_the_textbook_formula():
    logits = np.random.default_rng(3).normal(0, 30, size=(2, 50, 10))
    textbook = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1,
                               keepdims=True)) - logits.max(-1, keepdims=True)
    np.testing.assert_allclose(log_softmax(logits), textbook, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.exp(log_softmax(logits)).sum(-1), 1.0, rtol=1e-14)


def test_training_holds_numpys_blas_to_one_thread_and_gives_the_threads_back():
    """`one_blas_thread` (its pools found once, then reused) limits the BLAS that NumPy
    multiplies with while inside, and restores every pool after."""
    from threadpoolctl import threadpool_info

    from dropout_viz.engine.fast_path import one_blas_thread

    def threads() -> dict[str, int]:
        return {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()}

    def numpys_blas(pools: dict[str, int]) -> list[int]:
        return [n for path, n in pools.items() if "numpy" in path and "blas" in path]

    before = threads()
    assert numpys_blas(before)  # NumPy's wheel ships its OpenBLAS under numpy.libs
    for _ in range(2):  # the second time with the pools found the first time
        with one_blas_thread():
            assert set(numpys_blas(threads())) == {1}
        assert threads() == before
