"""Regression figures (1-D x → y), from synthetic arrays: every curve, band and point a chart
draws is the array it was given, every MSE it states is the number it was given, the epoch
animation's frames carry only the curves, and the text alternatives hold the same numbers."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest
from helpers import decode
from test_animation import weights

from dropout_viz.engine import mc_mean_and_sd
from dropout_viz.ensemble_measures import Convergence, Scores
from dropout_viz.figures import alt, style
from dropout_viz.figures.animation import epoch_animation_figure
from dropout_viz.figures.curves import history_figure, overlay_history_figure
from dropout_viz.figures.ensemble import convergence_figure
from dropout_viz.figures.experiments import sweep_figure, twin_curve_figure, twin_curves_figure
from dropout_viz.figures.handmade import handmade_curve_figure
from dropout_viz.figures.regression import (
    BAND_CAPTION,
    CurveFrames,
    subnetworks_figure,
    value_range,
)
from dropout_viz.figures.spec import at_frame

R = 30  # grid points
rng = np.random.default_rng(7)
XS = np.linspace(-2, 2, R)
X_TRAIN, X_TEST = rng.uniform(-2, 2, (12, 1)), rng.uniform(-2, 2, (5, 1))
Y_TRAIN, Y_TEST = np.sin(X_TRAIN[:, 0]), np.sin(X_TEST[:, 0])


def validated(fig: go.Figure) -> dict:
    """The figure as the browser gets it, validated by Plotly whole, arrays decoded."""
    return decode(json.loads(go.Figure(fig.to_dict()).to_json()))


def by_role(spec: dict, role: str) -> list[dict]:
    return [t for t in spec["data"] if (t.get("meta") or {}).get("role") == role]


def curve_frames(n_frames: int = 3) -> CurveFrames:
    thinned = np.sin(XS)[None] + rng.normal(0, 0.3, (n_frames, R))
    full = np.sin(XS)[None] + rng.normal(0, 0.1, (n_frames, R))
    return CurveFrames(XS, thinned, full, [0.41, 0.25, 0.123][:n_frames],
                       [0.3, 0.2, 0.045][:n_frames], X_TRAIN, Y_TRAIN, X_TEST, Y_TEST,
                       full_title="Full network")


def keep_masks(dropped: list[int]) -> list[np.ndarray]:
    keep = np.ones(5)
    keep[dropped] = 0
    return [np.ones(1), keep, np.ones(5)]


def animation(frames: CurveFrames, projector: bool = False):
    epochs = [1, 5, 9][:len(frames.thinned)]
    return epoch_animation_figure(epochs, [weights(s, (1, 5, 5, 1)) for s in range(len(epochs))],
                                  [keep_masks(d) for d in ([0], [1, 2], [])][:len(epochs)],
                                  output_names=["y"], boundary=frames, projector=projector)


# --------------------------------------------------------------------------- the animation


def test_each_frame_carries_both_curves_and_their_mses_and_nothing_static():
    frames = curve_frames()
    spec = validated(animation(frames))
    assert [f["name"] for f in spec["frames"]] == ["1", "5", "9"]
    thinned, full = by_role(spec, "thinned"), by_role(spec, "test_time")
    assert len(thinned) == len(full) == 1
    np.testing.assert_array_equal(thinned[0]["x"], XS.astype(np.float32))
    # The figure shows the last frame.
    np.testing.assert_array_equal(thinned[0]["y"], frames.thinned[-1].astype(np.float32))
    assert full[0]["line"]["dash"] == "dash"
    slots = [spec["data"].index(t) for t in thinned + full]
    for f, frame in enumerate(spec["frames"]):
        curves = {slot: data for slot, data in zip(frame["traces"], frame["data"], strict=True)
                  if slot in slots}
        assert list(curves) == slots
        np.testing.assert_array_equal(curves[slots[0]]["y"], frames.thinned[f].astype(np.float32))
        np.testing.assert_array_equal(curves[slots[1]]["y"], frames.full[f].astype(np.float32))
        assert all(set(d) == {"type", "y"} and d["y"].dtype == np.float32
                   for d in curves.values())
        title = frame["layout"]["annotations"][-1]["text"]
        assert title == (f"Thinned network, epoch {frame['name']}: test MSE "
                         f"{frames.thinned_mse[f]:.3f}<br>Full network: test MSE "
                         f"{frames.full_mse[f]:.3f}")
        assert set(frame["layout"]) == {"title", "annotations"}  # axes fixed by the figure
    assert [f["thinned_mse"] for f in spec["layout"]["meta"]["frames"]] == [0.41, 0.25, 0.123]
    assert [f["full_acc"] for f in spec["layout"]["meta"]["frames"]] == [None] * 3


def test_the_points_are_static_traces_train_filled_test_hollow():
    spec = validated(animation(curve_frames()))
    train, test = by_role(spec, "train"), by_role(spec, "test")
    assert len(train) == len(test) == 1  # one panel: each set drawn once
    np.testing.assert_array_equal(train[0]["x"], X_TRAIN[:, 0].astype(np.float32))
    np.testing.assert_array_equal(train[0]["y"], Y_TRAIN.astype(np.float32))
    np.testing.assert_array_equal(test[0]["y"], Y_TEST.astype(np.float32))
    assert (train[0]["marker"]["symbol"], test[0]["marker"]["symbol"]) == ("circle",
                                                                          "circle-open")
    assert {t["xaxis"] for t in train + test} == {"x2"}
    points = {spec["data"].index(t) for t in train + test}
    assert not points & set(spec["frames"][0]["traces"])


def test_the_curve_panel_spans_both_maps_width_with_one_y_range():
    frames = curve_frames()
    layout = validated(animation(frames))["layout"]
    assert "xaxis3" not in layout
    assert layout["xaxis2"]["domain"] == [0.43, 1.0]
    low, high = layout["yaxis2"]["range"]
    assert low <= min(Y_TRAIN.min(), Y_TEST.min()) and high >= max(Y_TRAIN.max(), Y_TEST.max())
    assert low <= frames.thinned.min() and high >= frames.thinned.max()
    assert layout["xaxis2"]["range"] == [XS[0], XS[-1]]


def test_a_curve_far_off_the_points_is_cut_half_their_span_beyond_them():
    low, high = value_range([np.array([0.0, 1.0])], [np.array([-100.0, 0.5, np.nan])])
    assert low == pytest.approx(-0.5 - 0.08 * 1.5) and high == pytest.approx(1.0 + 0.08 * 1.5)


def test_at_frame_shows_the_first_frames_curves():
    frames = curve_frames()
    first = validated(at_frame(animation(frames), 0))
    np.testing.assert_array_equal(by_role(first, "thinned")[0]["y"],
                                  frames.thinned[0].astype(np.float32))
    assert "test MSE 0.410" in first["layout"]["annotations"][-1]["text"]


def test_projector_mode_draws_bigger_lines_points_and_text():
    normal = validated(animation(curve_frames()))
    big = validated(animation(curve_frames(), projector=True))
    for role, key in (("thinned", "line"), ("train", "marker")):
        size = "width" if key == "line" else "size"
        assert by_role(big, role)[0][key][size] > by_role(normal, role)[0][key][size]
    assert big["layout"]["font"]["size"] > normal["layout"]["font"]["size"]
    assert big["layout"]["xaxis2"]["domain"] == [0.47, 1.0]  # beside the diagram


def test_animation_alt_states_both_mses_of_the_shown_frame():
    fig = animation(curve_frames())
    assert "thinned network test MSE 0.123, full network 0.045" in alt.animation_alt(fig)
    assert "test MSE 0.410, full network 0.300" in alt.animation_alt(fig, 0)


# --------------------------------------------------------------------------- sub-networks


def subnetworks(projector: bool = False):
    subs = np.sin(XS)[None] + rng.normal(0, 0.2, (8, R))
    test_time = np.sin(XS) * 0.9
    # The mean and sd as the engine computes them (one computation of the band).
    mean, sd = (a[:, 0] for a in mc_mean_and_sd(subs[:, :, None]))
    fig = subnetworks_figure(XS, subs, mean, sd, test_time, X_TRAIN, Y_TRAIN, X_TEST, Y_TEST,
                             mean_mse=0.081, test_time_mse=0.074,
                             test_time_name="Test-time network (weights × q)",
                             projector=projector)
    return fig, subs, test_time


def test_subnetworks_draw_each_curve_their_mean_the_band_and_the_test_time_network():
    fig, subs, test_time = subnetworks()
    spec = validated(fig)
    mean, sd = subs.mean(axis=0), subs.std(axis=0)
    [lines] = by_role(spec, "sub_networks")
    drawn = lines["y"].reshape(8, R + 1)  # each curve, then a gap
    np.testing.assert_allclose(drawn[:, :R], subs, atol=1e-6)
    assert np.isnan(drawn[:, R]).all()
    [band] = by_role(spec, "band")
    np.testing.assert_allclose(band["y"][:R], mean + 2 * sd, atol=1e-6)
    np.testing.assert_allclose(band["y"][R:], (mean - 2 * sd)[::-1], atol=1e-6)
    np.testing.assert_allclose(band["x"][:R], XS, atol=1e-6)
    [average] = by_role(spec, "mean")
    np.testing.assert_allclose(average["y"], mean, atol=1e-6)
    [full] = by_role(spec, "test_time")
    np.testing.assert_array_equal(full["y"], test_time.astype(np.float32))
    assert full["line"]["dash"] == "dash"
    assert [t["name"] for t in spec["data"]] == [
        "mean ± 2 sd", "8 sub-networks", "train", "test", "Mean of 8 sub-networks",
        "Test-time network (weights × q)"]
    assert spec["layout"]["title"]["text"] == (
        "Mean of 8 sub-networks: test MSE 0.081<br>"
        "Test-time network (weights × q): test MSE 0.074")
    assert fig.layout.meta["widest_sd"] == pytest.approx(sd.max())
    # The caption under it says what the band is: the band drawn above.
    assert "mean ± 2 standard deviations of the sub-networks' predictions" in BAND_CAPTION


def test_subnetworks_alt_holds_the_chart_numbers():
    fig, subs, _ = subnetworks()
    text = alt.subnetworks_alt(fig)
    sd = subs.std(axis=0)
    for number in ("0.081", "0.074", f"{2 * sd.max():.3f}", f"{2 * sd.mean():.3f}",
                   f"x = {XS[np.argmax(sd)]:.2f}", "12 training points", "5 test points"):
        assert number in text, (number, text)


def test_subnetworks_projector_mode_is_bigger():
    normal, big = validated(subnetworks()[0]), validated(subnetworks(projector=True)[0])
    assert by_role(big, "mean")[0]["line"]["width"] > by_role(normal, "mean")[0]["line"]["width"]
    assert by_role(big, "test")[0]["marker"]["size"] > by_role(normal, "test")[0]["marker"]["size"]
    assert big["layout"]["font"]["size"] > normal["layout"]["font"]["size"]


def regression_convergence() -> Convergence:
    ks = np.array([1, 2, 4, 8])
    mse = np.array([[0.3, 0.2, 0.15, 0.12], [0.32, 0.21, 0.14, 0.11]])
    gap = np.array([[0.2, 0.1, 0.05, 0.03], [0.22, 0.12, 0.06, 0.02]])
    return Convergence("arithmetic", ks, None, None, None, Scores(None, None, 0.31),
                       Scores(None, None, 0.105), gap, 16, 0.015, mse=mse)


def test_convergence_draws_the_mc_means_mse_against_k_beside_the_test_time_networks():
    c = regression_convergence()
    spec = validated(convergence_figure(c))
    assert [a["text"] for a in spec["layout"]["annotations"]] == [
        "test MSE (y standardised)", "mean |difference| to test-time"]
    assert "xaxis3" not in spec["layout"] and spec["layout"]["xaxis"]["type"] == "log"
    [mc] = [t for t in by_role(spec, "mc") if t["meta"]["metric"] == "MSE"]
    np.testing.assert_allclose(mc["y"], c.mse.mean(axis=0))
    np.testing.assert_array_equal(mc["x"], c.ks)
    [test_time] = [t for t in by_role(spec, "test_time") if t["meta"]["metric"] == "MSE"]
    assert list(test_time["y"]) == [0.105, 0.105]
    [band] = [t for t in by_role(spec, "band") if t["meta"]["metric"] == "MSE"]
    np.testing.assert_allclose(band["y"][:4], c.mse.max(axis=0))
    assert c.repeats == 2
    text = alt.convergence_alt(convergence_figure(c))
    for number in ("0.310", "0.115 at K = 8", "test-time network 0.105", "0.0250 at K = 8",
                   "0.0150 with all 16 pooled"):
        assert number in text, (number, text)


# --------------------------------------------------------------------------- training curves


def mse_history(scale: float = 1.0) -> dict[str, np.ndarray]:
    epochs = np.arange(1, 11)
    return {"train_loss": scale / epochs, "test_loss": scale / epochs + 0.1,
            "thinned_loss": scale * 1.5 / epochs}


def test_a_history_without_accuracies_draws_the_mse_panel_alone():
    history = mse_history()
    fig = history_figure(history, epoch_marker=4)
    spec = validated(fig)
    assert "xaxis2" not in spec["layout"]
    assert [a["text"] for a in spec["layout"]["annotations"]][0] == "loss"
    assert spec["layout"]["yaxis"]["title"]["text"] == style.MSE_LABEL
    assert {t["meta"]["key"] for t in spec["data"]} == set(history)
    for trace in spec["data"]:
        np.testing.assert_allclose(trace["y"], history[trace["meta"]["key"]])
    assert len(spec["layout"]["shapes"]) == 1  # the epoch marker on the one panel
    assert alt.history_alt(fig) == (
        "Training curves over 10 epochs, mean squared error (y standardised). After the last "
        "epoch, MSE on the training data 0.100, test data 0.200, training data through the "
        "thinned networks 0.150.")


def test_overlaid_mse_histories_and_their_alt():
    fig = overlay_history_figure({"p = 0.5": mse_history(), "p = 0": mse_history(2.0)},
                                 epoch_marker=2)
    spec = validated(fig)
    assert "xaxis2" not in spec["layout"] and len(spec["layout"]["shapes"]) == 1
    assert len(spec["data"]) == 4  # train and test of each run
    twin = twin_curves_figure({"p = 0.5": mse_history(), "p = 0": mse_history(2.0)})
    assert "xaxis2" not in validated(twin)["layout"]
    text = alt.curves_alt(fig)
    assert "p = 0.5: test MSE 0.200 (training 0.100); p = 0: test MSE 0.300 (training 0.200)" \
        in text and "accuracy" not in text


def test_the_sweep_over_p_in_mse_only():
    ps = np.array([0.0, 0.25, 0.5])
    metrics = {"test_loss": np.array([[0.3, 0.4], [0.2, 0.2], [0.25, 0.35]]),
               "train_loss": np.array([[0.1, 0.1], [0.15, 0.15], [0.2, 0.2]])}
    fig = sweep_figure(ps, metrics, current_p=0.25)
    spec = validated(fig)
    assert [a["text"] for a in spec["layout"]["annotations"]][:2] == [
        "test MSE", "gap: test − train MSE"]
    assert "xaxis3" not in spec["layout"]
    means = {t["meta"]["key"]: t["y"] for t in by_role(spec, "sweep_mean")}
    np.testing.assert_allclose(means["test_loss"], [0.35, 0.2, 0.3])
    np.testing.assert_allclose(means["gap"], [0.25, 0.05, 0.1])
    text = alt.sweep_alt(fig)
    assert "Test MSE (y standardised): 0.350 at p = 0, 0.200 at p = 0.25, 0.300 at p = 0.5 " \
           "(lowest at p = 0.25)" in text and "accuracy" not in text


# --------------------------------------------------------------------------- curves over points


def test_with_and_without_dropout_curves_over_the_points():
    curves = {"p = 0.5": np.sin(XS), "p = 0 (no dropout)": np.cos(XS)}
    fig = twin_curve_figure(XS, curves, {"p = 0.5": 0.08, "p = 0 (no dropout)": 0.15},
                            X_TRAIN, Y_TRAIN, X_TEST, Y_TEST)
    spec = validated(fig)
    runs = by_role(spec, "run")
    assert [t["name"] for t in runs] == list(curves)
    for trace in runs:
        np.testing.assert_array_equal(trace["y"], curves[trace["name"]].astype(np.float32))
    # The runs' colours of the training curves: first blue, second orange.
    assert [t["line"]["color"] for t in runs] == [style.class_color(0), style.class_color(1)]
    assert spec["layout"]["title"]["text"] == ("p = 0.5: test MSE 0.080<br>"
                                               "p = 0 (no dropout): test MSE 0.150")
    assert alt.curves_over_points_alt(fig) == (
        "Curves over x (x and y standardised): p = 0.5, test MSE 0.080; p = 0 (no dropout), "
        "test MSE 0.150; over 12 training points (filled) and 5 test points (hollow).")


def test_hand_made_sub_network_curve_beside_the_full_network():
    mine, full = 0.5 * np.sin(XS), np.sin(XS)
    fig = handmade_curve_figure(XS, mine, full, 0.31, 0.074, X_TRAIN, Y_TRAIN, X_TEST, Y_TEST)
    spec = validated(fig)
    [hand], [test_time] = by_role(spec, "thinned"), by_role(spec, "test_time")
    np.testing.assert_array_equal(hand["y"], mine.astype(np.float32))
    np.testing.assert_array_equal(test_time["y"], full.astype(np.float32))
    assert spec["layout"]["title"]["text"] == ("Your sub-network: test MSE 0.310<br>"
                                               "Full network: test MSE 0.074")
    assert [c["mse"] for c in fig.layout.meta["curves"]] == [0.31, 0.074]
    big = validated(handmade_curve_figure(XS, mine, full, 0.31, 0.074, X_TRAIN, Y_TRAIN,
                                          X_TEST, Y_TEST, projector=True))
    assert by_role(big, "thinned")[0]["line"]["width"] > hand["line"]["width"]
    assert big["layout"]["margin"]["t"] > spec["layout"]["margin"]["t"]  # two larger lines
