"""Keep masks: their statistics, their shape per scope, what they freeze, and exact replay."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from helpers import random_dataset

from dropout_viz.engine import MASK_SCOPES, TrainConfig, sample_keep_masks, train
from dropout_viz.engine.masks import epoch_keep_masks

SITE_SIZES = (12, 40, 30)
KEEP_PROBS = (0.8, 0.5, 0.3)  # a different q per site shows the sites are split correctly


make_dataset = functools.partial(random_dataset, n_features=6)


def assert_binomial(masks: list[np.ndarray], q: float) -> None:
    """The kept fraction lies within 4 binomial standard deviations of q."""
    kept = np.concatenate([m.ravel() for m in masks])
    assert set(np.unique(kept)) <= {0.0, 1.0}
    n = kept.size
    assert abs(kept.sum() - n * q) <= 4 * np.sqrt(n * q * (1 - q)), (kept.mean(), q, n)


@pytest.mark.parametrize("scope", MASK_SCOPES)
def test_mask_shapes_and_drop_rate_per_scope(scope):
    n_train, batch_size = 50, 16  # 4 batches, the last one of 2 examples
    per_site = [[] for _ in SITE_SIZES]
    for epoch in range(60):
        for batch in range(4):
            masks = epoch_keep_masks(3, epoch, batch, n_train, batch_size, SITE_SIZES,
                                     KEEP_PROBS, scope)
            rows = min(batch_size, n_train - batch * batch_size)
            for site, (mask, units) in enumerate(zip(masks, SITE_SIZES)):
                expected = (rows, units) if scope == "example" else (units,)
                assert mask.shape == expected
                per_site[site].append(mask)
    for site_masks, q in zip(per_site, KEEP_PROBS):
        if scope == "epoch":
            site_masks = site_masks[::4]  # the 4 batches of an epoch share one mask
        assert_binomial(site_masks, q)


def test_sample_keep_masks_shapes_and_drop_rate():
    masks = sample_keep_masks(KEEP_PROBS, SITE_SIZES, n_samples=500, seed=1)
    assert [m.shape for m in masks] == [(500, u) for u in SITE_SIZES]
    for mask, q in zip(masks, KEEP_PROBS):
        assert_binomial([mask], q)
    again = sample_keep_masks(KEEP_PROBS, SITE_SIZES, n_samples=500, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(masks, again))
    other = sample_keep_masks(KEEP_PROBS, SITE_SIZES, n_samples=500, seed=2)
    assert not np.array_equal(masks[1], other[1])


def test_no_dropout_keeps_everything():
    masks = epoch_keep_masks(0, 0, 0, 10, 5, (4, 8), (1.0, 1.0), "example")
    assert all(np.all(m == 1.0) for m in masks)


def test_masks_are_nested_across_drop_rates():
    """Shared random levels: every unit kept at p = 0.5 is also kept at p = 0.3."""
    heavy = epoch_keep_masks(5, 2, 1, 30, 10, (20, 20), (0.5, 0.5), "example")
    light = epoch_keep_masks(5, 2, 1, 30, 10, (20, 20), (0.7, 0.7), "example")
    for h, lt in zip(heavy, light):
        assert np.all(h <= lt)
        assert lt.sum() > h.sum()


def test_batch_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="batch must be in"):
        epoch_keep_masks(0, 0, 4, 40, 10, (3,), (0.5,), "batch")


# ----------------------------------------------------------------------------- scopes in a run


def run_with(scope: str, **changes):
    config = TrainConfig(hidden=(16, 12), activation="tanh", p_input=0.3, p_hidden=0.5,
                         mask_scope=scope, convention="inverted", optimizer="sgd", lr=0.1,
                         batch_size=8, epochs=4, seed=11).replace(**changes)
    return train(make_dataset(), config)


def test_epoch_scope_mask_is_constant_within_epoch_and_changes_between_epochs():
    run = run_with("epoch")
    assert run.n_batches == 5
    for epoch in range(4):
        first = run.keep_masks(epoch, 0)
        for batch in range(1, 5):
            assert all(np.array_equal(a, b) for a, b in zip(first, run.keep_masks(epoch, batch)))
    for epoch in range(1, 4):
        assert not all(np.array_equal(a, b) for a, b in
                       zip(run.keep_masks(epoch - 1), run.keep_masks(epoch)))


def test_batch_scope_mask_changes_between_batches():
    run = run_with("batch")
    masks = [np.concatenate(run.keep_masks(0, b)) for b in range(run.n_batches)]
    assert all(m.shape == (6 + 16 + 12,) for m in masks)
    assert len({m.tobytes() for m in masks}) == run.n_batches


def test_example_scope_gives_each_example_its_own_mask():
    run = run_with("example")
    masks = run.keep_masks(1, 2)
    assert [m.shape for m in masks] == [(8, 6), (8, 16), (8, 12)]
    rows = np.concatenate(masks, axis=1)
    assert len({row.tobytes() for row in rows}) == 8  # 34 units: equal rows would be a bug


@pytest.mark.parametrize("convention", ["standard", "inverted"])
def test_unit_dropped_for_a_whole_epoch_does_not_learn_in_it(convention):
    """Plain SGD, no L2, no max-norm: a unit dropped all epoch gets zero gradient every step."""
    run = run_with("epoch", convention=convention)
    frozen_checked = 0
    for epoch in range(4):
        before = run.initial_network() if epoch == 0 else run.network(epoch - 1)
        after = run.network(epoch)
        masks = run.keep_masks(epoch)
        for site, mask in enumerate(masks):
            dropped = np.flatnonzero(mask == 0)
            kept = np.flatnonzero(mask == 1)
            # Outgoing weights: rows of the matrix the site feeds.
            assert np.array_equal(before.weights[site][dropped], after.weights[site][dropped])
            # Kept unit → kept unit (or output) weights all learn.
            next_kept = (np.flatnonzero(masks[site + 1] == 1) if site + 1 < len(masks)
                         else np.arange(after.weights[site].shape[1]))
            moved = before.weights[site][np.ix_(kept, next_kept)] \
                != after.weights[site][np.ix_(kept, next_kept)]
            assert np.all(moved)
            if site > 0:  # a hidden unit: its incoming weights and bias too
                assert np.array_equal(before.weights[site - 1][:, dropped],
                                      after.weights[site - 1][:, dropped])
                assert np.array_equal(before.biases[site - 1][dropped],
                                      after.biases[site - 1][dropped])
            frozen_checked += dropped.size
    assert frozen_checked > 20


def test_dropped_unit_learns_with_adam_momentum():
    """The freeze is an SGD fact: Adam keeps moving a dropped unit's weights by its momentum."""
    run = run_with("epoch", optimizer="adam", lr=0.01)
    mask = run.keep_masks(1)[1]
    dropped = np.flatnonzero(mask == 0)
    assert dropped.size > 0
    before, after = run.network(0), run.network(1)
    assert not np.array_equal(before.weights[1][dropped], after.weights[1][dropped])


# ----------------------------------------------------------------------------- exact replay


@pytest.mark.parametrize("scope", MASK_SCOPES)
def test_replayed_masks_reproduce_a_one_step_epoch(scope):
    """batch_size ≥ n_train: epoch 0 is one SGD step, network(0) = initial − lr · gradient."""
    run = run_with(scope, batch_size=100, epochs=2)
    assert run.n_batches == 1
    initial = run.initial_network()
    indices = run.batch_indices(0, 0)
    assert sorted(indices) == list(range(40))
    X, y = run.dataset.X_train[indices], run.dataset.y_train[indices]
    _, (weight_grads, bias_grads) = initial.loss_and_grads(X, y, run.keep_masks(0, 0))
    after = run.network(0)
    for layer in range(3):
        expected_W = initial.weights[layer] - 0.1 * weight_grads[layer]
        expected_b = initial.biases[layer] - 0.1 * bias_grads[layer]
        np.testing.assert_allclose(after.weights[layer], expected_W, rtol=0, atol=1e-14)
        np.testing.assert_allclose(after.biases[layer], expected_b, rtol=0, atol=1e-14)
        assert np.abs(after.weights[layer] - initial.weights[layer]).max() > 1e-4


@pytest.mark.parametrize("scope", MASK_SCOPES)
def test_replayed_masks_reproduce_a_whole_epoch_of_minibatches(scope):
    run = run_with(scope, epochs=2)
    net = run.network(0)
    weights = [W.copy() for W in run.initial_network().weights]
    biases = [b.copy() for b in run.initial_network().biases]
    for epoch in range(2):
        for batch in range(run.n_batches):
            net.weights, net.biases = weights, biases
            indices = run.batch_indices(epoch, batch)
            X, y = run.dataset.X_train[indices], run.dataset.y_train[indices]
            _, (weight_grads, bias_grads) = net.loss_and_grads(X, y, run.keep_masks(epoch, batch))
            weights = [W - 0.1 * g for W, g in zip(weights, weight_grads)]
            biases = [b - 0.1 * g for b, g in zip(biases, bias_grads)]
        trained = run.network(epoch)
        for layer in range(3):
            np.testing.assert_allclose(trained.weights[layer], weights[layer], rtol=0, atol=1e-12)
            np.testing.assert_allclose(trained.biases[layer], biases[layer], rtol=0, atol=1e-12)


def test_thinned_loss_is_the_loss_of_the_replayed_sub_networks():
    """history['thinned_loss'] is the example-weighted mean loss of the masked training steps."""
    run = run_with("batch", epochs=1, optimizer="sgd")
    net = run.initial_network()
    total = 0.0
    for batch in range(run.n_batches):
        indices = run.batch_indices(0, batch)
        X, y = run.dataset.X_train[indices], run.dataset.y_train[indices]
        loss, (weight_grads, bias_grads) = net.loss_and_grads(X, y, run.keep_masks(0, batch))
        total += loss * len(indices)
        net.weights = [W - 0.1 * g for W, g in zip(net.weights, weight_grads)]
        net.biases = [b - 0.1 * g for b, g in zip(net.biases, bias_grads)]
    assert run.history["thinned_loss"][0] == pytest.approx(total / 40, rel=1e-12)


def test_batch_indices_cover_the_training_set_each_epoch():
    run = train(make_dataset(n_train=45), TrainConfig(hidden=(4,), batch_size=10, epochs=2, seed=3))
    for epoch in range(2):
        parts = [run.batch_indices(epoch, b) for b in range(run.n_batches)]
        assert run.n_batches == 5 and [len(part) for part in parts] == [10, 10, 10, 10, 5]
        assert sorted(np.concatenate(parts)) == list(range(45))
    assert not np.array_equal(run.batch_indices(0, 0), run.batch_indices(1, 0))
