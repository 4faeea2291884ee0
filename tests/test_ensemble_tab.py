"""The "Thinned sub-networks" tab under AppTest: its charts carry the numbers the ensemble
computations give, its controls change them, and its settings survive a tab switch."""

from __future__ import annotations

import numpy as np
from helpers import APP, charts_by_key, traces
from streamlit.testing.v1 import AppTest

from dropout_viz import ensemble, pipeline
from dropout_viz.engine import ensemble_mean
from dropout_viz.settings import DEFAULTS
from dropout_viz.ui import cache, state

CHARTS = {"ensemble_gallery", "ensemble_comparison", "ensemble_convergence",
          "ensemble_uncertainty"}




def open_tab(**url: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["tab"] = "ensemble"
    for key, value in url.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def run_of(settings):
    run = cache.RUNS.get(settings.train_key())
    assert run is not None
    return run


def test_tab_draws_gallery_comparison_convergence_and_uncertainty():
    at = open_tab()
    assert at.session_state[state.TAB_WIDGET] == "Thinned sub-networks"
    charts = charts_by_key(at)
    assert CHARTS <= set(charts)
    gallery = charts["ensemble_gallery"]
    assert gallery["layout"]["meta"]["k"] == DEFAULTS.k_subnets == 8
    assert len(traces(gallery, role="probability")) == 8
    # The comparison: average, test-time network and difference, with their test accuracy.
    comparison = charts["ensemble_comparison"]["layout"]
    titles = [a["text"] for a in comparison["annotations"]]
    average, test_time = comparison["meta"]["average_accuracy"], comparison["meta"][
        "test_time_accuracy"]
    assert titles[0].startswith(f"Mean<br>of 8 sub-networks<br>acc {average:.0%} · log-loss ")
    assert titles[1].startswith(f"Test-time network<br>weights × q<br>acc {test_time:.0%}")
    assert titles[2].startswith("|difference|<br>same class on<br>")
    # The line under it states the agreement in words and numbers.
    agreement = comparison["meta"]["agreement"]
    line = next(m.value for m in at.markdown if "predict the same class" in m.value)
    assert f"of 60 test points ({agreement:.0%})" in line
    # The convergence chart runs K = 1 .. 256.
    convergence = charts["ensemble_convergence"]["layout"]["meta"]
    assert convergence["ks"] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert any("Srivastava" in c.value for c in at.caption)


def test_chart_data_are_the_shown_sub_networks_and_their_average():
    at = open_tab()
    charts = charts_by_key(at)
    run = run_of(DEFAULTS)
    net = run.network()
    masks = ensemble.sampled_keep_masks(net, 8, DEFAULTS.seed)
    gallery_meta = charts["ensemble_gallery"]["layout"]["meta"]
    assert gallery_meta["dropped"] == [[np.flatnonzero(m[i] < 0.5).tolist() for m in masks]
                                       for i in range(8)]
    grid = pipeline.grid_for(run.dataset)
    shown = net.predict_proba(grid.points, [m[:, None, :] for m in masks])  # (8, n, 2)
    average = ensemble_mean(shown, "arithmetic")[:, 1].reshape(100, 100)
    maps = sorted(traces(charts["ensemble_comparison"], role="probability"),
                  key=lambda t: t["meta"]["panel"])
    # The maps draw P(class 1) in whole percent.
    np.testing.assert_array_equal(maps[0]["z"], np.rint(average * 100))
    full = net.predict_proba(grid.points)[:, 1].reshape(100, 100)
    np.testing.assert_array_equal(maps[1]["z"], np.rint(full * 100))
    accuracies = gallery_meta["accuracy"]
    one_by_one = [(net.predict_proba(run.dataset.X_test, [m[i] for m in masks]).argmax(-1)
                   == run.dataset.y_test).mean() for i in range(8)]
    np.testing.assert_allclose(accuracies, one_by_one)


def test_controls_change_k_source_average_and_measure():
    at = open_tab()
    at.slider(key="k_subnets").set_value(12).run()
    charts = charts_by_key(at)
    assert charts["ensemble_gallery"]["layout"]["meta"]["k"] == 12
    assert str(np.ravel(at.query_params["k_subnets"])[-1]) == "12"  # the link keeps K

    at.radio(key="gallery_source").set_value("trained").run()
    assert not at.exception
    gallery = charts_by_key(at)["ensemble_gallery"]["layout"]["meta"]
    assert gallery["source"] == "trained"
    assert gallery["epochs"] == list(range(DEFAULTS.epochs - 12, DEFAULTS.epochs))
    assert any(c.value.startswith("**As trained:** each epoch trained exactly one mask")
               for c in at.caption)

    at.radio(key="ensemble_kind").set_value("geometric").run()
    comparison = charts_by_key(at)["ensemble_comparison"]["layout"]
    assert comparison["meta"]["kind"] == "geometric"
    assert comparison["annotations"][0]["text"].startswith(
        "Normalised geometric<br>mean of 12 sub-networks<br>acc ")

    at.radio(key="uncertainty").set_value("std").run()
    heat = traces(charts_by_key(at)["ensemble_uncertainty"], role="uncertainty")[0]
    assert heat["zmax"] == 0.5 and 0 < np.max(heat["z"]) <= 0.5


def test_view_settings_survive_switching_tabs():
    at = open_tab()
    at.slider(key="k_subnets").set_value(5).run()
    at.session_state[state.TAB_WIDGET] = state.TAB_LABELS["action"]
    at.run()
    assert at.session_state["k_subnets"] == 5
    at.session_state[state.TAB_WIDGET] = state.TAB_LABELS["ensemble"]
    at.run()
    assert not at.exception
    assert charts_by_key(at)["ensemble_gallery"]["layout"]["meta"]["k"] == 5


def test_no_dropout_gives_a_blank_disagreement_map_and_identical_panels():
    at = open_tab(p_hidden="0", epochs="20")
    charts = charts_by_key(at)
    heat = traces(charts["ensemble_uncertainty"], role="uncertainty")[0]
    assert np.max(heat["z"]) == 0.0
    assert charts["ensemble_comparison"]["layout"]["meta"]["agreement"] == 1.0
    assert any("With p = 0 nothing is dropped" in c.value for c in at.caption)


def test_exactness_is_stated_only_where_it_holds():
    at = open_tab(n_layers="1", epochs="20")
    assert any("exactly the normalised geometric mean" in c.value for c in at.caption)
    at = open_tab(epochs="20")  # two hidden layers: only an approximation
    assert not any("exactly the normalised geometric mean" in c.value for c in at.caption)
    assert any("only approximates" in c.value for c in at.caption)


def test_per_example_scope_explains_what_as_trained_means():
    at = open_tab(mask_scope="example", gallery_source="trained", epochs="10", k_subnets="4")
    caption = next(c.value for c in at.caption if c.value.startswith("**As trained:**"))
    assert "first example of the first mini-batch of each of the last 4 epochs" in caption
    assert charts_by_key(at)["ensemble_gallery"]["layout"]["meta"]["epochs"] == [6, 7, 8, 9]


def test_digits_shows_gallery_and_numbers_without_planes():
    at = open_tab(dataset="digits", epochs="3", width="16")
    charts = charts_by_key(at)
    assert {"ensemble_gallery", "ensemble_convergence"} <= set(charts)
    assert "ensemble_comparison" not in charts and "ensemble_uncertainty" not in charts
    assert len(at.metric) == 2
    assert any("needs 2-D data" in i.value for i in at.info)


def test_teachers_view_hides_the_tabs_own_controls_but_keeps_their_values():
    at = open_tab(k_subnets="12", hidden_controls="k_subnets,uncertainty")
    keys = {w.key for w in at.slider} | {w.key for w in at.radio}
    assert "k_subnets" not in keys and "uncertainty" not in keys
    assert {"gallery_source", "ensemble_kind"} <= keys
    gallery = charts_by_key(at)["ensemble_gallery"]
    assert gallery["layout"]["meta"]["k"] == 12  # the hidden K still drives the gallery
    assert at.query_params["k_subnets"] in ("12", ["12"])  # AppTest may give a list


def caption_with(at: AppTest, words: str) -> str:
    return next(c.value for c in at.caption if words in c.value)


def test_difference_panel_states_its_noise_beside_the_large_k_gap():
    at = open_tab()
    charts = charts_by_key(at)
    comparison = charts["ensemble_comparison"]["layout"]["meta"]
    convergence = charts["ensemble_convergence"]["layout"]["meta"]
    caption = caption_with(at, "Monte-Carlo noise of about 1/√K")
    assert "compares an average of only K = 8 sampled sub-networks" in caption
    assert f"**{comparison['mean_difference']:.3f}** with these 8" in caption
    pooled_k = convergence["pooled_k"]
    assert f"**{convergence['pooled_gap']:.4f}** with K = {pooled_k:,} sub-networks" in caption
    assert f"noise about {np.sqrt(pooled_k / 8):.0f} times smaller" in caption
    # Two hidden layers: weight scaling only approximates, so what remains is its error.
    assert "how far weight scaling is from this average" in caption
    # The convergence chart's third panel carries the same measure against K.
    assert convergence["gap"][0] > convergence["gap"][-1]
    text = caption_with(at, "Each point averages the first K")
    assert f"{convergence['pooled_gap']:.4f} with all {pooled_k:,} sub-networks pooled" in text


def test_exact_case_says_which_average_keeps_a_gap():
    at = open_tab(n_layers="1", epochs="20", ensemble_kind="geometric")
    caption = caption_with(at, "Monte-Carlo noise of about 1/√K")
    assert "With the geometric mean the true gap is zero here: what remains is noise." in caption
    at = open_tab(n_layers="1", epochs="20")
    caption = caption_with(at, "Monte-Carlo noise of about 1/√K")
    assert "the arithmetic mean keeps a gap at any K" in caption


def test_disagreement_is_named_mutual_information_and_not_called_white_where_unanimous():
    at = open_tab()
    assert at.radio(key="uncertainty").options == ["mutual information", "standard deviation"]
    chart = charts_by_key(at)["ensemble_uncertainty"]
    heat = traces(chart, role="uncertainty")[0]
    assert heat["colorbar"]["title"]["text"] == "mutual information (nats)"
    caption = caption_with(at, "Filled points train, hollow points test.")
    assert "**mutual information**" in caption
    assert "white where they all predict the same" not in caption
    assert "It is not zero where they all pick the same class" in caption
    meta = chart["layout"]["meta"]
    assert meta["unanimous_max"] > 0.05
    assert f"there it reaches {meta['unanimous_max']:.3f}" in caption
    gallery = caption_with(at, "Grey, crossed-out units are dropped")
    assert "Layers wider than 10 units show their first 9." in gallery
