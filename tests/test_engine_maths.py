"""Dropout's maths on tiny networks, where all 2^n sub-networks can be enumerated.

What holds exactly (linear networks; softmax as the only nonlinearity after the dropout site,
where weight scaling is the weighted normalised geometric mean) and what only approximately
(hidden nonlinearities after the site). See ../shared/dropout-facts.md.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dropout_viz.engine import (
    MLP,
    accuracy,
    ensemble_mean,
    log_loss,
    mc_predict,
    predictive_entropy,
    sample_keep_masks,
    thinned_predict,
)
from dropout_viz.engine import inference as inference_module


def all_masks(units: int, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Every 0/1 mask of `units` units, (2^units, units), and each one's probability."""
    masks = np.array(list(itertools.product((0.0, 1.0), repeat=units)))
    kept = masks.sum(axis=1)
    return masks, q**kept * (1.0 - q) ** (units - kept)


def enumerate_site(net: MLP, X: np.ndarray, site: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of every sub-network thinned at `site` only (others fully kept)."""
    masks, weights = all_masks(net.site_sizes[site], net.keep_probs[site])
    stacked = [np.ones((len(masks), units)) for units in net.site_sizes]
    stacked[site] = masks
    return thinned_predict(net, X, stacked), weights


def random_net(sizes, keep_probs, activation="tanh", seed=0, scale=1.5) -> MLP:
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, scale, size=(a, b)) for a, b in zip(sizes, sizes[1:])]
    biases = [rng.normal(0.0, 0.5, size=b) for b in sizes[1:]]
    return MLP(weights, biases, activation, keep_probs, "standard")


def points(n=25, d=3, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def test_enumeration_weights_are_a_distribution():
    masks, weights = all_masks(4, 0.3)
    assert masks.shape == (16, 4)
    assert weights.sum() == pytest.approx(1.0, abs=1e-15)
    assert weights[-1] == pytest.approx(0.3**4) and weights[0] == pytest.approx(0.7**4)


# ----------------------------------------------------------------------------- exact cases


def test_linear_network_mean_logits_equal_weight_scaled_logits():
    """Logistic regression with input dropout: logits are linear in the mask, so their
    probability-weighted mean over all 2^5 masks is the weight-scaled network's logits."""
    net = random_net((5, 3), keep_probs=(0.6,), seed=2)
    X = points(d=5)
    masks, weights = all_masks(5, 0.6)
    logits_by_hand = (X[None] * masks[:, None, :]) @ net.weights[0] + net.biases[0]
    mean_logits = np.tensordot(weights, logits_by_hand, axes=1)
    np.testing.assert_allclose(mean_logits, X @ (0.6 * net.weights[0]) + net.biases[0],
                               rtol=0, atol=1e-12)
    # The engine's sub-networks and test-time network agree: log p_k − log p_0 is a logit gap.
    log_probs = np.log(enumerate_site(net, X, 0)[0])
    mean_gaps = np.tensordot(weights, log_probs - log_probs[..., :1], axes=1)
    test_log_probs = net.log_proba(X)
    np.testing.assert_allclose(mean_gaps, test_log_probs - test_log_probs[:, :1],
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "sizes, keep_probs, site, activation",
    [
        ((5, 3), (0.6,), 0, "tanh"),  # logistic regression with input dropout
        ((3, 4, 2), (1.0, 0.5), 1, "tanh"),  # dropout on the last hidden layer
        ((3, 6, 3), (1.0, 0.7), 1, "relu"),
    ],
    ids=["logistic-input-dropout", "tanh-last-hidden", "relu-last-hidden"],
)
def test_weight_scaling_is_the_weighted_geometric_mean(sizes, keep_probs, site, activation):
    net = random_net(sizes, keep_probs, activation, seed=3)
    X = points(d=sizes[0], seed=4)
    probs, weights = enumerate_site(net, X, site)
    assert probs.shape == (2 ** sizes[site], len(X), sizes[-1])
    weight_scaled = net.predict_proba(X)
    geometric = ensemble_mean(probs, "geometric", weights)
    np.testing.assert_allclose(geometric, weight_scaled, rtol=0, atol=1e-12)
    # ... and NOT the arithmetic mean, which Monte-Carlo dropout estimates.
    arithmetic = ensemble_mean(probs, "arithmetic", weights)
    assert np.abs(arithmetic - weight_scaled).max() > 1e-2
    np.testing.assert_allclose(arithmetic.sum(axis=-1), 1.0, atol=1e-12)


def test_unweighted_geometric_mean_is_not_weight_scaling():
    """The sub-network probabilities q^k (1−q)^(n−k) matter unless q = 0.5."""
    net = random_net((5, 3), keep_probs=(0.8,), seed=5)
    X = points(d=5)
    probs, _ = enumerate_site(net, X, 0)
    assert np.abs(ensemble_mean(probs, "geometric") - net.predict_proba(X)).max() > 1e-2


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_weight_scaling_only_approximates_with_a_hidden_nonlinearity_after_dropout(activation):
    """Input dropout feeding a hidden tanh/relu layer: no identity holds any more.

    Measured (seed 6, weights N(0, 0.7²), 25 points, p_input = 0.5, 3 inputs), |mean − weight
    scaled| over points and classes: arithmetic mean ≈ 0.049 on average, 0.20 at worst (tanh),
    0.023 / 0.076 (relu); the geometric mean misses by 0.026 / 0.10 (tanh), 0.029 / 0.077 (relu).
    So: clearly not exact, but of the order of a few hundredths on average.
    """
    net = random_net((3, 4, 2), keep_probs=(0.5, 1.0), activation=activation, seed=6, scale=0.7)
    X = points(seed=7)
    probs, weights = enumerate_site(net, X, 0)
    weight_scaled = net.predict_proba(X)
    for kind in ("arithmetic", "geometric"):
        gap = np.abs(ensemble_mean(probs, kind, weights) - weight_scaled)
        assert 1e-2 < gap.mean() < 0.06
        assert gap.max() < 0.25


# ----------------------------------------------------------------------------- conventions


def convention_pair(seed=8) -> tuple[MLP, MLP]:
    """The same function in both conventions: W_inverted[l] = q_l · W_standard[l]."""
    standard = random_net((3, 5, 4, 3), keep_probs=(0.8, 0.5, 0.6), seed=seed)
    inverted = MLP([q * W for W, q in zip(standard.weights, standard.keep_probs)],
                   standard.biases, "tanh", standard.keep_probs, "inverted")
    return standard, inverted


def test_conventions_give_the_same_test_time_network_when_weights_are_mapped():
    standard, inverted = convention_pair()
    X = points()
    np.testing.assert_allclose(inverted.predict_proba(X), standard.predict_proba(X),
                               rtol=0, atol=1e-13)
    for W_inv, W_eff in zip(inverted.test_time_weights(), standard.test_time_weights()):
        np.testing.assert_allclose(W_inv, W_eff, rtol=0, atol=1e-15)
    # Unmapped, the same weights are different networks.
    same_weights = MLP(standard.weights, standard.biases, "tanh", standard.keep_probs, "inverted")
    assert np.abs(same_weights.predict_proba(X) - standard.predict_proba(X)).max() > 1e-2


def test_conventions_train_the_same_thinned_networks_when_weights_are_mapped():
    """Inverted runs x·(m/q)·(qW) = x·m·W: the same sub-network; its gradient is 1/q times."""
    standard, inverted = convention_pair()
    X = points()
    y = np.arange(len(X)) % 3
    rng = np.random.default_rng(9)
    masks = [(rng.random((len(X), u)) < q).astype(float)
             for u, q in zip(standard.site_sizes, standard.keep_probs)]
    np.testing.assert_allclose(inverted.predict_proba(X, masks), standard.predict_proba(X, masks),
                               rtol=0, atol=1e-13)
    loss_std, (wg_std, bg_std) = standard.loss_and_grads(X, y, masks)
    loss_inv, (wg_inv, bg_inv) = inverted.loss_and_grads(X, y, masks)
    assert loss_inv == pytest.approx(loss_std, rel=1e-13)
    for g_inv, g_std, q in zip(wg_inv, wg_std, standard.keep_probs):
        np.testing.assert_allclose(g_inv, g_std / q, rtol=1e-10, atol=1e-15)
    for g_inv, g_std in zip(bg_inv, bg_std):
        np.testing.assert_allclose(g_inv, g_std, rtol=1e-10, atol=1e-15)


def test_inverted_network_without_dropout_masks_is_the_plain_network():
    net = random_net((3, 4, 2), keep_probs=(0.5, 0.5), seed=10)
    inverted = MLP(net.weights, net.biases, "tanh", (0.5, 0.5), "inverted")
    X = points()
    by_hand = np.tanh(X @ net.weights[0] + net.biases[0]) @ net.weights[1] + net.biases[1]
    expected = np.exp(by_hand - np.log(np.exp(by_hand).sum(axis=1, keepdims=True)))
    np.testing.assert_allclose(inverted.predict_proba(X), expected, rtol=0, atol=1e-14)


# ----------------------------------------------------------------------------- Monte-Carlo


def test_each_mc_sample_is_the_thinned_network_with_its_mask():
    net = random_net((3, 6, 5, 3), keep_probs=(0.8, 0.5, 0.5), seed=11)
    X = points()
    probs = mc_predict(net, X, n_samples=12, seed=4)
    assert probs.shape == (12, 25, 3)
    masks = sample_keep_masks(net.keep_probs, net.site_sizes, 12, seed=4)
    for k in range(12):
        np.testing.assert_allclose(probs[k], net.predict_proba(X, [m[k] for m in masks]),
                                   rtol=0, atol=1e-15)
    # Different masks, different sub-networks; the same seed, the same ones.
    assert np.abs(probs[0] - probs[1]).max() > 1e-3
    assert np.array_equal(mc_predict(net, X, n_samples=12, seed=4), probs)


def test_mc_with_one_sample_and_no_dropout_is_the_deterministic_network():
    for convention in ("standard", "inverted"):
        plain = random_net((3, 6, 3), keep_probs=(1.0, 1.0), seed=12)
        net = MLP(plain.weights, plain.biases, "tanh", (1.0, 1.0), convention)
        X = points()
        probs = mc_predict(net, X, n_samples=1, seed=0)
        np.testing.assert_allclose(probs[0], net.predict_proba(X), rtol=0, atol=1e-15)


def test_mc_rejects_zero_samples():
    with pytest.raises(ValueError, match="n_samples"):
        mc_predict(random_net((3, 2), (0.5,)), points(), n_samples=0)


def test_mc_mean_converges_to_the_arithmetic_ensemble_mean():
    """Error ~ σ/√K, with σ the spread of the sub-networks' probabilities (enumerated).

    The error divided by σ/√K has unit root-mean-square at every K. One run's K masks serve all
    points, so the points' errors are correlated: 24 runs per K keep the estimate within ±40%.
    """
    net = random_net((3, 8, 2), keep_probs=(1.0, 0.5), seed=13)
    X = points(n=10)
    probs, weights = enumerate_site(net, X, 1)
    exact = ensemble_mean(probs, "arithmetic", weights)
    spread = np.sqrt(ensemble_mean((probs - exact) ** 2, "arithmetic", weights))
    assert spread.min() > 1e-3
    for k in (16, 256, 4096):
        standardised = np.array([
            (ensemble_mean(mc_predict(net, X, n_samples=k, seed=100 * k + seed)) - exact)
            / (spread / np.sqrt(k)) for seed in range(24)])
        assert np.abs(standardised).max() < 5.0
        assert 0.6 < np.sqrt(np.mean(standardised ** 2)) < 1.4, k
        if k == 4096:  # what the error is in probability at the largest K
            assert np.abs(standardised * spread / np.sqrt(k)).max() < 0.03


def test_chunked_stacked_pass_equals_one_pass(monkeypatch):
    net = random_net((3, 6, 3), keep_probs=(0.8, 0.5), seed=14)
    X = points()
    whole = mc_predict(net, X, n_samples=50, seed=1)
    monkeypatch.setattr(inference_module, "_MAX_STACK_ELEMENTS", 400)  # ≈ 2 networks per chunk
    np.testing.assert_array_equal(mc_predict(net, X, n_samples=50, seed=1), whole)


# ----------------------------------------------------------------------------- small helpers


def test_ensemble_mean_and_scores_on_hand_made_numbers():
    probs = np.array([[[0.9, 0.1]], [[0.5, 0.5]]])  # two networks, one point
    np.testing.assert_allclose(ensemble_mean(probs), [[0.7, 0.3]])
    np.testing.assert_allclose(ensemble_mean(probs, weights=np.array([3.0, 1.0])), [[0.8, 0.2]])
    geometric = np.sqrt([0.45, 0.05])
    np.testing.assert_allclose(ensemble_mean(probs, "geometric"), [geometric / geometric.sum()])
    expected_entropy = -(0.7 * np.log(0.7) + 0.3 * np.log(0.3))
    np.testing.assert_allclose(predictive_entropy(probs), [expected_entropy])
    assert log_loss(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0])) == pytest.approx(
        -(np.log(0.9) + np.log(0.2)) / 2)
    assert accuracy(np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]), np.array([0, 0, 1])) \
        == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="kind"):
        ensemble_mean(probs, "harmonic")
