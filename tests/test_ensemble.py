"""The ensemble computations and figures: gallery masks, averages, convergence, disagreement."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_viz import ensemble, pipeline
from dropout_viz.engine import MLP, ensemble_mean, thinned_predict
from dropout_viz.figures.ensemble import ensemble_figures
from dropout_viz.figures.gallery import gallery_figure
from dropout_viz.settings import DEFAULTS


@pytest.fixture(scope="module")
def default_run():
    key = DEFAULTS.train_key()
    return pipeline.train_for(key)


@pytest.fixture(scope="module")
def short_runs():
    """Small runs per mask scope (and one without dropout), trained once for the module."""
    runs = {}
    for name, changes in {"epoch": {}, "batch": {"mask_scope": "batch"},
                          "example": {"mask_scope": "example"},
                          "inverted": {"convention": "inverted", "p_input": 0.2},
                          "no_dropout": {"p_hidden": 0.0}}.items():
        settings = DEFAULTS.replace(epochs=20, width=16, **changes)
        runs[name] = pipeline.train_for(settings.train_key())
    return runs


def masks_of(gallery, i):
    return [m[i] for m in gallery.keep_masks]


def full_grid(run):
    return pipeline.grid_for(run.dataset)


# --- the gallery shows exactly the sub-networks it computes ---------------------------------


def test_sampled_gallery_uses_exactly_the_masks_shown(default_run):
    results = ensemble.compute_ensemble(default_run, 8, "sampled", seed=3)
    gallery, net = results.gallery, default_run.network()
    data = default_run.dataset
    # Recompute every shown sub-network one by one with the engine, from the shown masks.
    one_by_one = np.stack([net.predict_proba(data.X_test, masks_of(gallery, i))
                           for i in range(gallery.k)])
    accuracy = (one_by_one.argmax(-1) == data.y_test).mean(-1)
    np.testing.assert_allclose(gallery.test_accuracy, accuracy)
    # The thumbnails are those sub-networks on every other point of the 100×100 grid.
    grid = full_grid(default_run)
    pick = ensemble.gallery_indices(len(grid.xs))
    # Row-major like the grid itself: y outer, x inner.
    points = np.column_stack([np.tile(grid.xs[pick], len(pick)),
                              np.repeat(grid.ys[pick], len(pick))])
    thumbs = np.stack([net.predict_proba(points, masks_of(gallery, i)) for i in range(8)])
    np.testing.assert_allclose(gallery.grid_probs, thumbs, atol=1e-5)
    assert gallery.grid_probs.shape == (8, 50 * 50, 2) and gallery.grid_probs.dtype == np.float32
    # The masks are reproducible from the seed and differ between sub-networks.
    again = ensemble.compute_ensemble(default_run, 8, "sampled", seed=3).gallery
    for a, b in zip(gallery.keep_masks, again.keep_masks):
        np.testing.assert_array_equal(a, b)
    hidden = gallery.keep_masks[1]
    assert len({tuple(row) for row in hidden}) == 8
    assert 0.35 < hidden.mean() < 0.65  # p = 0.5


def test_gallery_figure_draws_the_masks_it_was_given(default_run):
    results = ensemble.compute_ensemble(default_run, 6, "sampled", seed=1)
    fig = gallery_figure(results.gallery, results.data)
    meta = fig.layout.meta
    expected = [[np.flatnonzero(m[i] < 0.5).tolist() for m in results.gallery.keep_masks]
                for i in range(6)]
    assert meta["dropped"] == expected
    # Crossed-out nodes: units among the first 9 of each drawn layer that the masks drop.
    drawn = sum(len([u for u in site if u < 9]) for cell in expected for site in cell)
    crosses = [t for t in fig.data if t.meta and t.meta.get("role") == "dropped_x"]
    assert len(crosses) == 1 and len(crosses[0].x) == drawn
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 6 and all(np.asarray(h.z).shape == (50, 50) for h in heatmaps)
    assert not any(t.type == "contour" for t in fig.data)
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == f"#1 · acc {results.gallery.test_accuracy[0]:.0%}"


@pytest.mark.parametrize("scope", ["epoch", "batch", "example"])
def test_trained_gallery_replays_the_masks_and_weights_of_the_last_epochs(short_runs, scope):
    run = short_runs[scope]
    results = ensemble.compute_ensemble(run, 5, "trained", seed=0)
    gallery = results.gallery
    assert gallery.epochs.tolist() == [15, 16, 17, 18, 19]
    X, y = run.dataset.X_test, run.dataset.y_test
    for i, epoch in enumerate(gallery.epochs):
        # Epoch scope: the epoch's mask; batch: first mini-batch; example: its first example.
        expected = pipeline.view_mask(run.keep_masks(int(epoch), 0))
        for site, mask in enumerate(expected):
            np.testing.assert_array_equal(gallery.keep_masks[site][i], mask)
        net = run.network(int(epoch))
        for layer, W in enumerate(net.weights):
            np.testing.assert_allclose(gallery.weights[i][layer], W, rtol=1e-6)
        probs = net.predict_proba(X, masks_of(gallery, i))
        assert gallery.test_accuracy[i] == pytest.approx((probs.argmax(-1) == y).mean())


def test_trained_gallery_shows_fewer_when_fewer_epochs_ran():
    run = pipeline.train_for(DEFAULTS.replace(epochs=3, width=8).train_key())
    gallery = ensemble.compute_ensemble(run, 8, "trained").gallery
    assert gallery.k == 3 and gallery.epochs.tolist() == [0, 1, 2]


def reference_stack(net: MLP, X: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """The reference forward pass with the masks as (K, 1, units) multipliers: no folding."""
    return net.predict_proba(X, [m[:, None, :] for m in masks])


def test_stacked_prediction_matches_the_reference_forward_for_both_conventions(short_runs):
    for name in ("epoch", "inverted"):
        net = short_runs[name].network()
        X = short_runs[name].dataset.X_test
        masks = ensemble.sampled_keep_masks(net, 12, seed=5)
        expected = reference_stack(net, X, masks)
        np.testing.assert_allclose(thinned_predict(net, X, masks), expected, atol=1e-12)
        np.testing.assert_allclose(ensemble.shared_predict(net, masks, X), expected, atol=1e-5)
        stacked = ensemble.stacked_predict(
            [np.broadcast_to(W, (12,) + W.shape) for W in net.weights],
            [np.broadcast_to(b, (12,) + b.shape) for b in net.biases], net.activation,
            net.keep_probs, net.convention, masks, X, dtype=np.float64)
        np.testing.assert_allclose(stacked, expected, atol=1e-12)


def test_folding_handles_a_layer_that_lost_every_unit():
    rng = np.random.default_rng(0)
    net = MLP([rng.normal(size=(2, 5)), rng.normal(size=(5, 3))], [np.zeros(5), np.ones(3)],
              keep_probs=(1.0, 0.5))
    masks = [np.ones((2, 2)), np.array([[0, 0, 0, 0, 0], [1, 0, 1, 0, 0]], dtype=float)]
    X = rng.normal(size=(7, 2))
    got = ensemble.shared_predict(net, masks, X)
    np.testing.assert_allclose(got, reference_stack(net, X, masks), atol=1e-6)
    # Nothing reaches the output: softmax of the biases alone, the same at every point.
    np.testing.assert_allclose(got[0], np.full((7, 3), 1 / 3), atol=1e-6)


# --- the average panel ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["arithmetic", "geometric"])
@pytest.mark.parametrize("source", ["sampled", "trained"])
def test_average_is_the_mean_of_the_shown_sub_networks(short_runs, kind, source):
    run = short_runs["inverted"]
    results = ensemble.compute_ensemble(run, 6, source, kind, seed=2)
    gallery, grid = results.gallery, full_grid(run)
    shown = np.stack([run.network(int(e)).predict_proba(grid.points, masks_of(gallery, i))
                      for i, e in enumerate(gallery.epochs)])
    np.testing.assert_allclose(results.comparison.average, ensemble_mean(shown, kind),
                               atol=1e-5)
    np.testing.assert_allclose(results.comparison.test_time,
                               run.network().predict_proba(grid.points), atol=1e-6)
    X, y = run.dataset.X_test, run.dataset.y_test
    test_shown = np.stack([run.network(int(e)).predict_proba(X, masks_of(gallery, i))
                           for i, e in enumerate(gallery.epochs)])
    average = ensemble_mean(test_shown, kind)
    assert results.comparison.average_scores.accuracy == pytest.approx(
        (average.argmax(-1) == y).mean())
    full = run.network().predict_proba(X)
    assert results.comparison.agreement == pytest.approx(
        (average.argmax(-1) == full.argmax(-1)).mean())


def test_weight_scaling_exactness_is_claimed_only_for_the_last_hidden_layer():
    assert ensemble.weight_scaling_is_exact((1.0, 0.5))  # one hidden layer, no input dropout
    assert ensemble.weight_scaling_is_exact((1.0, 1.0, 0.5))
    assert not ensemble.weight_scaling_is_exact((0.8, 0.5))  # input dropout: relu after it
    assert not ensemble.weight_scaling_is_exact((1.0, 0.5, 0.5))  # two hidden layers


def test_geometric_mean_of_samples_approaches_the_test_time_network_when_exact():
    """One hidden layer, dropout only there: weight scaling IS the normalised geometric mean,
    so the geometric mean of many sampled sub-networks closes in on it; the arithmetic does not
    have to."""
    run = pipeline.train_for(DEFAULTS.replace(n_layers=1, width=12, epochs=30).train_key())
    net, X = run.network(), run.dataset.X_test
    masks = ensemble.sampled_keep_masks(net, 20000, seed=0)
    probs = ensemble.shared_predict(net, masks, X)
    full = net.predict_proba(X)
    geometric = ensemble_mean(probs, "geometric")
    assert np.abs(geometric - full).max() < 0.02


# --- convergence ------------------------------------------------------------------------------


def test_mc_average_of_256_agrees_with_the_test_time_network_on_defaults(default_run):
    data = default_run.dataset
    curve = ensemble.convergence_curve(default_run.network(), data.X_test, data.y_test,
                                       "arithmetic", seed=DEFAULTS.seed)
    assert curve.ks.tolist() == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    # Repeat 0 is one fixed-seed draw of 256 sub-networks.
    assert curve.agreement[0, -1] >= 0.97
    assert abs(curve.accuracy[0, -1] - curve.test_time.accuracy) <= 0.02
    # The same numbers straight from the engine.
    net = default_run.network()
    masks = ensemble.sampled_keep_masks(net, 256, DEFAULTS.seed)
    mc = thinned_predict(net, data.X_test, masks).mean(axis=0)
    full = net.predict_proba(data.X_test)
    assert curve.agreement[0, -1] == pytest.approx((mc.argmax(-1) == full.argmax(-1)).mean())
    assert curve.accuracy[0, -1] == pytest.approx((mc.argmax(-1) == data.y_test).mean())


def test_convergence_prefix_means_and_spread(short_runs):
    run = short_runs["epoch"]
    net, data = run.network(), run.dataset
    curve = ensemble.convergence_curve(net, data.X_test, data.y_test, "arithmetic", seed=4,
                                       ks=(1, 4, 16), repeats=3)
    assert curve.accuracy.shape == (3, 3) and curve.repeats == 3
    masks = ensemble.sampled_keep_masks(net, 48, seed=4)
    probs = thinned_predict(net, data.X_test, masks).reshape(3, 16, len(data.y_test), -1)
    for r in range(3):
        for j, k in enumerate((1, 4, 16)):
            mean = probs[r, :k].mean(axis=0)
            assert curve.accuracy[r, j] == pytest.approx((mean.argmax(-1) == data.y_test).mean())
    singles = probs.reshape(48, len(data.y_test), -1)
    assert curve.single.accuracy == pytest.approx((singles.argmax(-1) == data.y_test).mean())
    # Averaging more sub-networks lowers the log-loss (on average over draws).
    assert curve.log_loss[:, -1].mean() < curve.log_loss[:, 0].mean()


def test_prefix_means_match_ensemble_mean():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=(8, 5))
    for kind in ("arithmetic", "geometric"):
        means = ensemble.prefix_means(probs, [1, 3, 8], kind)
        for j, k in enumerate((1, 3, 8)):
            np.testing.assert_allclose(means[j], ensemble_mean(probs[:k], kind), atol=1e-12)


# --- uncertainty ------------------------------------------------------------------------------


@pytest.mark.parametrize("measure", ["entropy", "std"])
def test_disagreement_map_is_zero_without_dropout(short_runs, measure):
    results = ensemble.compute_ensemble(short_runs["no_dropout"], 8, "sampled",
                                        measure=measure, seed=0)
    assert results.uncertainty.values.shape == (100 * 100,)
    assert np.abs(results.uncertainty.values).max() == 0.0
    # ... and not zero with dropout.
    with_dropout = ensemble.compute_ensemble(short_runs["epoch"], 8, "sampled",
                                             measure=measure, seed=0)
    assert with_dropout.uncertainty.values.max() > 0.05


def test_disagreement_measures_by_hand():
    # Two sub-networks, two points: they agree on the first, disagree fully on the second.
    probs = np.array([[[0.9, 0.1], [1.0, 0.0]],
                      [[0.9, 0.1], [0.0, 1.0]]])
    mutual_information = ensemble.disagreement(probs, "entropy")
    assert mutual_information[0] == pytest.approx(0.0, abs=1e-12)
    assert mutual_information[1] == pytest.approx(np.log(2))  # the largest possible for C = 2
    std = ensemble.disagreement(probs, "std")
    np.testing.assert_allclose(std, [0.0, 0.5])
    assert ensemble.measure_upper("entropy", 2) == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="measure must be one of"):
        ensemble.disagreement(probs, "variance")


def test_uncertainty_with_trained_gallery_uses_sampled_sub_networks(short_runs):
    run = short_runs["epoch"]
    sampled = ensemble.compute_ensemble(run, 8, "sampled", measure="std", seed=0)
    trained = ensemble.compute_ensemble(run, 8, "trained", measure="std", seed=0)
    np.testing.assert_array_equal(sampled.uncertainty.values, trained.uncertainty.values)


# --- everything together ----------------------------------------------------------------------


def test_ensemble_figures_and_their_numbers(default_run):
    results = ensemble.compute_ensemble(default_run, 16, "sampled", seed=0)
    figures = ensemble_figures(results)
    assert set(figures) == {"gallery", "comparison", "convergence", "uncertainty"}
    assert figures["gallery"].layout.meta["k"] == 16
    comparison = figures["comparison"].layout.meta
    assert comparison["agreement"] == results.comparison.agreement
    assert comparison["n_panels"] == 3
    convergence = figures["convergence"]
    test_time = [t for t in convergence.data if t.meta["role"] == "test_time"]
    assert test_time[0].y[0] == pytest.approx(results.convergence.test_time.accuracy)
    assert list(convergence.layout.xaxis.tickvals) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    heat = figures["uncertainty"].data[0]
    np.testing.assert_array_equal(np.asarray(heat.z).ravel(), results.uncertainty.values)
    assert heat.zmin == 0.0 and heat.zmax == pytest.approx(np.log(2))


def test_digits_has_no_planes_but_still_a_gallery_and_convergence():
    key = DEFAULTS.replace(dataset="digits", epochs=3, width=16).train_key()
    run = pipeline.train_for(key)
    results = ensemble.compute_ensemble(run, 4, "sampled")
    assert results.gallery.grid_probs is None and results.uncertainty is None
    assert results.comparison.average is None and results.comparison.n_test == len(
        run.dataset.y_test)
    figures = ensemble_figures(results)
    assert set(figures) == {"gallery", "convergence"}
    assert figures["gallery"].layout.meta["planar"] is False


def test_bad_arguments_are_refused(short_runs):
    run = short_runs["epoch"]
    with pytest.raises(ValueError, match="source must be one of"):
        ensemble.compute_ensemble(run, 4, "random")
    with pytest.raises(ValueError, match="kind must be one of"):
        ensemble.compute_ensemble(run, 4, "sampled", kind="median")
    with pytest.raises(ValueError, match="k must be at least 1"):
        ensemble.compute_ensemble(run, 0)


# --- what the |difference| panel measures, beside a large K ---------------------------------


def test_comparison_gap_is_the_difference_panels_mean_over_the_test_points(default_run):
    results = ensemble.compute_ensemble(default_run, 8, "sampled", seed=DEFAULTS.seed)
    net, data = default_run.network(), default_run.dataset
    masks = ensemble.sampled_keep_masks(net, 8, DEFAULTS.seed)
    average = thinned_predict(net, data.X_test, masks).mean(axis=0)
    full = net.predict_proba(data.X_test)
    by_hand = 0.5 * np.abs(average - full).sum(axis=-1).mean()
    assert results.comparison.gap == pytest.approx(by_hand, rel=1e-4)
    figures = ensemble_figures(results)
    assert figures["comparison"].layout.meta["mean_difference"] == results.comparison.gap
    # The convergence curve's gap and its pooled value, by hand for repeat 0 at K = 256.
    curve = results.convergence
    masks = ensemble.sampled_keep_masks(net, curve.repeats * 256, DEFAULTS.seed)
    probs = thinned_predict(net, data.X_test, masks)
    first = 0.5 * np.abs(probs[:256].mean(axis=0) - full).sum(axis=-1).mean()
    assert curve.gap[0, -1] == pytest.approx(first, rel=1e-4)
    pooled = 0.5 * np.abs(probs.mean(axis=0) - full).sum(axis=-1).mean()
    assert curve.pooled_k == curve.repeats * 256
    assert curve.pooled_gap == pytest.approx(pooled, rel=1e-4)
    meta = figures["convergence"].layout.meta
    assert meta["pooled_k"] == curve.pooled_k and meta["gap"][-1] == pytest.approx(
        curve.gap[:, -1].mean())
    (line,) = [t for t in figures["convergence"].data if t.meta["role"] == "pooled"]
    assert line.y[0] == pytest.approx(curve.pooled_gap)


def test_small_k_difference_is_mostly_noise_where_weight_scaling_is_exact():
    """Dropout on the last hidden layer only: weight scaling IS the normalised geometric mean
    of all sub-networks. At K = 8 the panel still shows a clear difference (Monte-Carlo
    noise); at large K the geometric mean's gap all but vanishes, the arithmetic mean's stays."""
    run = pipeline.train_for(DEFAULTS.replace(n_layers=1).train_key())
    assert ensemble.weight_scaling_is_exact(run.network().keep_probs)
    geometric = ensemble.compute_ensemble(run, 8, "sampled", "geometric", seed=DEFAULTS.seed)
    arithmetic = ensemble.compute_ensemble(run, 8, "sampled", "arithmetic", seed=DEFAULTS.seed)
    big = geometric.convergence
    assert big.pooled_k >= 1000
    assert geometric.comparison.gap > 10 * big.pooled_gap
    assert big.pooled_gap < 0.005
    # Noise shrinks about as 1/√K along the curve: K = 1 vs K = 64 is about 8 times.
    ratio = big.gap[:, 0].mean() / big.gap[:, list(big.ks).index(64)].mean()
    assert 4 < ratio < 16
    # The arithmetic mean is a different average: its gap stays at any K.
    assert arithmetic.convergence.pooled_gap > 5 * big.pooled_gap
    assert arithmetic.convergence.pooled_gap > 0.5 * arithmetic.convergence.gap[:, -1].mean()


def test_mutual_information_is_not_zero_where_all_pick_the_same_class():
    # Two sub-networks, one point: both pick class 0, with different confidence.
    probs = np.array([[[0.95, 0.05]], [[0.6, 0.4]]])
    assert ensemble.unanimous(probs).tolist() == [True]
    assert ensemble.disagreement(probs, "entropy")[0] > 0.05
    assert ensemble.disagreement(probs, "std")[0] == pytest.approx(0.175)


def test_unanimous_max_is_the_largest_value_where_all_pick_the_same_class(default_run):
    results = ensemble.compute_ensemble(default_run, 8, "sampled", seed=DEFAULTS.seed)
    u = results.uncertainty
    net = default_run.network()
    grid = full_grid(default_run)
    masks = ensemble.sampled_keep_masks(net, 8, DEFAULTS.seed)
    probs = thinned_predict(net, grid.points, masks)
    same = (probs.argmax(-1) == probs[0].argmax(-1)).all(axis=0)
    assert u.unanimous_share == pytest.approx(same.mean())
    assert u.unanimous_max == pytest.approx(u.values[same].max(), rel=1e-5)
    assert 0.05 < u.unanimous_max  # clearly not white where they all agree on the class
