"""The Experiments tab under AppTest: with vs without, the sweep (button, cache, mode, marker),
inside the neurons, and the notes' Keras model on digits."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import APP, charts_by_key, traces
from streamlit.testing.v1 import AppTest

from dropout_viz import experiments as ex
from dropout_viz import neurons, pipeline, tab_figures
from dropout_viz.settings import DEFAULTS
from dropout_viz.ui import cache, experiments_tab

QUICK = {"epochs": "12", "width": "16"}




def open_tab(**url: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in url.items():
        at.query_params[key] = value
    at.run()
    at.session_state["_tab_label"] = "Experiments"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def settings_of(**changes):
    return DEFAULTS.replace(epochs=12, width=16, **changes)


def metric(at: AppTest, label_start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label_start))


def test_with_and_without_shows_both_runs_and_their_gaps():
    at = open_tab(**QUICK)
    settings = settings_of()
    run = cache.RUNS.get(settings.train_key())
    twin = cache.RUNS.get(experiments_tab.twin_key(settings.train_key()))
    assert run is not None and twin is not None
    assert twin.config == ex.twin_config(run.config)
    assert metric(at, "Gap (test − train loss), p = 0.5") == f"{ex.generalisation_gap(run):.3f}"
    assert metric(at, "Gap (test − train loss), p = 0 ") == f"{ex.generalisation_gap(twin):.3f}"
    charts = charts_by_key(at)
    assert {"twin_boundaries", "twin_curves", "activations", "unit_maps_1",
            "unit_maps_2"} <= set(charts)
    assert "sweep" not in charts  # the sweep waits for its button
    curves = traces(charts["twin_curves"], role="curve", key="test_loss")
    np.testing.assert_allclose(curves[0]["y"], run.history["test_loss"])
    np.testing.assert_allclose(curves[1]["y"], twin.history["test_loss"])
    stats = neurons.pooled_stats(neurons.activation_stats(run.network(), run.dataset.X_train))
    assert metric(at, "Mean activation, p = 0.5") == f"{stats['mean']:.3f}"
    assert metric(at, "Near zero") == f"{stats['near_zero']:.1%}"


def test_p_zero_says_the_two_runs_are_the_same():
    at = open_tab(p_hidden="0", **QUICK)
    assert any("both runs are the same network" in i.value for i in at.info)


def test_sweep_runs_from_its_button_and_stays_when_p_moves():
    at = open_tab(**QUICK)
    at.button(key="run_sweep").click().run()
    assert not at.exception
    charts = charts_by_key(at)
    settings = settings_of()
    expected = ex.sweep_p(cache.get_dataset(settings.data_key()),
                          pipeline.config_for(settings.train_key()))
    means = traces(charts["sweep"], role="sweep_mean", key="test_loss")
    np.testing.assert_allclose(means[0]["y"], expected.mean("test_loss"))
    assert charts["sweep"]["layout"]["meta"]["current_p"] == 0.5
    assert any("Trained in" in c.value and "Lowest mean test loss" in c.value
               for c in at.caption)
    assert ex.SWEEP_PS == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8) and ex.SWEEP_SEEDS == 3
    assert any(c.value.startswith("p from 0 to 0.8 in steps of 0.1, each with 3 training seeds "
                                  "(27 networks of 2 × 16 units)") for c in at.caption)

    at.slider(key="p_hidden").set_value(0.3).run()  # no retraining: only the marker moves
    charts = charts_by_key(at)
    assert charts["sweep"]["layout"]["meta"]["current_p"] == 0.3
    assert "run_sweep" not in [b.key for b in at.button]


def test_sweep_mode_is_a_setting_in_the_url():
    at = open_tab(**QUICK)
    at.radio(key="sweep_mode").set_value("active").run()
    assert at.query_params["sweep_mode"] in ("active", ["active"])
    assert any("n = 16 / (1 − p)" in c.value and "20, 23, 27, 32, 40, 53, 80" in c.value
               and "(1 − p)·n ≈ 16 at every p." in c.value for c in at.caption)
    at.button(key="run_sweep").click().run()
    assert not at.exception
    meta = charts_by_key(at)["sweep"]["layout"]["meta"]
    assert meta["mode"] == "active"
    entry = experiments_tab.SWEEPS.get(experiments_tab.sweep_key(settings_of().train_key(),
                                                                 "active"))
    assert entry[0].widths[-1] == (80, 80)


def test_unit_maps_mark_the_units_dropped_at_the_chosen_epoch():
    at = open_tab(**QUICK)
    at.select_slider(key=experiments_tab.EPOCH_KEY).set_value(4).run()
    run = cache.RUNS.get(settings_of().train_key())
    masks = ex.shown_mask(run, 3)
    charts = charts_by_key(at)
    for layer in (1, 2):
        meta = charts[f"unit_maps_{layer}"]["layout"]["meta"]
        assert meta["dropped"] == np.flatnonzero(masks[layer] == 0).tolist()
        assert meta["units"] == meta["shown"] == 16


def test_the_notes_keras_model_on_digits():
    at = open_tab(**QUICK)
    at.button(key="keras_preset").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["dataset"] == "digits"
    assert at.session_state["preset"] == "notes-keras-digits"
    assert at.session_state["width"] == 128 and at.session_state["epochs"] == 10
    charts = charts_by_key(at)
    assert {"twin_confusion", "mistakes_dropout", "mistakes_no_dropout",
            "keras_network"} <= set(charts)
    assert "twin_boundaries" not in charts and "unit_maps_1" not in charts
    assert any("no plane to draw a decision boundary" in i.value for i in at.info)
    assert any("Unit maps need a 2-D input plane" in i.value for i in at.info)
    network = charts["keras_network"]["layout"]["meta"]
    assert network["layer_sizes"] == [64, 128, 128, 10]
    assert network["n_hidden"] == [49, 113, 113, 0]  # 128-wide layers drawn as 15 + "more"
    # The caption names what the diagram shows, from the network's own sizes.
    assert [len(shown) for shown in network["shown_nodes"]] == [15, 15, 15, 10]
    assert any(c.value.startswith(
        "Layers wider than 16 units show only their first 15, the rest summarised below them: "
        "here the input layer (64 units), hidden layer 1 (128 units) and hidden layer 2 "
        "(128 units).") for c in at.caption)
    confusion = traces(charts["twin_confusion"], role="confusion")
    assert [np.sum(t["meta"]["counts"]) for t in confusion] == [359, 359]
    images = traces(charts["mistakes_dropout"], role="image")
    assert 1 <= len(images) <= 8
    assert all(t["meta"]["true"] != t["meta"]["predicted"] for t in images)


def test_fixed_active_units_caption_is_true_where_widths_are_capped():
    """(1 − p)·n = width fails where n(p) would pass the engine's limit of 1024 units."""
    for width in (16, 64, 205):
        caption = experiments_tab.active_sweep_caption(width)
        assert f"(1 − p)·n ≈ {width} at every p." in caption
        for p in ex.SWEEP_PS:
            assert abs((1 - p) * ex.active_width(width, p) - width) <= 0.5
    caption = experiments_tab.active_sweep_caption(256)
    widths = [ex.active_width(256, p) for p in ex.SWEEP_PS]
    assert widths[-1] == ex.MAX_SWEEP_WIDTH == 1024 and widths[-2] == 853
    assert f"(widths {', '.join(map(str, widths))})" in caption
    assert "at every p" not in caption
    assert "(1 − p)·n ≈ 256 up to p = 0.7." in caption
    assert "capped at the engine's limit of 1024 units, and (1 − p)·n is only 204.8 at p = 0.8." \
        in caption
    assert round(0.2 * 1024, 1) == 204.8


def test_shown_units_note_follows_the_diagram():
    from dropout_viz.figures import network_figure
    from dropout_viz.figures.network import MAX_NODES

    sizes = (2, 40, 8, 3)
    weights = [np.ones((a, b)) for a, b in zip(sizes, sizes[1:])]
    shown = network_figure(weights).layout.meta["shown_nodes"]
    assert [len(s) for s in shown] == [2, MAX_NODES - 1, 8, 3]
    assert experiments_tab.shown_units_note(sizes) == (
        f"Layers wider than {MAX_NODES} units show only their first {MAX_NODES - 1}, the rest "
        "summarised below them: here hidden layer 1 (40 units). ")
    assert experiments_tab.shown_units_note((2, 8, 2)) == "Every unit is drawn. "


# ---- regression ----------------------------------------------------------------------------


def open_regression(dataset: str, **url: str) -> AppTest:
    """The tab opened directly for a regression set; no error box either."""
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in {"dataset": dataset, "tab": "experiments", **QUICK, **url}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.mark.parametrize("dataset", ["sine", "gap", "growing-noise"])
def test_regression_with_and_without_in_mse(dataset):
    at = open_regression(dataset)
    settings = settings_of(dataset=dataset)
    run = cache.RUNS.get(settings.train_key())
    twin = cache.RUNS.get(experiments_tab.twin_key(settings.train_key()))
    gap, twin_gap = ex.generalisation_gap(run), ex.generalisation_gap(twin)
    assert metric(at, "Gap (test − train MSE), p = 0.5") == f"{gap:.3f}"
    assert metric(at, "Gap (test − train MSE), p = 0 ") == f"{twin_gap:.3f}"
    line = next(m.value for m in at.markdown if m.value.startswith("**p = 0.5**"))
    h = run.history
    assert (f"train MSE {h['train_loss'][-1]:.3f}, test MSE {h['test_loss'][-1]:.3f}, so the "
            f"gap is **{gap:.3f}** (y standardised)") in line
    assert "accuracy" not in line and "nan" not in line.lower()
    charts = charts_by_key(at)
    assert {"twin_fits", "twin_curves", "activations"} <= set(charts)
    assert not {"twin_boundaries", "twin_confusion", "unit_maps_1"} & set(charts)
    # Both networks' curves over x are the networks' predictions, titled with their test MSEs.
    fits = charts["twin_fits"]
    xs = pipeline.grid_for(run.dataset).points
    drawn = sorted(traces(fits, role="run"), key=lambda t: t["meta"]["name"], reverse=True)
    for trace, net in zip(drawn, (run.network(), twin.network()), strict=True):
        np.testing.assert_allclose(trace["y"], net.predict(xs)[:, 0], atol=1e-5)
    mses = (h["test_loss"][-1], twin.history["test_loss"][-1])
    assert [c["mse"] for c in fits["layout"]["meta"]["curves"]] == pytest.approx(mses)
    caption = next(c.value for c in at.caption if c.value.startswith("Both test-time networks"))
    assert f"{mses[0]:.3f} with p = 0.5 and {mses[1]:.3f} with p = 0 (no dropout)" in caption
    assert f"{abs(mses[0] - mses[1]):.3f} lower with" in caption
    assert any("each unit's output is a curve over x" in i.value for i in at.info)


def test_regression_sweep_is_in_mse():
    at = open_regression("sine")
    at.button(key="run_sweep").click().run()
    assert not at.exception and not at.error
    sweep = charts_by_key(at)["sweep"]
    settings = settings_of(dataset="sine")
    expected = ex.sweep_p(cache.get_dataset(settings.data_key()),
                          pipeline.config_for(settings.train_key()))
    assert "test_acc" not in expected.metrics
    [means] = traces(sweep, role="sweep_mean", key="test_loss")
    np.testing.assert_allclose(means["y"], expected.mean("test_loss"))
    titles = [a["text"] for a in sweep["layout"]["annotations"]]
    assert "test MSE" in titles and "gap: test − train MSE" in titles
    best = int(np.nanargmin(expected.mean("test_loss")))
    caption = next(c.value for c in at.caption if "Lowest mean test" in c.value)
    assert (f"Lowest mean test MSE (y standardised) at p = {expected.ps[best]:g} "
            f"({expected.mean('test_loss')[best]:.3f}") in caption


def test_regression_projector_and_export_figures():
    at = open_regression("gap", projector="1")
    assert charts_by_key(at)["twin_fits"]["layout"]["font"]["size"] == 22
    settings = settings_of(dataset="gap").replace(projector=True)
    run = cache.RUNS.get(settings.train_key())
    figures = tab_figures.tab_figures(run, settings, ("experiments",))["experiments"]
    assert {"fits", "curves", "sweep", "activations"} <= set(figures)
    assert not {"boundaries", "confusion"} & set(figures)
