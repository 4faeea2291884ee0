"""The "Thinned sub-networks" tab for a regression run: its cached numbers, figures and the
captions written from them (ensemble_tab.py lays them out beside the classification views)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dropout_viz import ensemble
from dropout_viz.engine import TrainingRun
from dropout_viz.ensemble import BandPlaces, Convergence, CurveEnsemble
from dropout_viz.figures.ensemble import curve_ensemble_figures, test_time_name
from dropout_viz.figures.regression import BAND_CAPTION
from dropout_viz.settings import TrainKey
from dropout_viz.ui import cache

MAX_CACHED = 12  # as the classification results: this many (run, K, source) combinations


@st.cache_data(max_entries=MAX_CACHED, show_spinner=False)
def cached_curve_convergence(key: TrainKey, _run: TrainingRun) -> Convergence:
    """A regression run's convergence in MSE: like `cached_convergence`, one per run."""
    dataset = _run.dataset
    return ensemble.curve_convergence(_run.network(), dataset.X_test, dataset.y_test,
                                      seed=key.seed)


@st.cache_data(max_entries=MAX_CACHED, show_spinner=False)
def cached_curve_results(key: TrainKey, k: int, source: str,
                         _run: TrainingRun) -> CurveEnsemble:
    """A regression run's K sub-networks as curves (keyed like `cached_results`)."""
    return ensemble.compute_curve_ensemble(_run, k, source, seed=key.seed,
                                           convergence=cached_curve_convergence(key, _run))


for _cached in (cached_curve_results, cached_curve_convergence):
    cache.register(_cached.clear)


def curve_tab_figures(results: CurveEnsemble, projector: bool) -> dict:
    return curve_ensemble_figures(results, projector=projector)


def mse_line(results: CurveEnsemble) -> str:
    single = results.test_mse
    return (f"Test MSE (y standardised): the mean of these {results.k} sub-networks "
            f"**{results.mean_mse:.3f}**, the {test_time_name(results.convention)[0].lower()}"
            f"{test_time_name(results.convention)[1:]} **{results.test_time_mse:.3f}**; one "
            f"sub-network alone **{single.mean():.3f}** on average (from {single.min():.3f} "
            f"to {single.max():.3f}).")


def _compared(value: float, other: float) -> str:
    if abs(value - other) <= 0.1 * max(abs(other), 1e-12):
        return "about as wide as"
    return "wider than" if value > other else "narrower than"


def band_caption(results: CurveEnsemble, places: BandPlaces) -> str:
    """BAND_CAPTION, then what this run's band shows: the test points inside it, where it is
    widest, and its mean half-width among, between and beyond the training points."""
    if all(q == 1.0 for q in results.keep_probs):
        return (BAND_CAPTION + " With p = 0 every sub-network is the full network, so the band "
                "has no width here.")
    n_test = len(results.data.y_test)
    inside = round(results.band_share * n_test)
    low, high = places.train_range
    where = {"beyond": f"beyond the training points (which span x = {low:.2f} to {high:.2f})",
             "stretch": "in the stretch without training points",
             "among": "among the training points"}[places.widest_where]
    text = (f" Here **{inside} of {n_test} test points ({results.band_share:.0%})** lie inside "
            f"it. It is widest at x = {places.widest_x:.2f}, {where}: half-width 2 sd = "
            f"{places.widest_half_width:.2f} (x and y standardised). Its mean half-width is "
            f"{places.among_half_width:.2f} among the training points")
    if places.stretch is not None:
        a, b = places.stretch
        text += (f", {places.stretch_half_width:.2f} between x = {a:.2f} and {b:.2f}, where "
                 "there is no training point (" + _compared(places.stretch_half_width,
                                                             places.among_half_width)
                 + " among them)")
    if places.beyond_half_width is not None:
        text += (f", {places.beyond_half_width:.2f} beyond them ("
                 + _compared(places.beyond_half_width, places.among_half_width) + " among them)")
    return (BAND_CAPTION + text + ". Model uncertainty only: Gal & Ghahramani's predictive "
            "variance adds the observation noise τ⁻¹ to the sub-networks' variance, which "
            "dropout does not estimate.")


def curve_exactness_note(results: CurveEnsemble, activation: str, source: str) -> str:
    """What the test-time curve is, relative to the sub-networks' mean, in these settings."""
    keep = results.keep_probs
    if all(q == 1.0 for q in keep):
        note = "With p = 0 nothing is dropped: every sub-network is the full network."
    elif ensemble.weight_scaling_is_exact(keep):
        note = ("Dropout acts only on the last hidden layer here, so only the linear output "
                "follows it: the test-time network's curve is exactly the mean over all "
                "sub-networks, each weighted by its probability. The mean of K sampled ones "
                "differs from it only by sampling noise.")
    else:
        note = (f"Dropout acts before {activation} units here, so the test-time network's "
                "curve only approximates the mean over all sub-networks (Baldi & Sadowski "
                "2013); the chart below measures by how much.")
    if source == "trained":
        note += (" As trained, the sub-networks carry weights from different epochs while the "
                 "test-time network has the final ones, so they need not agree even with many "
                 "sub-networks.")
    return note


def curve_convergence_caption(convergence: Convergence) -> str:
    """The convergence chart's caption in test MSE (y standardised)."""
    mse, ks = convergence.mse.mean(axis=0), convergence.ks
    target = convergence.test_time.mse
    close = np.abs(mse - target) <= 0.05 * target
    settled = next((int(ks[i]) for i in range(len(ks)) if close[i:].all()), None)
    if settled is None:
        settle = (f"Even at K = {int(ks[-1])} the mean's MSE differs from the test-time "
                  f"network's by {abs(mse[-1] - target):.3f}.")
    else:
        settle = (f"From K = {settled} on, the mean's MSE stays within 5% of the test-time "
                  "network's.")
    draws = (f" The band is the range over {convergence.repeats} independent draws: it narrows "
             "as K grows (the Monte-Carlo error shrinks about as 1/√K)."
             if convergence.repeats > 1 else "")
    gap = convergence.gap.mean(axis=0)
    return (f"Each point averages the first K of {int(ks[-1])} sub-networks sampled on the "
            "final weights. Test MSE (y standardised): one sub-network on its own "
            f"{convergence.single.mse:.3f} on average (dotted), the test-time network "
            f"{target:.3f} (dashed), the mean of the first K {mse[0]:.3f} at K = {int(ks[0])} "
            f"and {mse[-1]:.3f} at K = {int(ks[-1])}. {settle}{draws} Right: the mean |difference| "
            "between the mean of K and the test-time network's output over the test points, "
            f"{gap[0]:.3f} at K = {int(ks[0])} and {gap[-1]:.4f} at K = {int(ks[-1])}; dotted, "
            f"{convergence.pooled_gap:.4f} with all {convergence.pooled_k:,} sub-networks "
            "pooled. It falls as the Monte-Carlo noise shrinks, towards the real gap between "
            "the sub-networks' mean and weight scaling.")
