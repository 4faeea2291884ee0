"""The Learn tab's live numbers against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_viz import lesson
from dropout_viz.data import load_dataset
from dropout_viz.engine import MLP, TrainConfig, sample_keep_masks, train


def random_net(convention: str, hidden=(5, 4), keep_probs=(1.0, 0.6, 0.7), activation="tanh",
               seed=1) -> MLP:
    rng = np.random.default_rng(seed)
    sizes = (3,) + hidden + (2,)
    weights = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=b) for b in sizes[1:]]
    return MLP(weights, biases, activation, keep_probs, convention)


def direct_site_input(net: MLP, x: np.ndarray, site: int) -> np.ndarray:
    """The activations at `site`, by hand: every layer below as at test time."""
    h = np.asarray(x, dtype=float)
    for layer in range(site):
        q = net.keep_probs[layer]
        factor = q if net.convention == "standard" else 1.0
        h = np.tanh((h * factor) @ net.weights[layer] + net.biases[layer])
    return h


@pytest.mark.parametrize("convention", ["standard", "inverted"])
@pytest.mark.parametrize("site", [1, 2])
def test_unit_input_matches_direct_loops(convention, site):
    net = random_net(convention)
    x = np.array([0.3, -1.2, 0.8])
    result = lesson.unit_input(net, x, site=site, unit=1, n_masks=50, seed=3)
    h = direct_site_input(net, x, site)
    W, b, q = net.weights[site], net.biases[site], net.keep_probs[site]
    scale = 1 / q if convention == "inverted" else 1.0

    # The same masks, replayed from the seed (the k-th sampled sub-network's mask at this
    # site), one by one with plain Python sums.
    masks = sample_keep_masks(net.keep_probs, net.site_sizes, 50, seed=3)[site]
    assert set(np.unique(masks)) <= {0.0, 1.0}
    by_hand = [sum(m[i] * scale * h[i] * W[i, 1] for i in range(len(h))) + b[1] for m in masks]
    np.testing.assert_allclose(result.sampled, by_hand, rtol=1e-12)
    assert result.sampled_mean == pytest.approx(np.mean(by_hand), rel=1e-12)

    exact_mean = sum(q * scale * h[i] * W[i, 1] for i in range(len(h))) + b[1]
    assert result.expected == pytest.approx(exact_mean, rel=1e-12)
    test_weight = W[:, 1] * q if convention == "standard" else W[:, 1]
    assert result.test_time == pytest.approx(h @ test_weight + b[1], rel=1e-12)
    # The point of the lesson: the test-time input IS the mean training-time input.
    assert result.test_time == pytest.approx(result.expected, rel=1e-12)
    if convention == "standard":
        assert result.without_fix == pytest.approx(h @ W[:, 1] + b[1], rel=1e-12)
    else:
        assert result.without_fix == pytest.approx(q * (h @ W[:, 1]) + b[1], rel=1e-12)


def test_sampled_mean_converges_to_expected_input():
    net = random_net("standard", hidden=(40, 30), keep_probs=(1.0, 0.5, 0.5))
    result = lesson.unit_input(net, np.array([1.0, 0.5, -0.5]), site=1, unit=0, n_masks=20000)
    assert result.standard_error > 0
    assert abs(result.sampled_mean - result.expected) < 4 * result.standard_error
    # Forgetting × q would feed the unit a visibly different input.
    assert abs(result.without_fix - result.expected) > 4 * result.standard_error


def test_test_time_input_agrees_with_the_engine_forward_pass():
    # For the last site the receiving units are the logits: softmax(test-time logits) must
    # equal the engine's test-time probabilities.
    net = random_net("standard")
    x = np.array([0.1, 0.2, -0.4])
    logits = [lesson.unit_input(net, x, site=2, unit=j, n_masks=2).test_time for j in range(2)]
    probs = np.exp(logits) / np.sum(np.exp(logits))
    np.testing.assert_allclose(probs, net.predict_proba(x[None])[0], rtol=1e-12)


def test_site_zero_uses_the_raw_inputs_and_bad_indices_are_refused():
    net = random_net("inverted", keep_probs=(0.8, 0.6, 0.7))
    x = np.array([2.0, -1.0, 0.5])
    np.testing.assert_array_equal(lesson.site_activations(net, x, 0), x[None])
    assert lesson.dropout_sites(net) == [0, 1, 2]
    with pytest.raises(ValueError, match=r"unit must be in \[0, 4\]"):
        lesson.unit_input(net, x, site=0, unit=5)
    with pytest.raises(ValueError, match=r"site must be in \[0, 2\]"):
        lesson.site_activations(net, x, 3)


def test_no_dropout_means_training_and_test_inputs_agree_for_every_mask():
    net = random_net("standard", keep_probs=(1.0, 1.0, 1.0))
    result = lesson.unit_input(net, np.array([0.0, 1.0, 2.0]), site=1, unit=2, n_masks=10)
    np.testing.assert_allclose(result.sampled, result.test_time)
    assert result.standard_error == pytest.approx(0.0, abs=1e-15)
    assert lesson.dropout_sites(net) == []


def test_exact_case_geometric_mean_matches_weight_scaling_better_than_arithmetic():
    # Dropout only on the last hidden layer: weight scaling = normalised geometric mean of
    # all sub-networks, so the sampled geometric mean approaches it; the arithmetic one need not.
    net = random_net("standard", hidden=(30,), keep_probs=(1.0, 0.5))
    X = np.random.default_rng(0).normal(size=(50, 3)) * 2
    assert lesson.softmax_follows_dropout_only(net)
    comparison = lesson.compare_ensembles(net, X, n_samples=4000, seed=1)
    assert comparison.exact_case
    assert comparison.geometric_gap < 0.01
    assert comparison.geometric_gap < comparison.arithmetic_gap
    assert 0.0 <= comparison.agreement <= 1.0


def test_two_dropout_layers_are_not_the_exact_case():
    assert not lesson.softmax_follows_dropout_only(random_net("standard"))


def test_mask_counts_per_scope():
    common = dict(epochs=10, n_train=100, batch_size=32, n_droppable=8, width=4, p_hidden=0.5)
    assert lesson.mask_counts("epoch", **common).masks_drawn == 10
    assert lesson.mask_counts("batch", **common).masks_drawn == 40  # 4 batches per epoch
    example = lesson.mask_counts("example", **common)
    assert example.masks_drawn == 1000
    assert example.possible == 256
    assert example.whole_layer_dropped == pytest.approx(0.0625)  # pⁿ = 0.5⁴


def test_unit_input_on_a_trained_run():
    dataset = load_dataset("moons", n_samples=60, noise=0.3, test_fraction=0.5, seed=0)
    run = train(dataset, TrainConfig(hidden=(16, 16), p_hidden=0.5, convention="inverted",
                                     epochs=3, seed=0))
    net = run.network()
    result = lesson.unit_input(net, dataset.X_test[0], site=2, unit=0, n_masks=5000)
    assert result.keep_prob == pytest.approx(0.5)
    assert result.test_time == pytest.approx(result.expected, rel=1e-12)
    assert abs(result.sampled_mean - result.expected) < 5 * result.standard_error + 1e-12


# --- the Learn tab's qualified claims -------------------------------------------------------


def test_all_sites_input_replays_training_time_passes_by_hand():
    net = random_net("inverted", keep_probs=(0.8, 0.6, 0.7))
    x = np.array([0.4, -0.9, 1.1])
    result = lesson.all_sites_input(net, x, site=2, unit=1, n_masks=40, seed=5)
    assert result.sites == (0, 1, 2) and result.n_masks == 40
    masks = sample_keep_masks(net.keep_probs, net.site_sizes, 40, seed=5)  # replayed
    h = np.repeat(x[None], 40, axis=0)
    for layer, q in enumerate(net.keep_probs):
        h = h * masks[layer] / q
        z = h @ net.weights[layer] + net.biases[layer]
        h = np.tanh(z)
    assert result.mean == pytest.approx(z[:, 1].mean(), rel=1e-12)
    assert result.standard_error == pytest.approx(z[:, 1].std(ddof=1) / np.sqrt(40), rel=1e-12)
    # One site at or below the unit: nothing compounds, and there is no second number.
    assert lesson.all_sites_input(net, x, site=0, unit=1) is None
    assert lesson.all_sites_input(random_net("standard", keep_probs=(1.0, 1.0, 0.5)), x,
                                  site=2, unit=0) is None


@pytest.mark.parametrize("convention", ["standard", "inverted"])
def test_exactly_the_mean_only_right_after_one_site_with_the_layers_below_at_test_time(
        convention):
    """The Learn tab's qualification: with the layers below at test time the unit after a site
    gets exactly the mean input; with dropout at both hidden layers at once it does not."""
    net = random_net(convention, hidden=(12, 10), keep_probs=(1.0, 0.5, 0.5), seed=4)
    x = np.array([1.2, -0.7, 0.9])
    one_site = lesson.unit_input(net, x, site=2, unit=0, n_masks=20000, seed=1)
    assert one_site.test_time == pytest.approx(one_site.expected, rel=1e-12)
    assert abs(one_site.sampled_mean - one_site.test_time) < 4 * one_site.standard_error
    both = lesson.all_sites_input(net, x, site=2, unit=0, n_masks=20000, seed=1)
    assert both.sites == (1, 2)
    assert abs(both.mean - one_site.test_time) > 6 * both.standard_error


def sgd_steps(net: MLP, lrs: list[float], bias_lr: float, X, y, masks_per_step) -> MLP:
    """Plain SGD with a learning rate per layer (weights) and one for the biases."""
    weights = [W.copy() for W in net.weights]
    biases = [b.copy() for b in net.biases]
    for masks in masks_per_step:
        step = MLP(weights, biases, net.activation, net.keep_probs, net.convention)
        _, (weight_grads, bias_grads) = step.loss_and_grads(X, y, masks)
        for layer in range(len(weights)):
            weights[layer] = weights[layer] - lrs[layer] * weight_grads[layer]
            biases[layer] = biases[layer] - bias_lr * bias_grads[layer]
    return MLP(weights, biases, net.activation, net.keep_probs, net.convention)


def test_per_layer_rescale_makes_inverted_training_equal_standard_training():
    """Each layer after a site: initial weights × q, SGD learning rate × q² (biases as they
    are) reproduce the standard run exactly; one global rescale does not, nor does none."""
    keep = (1.0, 0.5, 0.7)  # no input dropout: the first layer needs no rescale at all
    standard = random_net("standard", hidden=(6, 5), keep_probs=keep, seed=2)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(16, 3))
    y = rng.integers(0, 2, size=16)
    masks = [[(rng.random((16, units)) < q).astype(float) for units, q in
              zip(standard.site_sizes, keep)] for _ in range(25)]
    lr = 0.2
    trained = sgd_steps(standard, [lr] * 3, lr, X, y, masks)

    def inverted_run(init_scale, lrs):
        start = MLP([W * s for W, s in zip(standard.weights, init_scale)], standard.biases,
                    "tanh", keep, "inverted")
        return sgd_steps(start, lrs, lr, X, y, masks)

    per_layer = inverted_run(keep, [lr * q**2 for q in keep])
    for W_inv, W_std, q in zip(per_layer.weights, trained.weights, keep):
        np.testing.assert_allclose(W_inv, q * W_std, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(per_layer.predict_proba(X), trained.predict_proba(X),
                               rtol=0, atol=1e-10)
    # One global rescale (every layer, with the hidden layers' q) or none: a different run.
    q = 0.5
    for other in (inverted_run([q] * 3, [lr * q**2] * 3), inverted_run(keep, [lr] * 3)):
        assert np.abs(other.predict_proba(X) - trained.predict_proba(X)).max() > 1e-3
