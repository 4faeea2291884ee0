"""The numbers the tabs show for a regression run: the sub-networks' curves and band (ensemble),
the Monte-Carlo mean against the test-time network (Learn), with vs without dropout and the
sweep over p in MSE (Experiments) — each checked against a direct evaluation."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from dropout_viz import ensemble, experiments, lesson
from dropout_viz.data import load_dataset, make_line
from dropout_viz.engine import TrainConfig, train
from dropout_viz.engine.masks import sample_keep_masks


@functools.cache
def sine():
    return load_dataset("sine", n_samples=80, noise=0.25, test_fraction=0.3, seed=0)


@functools.cache
def sine_run(n_layers: int = 2, p_hidden: float = 0.5, p_input: float = 0.0):
    config = TrainConfig(hidden=(32,) * n_layers, p_hidden=p_hidden, p_input=p_input,
                         epochs=60, lr=0.01, optimizer="adam", batch_size=16, seed=1)
    return train(sine(), config)


def mse(outputs, y):
    return float(np.mean((np.ravel(outputs) - y) ** 2))


@pytest.mark.parametrize("source", ["sampled", "trained"])
def test_curve_ensemble_equals_each_sub_network_evaluated_alone(source):
    run = sine_run()
    result = ensemble.compute_curve_ensemble(run, 6, source, seed=3)
    dataset = run.dataset
    xs, line = make_line(np.vstack([dataset.X_train, dataset.X_test]), len(result.xs))
    np.testing.assert_array_equal(result.xs, xs)
    for k in range(6):
        net = run.network(int(result.epochs[k]))
        masks = [m[k] for m in result.keep_masks]
        np.testing.assert_allclose(result.curves[k], net.predict(line, masks)[:, 0], atol=1e-4)
        assert result.test_mse[k] == pytest.approx(
            mse(net.predict(dataset.X_test, masks), dataset.y_test), rel=1e-4)
    np.testing.assert_allclose(result.mean, result.curves.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(result.sd, result.curves.std(axis=0), atol=1e-5)
    np.testing.assert_allclose(result.test_time, run.network().predict(line)[:, 0], atol=1e-12)
    assert result.test_time_mse == pytest.approx(
        mse(run.network().predict(dataset.X_test), dataset.y_test), rel=1e-12)


def test_sampled_curves_use_the_seeds_masks_and_the_band_share_is_counted():
    run = sine_run()
    result = ensemble.compute_curve_ensemble(run, 8, "sampled", seed=5)
    net, dataset = run.network(), run.dataset
    expected = sample_keep_masks(net.keep_probs, net.site_sizes, 8, 5)
    for got, want in zip(result.keep_masks, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    outputs = np.stack([net.predict(dataset.X_test, [m[k] for m in expected])[:, 0]
                        for k in range(8)])
    mean, sd = outputs.mean(axis=0), outputs.std(axis=0)
    assert result.mean_mse == pytest.approx(mse(mean, dataset.y_test), rel=1e-4)
    inside = np.abs(dataset.y_test - mean) <= 2 * sd
    assert result.band_share == pytest.approx(inside.mean(), abs=1.0 / len(inside) + 1e-12)
    assert result.sd.min() >= 0 and result.sd.max() > 0  # p = 0.5: the sub-networks differ


def test_without_dropout_every_sub_network_is_the_test_time_network():
    result = ensemble.compute_curve_ensemble(sine_run(p_hidden=0.0), 4, seed=0)
    np.testing.assert_allclose(result.curves, np.broadcast_to(result.test_time, (4, 200)),
                               atol=1e-5)
    assert result.sd.max() == pytest.approx(0.0, abs=1e-6)


def test_convergence_mse_is_the_mc_mean_of_the_first_k_sub_networks():
    run = sine_run()
    net, dataset = run.network(), run.dataset
    convergence = ensemble.curve_convergence(net, dataset.X_test, dataset.y_test, seed=2,
                                             ks=(1, 4, 16), repeats=2)
    masks = sample_keep_masks(net.keep_probs, net.site_sizes, 32, 2)
    outputs = np.stack([net.predict(dataset.X_test, [m[k] for m in masks])[:, 0]
                        for k in range(32)])
    for r in range(2):
        for i, k in enumerate((1, 4, 16)):
            mean = outputs[16 * r:16 * r + k].mean(axis=0)
            assert convergence.mse[r, i] == pytest.approx(mse(mean, dataset.y_test), rel=1e-4)
            gap = np.mean(np.abs(mean - net.predict(dataset.X_test)[:, 0]))
            assert convergence.gap[r, i] == pytest.approx(gap, rel=1e-4)
    assert convergence.test_time.mse == pytest.approx(
        mse(net.predict(dataset.X_test), dataset.y_test))


def test_mc_mean_approaches_the_test_time_curve_when_only_the_linear_output_follows_dropout():
    # One hidden layer, dropout only there: the output is linear in the dropped units, so the
    # mean over all masks is exactly the test-time output (what the Learn tab states), and the
    # Monte-Carlo mean's distance from it is sampling noise, shrinking like 1/√K.
    net = sine_run(n_layers=1).network()
    X = sine().X_test
    small, large = lesson.compare_curves(net, X, 100, seed=0), lesson.compare_curves(net, X, 6400)
    assert small.exact_case and large.exact_case
    assert large.mean_gap <= 4 * large.standard_error
    assert large.mean_gap < small.mean_gap / 3  # √64 = 8 times less noise; allow for luck
    # The "trained" ensemble's convergence curve on the same network agrees.
    convergence = ensemble.curve_convergence(net, X, sine().y_test, seed=0)
    assert convergence.pooled_gap < convergence.gap[:, 0].mean() / 5


def test_with_a_hidden_nonlinearity_after_dropout_the_gap_stays_above_the_noise():
    # Dropout on the inputs and both hidden layers: weight scaling only approximates the
    # ensemble's mean. Measured on this run: a gap of about 0.19 (y standardised) against a
    # standard error of about 0.007 at K = 2000.
    comparison = lesson.compare_curves(sine_run(p_input=0.2).network(), sine().X_test, 2000)
    assert not comparison.exact_case
    assert comparison.mean_gap > 5 * comparison.standard_error


def test_experiments_for_a_regression_run_draw_curves_and_sweep_in_mse():
    run = sine_run()
    twin = train(run.dataset, experiments.twin_config(run.config))
    results = experiments.experiment_results(run, twin, curve_resolution=50)
    assert results.grid is None and results.classifications is None
    xs, line = make_line(np.vstack([run.dataset.X_train, run.dataset.X_test]), 50)
    np.testing.assert_array_equal(results.line, xs)
    for label, network in zip(results.labels, (run.network(), twin.network()), strict=True):
        np.testing.assert_allclose(results.curves[label], network.predict(line)[:, 0])
    sweep = experiments.sweep_p(run.dataset, run.config.replace(epochs=5), ps=(0.0, 0.5),
                                seeds=2)
    assert set(sweep.metrics) == {"thinned_loss", "train_loss", "test_loss"}
    assert sweep.metrics["test_loss"].shape == (2, 2)
    assert np.isfinite(sweep.metrics["test_loss"]).all()


@functools.cache
def gap_run():
    config = TrainConfig(hidden=(32, 32), p_hidden=0.5, epochs=40, lr=0.01, optimizer="adam",
                         batch_size=16, seed=1)
    return train(load_dataset("gap", n_samples=150, noise=0.1, test_fraction=0.4, seed=0),
                 config)


def test_band_places_say_where_the_band_is_wide_relative_to_the_training_points():
    result = ensemble.compute_curve_ensemble(gap_run(), 8, "sampled", seed=2)
    places = ensemble.band_places(result)
    train = np.sort(result.data.X_train[:, 0].astype(float))
    half = 2 * result.sd
    assert places.train_range == (train[0], train[-1])
    # The widest stretch without training points: the gap's, between two neighbours.
    i = int(np.argmax(np.diff(train)))
    assert places.stretch == (train[i], train[i + 1])
    assert train[i + 1] - train[i] > ensemble.EMPTY_STRETCH_SPACINGS * np.median(np.diff(train))
    xs = result.xs
    inside = (xs > train[i]) & (xs < train[i + 1])
    beyond = (xs < train[0]) | (xs > train[-1])
    assert places.stretch_half_width == pytest.approx(half[inside].mean())
    assert places.beyond_half_width == pytest.approx(half[beyond].mean())
    assert places.among_half_width == pytest.approx(half[~inside & ~beyond].mean())
    widest = int(np.argmax(half))
    assert (places.widest_x, places.widest_half_width) == (xs[widest], pytest.approx(half[widest]))
    assert places.widest_where == ("beyond" if beyond[widest] else
                                   "stretch" if inside[widest] else "among")
    # Evenly scattered points leave no stretch worth naming.
    assert ensemble.band_places(ensemble.compute_curve_ensemble(sine_run(), 8)).stretch is None
