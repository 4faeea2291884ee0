"""The Learn tab's section for a regression run: weight scaling for a linear output, measured
on the current network (lesson.compare_curves), and what the sub-networks' band means. Every
statement follows the project's dropout facts (../shared/dropout-facts.md); there is no
softmax here."""

from __future__ import annotations

import math

import streamlit as st

from dropout_viz import lesson
from dropout_viz.engine import TrainingRun
from dropout_viz.settings import TrainKey
from dropout_viz.ui import cache


@st.cache_data(max_entries=32, show_spinner="Sampling sub-networks…")
def _curve_comparison(key: TrainKey, n_samples: int, _run: TrainingRun) -> lesson.CurveComparison:
    # A regression run's MC mean against its test-time output: a few floats.
    return lesson.compare_curves(_run.network(), _run.dataset.X_test, n_samples,
                                 seed=key.seed)


cache.register(_curve_comparison.clear)


# Sampling noise alone makes the mean |MC mean − exact mean| over the points about √(2/π) ≈ 0.8
# times the mean standard error (the mean |x| of a normal variable is √(2/π) times its sd).
NOISE_RATIO = (2 / math.pi) ** 0.5
# A gap this many standard errors or more is more than sampling noise would give.
BEYOND_NOISE = 1.5


def curve_case_text(comparison: lesson.CurveComparison, activation: str) -> str:
    """Which case this regression run is, and what its measured gap says, in numbers."""
    ratio = comparison.mean_gap / comparison.standard_error if comparison.standard_error else 0.0
    text = (f"Measured on the current network's test points: the mean of K = "
            f"{comparison.n_samples} sampled sub-networks differs from the test-time output by "
            f"{comparison.mean_gap:.4f} on average, {ratio:.1f} times its standard error "
            f"{comparison.standard_error:.4f}; sampling noise alone would make it about "
            f"{NOISE_RATIO:.1f} times. ")
    if comparison.exact_case:
        return text + ("**This run is the exact case**: dropout acts only on the last hidden "
                       "layer, so only the linear output follows it, and the mean over all "
                       "masks is exactly the test-time output. What the gap shows is sampling "
                       "noise.")
    text += (f"**This run is the approximate case**: {activation} units follow a dropout site, "
             "so the test-time output only approximates the mean over all masks")
    if ratio > BEYOND_NOISE:
        return text + ("; here the gap is larger than sampling noise explains, and the excess "
                       "is weight scaling's error.")
    return text + ("; here the gap is no larger than sampling noise explains, so the "
                   "approximation is close on this run.")


def render(run: TrainingRun, key: TrainKey, n_samples: int) -> None:
    """Weight scaling for a regression output, and what the band means (no softmax here)."""
    st.subheader("Weight scaling for a regression output")
    st.markdown(
        "A regression network has no softmax: its output y is linear in the last hidden layer, "
        "y = Σᵢ wᵢ mᵢ hᵢ + b. The ideal prediction is the mean of y over all 2ⁿ sub-networks, "
        "each weighted by its probability π(m) = q^k (1 − q)^(n − k); weight scaling "
        "(weights × q, or the weights as they are with the inverted convention) is one "
        "deterministic pass. Monte-Carlo dropout averages K sampled sub-networks instead, "
        "converging to that mean at about 1/√K.\n"
        "- **Linear network** (no nonlinear hidden unit): the mean over all masks of the "
        "output equals the weight-scaled network's output exactly.\n"
        "- **Only the linear output follows the dropout** (dropout on the last hidden layer "
        "only): exact too, since y is linear in that layer's mask.\n"
        "- **A nonlinear hidden layer after a dropout site** (ReLU, tanh, sigmoid): the mean "
        "of f(z) is not f of the mean of z, so weight scaling only approximates the mean "
        "(Baldi & Sadowski 2013). Measure it, as below.")
    st.latex(r"\mathbb{E}_m[y] = \sum_i w_i\, \mathbb{E}[m_i]\, h_i + b "
             r"= \sum_i (q\, w_i)\, h_i + b \qquad \text{(standard convention)}")
    if not lesson.dropout_sites(run.network()):
        st.info("p = 0 everywhere: every sub-network is the full network, so there is "
                "nothing to average.")
        return
    comparison = _curve_comparison(key, n_samples, run)
    gap_col, error_col, spread_col = st.columns(3)
    gap_col.metric(f"MC mean vs test-time output (K = {n_samples})", f"{comparison.mean_gap:.4f}",
                   help="Mean over the test points of |mean of K sampled sub-networks − "
                        "test-time output| (y standardised).")
    error_col.metric("Its standard error (sd / √K)", f"{comparison.standard_error:.4f}",
                     help="Mean over the test points: the part of the gap that more samples "
                          "would remove.")
    spread_col.metric("Sub-networks' spread (sd)", f"{comparison.spread:.4f}",
                      help="Mean over the test points of the sub-networks' standard deviation; "
                           "the Thinned sub-networks tab's band is their mean ± 2 sd.")
    st.caption(curve_case_text(comparison, run.config.activation))
    st.markdown(
        "**The band is model uncertainty only.** The *Thinned sub-networks* tab shades the "
        "mean ± 2 sd of sampled sub-networks: how much they disagree. Gal & Ghahramani (2016) "
        "read MC dropout as approximate Bayesian inference; their predictive variance for "
        "regression is the sample variance of the T passes **plus τ⁻¹**, the observation "
        "noise (τ is the model precision), which dropout alone does not estimate. So the noise "
        "in the data is not in the band, and points may lie outside it. On this "
        f"run the sub-networks' sd is {comparison.spread:.4f} on average over the test points "
        f"(K = {comparison.n_samples}).")
