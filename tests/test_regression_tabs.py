"""Regression on the Dropout in action and Build a sub-network tabs (AppTest, with sine, gap and
growing-noise): no exception, the curves drawn, and every test MSE the page states equal to
`pipeline.scores` of the run's networks; the single-epoch export's curves (no Streamlit)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import app, assert_clean, charts_by_key, traces
from test_classroom import blocks

from dropout_viz import handmade as hm
from dropout_viz import pipeline
from dropout_viz.data import REGRESSION_DATASETS
from dropout_viz.figures.regression import mse_text
from dropout_viz.settings import DEFAULTS
from dropout_viz.tab_figures import action_figures, net_title
from dropout_viz.ui import cache, classroom, handmade_tab, state

SMALL = {"epochs": "12", "width": "8"}  # a layer the diagram draws whole


def small(name: str):
    return DEFAULTS.replace(dataset=name, epochs=12, width=8)


def mse_of(net, dataset, keep_masks=None) -> float:
    """The test MSE of `net` (thinned by keep_masks), straight from pipeline.scores."""
    return pipeline.scores(net.predict(dataset.X_test, keep_masks), dataset.y_test).mse




def curve_panel_title(layout: dict) -> str:
    [title] = [a["text"] for a in layout["annotations"] if a.get("xref") == "x2 domain"]
    return title


# ----------------------------------------------------------------------------- Dropout in action


@pytest.mark.parametrize("name", REGRESSION_DATASETS)
def test_action_tab_draws_both_networks_curves_with_their_test_mse(name):
    at = app(dataset=name, **SMALL).run()
    assert_clean(at)
    assert not at.error
    run = cache.RUNS.get(small(name).train_key())
    data = run.dataset
    charts = charts_by_key(at)
    assert set(charts) == {"animation", "history"}
    animation = charts["animation"]
    assert animation["layout"]["meta"]["layer_sizes"] == [1, 8, 8, 1]
    assert not traces(animation, role="probability")
    grid = pipeline.grid_for(data)
    full_name = net_title(small(name))
    for frame, meta in zip(animation["frames"], animation["layout"]["meta"]["frames"],
                           strict=True):
        epoch = int(frame["name"])
        net = run.network(epoch - 1)
        mask = pipeline.view_mask(run.keep_masks(epoch - 1, 0))
        assert meta["thinned_mse"] == pytest.approx(mse_of(net, data, mask), rel=1e-12)
        assert meta["full_mse"] == pytest.approx(mse_of(net, data), rel=1e-12)
        assert meta["thinned_acc"] is None
        assert curve_panel_title(frame["layout"]) == (
            f"Thinned network, epoch {epoch}: {mse_text(meta['thinned_mse'])}<br>"
            f"{full_name}: {mse_text(meta['full_mse'])}")
        # The frame's two curves: that epoch's thinned and full network over the line.
        thinned, full = pipeline.thinned_and_full(net, mask, grid.points)
        curves = [t["y"] for t in frame["data"] if "y" in t and len(t["y"]) == len(grid.xs)]
        np.testing.assert_array_equal(curves[-2], thinned[:, 0])
        np.testing.assert_array_equal(curves[-1], full[:, 0])
    # Shown before any scrubbing: the last frame's curves, on the line, over every point.
    [shown] = traces(animation, role="thinned")
    np.testing.assert_array_equal(shown["x"], grid.xs.astype(np.float32))
    [train] = traces(animation, role="train")
    assert len(train["x"]) == len(data.y_train)
    assert any("test MSE (y standardised)" in c.value for c in at.caption)
    history = charts["history"]
    assert traces(history, key="test_loss") and not traces(history, key="test_acc")


def test_the_diagram_names_the_input_x_and_the_output_y():
    at = app(dataset="sine", **SMALL).run()
    [labels] = traces(charts_by_key(at)["animation"], role="labels")
    assert list(labels["text"]) == ["x", "y"]


def test_projector_mode_puts_the_curve_panel_beside_the_diagram_on_one_screen():
    at = app(dataset="sine", projector="1", **SMALL).run()
    assert_clean(at)
    assert any(block.proto.id.endswith("-" + classroom.ONE_SCREEN) for block in blocks(at))
    layout = charts_by_key(at)["animation"]["layout"]
    assert layout["xaxis"]["domain"][1] < layout["xaxis2"]["domain"][0]
    assert layout["yaxis"]["domain"] == [0, 1]


def test_action_figures_draw_the_epochs_curves_with_their_test_mse():
    settings = small("growing-noise")
    run = pipeline.train_for(settings.train_key())
    epoch = 5
    figures = action_figures(run, settings, epoch)
    assert set(figures) == {"network", "curves", "history"}
    net, mask = run.network(epoch), pipeline.view_mask(run.keep_masks(epoch, 0))
    grid = pipeline.grid_for(run.dataset)
    thinned, full = pipeline.thinned_and_full(net, mask, grid.points)
    curves = figures["curves"]
    by_role = {t.meta["role"]: t for t in curves.data}
    np.testing.assert_array_equal(by_role["thinned"].y, thinned[:, 0])
    np.testing.assert_array_equal(by_role["test_time"].y, full[:, 0])
    mses = [c["mse"] for c in curves.layout.meta["curves"]]
    assert mses == pytest.approx([mse_of(net, run.dataset, mask), mse_of(net, run.dataset)])
    assert curves.layout.title.text.startswith(
        f"Thinned network, epoch {epoch + 1}: {mse_text(mses[0])}")
    assert figures["network"].layout.meta["layer_sizes"] == [1, 8, 8, 1]


# ----------------------------------------------------------------------------- Build a sub-network


@pytest.mark.parametrize("name", REGRESSION_DATASETS)
def test_handmade_tab_draws_the_sub_networks_curve_and_knockouts_in_mse(name):
    dropped = ((1, 2), (2, 5))
    at = app(dataset=name, tab="handmade", drop="1.2,2.5", **SMALL).run()
    assert_clean(at)
    assert not at.error
    assert at.session_state[state.DROPPED] == dropped
    charts = charts_by_key(at)
    assert set(charts) == {"handmade_network", "handmade_curve", "handmade_knockouts"}
    run = cache.RUNS.get(small(name).train_key())
    net, data = run.network(), run.dataset
    masks = hm.keep_masks(net.site_sizes, dropped)
    line = pipeline.grid_for(data)
    spec = charts["handmade_curve"]
    [mine], [full] = traces(spec, role="thinned"), traces(spec, role="test_time")
    np.testing.assert_allclose(mine["y"], net.predict(line.points, masks)[:, 0], rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(full["y"], net.predict(line.points)[:, 0], rtol=1e-6, atol=1e-6)
    assert mine["meta"]["mse"] == pytest.approx(mse_of(net, data, masks), rel=1e-12)
    assert full["meta"]["mse"] == pytest.approx(mse_of(net, data), rel=1e-12)
    title = spec["layout"]["title"]["text"]
    assert f"Your sub-network: {mse_text(mse_of(net, data, masks))}" in title
    assert charts["handmade_network"]["layout"]["meta"]["dropped"] == [[], [1], [4]]

    # Knock-outs in test MSE, for the run and its twin without dropout; no measure to choose.
    knockouts = charts["handmade_knockouts"]
    bars = traces(knockouts, role="knockout")
    assert len(bars) == 2
    result = hm.knockouts(net, data.X_test, data.y_test)
    order = result.order("loss")
    assert list(bars[0]["x"]) == [hm.unit_name(result.units[i]) for i in order]
    np.testing.assert_allclose(bars[0]["y"], result.cost("loss")[order], atol=1e-6)
    assert knockouts["layout"]["yaxis"]["title"]["text"] == "test MSE increase"
    assert handmade_tab.MEASURE_KEY not in {r.key for r in at.radio}
    assert any(c.value.startswith("Each bar: the test MSE increase") for c in at.caption)


# ----------------------------------------------------------------------------- around the tabs


def test_the_gap_says_its_points_are_all_test_points():
    at = app(dataset="gap", **SMALL).run()
    assert_clean(at)
    data = cache.RUNS.get(small("gap").train_key()).dataset
    x_test = data.unstandardize(data.X_test)[:, 0]
    in_gap = int(((x_test > 0.5) & (x_test < 2.5)).sum())
    x_train = data.unstandardize(data.X_train)[:, 0]
    assert in_gap > 0 and not ((x_train > 0.5) & (x_train < 2.5)).any()
    n = len(data.y_train) + len(data.y_test)
    assert (f"the {in_gap} points there are all test points, so the test split holds "
            f"{len(data.y_test)} of the {n} points") in " ".join(i.value for i in at.info)


def test_the_picker_names_the_regression_sets_and_their_noise_applies():
    at = app(dataset="sine", **SMALL).run()
    options = at.selectbox(key="dataset").options
    assert {"sine (regression)", "gap (regression)", "growing-noise (regression)",
            "moons", "digits"} <= set(options)
    assert not at.slider(key="noise").disabled and not at.slider(key="n_samples").disabled
    at.slider(key="noise").set_value(0.0).run()
    assert_clean(at)
    data = cache.RUNS.get(small("sine").replace(noise=0.0).train_key()).dataset
    # Without noise every point lies on the sine itself (in the data's own units).
    np.testing.assert_allclose(data.unstandardize_target(data.y_train),
                               np.sin(data.unstandardize(data.X_train)[:, 0]), atol=1e-12)
    assert traces(charts_by_key(at)["animation"], role="thinned")
