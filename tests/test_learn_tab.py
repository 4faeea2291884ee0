"""The Learn tab in the running app: the lesson's statements and its live numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import APP
from streamlit.testing.v1 import AppTest

from dropout_viz import lesson, tab_figures
from dropout_viz.engine import sample_keep_masks
from dropout_viz.settings import DEFAULTS, FIELD_SPECS, Settings
from dropout_viz.ui import cache, learn_regression, learn_tab, runs

SMALL = {"epochs": "10", "width": "12"}




def learn(**url: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in {**SMALL, **url, "tab": "learn"}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def text_of(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [i.value for i in at.info] + [h.value for h in at.header]
    return " ".join(" ".join(parts).split())


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def settings_of(**url: str) -> Settings:
    values = {**SMALL, **url}
    return DEFAULTS.replace(**{k: FIELD_SPECS[k].parse(v) for k, v in values.items()})


@pytest.mark.parametrize("convention", ["standard", "inverted"])
def test_live_numbers_equal_a_direct_computation(convention):
    at = learn(convention=convention)
    run = cache.RUNS.get(settings_of(convention=convention).train_key())
    net = run.network()
    site = len(net.weights) - 1  # default: the last dropout site, first unit, first test point
    h = net.hidden_activations(run.dataset.X_test[:1])[site - 1][0]
    W, b, q = net.weights[site], net.biases[site], net.keep_probs[site]
    test_time = h @ (W[:, 0] * (q if convention == "standard" else 1.0)) + b[0]
    wrong = h @ W[:, 0] * (1.0 if convention == "standard" else q) + b[0]
    shown = metrics(at)
    label = "weights × q" if convention == "standard" else "weights as trained"
    assert shown[f"Test-time input, {label}"] == f"{test_time:.4f}"
    wrong_label = next(k for k in shown if k.startswith("With "))
    assert shown[wrong_label] == f"{wrong:.4f}"
    # The masks replay from the training seed: the first N sampled sub-networks' at this site.
    masks = sample_keep_masks(net.keep_probs, net.site_sizes, learn_tab.N_MASKS,
                              run.config.seed)[site]
    scale = 1 / q if convention == "inverted" else 1.0
    sampled_mean = np.mean(masks * scale @ (h * W[:, 0]) + b[0])
    assert shown[f"Mean training-time input ({learn_tab.N_MASKS} masks)"] == f"{sampled_mean:.4f}"


def test_choosing_another_unit_and_point_changes_the_numbers():
    at = learn()
    before = metrics(at)
    at.number_input(key=learn_tab.UNIT_KEY).set_value(2).run()
    at.number_input(key=learn_tab.POINT_KEY).set_value(3).run()
    after = metrics(at)
    assert before != after
    run = cache.RUNS.get(settings_of().train_key())
    expected = lesson.unit_input(run.network(), run.dataset.X_test[2], site=2, unit=1,
                                 n_masks=learn_tab.N_MASKS, seed=run.config.seed)
    assert after["Test-time input, weights × q"] == f"{expected.test_time:.4f}"
    assert any("Point 3 of the test set" in c.value for c in at.caption)


def test_input_dropout_site_can_be_chosen():
    at = learn(p_input="0.2")
    sites = at.selectbox(key=learn_tab.SITE_KEY)
    assert sites.options == ["the inputs", "hidden layer 1", "hidden layer 2"]
    sites.select(0).run()
    assert any("dropout at the inputs with q = 0.8" in c.value for c in at.caption)


def test_the_lesson_states_the_facts():
    text = text_of(at := learn())
    assert "Keras does not rescale the weights at test time." in text
    assert "notes' last line" in text
    assert "Srivastava et al. (2014) and Gal & Ghahramani (2016) write p for the **keep**" in text
    assert "probability of **dropping**" in text
    assert "co-adaptation" in text
    assert "exactly" in text and "normalised geometric mean" in text
    assert "only approximates" in text
    assert "10 epochs train at most **10** sub-networks" in text
    for reference in ("Srivastava", "Gal, Z. Ghahramani (2016)", "Baldi, P. Sadowski (2013)"):
        assert reference in text
    formulas = [latex.value for latex in at.latex]
    assert any(r"\mathbb{E}[z_j] = \sum_i (q\,W_{ij})" in f for f in formulas)
    assert any(r"\frac{m_i}{q}" in f for f in formulas)
    assert any("Learn" in t.label for t in at.tabs)


def test_practical_advice_as_suggested_ranges():
    at = learn(p_hidden="0.3", max_norm="3.5")
    table = at.table[0].value
    rows = {row["Setting"]: row for row in table.to_dict("records")}
    assert rows["Dropout rate p for hidden units"]["Suggested"] == "0.2–0.5"
    assert rows["Dropout rate p for hidden units"]["Now"] == "0.3 ✓"
    assert rows["Dropout rate p for inputs"]["Suggested"] == "0.2"
    assert rows["Dropout rate p for inputs"]["Now"] == "0"
    assert rows["Max-norm c"]["Now"] == "3.5 ✓"
    assert "keep 0.5–0.8" in rows["Dropout rate p for hidden units"]["Paper (its p = keep)"]


def test_mc_comparison_metrics_match_lesson():
    at = learn(n_layers="1")
    run = cache.RUNS.get(settings_of(n_layers="1").train_key())
    comparison = lesson.compare_ensembles(run.network(), run.dataset.X_test, learn_tab.N_MC,
                                          seed=run.config.seed)
    shown = metrics(at)
    assert shown[f"Geometric MC mean vs weight scaling (K = {learn_tab.N_MC})"] == \
        f"{comparison.geometric_gap:.4f}"
    assert comparison.exact_case
    text = text_of(at)
    assert "geometric mean should match weight scaling" in text
    assert f"Both numbers include Monte-Carlo noise: about 1/√K = {learn_tab.N_MC ** -0.5:.2f}" \
        in text
    assert "the arithmetic mean keeps a gap to weight scaling even where weight scaling is " \
        "exact" in text


def test_no_dropout_explains_instead_of_numbers():
    at = learn(p_hidden="0")
    assert any("p = 0 everywhere" in i.value for i in at.info)
    assert not [m for m in at.metric if m.label.startswith("Test-time")]


def test_learn_figures_for_export_and_projector():
    run = runs.get_run(settings_of().train_key())
    figures = tab_figures.learn_figures(run, settings_of().replace(projector=True))
    layout = json.loads(figures["unit_input"].to_json())["layout"]
    assert layout["font"]["size"] == 22
    assert tab_figures.learn_figures(runs.get_run(settings_of(p_hidden="0").train_key()),
                                   settings_of(p_hidden="0")) == {}


def test_co_adaptation_paragraph_says_which_mask_scope_the_page_shows():
    text = text_of(learn())  # the default run: one mask per epoch
    assert DEFAULTS.mask_scope == "epoch"
    assert "**This page's run draws one mask per epoch**" in text
    assert "at every training step" not in text and "Each step trains" not in text
    assert "probability-weighted average" in text
    text = text_of(learn(mask_scope="example"))
    assert "**This page's run draws a new mask for every example at every step**" in text
    text = text_of(learn(mask_scope="batch"))
    assert "**This page's run draws one mask per mini-batch**" in text


def test_the_qualified_claims_read_as_the_facts_say():
    text = text_of(learn())
    # "Exactly the mean" only right after one site, with the layers below at test time.
    assert ("gives the layer right after a dropout site exactly the **mean** training-time "
            "input, as long as the layers below it run as at test time") in text
    assert "deeper layers get the mean only approximately" in text
    # Linear networks: exact for the logits; after the softmax, the geometric mean.
    assert "mean over all masks of the **logits**" in text
    assert "weight scaling gives the normalised geometric mean of the sub-networks" in text
    # The conventions' trajectories: a rescale per layer.
    assert ("for each layer after a site, initial weights × q and SGD learning rate × q² "
            "reproduce the standard run exactly") in text
    assert "One global rescale" in text and "rescaled too" not in text
    # The ideal prediction weights each sub-network by its probability.
    assert "probability-weighted average over all 2ⁿ sub-networks" in text
    assert "π(m) = q^k (1 − q)^(n − k)" in text
    assert "Wager" in text and "approximately as an adaptive L2" in text


def test_caption_measures_the_mean_with_every_site_dropping_at_once():
    at = learn()  # dropout on both hidden layers (p_input = 0)
    run = cache.RUNS.get(settings_of().train_key())
    net = run.network()
    compounded = lesson.all_sites_input(net, run.dataset.X_test[0], 2, 0,
                                        n_masks=learn_tab.N_MASKS, seed=run.config.seed)
    caption = next(c.value for c in at.caption if "Point 1 of the test set" in c.value)
    assert compounded.sites == (1, 2)
    assert (f"With dropout at hidden layer 1 and hidden layer 2 at once, as in training, the "
            f"mean over {learn_tab.N_MASKS} masks is {compounded.mean:.4f} "
            f"(± {compounded.standard_error:.4f})") in caption
    # With one dropout site there is nothing to compound.
    at = learn(n_layers="1")
    caption = next(c.value for c in at.caption if "Point 1 of the test set" in c.value)
    assert "at once" not in caption


def test_help_texts_say_what_the_engine_does():
    max_norm, l2 = FIELD_SPECS["max_norm"].help, FIELD_SPECS["l2"].help
    assert "the hidden units and the output units too" in max_norm
    assert "biases are not counted" in max_norm and "After every update step" in max_norm
    assert "approximately like an adaptive L2 penalty" in l2 and "Wager et al. 2013" in l2
    assert "generalised linear models" in l2
    assert FIELD_SPECS["uncertainty"].help.startswith(
        "How much the sub-networks disagree: the mutual information")


# ---- regression ----------------------------------------------------------------------------


def curve_comparison(**url: str) -> tuple[lesson.CurveComparison, object]:
    run = cache.RUNS.get(settings_of(**url).train_key())
    return lesson.compare_curves(run.network(), run.dataset.X_test, learn_tab.N_MC,
                                 seed=run.config.seed), run


@pytest.mark.parametrize("dataset", ["sine", "gap", "growing-noise"])
def test_regression_weight_scaling_numbers_equal_compare_curves(dataset):
    at = learn(dataset=dataset)
    comparison, run = curve_comparison(dataset=dataset)
    shown = metrics(at)
    assert shown[f"MC mean vs test-time output (K = {learn_tab.N_MC})"] == \
        f"{comparison.mean_gap:.4f}"
    assert shown["Its standard error (sd / √K)"] == f"{comparison.standard_error:.4f}"
    assert shown["Sub-networks' spread (sd)"] == f"{comparison.spread:.4f}"
    text = text_of(at)
    ratio = comparison.mean_gap / comparison.standard_error
    assert (f"by {comparison.mean_gap:.4f} on average, {ratio:.1f} times its standard error "
            f"{comparison.standard_error:.4f}; sampling noise alone would make it about 0.8 "
            "times") in text
    # Two hidden layers: the approximate case, and the verdict follows the measured ratio.
    assert not comparison.exact_case
    assert "**This run is the approximate case**: relu units follow a dropout site" in text
    verdict = ("larger than sampling noise explains" if ratio > learn_regression.BEYOND_NOISE
               else "no larger than sampling noise explains")
    assert verdict in text
    # The regression section replaces the softmax one; the band is model uncertainty only.
    assert "Weight scaling for a regression output" in [s.value for s in at.subheader]
    assert "normalised geometric mean" not in text and "logits" not in text
    assert "**The band is model uncertainty only.**" in text and "**plus τ⁻¹**" in text
    assert f"sd is {comparison.spread:.4f} on average over the test points" in text
    assert ("**Linear network** (no nonlinear hidden unit): the mean over all masks of the "
            "output equals the weight-scaled network's output exactly") in text
    assert "**A nonlinear hidden layer after a dropout site**" in text


def test_regression_exact_case_with_dropout_on_the_last_hidden_layer_only():
    at = learn(dataset="gap", n_layers="1")
    comparison, _ = curve_comparison(dataset="gap", n_layers="1")
    assert comparison.exact_case
    text = text_of(at)
    assert "**This run is the exact case**: dropout acts only on the last hidden layer" in text
    assert "approximate case" not in text
    # In the exact case the gap is sampling noise: about √(2/π) standard errors.
    assert comparison.mean_gap / comparison.standard_error < learn_regression.BEYOND_NOISE
    # Input dropout before the relu layer makes it approximate again.
    text = text_of(learn(dataset="gap", n_layers="1", p_input="0.2"))
    assert "**This run is the approximate case**" in text


def test_regression_unit_probe_reads_the_output_y_and_p_zero_explains():
    at = learn(dataset="sine", n_layers="1")
    run = cache.RUNS.get(settings_of(dataset="sine", n_layers="1").train_key())
    probe = lesson.probe_result(run, *lesson.default_probe(run))
    assert metrics(at)["Test-time input, weights × q"] == f"{probe.test_time:.4f}"
    assert probe.expected == pytest.approx(probe.test_time)
    assert "Receiving output y (1–1)" in [n.label for n in at.number_input]
    at = learn(dataset="sine", p_hidden="0")
    assert any("nothing to average" in i.value for i in at.info)
    assert not [m for m in at.metric if m.label.startswith("MC mean")]
    figures = tab_figures.learn_figures(run, settings_of(dataset="sine", n_layers="1")
                                        .replace(projector=True))
    assert json.loads(figures["unit_input"].to_json())["layout"]["font"]["size"] == 22
