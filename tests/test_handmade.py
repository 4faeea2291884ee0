"""Build a sub-network by hand: the drop= link, the mask, knock-outs (pure), and the tab (AppTest).

The tab's numbers are checked against direct evaluation through the engine's one forward pass,
`MLP.predict_proba(X, keep_masks)` (for regression `MLP.predict`, and the MSE).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import app, assert_clean, charts_by_key, traces
from streamlit.proto.WidgetStates_pb2 import WidgetState

from dropout_viz import handmade as hm
from dropout_viz import pipeline
from dropout_viz.engine import MLP, accuracy, log_loss, sample_keep_masks
from dropout_viz.settings import DEFAULTS
from dropout_viz.ui import handmade_tab, runs, state

SMALL = DEFAULTS.replace(width=8, epochs=20)  # a layer the diagram draws whole
SMALL_URL = {"width": "8", "epochs": "20", "tab": "handmade"}


@pytest.fixture(scope="module")
def run():
    return pipeline.train_for(SMALL.train_key())


# ----------------------------------------------------------------------------- the link


def test_drop_text_round_trips():
    units = ((0, 2), (1, 3), (1, 7), (2, 12))
    assert hm.format_drop(units) == "0.2,1.3,1.7,2.12"
    assert hm.parse_drop(hm.format_drop(units)) == (units, [])
    assert hm.parse_drop(" 2.12, 1.3,,1.3 ") == (((1, 3), (2, 12)), [])
    assert hm.format_drop(()) == ""


@pytest.mark.parametrize("junk", ["x", "1", "1.", ".3", "1.3.4", "+1.2", "-1.2", "h1.3",
                                  "1.3e0", "١.٣", "1 .3", "99999.1"])
def test_bad_syntax_warns_naming_the_item_and_is_ignored(junk):
    units, warnings = hm.parse_drop(f"1.3,{junk},2.4")
    assert units == ((1, 3), (2, 4))
    assert len(warnings) == 1 and f"'{junk}'" in warnings[0]


def test_unknown_layers_and_units_warn_and_are_ignored():
    units, warnings = hm.known_units([(0, 3), (0, 0), (1, 9), (1, 8), (3, 1), (2, 1)], (2, 8, 8))
    assert units == ((1, 8), (2, 1))
    assert len(warnings) == 4
    assert any("'3.1'" in w and "no layer 3" in w for w in warnings)
    assert any("'1.9'" in w and "units 1 to 8" in w for w in warnings)
    assert any("'0.3'" in w and "inputs" in w for w in warnings)


def test_an_overlong_value_is_cut_with_a_warning():
    units, warnings = hm.parse_drop("1.1," * 5000)
    assert units == ((1, 1),) and len(warnings) == 1


# ----------------------------------------------------------------------------- masks


def test_keep_masks_and_dropped_units_are_inverse():
    dropped = ((0, 1), (1, 2), (2, 8))
    masks = hm.keep_masks((2, 8, 8), dropped)
    assert [m.tolist().count(0.0) for m in masks] == [1, 1, 1]
    assert masks[1][1] == 0.0 and masks[2][7] == 0.0
    assert hm.dropped_units(masks) == dropped


def test_random_mask_follows_the_engine_rule_and_replays(run):
    net = run.network()
    first = hm.random_dropped(net, 5)
    assert first == hm.random_dropped(net, 5) != hm.random_dropped(net, 6)
    engine = sample_keep_masks(net.keep_probs, net.site_sizes, 1, 5)
    assert first == hm.dropped_units([m[0] for m in engine])


def test_epoch_mask_is_the_one_training_used(run):
    assert hm.epoch_dropped(run, 4) == hm.dropped_units(
        pipeline.view_mask(run.keep_masks(4, 0)))


# ----------------------------------------------------------------------------- knock-outs


def direct_scores(net: MLP, X, y, removed):
    """The test-time network without `removed`, one network at a time, from the weights."""
    plain = MLP(net.test_time_weights(), net.biases, net.activation)
    probs = plain.predict_proba(X, hm.keep_masks(net.site_sizes, removed))
    return accuracy(probs, y), log_loss(probs, y)


def test_single_and_pair_knockouts_equal_direct_evaluation(run):
    net, data = run.network(), run.dataset
    result = hm.knockouts(net, data.X_test, data.y_test, pair_units=5)
    base = net.predict_proba(data.X_test)
    assert result.base_accuracy == accuracy(base, data.y_test)
    assert result.base_loss == pytest.approx(log_loss(base, data.y_test), abs=1e-12)
    assert len(result.units) == 16 and len(result.pairs) == 10
    for i, unit in enumerate(result.units):
        acc, loss = direct_scores(net, data.X_test, data.y_test, [unit])
        assert result.accuracy[i] == acc and result.loss[i] == pytest.approx(loss, abs=1e-12)
    for p, (i, j) in enumerate(result.pairs):
        acc, loss = direct_scores(net, data.X_test, data.y_test, [result.units[i],
                                                                  result.units[j]])
        assert result.pair_accuracy[p] == acc
        assert result.pair_loss[p] == pytest.approx(loss, abs=1e-12)
        for measure in hm.MEASURES:
            single = result.cost(measure)
            assert result.interaction(measure)[p] == pytest.approx(
                result.pair_cost(measure)[p] - single[i] - single[j])


def test_pairs_are_among_the_costliest_units_and_sorted(run):
    net, data = run.network(), run.dataset
    result = hm.knockouts(net, data.X_test, data.y_test, pair_units=4)
    in_pairs = sorted({i for pair in result.pairs for i in pair})
    costliest = np.argsort(-result.cost("loss"), kind="stable")[:4]
    assert in_pairs == sorted(costliest.tolist())
    for measure in hm.MEASURES:
        assert np.all(np.diff(result.cost(measure)[result.order(measure)]) <= 0)
        strength = np.abs(result.interaction(measure))[result.strongest(measure, 6)]
        assert np.all(np.diff(strength) <= 0)


# ----------------------------------------------------------------------------- regression

SINE = DEFAULTS.replace(dataset="sine", width=8, epochs=20)


@pytest.fixture(scope="module")
def sine_run():
    return pipeline.train_for(SINE.train_key())


def direct_mse(net: MLP, X, y, removed) -> float:
    """The test-time network without `removed`: its outputs from the weights, and their MSE."""
    plain = MLP(net.test_time_weights(), net.biases, net.activation, loss="mse")
    outputs = plain.predict(X, hm.keep_masks(net.site_sizes, removed))
    return float(np.mean((outputs[:, 0] - y) ** 2))


def test_a_regression_sub_network_is_the_engines_thinned_network(sine_run):
    net, data = sine_run.network(), sine_run.dataset
    dropped = ((1, 2), (1, 5), (2, 8))
    masks = hm.keep_masks(net.site_sizes, dropped)
    line = pipeline.grid_for(data)
    np.testing.assert_array_equal(hm.hand_made_curve(net, line.points, dropped),
                                  net.predict(line.points, masks)[:, 0])
    mse = float(np.mean((net.predict(data.X_test, masks)[:, 0] - data.y_test) ** 2))
    assert hm.hand_made_score(net, data, dropped) == pytest.approx(mse, rel=1e-12)
    assert hm.hand_made_score(net, data, dropped) != hm.hand_made_score(net, data, ())


def test_regression_knockouts_equal_direct_evaluation_in_mse(sine_run):
    net, data = sine_run.network(), sine_run.dataset
    result = hm.knockouts(net, data.X_test, data.y_test, pair_units=5)
    assert hm.measures(net) == ("loss",)
    assert result.accuracy is None and result.base_accuracy is None
    assert result.base_loss == pytest.approx(direct_mse(net, data.X_test, data.y_test, ()),
                                             rel=1e-12)
    assert len(result.units) == 16 and len(result.pairs) == 10
    for i, unit in enumerate(result.units):
        mse = direct_mse(net, data.X_test, data.y_test, [unit])
        assert result.loss[i] == pytest.approx(mse, rel=1e-12)
        # Dropping a unit that matters RAISES the MSE: its cost is the rise, > 0.
        assert result.cost("loss")[i] == pytest.approx(mse - result.base_loss, abs=1e-12)
    assert (result.cost("loss") > 0).any()
    for p, (i, j) in enumerate(result.pairs):
        both = direct_mse(net, data.X_test, data.y_test, [result.units[i], result.units[j]])
        assert result.pair_loss[p] == pytest.approx(both, rel=1e-12)
        single = result.cost("loss")
        assert result.interaction("loss")[p] == pytest.approx(
            both - result.base_loss - single[i] - single[j])
    assert np.all(np.diff(result.cost("loss")[result.order("loss")]) <= 0)


# ----------------------------------------------------------------------------- the tab


def click(at, *units):
    """A click (shift-click for several) on units of the diagram, as the browser reports it:
    the selection with each point's customdata [layer, index]."""
    chart = next(e for e in at.get("plotly_chart") if e.proto.id.endswith(handmade_tab.NETWORK_KEY))
    points = [{"curve_number": 0, "point_number": 0, "point_index": 0,
               "customdata": [layer, index]} for layer, index in units]
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(
        {"selection": {"points": points, "point_indices": [0] * len(points), "box": [],
                       "lasso": []}})))
    at._tree._runner._run(states)
    return at


def boundary_probability(at) -> np.ndarray:
    """P(class 1) of the sub-network's panel, as the page drew it."""
    spec = charts_by_key(at)["handmade_boundary"]
    (panel,) = traces(spec, role="probability", panel=0)
    return np.asarray(panel["z"], dtype=float).ravel() / 100.0


def expected_probability(dropped) -> np.ndarray:
    run = runs.get_run(SMALL.train_key())
    net = run.network()
    grid = pipeline.grid_for(run.dataset)
    return net.predict_proba(grid.points, hm.keep_masks(net.site_sizes, dropped))[:, 1]


def test_clicking_a_unit_changes_the_mask_and_the_boundary_as_the_engine_gives():
    at = app(**SMALL_URL).run()
    assert_clean(at)
    full = boundary_probability(at)
    np.testing.assert_allclose(full, expected_probability(()), atol=6e-3)
    click(at, (1, 2))  # the diagram's h1.3
    assert_clean(at)
    assert at.session_state[state.DROPPED] == ((1, 3),)
    assert at.query_params["drop"] == "1.3"
    drawn = boundary_probability(at)
    np.testing.assert_allclose(drawn, expected_probability([(1, 3)]), atol=6e-3)
    assert np.abs(drawn - full).max() > 0.01
    network = charts_by_key(at)[handmade_tab.NETWORK_KEY]
    assert network["layout"]["meta"]["dropped"] == [[], [2], []]
    assert at.multiselect(key=handmade_tab.units_key(1)).value == [3]
    # Clicking it again brings it back; output units are no dropout site and change nothing.
    click(at, (1, 2), (3, 0))
    assert at.session_state[state.DROPPED] == ()
    assert "drop" not in at.query_params


def test_the_keyboard_twin_reaches_units_the_diagram_does_not_draw():
    at = app(tab="handmade").run()  # 64 units a layer: the diagram draws 15
    at.multiselect(key=handmade_tab.units_key(2)).select(40).run()
    assert_clean(at)
    assert at.session_state[state.DROPPED] == ((2, 40),)
    assert at.query_params["drop"] == "2.40"
    network = charts_by_key(at)[handmade_tab.NETWORK_KEY]
    assert network["layout"]["meta"]["dropped"] == [[], [], [39]]
    run = runs.get_run(DEFAULTS.train_key())
    net, data = run.network(), run.dataset
    expected = accuracy(net.predict_proba(data.X_test, hm.keep_masks(net.site_sizes, [(2, 40)])),
                        data.y_test)
    assert f"acc {expected:.0%}" in json.dumps(charts_by_key(at)["handmade_boundary"]["layout"])


def test_a_drop_link_opens_the_tab_with_that_sub_network_and_round_trips():
    at = app(width="8", epochs="20", drop="1.3,2.8,0.1").run()
    assert_clean(at)
    assert at.session_state[state.TAB_WIDGET] == state.TAB_LABELS["handmade"]
    assert at.session_state[state.DROPPED] == ((0, 1), (1, 3), (2, 8))
    assert at.query_params["drop"] == "0.1,1.3,2.8"
    again = app(**dict(at.query_params.items())).run()
    assert again.session_state[state.DROPPED] == ((0, 1), (1, 3), (2, 8))
    network = charts_by_key(again)[handmade_tab.NETWORK_KEY]
    assert network["layout"]["meta"]["dropped"] == [[0], [2], [7]]


def test_junk_in_the_link_warns_and_is_ignored():
    at = app(width="8", epochs="20", drop="1.3,banana,7.1,1.99,,2.2").run()
    assert_clean(at)
    warnings = " ".join(w.value for w in at.warning)
    for junk in ("banana", "7.1", "1.99"):
        assert f"'{junk}'" in warnings
    assert at.session_state[state.DROPPED] == ((1, 3), (2, 2))
    assert at.query_params["drop"] == "1.3,2.2"


def test_buttons_keep_all_random_and_epoch_masks():
    at = app(**SMALL_URL).run()
    run = runs.get_run(SMALL.train_key())
    at.number_input(key=handmade_tab.SEED_KEY).set_value(7).run()
    at.button(key="handmade_random").click().run()
    assert at.session_state[state.DROPPED] == hm.random_dropped(run.network(), 7)
    assert at.number_input(key=handmade_tab.SEED_KEY).value == 8
    at.number_input(key=handmade_tab.EPOCH_KEY).set_value(3).run()
    at.button(key="handmade_epoch_mask").click().run()
    assert at.session_state[state.DROPPED] == hm.epoch_dropped(run, 2)
    at.button(key="handmade_keep_all").click().run()
    assert at.session_state[state.DROPPED] == ()
    assert_clean(at)


def test_knockout_bars_show_the_computed_costs():
    at = app(**SMALL_URL).run()
    run = runs.get_run(SMALL.train_key())
    data = run.dataset
    result = hm.knockouts(run.network(), data.X_test, data.y_test)
    spec = charts_by_key(at)["handmade_knockouts"]
    bars = traces(spec, role="knockout")
    assert len(bars) == 2
    order = result.order("accuracy")
    assert list(bars[0]["x"]) == [hm.unit_name(result.units[i]) for i in order]
    np.testing.assert_allclose(bars[0]["y"], result.cost("accuracy")[order], atol=1e-6)


def test_digits_show_accuracy_only():
    at = app(dataset="digits", epochs="5", width="16", tab="handmade", drop="0.40,1.16").run()
    assert_clean(at)
    assert "handmade_boundary" not in charts_by_key(at)
    assert at.session_state[state.DROPPED] == ((0, 40), (1, 16))
    run = runs.get_run(DEFAULTS.replace(dataset="digits", epochs=5, width=16).train_key())
    net, data = run.network(), run.dataset
    expected = accuracy(hm.hand_made_proba(net, data.X_test, [(0, 40), (1, 16)]), data.y_test)
    (metric,) = [m for m in at.metric if "your sub-network" in m.label]
    assert metric.value == f"{expected:.1%}"


def test_without_dropout_one_set_of_bars_and_a_shorter_run_keeps_the_epoch_in_range():
    at = app(**SMALL_URL).run()
    at.number_input(key=handmade_tab.EPOCH_KEY).set_value(20).run()
    at.slider(key="epochs").set_value(10).run()
    assert_clean(at)
    assert at.number_input(key=handmade_tab.EPOCH_KEY).value == 10
    at.slider(key="p_hidden").set_value(0.0).run()
    assert_clean(at)
    assert len(traces(charts_by_key(at)["handmade_knockouts"], role="knockout")) == 1


def test_large_knockouts_wait_for_the_button(monkeypatch):
    monkeypatch.setattr(handmade_tab, "MAX_AUTOMATIC_WORK", 0)
    at = app(**SMALL_URL).run()
    assert_clean(at)
    assert "handmade_knockouts" not in charts_by_key(at)
    at.button(key="handmade_run_knockouts").click().run()
    assert_clean(at)
    assert "handmade_knockouts" in charts_by_key(at)
    click(at, (1, 0))  # asked once for this run: later reruns keep the bars
    assert "handmade_knockouts" in charts_by_key(at)
