"""The "Thinned sub-networks" tab under AppTest: its charts carry the numbers the ensemble
computations give, its controls change them, and its settings survive a tab switch."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import APP, charts_by_key, traces
from streamlit.testing.v1 import AppTest

from dropout_viz import ensemble, pipeline, tab_figures
from dropout_viz.engine import ensemble_mean
from dropout_viz.settings import DEFAULTS
from dropout_viz.ui import cache, runs, state

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


# ---- regression: the sub-networks as curves ----------------------------------------------

REGRESSION = {"epochs": "30"}


def open_curves(dataset: str, **url: str) -> AppTest:
    """The tab for a regression set, opened directly (no error box: the page catches errors)."""
    at = open_tab(dataset=dataset, **REGRESSION, **url)
    assert not at.error, [e.value for e in at.error]
    return at


def curves_of(settings, source: str = "sampled"):
    run = run_of(settings)
    return run, ensemble.compute_curve_ensemble(run, settings.k_subnets, source,
                                                seed=settings.seed)


@pytest.mark.parametrize("dataset", ["sine", "gap", "growing-noise"])
def test_regression_draws_the_sub_networks_curves_band_and_convergence_in_mse(dataset):
    at = open_curves(dataset)
    settings = DEFAULTS.replace(dataset=dataset, epochs=30)
    run, results = curves_of(settings)
    charts = charts_by_key(at)
    assert {"ensemble_subnetworks", "ensemble_convergence"} <= set(charts)
    assert not {"ensemble_gallery", "ensemble_comparison", "ensemble_uncertainty"} & set(charts)
    # The curves, mean, band and test-time curve are the computed ones.
    spec = charts["ensemble_subnetworks"]
    [lines] = traces(spec, role="sub_networks")
    np.testing.assert_allclose(lines["y"].reshape(8, -1)[:, :-1], results.curves, atol=1e-6)
    [mean] = traces(spec, role="mean")
    np.testing.assert_allclose(mean["y"], results.mean, atol=1e-6)
    [band] = traces(spec, role="band")
    np.testing.assert_allclose(band["y"][:len(results.xs)], results.mean + 2 * results.sd,
                               atol=1e-5)
    [test_time] = traces(spec, role="test_time")
    np.testing.assert_allclose(test_time["y"], results.test_time, atol=1e-6)
    # Words from the numbers: the MSEs, the band's share of test points, where it is widest.
    line = next(m.value for m in at.markdown if m.value.startswith("Test MSE"))
    assert f"**{results.mean_mse:.3f}**" in line and f"**{results.test_time_mse:.3f}**" in line
    assert f"**{results.test_mse.mean():.3f}** on average" in line
    band_text = caption_with(at, "The shaded band is the mean ± 2 standard deviations")
    inside = round(results.band_share * 60)
    assert f"**{inside} of 60 test points ({results.band_share:.0%})** lie inside" in band_text
    places = ensemble.band_places(results)
    assert f"widest at x = {places.widest_x:.2f}" in band_text
    assert f"half-width 2 sd = {places.widest_half_width:.2f}" in band_text
    assert f"{places.among_half_width:.2f} among the training points" in band_text
    assert "τ⁻¹" in band_text and "Model uncertainty only" in band_text
    if dataset == "gap":  # the empty stretch of x is named, with this run's width there
        a, b = places.stretch
        assert f"{places.stretch_half_width:.2f} between x = {a:.2f} and {b:.2f}" in band_text
    else:
        assert places.stretch is None and "between x =" not in band_text
    # Convergence in MSE, not accuracy.
    meta = charts["ensemble_convergence"]["layout"]["meta"]
    assert "mse" in meta and "accuracy" not in meta
    np.testing.assert_allclose(meta["mse"], results.convergence.mse.mean(axis=0))
    text = caption_with(at, "Each point averages the first K")
    assert f"the test-time network {results.convergence.test_time.mse:.3f} (dashed)" in text
    assert "accuracy" not in text
    # The controls that mean nothing for a curve are not drawn; a caption says why.
    drawn = {radio.key for radio in at.radio}
    assert not {"ensemble_kind", "uncertainty"} & drawn
    assert caption_with(at, "averaged by their plain mean")


def test_regression_keeps_the_classification_only_choices_for_the_next_run():
    at = open_curves("sine")
    at.session_state["ensemble_kind"] = "geometric"
    at.run()
    at.sidebar.selectbox(key="dataset").select("moons").run()
    assert not at.exception
    assert at.radio(key="ensemble_kind").value == "geometric"


def test_regression_as_trained_uses_the_last_epochs_masks():
    at = open_curves("sine", gallery_source="trained", k_subnets="4")
    settings = DEFAULTS.replace(dataset="sine", epochs=30, k_subnets=4)
    _, results = curves_of(settings, "trained")
    assert results.epochs.tolist() == [26, 27, 28, 29]
    [lines] = traces(charts_by_key(at)["ensemble_subnetworks"], role="sub_networks")
    np.testing.assert_allclose(lines["y"].reshape(4, -1)[:, :-1], results.curves, atol=1e-6)
    assert caption_with(at, "**As trained:**").startswith(
        "**As trained:** each epoch trained exactly one mask, so these are the sub-networks "
        "of the last 4 epochs")
    assert "carry weights from different epochs" in caption_with(at, "only approximates")


def test_regression_exactness_follows_where_dropout_acts():
    at = open_curves("gap", n_layers="1")
    assert "exactly the mean over all sub-networks" in caption_with(at, "only the linear output")
    at = open_curves("gap")  # two hidden layers: relu units follow the first dropout site
    assert not any("exactly the mean over all" in c.value for c in at.caption)
    assert "Dropout acts before relu units here" in caption_with(at, "only approximates")
    at = open_curves("gap", p_hidden="0")
    assert "the band has no width here" in caption_with(at, "The shaded band")


def test_regression_projector_mode_shows_the_pictures_first_in_large_type():
    at = open_curves("sine", projector="1")
    charts = charts_by_key(at)
    assert list(charts) == ["ensemble_subnetworks", "ensemble_convergence"]
    assert charts["ensemble_subnetworks"]["layout"]["font"]["size"] == 22
    # Full width, one under the other (side by side they do not fit below 1920 pixels).
    assert not [column for column in at.columns if column.get("plotly_chart")]
    assert any(c.value.startswith("**Sampled now:**") for c in at.caption)


def test_regression_figures_for_the_export_are_the_pages():
    settings = DEFAULTS.replace(dataset="gap", epochs=30)
    run = runs.get_run(settings.train_key())
    figures = tab_figures.tab_figures(run, settings, ("ensemble",))["ensemble"]
    assert set(figures) == {"subnetworks", "convergence"}
    results = ensemble.compute_curve_ensemble(run, settings.k_subnets, seed=settings.seed)
    assert figures["subnetworks"].layout.meta["curves"][0]["mse"] == pytest.approx(
        results.mean_mse)
