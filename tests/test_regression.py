"""Regression (issue 13): one linear output and the mean squared error of torch.nn.MSELoss.

Gradients against central finite differences for every activation × convention × mask scope;
the fast path against the reference passes; the regression sets; dropout against over-fitting;
and the Monte-Carlo mean of sub-networks against the test-time network (exact for a linear
network, a measured gap with relu).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from test_engine_gradients import assert_gradients_match
from test_engine_maths import all_masks, points

from dropout_viz import cli, pipeline
from dropout_viz.csv_data import dataset_from_csv
from dropout_viz.data import GAP_INTERVAL, REGRESSION_DATASETS, load_dataset
from dropout_viz.engine import (
    ACTIVATIONS,
    CONVENTIONS,
    MASK_SCOPES,
    MLP,
    TrainConfig,
    mc_mean_and_sd,
    mc_predict,
    thinned_predict,
    train,
    train_many,
)
from dropout_viz.engine import dropout as dropout_lib
from dropout_viz.engine.fast_path import FastStep, with_ones_column
from dropout_viz.engine.network import backward, forward
from dropout_viz.engine.run import ParameterLayout
from dropout_viz.schema import FIELD_SPECS

SIZES = (3, 6, 5, 1)  # 3 inputs, two hidden layers, one linear output
KEEP = (0.8, 0.6, 0.6)
N_POINTS = 9


def regression_net(activation: str, convention: str, seed: int) -> MLP:
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, 0.8, size=(a, b)) for a, b in zip(SIZES, SIZES[1:])]
    biases = [rng.normal(0.0, 0.3, size=b) for b in SIZES[1:]]
    return MLP.from_weights(weights, biases, activation, KEEP, convention, loss="mse")


def scope_masks(scope: str, seed: int) -> list[np.ndarray]:
    """Keep masks as each scope uses them within one step: one mask for the whole batch
    ("epoch", "batch": shape (units,)) or one per example ((n, units))."""
    rng = np.random.default_rng(seed)
    masks = []
    for units, q in zip(SIZES[:-1], KEEP):
        shape = (N_POINTS, units) if scope == "example" else (units,)
        mask = (rng.random(shape) < q).astype(float)
        mask.flat[0] = 1.0
        masks.append(mask)
    return masks


# ----------------------------------------------------------------------------- the loss


def test_mse_is_torch_mse_loss_and_predict_gives_one_column():
    net = regression_net("tanh", "inverted", seed=0)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(N_POINTS, 3)), rng.normal(size=N_POINTS)
    loss, _ = net.loss_and_grads(X, y, None)
    outputs = net.predict(X)
    assert outputs.shape == (N_POINTS, 1)
    assert loss == pytest.approx(np.mean((outputs[:, 0] - y) ** 2), rel=1e-14)
    # The test-time network of a standard-convention net scales the weights by q.
    standard = regression_net("tanh", "standard", seed=0)
    scaled = MLP(standard.test_time_weights(), standard.biases, "tanh", loss="mse")
    np.testing.assert_allclose(standard.predict(X), scaled.predict(X), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="no class probabilities"):
        net.predict_proba(X)
    with pytest.raises(ValueError, match="one output unit"):
        MLP([np.ones((2, 2))], [np.zeros(2)], loss="mse")
    with pytest.raises(ValueError, match="loss must be one of"):
        MLP([np.ones((2, 1))], [np.zeros(1)], loss="l1")


def test_mse_is_torchs_mse_loss_of_the_thinned_network():
    """The loss is torch.nn.MSELoss() (mean over every element of (ŷ − y)²) of the thinned
    network, written out here by hand; where PyTorch is installed (a dev extra, not in CI), its
    loss and autograd gradients are compared too. The gradients are always checked against
    finite differences (below)."""
    net = regression_net("relu", "inverted", seed=3)
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(N_POINTS, 3)), rng.normal(size=N_POINTS)
    masks = scope_masks("example", seed=5)
    loss, (weight_grads, _) = net.loss_and_grads(X, y, masks)
    h = X
    for layer in range(3):
        h = (h * masks[layer] / KEEP[layer]) @ net.weights[layer] + net.biases[layer]
        if layer < 2:
            h = np.maximum(h, 0.0)
    assert loss == pytest.approx(np.mean((h - y[:, None]) ** 2), rel=1e-12)
    try:
        import torch
    except ImportError:
        return
    W = [torch.tensor(w, requires_grad=True) for w in net.weights]
    t = torch.tensor(X)
    for layer in range(3):
        t = (t * torch.tensor(masks[layer]) / KEEP[layer]) @ W[layer] + torch.tensor(
            net.biases[layer])
        if layer < 2:
            t = torch.relu(t)
    torch_loss = torch.nn.MSELoss()(t, torch.tensor(y)[:, None])
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    for ours, theirs in zip(weight_grads, W, strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("scope", MASK_SCOPES)
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mse_gradients_match_finite_differences(activation, convention, scope):
    seed = ACTIVATIONS.index(activation) * 10 + CONVENTIONS.index(convention) * 3 \
        + MASK_SCOPES.index(scope)
    net = regression_net(activation, convention, seed)
    rng = np.random.default_rng(seed + 100)
    X, y = rng.normal(size=(N_POINTS, 3)), rng.normal(size=N_POINTS)
    masks = scope_masks(scope, seed + 200)
    assert any((m == 0).any() for m in masks), "the masks must actually drop something"
    loss, (weight_grads, bias_grads) = net.loss_and_grads(X, y, masks)
    assert np.isfinite(loss) and loss > 0
    assert_gradients_match(net, X, y, masks, weight_grads, bias_grads)


# ----------------------------------------------------------------------------- the fast path


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("input_dropout", [False, True])
def test_the_compiled_mse_step_and_evaluation_equal_the_reference(activation, input_dropout):
    n_models, n = 3, 40
    rng = np.random.default_rng(ACTIVATIONS.index(activation) + 10 * input_dropout)
    layout = ParameterLayout(SIZES)
    params = rng.normal(0, 0.7, size=(n_models, layout.size))
    grads = np.full_like(params, np.nan)
    step = FastStep(SIZES, params, grads, activation, n_models, np.dtype(np.float64), "mse")
    X, y = rng.normal(size=(n, SIZES[0])), rng.normal(size=(n, 1))
    keep = (0.8 if input_dropout else 1.0, 0.5, 0.6)
    masks = [(rng.random((n_models, n, units)) < q).astype(float)
             for units, q in zip(SIZES[:-1], keep)]
    multipliers = [None if q == 1.0 else m * dropout_lib.training_scale(q, "inverted")
                   for m, q in zip(masks, keep)]
    X_aug = np.broadcast_to(with_ones_column(X), (n_models, n, SIZES[0] + 1))
    residuals = np.empty((n_models, n, 1))
    step.run(step.plan_forward_backward_mse(X_aug, np.broadcast_to(y, (n_models, n, 1)),
                                            multipliers, residuals))
    test_time = [None if f is None else np.full((n_models, 1, 1), f)
                 for f in dropout_lib.test_time_multipliers(keep, "inverted")]
    plan, outputs = step.plan_forward(with_ones_column(X), test_time)
    step.run(plan)
    for m in range(n_models):
        weights, biases = layout.views(params[m])
        site_multipliers = [None if mult is None else mult[m] for mult in multipliers]
        reference, cache = forward(weights, biases, X, activation, site_multipliers)
        np.testing.assert_allclose(residuals[m], reference - y, rtol=0, atol=1e-12)
        weight_grads, bias_grads = backward(reference, y, cache, weights, activation, loss="mse")
        fast_w, fast_b = layout.views(grads[m])
        for expected, fast in zip(weight_grads + bias_grads, fast_w + fast_b):
            np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)
        net = MLP(weights, biases, activation, keep, "inverted", loss="mse")
        np.testing.assert_allclose(outputs[m], net.predict(X), rtol=0, atol=1e-12)
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-3


# ----------------------------------------------------------------------------- training


SMALL = TrainConfig(hidden=(16, 8), epochs=12, batch_size=16, seed=1)


@pytest.fixture(scope="module")
def sine():
    return load_dataset("sine", n_samples=120, noise=0.3, seed=2)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_regression_history_is_the_mse_of_the_networks(sine, convention):
    run = train(sine, SMALL.replace(convention=convention, p_input=0.2, mask_scope="batch"))
    assert run.task == "regression" and run.loss == "mse"
    assert set(run.history) == {"thinned_loss", "train_loss", "test_loss"}  # no accuracy
    net = run.network(5)
    assert net.loss == "mse" and net.layer_sizes == (1, 16, 8, 1)
    for split in ("train", "test"):
        X, y = getattr(sine, f"X_{split}"), getattr(sine, f"y_{split}")
        mse = np.mean((net.predict(X)[:, 0] - y) ** 2)
        assert run.history[f"{split}_loss"][5] == pytest.approx(mse, rel=1e-12)
    assert run.history["train_loss"][-1] < run.history["train_loss"][0]


def test_thinned_loss_is_the_mse_of_the_trained_sub_network(sine):
    """One batch per epoch (batch_size ≥ n_train) and SGD: the thinned loss of epoch e is the
    loss of network(e − 1) with epoch e's replayed masks on the shuffled training points."""
    config = SMALL.replace(batch_size=1000, optimizer="sgd", lr=0.05, mask_scope="example")
    run = train(sine, config)
    for epoch in (1, 7):
        net = run.network(epoch - 1)
        rows = run.batch_indices(epoch)
        loss, _ = net.loss_and_grads(sine.X_train[rows], sine.y_train[rows],
                                     run.keep_masks(epoch))
        assert run.history["thinned_loss"][epoch] == pytest.approx(loss, rel=1e-10)


def test_regression_divergence_keeps_the_last_finite_weights(sine):
    """SGD with lr = 0.05 on inputs × 3: the MSE explodes within a few epochs (× 2 trains)."""
    big = dataclasses.replace(sine, X_train=sine.X_train * 3, X_test=sine.X_test * 3)
    config = TrainConfig(hidden=(8,), p_hidden=0.0, optimizer="sgd", lr=0.05, epochs=20, seed=0)
    run = train(big, config)
    assert run.diverged_at is not None and 0 < run.diverged_at < 20
    assert all(len(v) == run.diverged_at for v in run.history.values())
    assert np.all(np.isfinite(run.history["train_loss"]))
    assert run.history["train_loss"][-1] > 1e10
    np.testing.assert_array_equal(run.network().weights[0],
                                  run.network(run.diverged_at - 1).weights[0])
    assert np.all(np.isfinite(run.final_params))


def test_dropout_lowers_the_test_mse_of_a_wide_network_on_few_noisy_points():
    """20 training points of a sine with noise 1.0, a 1-128-128-1 relu net, 300 epochs of
    batches of 4: without dropout it fits the noise (train MSE 0.26 against a noise floor
    near 1 in standardised units).

    Measured final test MSE (training seeds 0, 1, 2; data seed 1): p = 0: 1.45, 1.31, 1.60;
    p_hidden = 0.5: 1.01, 0.90, 0.99. Asserted: every seed better, mean margin > 0.25. On data
    seeds 0 and 2 the two were within 0.06 of each other (1.02 vs 1.07, 0.80 vs 0.85), on data
    seed 3 dropout won again (1.43 vs 1.20): on a 1-D curve a relu net's over-fitting costs
    less than on moons, and this test states the case where it shows.
    """
    data = load_dataset("sine", n_samples=100, noise=1.0, test_fraction=0.8, seed=1)
    assert len(data.y_train) == 20
    base = TrainConfig(hidden=(128, 128), mask_scope="example", optimizer="adam", lr=0.01,
                       batch_size=4, epochs=300)
    configs = [base.replace(p_hidden=p, seed=s) for p in (0.0, 0.5) for s in range(3)]
    mse = np.array([run.history["test_loss"][-1] for run in train_many(data, configs)])
    without, with_dropout = mse[:3], mse[3:]
    assert np.all(with_dropout < without)
    assert without.mean() - with_dropout.mean() > 0.25


# ----------------------------------------------------------------------------- MC vs test time


def mse_net(sizes, keep_probs, activation, seed=0) -> MLP:
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 1.5 / np.sqrt(a), size=(a, b)) for a, b in zip(sizes, sizes[1:])]
    biases = [rng.normal(0, 0.5, size=b) for b in sizes[1:]]
    return MLP(weights, biases, activation, keep_probs, "standard", loss="mse")


def enumerated_mean(net: MLP, X: np.ndarray, site: int) -> tuple[np.ndarray, np.ndarray]:
    """The probability-weighted mean and sd of the outputs of all 2^n sub-networks thinned at
    `site`: the exact ensemble that Monte-Carlo dropout samples."""
    masks, weights = all_masks(net.site_sizes[site], net.keep_probs[site])
    stacked = [np.ones((len(masks), units)) for units in net.site_sizes]
    stacked[site] = masks
    outputs = thinned_predict(net, X, stacked)
    assert outputs.shape == (len(masks), len(X), 1)
    mean = np.tensordot(weights, outputs, axes=1)
    return mean, np.sqrt(np.tensordot(weights, (outputs - mean) ** 2, axes=1))


def test_linear_regression_with_input_dropout_is_exactly_its_ensemble_mean():
    net = mse_net((6, 1), (0.6,), "relu", seed=2)
    X = points(d=6)
    mean, sd = enumerated_mean(net, X, site=0)
    np.testing.assert_allclose(mean, net.predict(X), rtol=0, atol=1e-12)
    assert sd.min() > 0.05  # the sub-networks really differ


def test_dropout_on_the_last_hidden_layer_alone_is_exact_for_regression():
    """The output is linear in the last hidden layer's mask, so even with relu below, the test-
    time network is the exact mean of the 2^8 sub-networks (no softmax after it)."""
    net = mse_net((3, 8, 8, 1), (1.0, 1.0, 0.5), "relu", seed=3)
    X = points()
    mean, _ = enumerated_mean(net, X, site=2)
    np.testing.assert_allclose(mean, net.predict(X), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("activation", "measured_gap"), [("relu", 0.450), ("tanh", 0.138)])
def test_a_hidden_nonlinearity_after_dropout_makes_weight_scaling_an_approximation(
        activation, measured_gap):
    """Dropout on the first hidden layer (8 units, p = 0.5) of a 3-8-8-1 net, a relu or tanh
    layer after it: the exact mean of the 256 sub-networks differs from the test-time network
    by up to 0.450 (relu) / 0.138 (tanh) over 25 points, measured. Monte-Carlo with K = 4000
    sub-networks lands within 4 sd/√K of the exact mean (measured 0.014 / 0.012)."""
    net = mse_net((3, 8, 8, 1), (1.0, 0.5, 1.0), activation, seed=0)
    X = points()
    mean, sd = enumerated_mean(net, X, site=1)
    gap = np.abs(mean - net.predict(X)).max()
    assert gap == pytest.approx(measured_gap, abs=0.001)
    mc_mean, mc_sd = mc_mean_and_sd(mc_predict(net, X, 4000, seed=0))
    assert mc_mean.shape == mc_sd.shape == (len(X), 1)
    assert np.abs(mc_mean - mean).max() < 4 * sd.max() / np.sqrt(4000)
    np.testing.assert_allclose(mc_sd, sd, rtol=0.1, atol=1e-12)  # sd 0 where relu is off


# ----------------------------------------------------------------------------- data sets


@pytest.mark.parametrize("name", REGRESSION_DATASETS)
def test_regression_sets_have_shapes_dtypes_and_standardised_targets(name):
    data = load_dataset(name, n_samples=200, noise=0.25, test_fraction=0.3, seed=4)
    again = load_dataset(name, n_samples=200, noise=0.25, test_fraction=0.3, seed=4)
    assert data.task == "regression" and data.n_outputs == 1 and data.n_classes == 0
    assert data.X_train.shape == (len(data.y_train), 1) and data.X_train.dtype == np.float64
    assert data.y_train.dtype == np.float64 and data.y_test.ndim == 1
    assert len(data.y_train) + len(data.y_test) == 200
    assert data.y_train.mean() == pytest.approx(0, abs=1e-12)
    assert data.y_train.std() == pytest.approx(1, rel=1e-12)
    for attr in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(data, attr), getattr(again, attr))
    # Back in the data's units: a sine of x in [-5, 5] plus noise.
    x = data.unstandardize(data.X_train)[:, 0]
    y = data.unstandardize_target(data.y_train)
    assert x.min() >= -5 and x.max() <= 5
    residual_sd = np.std(y - np.sin(x))
    expected_sd = 0.25 * (np.sqrt(4 / 3) if name == "growing-noise" else 1)  # rms of 2·u
    assert residual_sd == pytest.approx(expected_sd, rel=0.2)
    np.testing.assert_allclose(data.standardize_target(y), data.y_train, atol=1e-12)


def test_gap_has_no_training_points_in_its_interval_and_puts_them_in_the_test_split():
    gap = load_dataset("gap", n_samples=200, noise=0.25, test_fraction=0.3, seed=0)
    sine = load_dataset("sine", n_samples=200, noise=0.25, test_fraction=0.3, seed=0)
    low, high = GAP_INTERVAL
    x_train = gap.unstandardize(gap.X_train)[:, 0]
    x_test = gap.unstandardize(gap.X_test)[:, 0]
    assert not np.any((x_train > low) & (x_train < high))
    in_gap = (x_test > low) & (x_test < high)
    assert in_gap.sum() >= 30  # about a fifth of the 200 points
    assert len(x_test) == 60  # round(200 · 0.3): the gap's points are part of the test share
    # The same points as sine, split differently.
    np.testing.assert_allclose(np.sort(np.concatenate([x_train, x_test])),
                               np.sort(sine.unstandardize(np.vstack([sine.X_train,
                                                                     sine.X_test]))[:, 0]))


def test_growing_noise_grows_with_x():
    data = load_dataset("growing-noise", n_samples=2000, noise=0.25, seed=0)
    x = data.unstandardize(data.X_train)[:, 0]
    residual = data.unstandardize_target(data.y_train) - np.sin(x)
    thirds = [residual[(x >= a) & (x < a + 10 / 3)].std() for a in (-5, -5 + 10 / 3, 5 - 10 / 3)]
    assert thirds[0] < thirds[1] < thirds[2]
    assert thirds[2] > 3 * thirds[0]


def test_the_regression_sets_are_dataset_choices_and_train_from_the_command_line(capsys):
    assert set(REGRESSION_DATASETS) <= set(FIELD_SPECS["dataset"].command_line_choices)
    assert cli.main(["train", "--dataset", "sine", "--epochs", "3", "--width", "8"]) == 0
    out = capsys.readouterr().out
    assert "test_mse" in out and "acc" not in out
    assert cli.main(["train", "--dataset", "gap", "--epochs", "3", "--width", "8", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["task"] == "regression" and set(printed["final"]) == {
        "thinned_loss", "train_loss", "test_loss"}


# ----------------------------------------------------------------------------- pipeline


def test_pipeline_draws_a_curve_on_a_line_and_scores_the_mse(sine):
    assert pipeline.is_curve(sine) and not pipeline.is_planar(sine)
    grid = pipeline.grid_for(sine)
    assert grid.ys is None and grid.xs.shape == (pipeline.CURVE_RESOLUTION,)
    assert grid.points.shape == (pipeline.CURVE_RESOLUTION, 1)
    all_x = np.concatenate([sine.X_train[:, 0], sine.X_test[:, 0]])
    assert grid.xs[0] == pytest.approx(all_x.min() - 0.5) and np.all(np.diff(grid.xs) > 0)
    run = train(sine, SMALL)
    net = run.network()
    thinned, full = pipeline.thinned_and_full(net, pipeline.view_mask(run.keep_masks(0)),
                                              sine.X_test)
    assert thinned.shape == full.shape == (len(sine.y_test), 1)
    np.testing.assert_allclose(full, net.predict(sine.X_test), rtol=1e-5, atol=1e-5)
    score = pipeline.scores(net.predict(sine.X_test), sine.y_test)
    assert score.accuracy is None and score.log_loss is None
    assert score.mse == pytest.approx(run.history["test_loss"][-1], rel=1e-12)
    moons = load_dataset("moons", n_samples=40)
    assert not pipeline.is_curve(moons) and pipeline.grid_for(moons).ys is not None


# ----------------------------------------------------------------------------- CSV upload


def xy_csv(n: int = 30, header: str = "x,y") -> bytes:
    rows = [f"{i / 3:.3f},{1000 * np.sin(i / 3) + 5000:.2f}" for i in range(n)]
    return (header + "\n" + "\n".join(rows) + "\n").encode()


def test_an_x_y_file_is_a_regression_set_with_y_standardised():
    data = dataset_from_csv(xy_csv(header="X,Y"), seed=3)  # any letter case
    assert data.task == "regression" and data.name == "csv" and data.feature_names == ("x",)
    assert data.X_train.shape == (21, 1) and len(data.y_test) == 9
    assert data.target_mean == pytest.approx(5000, abs=400) and data.target_scale > 300
    assert data.y_train.std() == pytest.approx(1, rel=1e-12)
    run = train(data, SMALL.replace(hidden=(32, 32), epochs=200, p_hidden=0.0))  # y in 1000s
    assert run.history["train_loss"][-1] < 0.2 * run.history["train_loss"][0]
    classes = dataset_from_csv(b"x1,x2,label\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n")
    assert classes.task == "classification" and classes.n_classes == 2  # unchanged


BAD_XY_FILES = {
    b"x,y\n1,2\n3,four\n5,6\n7,8\n": "Row 3, column 'y': 'four' is not a number. Columns x "
                                     "and y must be numbers.",
    b"x,y\n1,2\nnan,3\n5,6\n7,8\n": "Row 3, column 'x': 'nan' is not a finite number",
    b"x,y\n1,2\n3\n5,6\n7,8\n": "Row 3 has 1 cell but the header has 2. Every row needs exactly "
                                "one value for each of x and y.",
    b"x,y,z\n1,2,3\n": "Row 1 (the header) has extra column 'z'. The file must have exactly "
                       "the columns x and y",
    b"y\n1\n2\n3\n4\n": "Row 1 (the header) has missing column 'x'.",
    b"x,y\n1,2\n1,3\n1,4\n1,5\n": "Every value in column 'x' is the same (1)",
    b"x,y\n1,2\n3,4\n": "The file has only 2 data rows; at least 4 are needed",
    b"x,y\n1,2\n3,1e16\n5,6\n7,8\n": "Row 3, column 'y': 1e16 is too large. Values in x and y",
    b"1,2\n3,4\n5,6\n7,8\n": "Row 1 ('1,2') looks like data, not a header. The first row must "
                             "be a header naming the columns x1, x2 and label (points to "
                             "classify), or x and y (a curve to fit)",
}


@pytest.mark.parametrize("content", list(BAD_XY_FILES), ids=range(len(BAD_XY_FILES)))
def test_a_bad_x_y_file_gets_a_message_naming_row_and_column(content):
    with pytest.raises(ValueError) as error:
        dataset_from_csv(content)
    assert str(error.value).startswith(BAD_XY_FILES[content])
