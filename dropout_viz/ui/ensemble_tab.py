"""The "Thinned sub-networks" tab: a gallery of the sub-networks dropout trains, their average
beside the test-time network, Monte-Carlo convergence and where the sub-networks disagree."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dropout_viz import ensemble
from dropout_viz.engine import TrainingRun
from dropout_viz.ensemble import Convergence, EnsembleResults
from dropout_viz.figures import PLOTLY_CONFIG, alt
from dropout_viz.figures.ensemble import (
    KIND_NAMES,
    ensemble_figures,
    test_time_name,
)
from dropout_viz.figures.gallery import GALLERY_MAX_NODES, gallery_figure
from dropout_viz.settings import FIELD_SPECS, Settings, TrainKey
from dropout_viz.ui import cache, downloads, runs
from dropout_viz.ui import ensemble_curves as curves

MAX_CACHED = 12  # results for this many (run, K, source, average, measure) combinations
SOURCE_LABELS = {"sampled": "sampled now", "trained": "as trained"}
KIND_LABELS = {"arithmetic": "arithmetic mean", "geometric": "normalised geometric mean"}
MEASURE_LABELS = {"entropy": "mutual information", "std": "standard deviation"}


@st.cache_data(max_entries=MAX_CACHED, show_spinner=False)
def cached_convergence(key: TrainKey, kind: str, _run: TrainingRun) -> Convergence:
    """Depends on neither K nor the gallery source, so moving the K slider reuses it."""
    dataset = _run.dataset
    return ensemble.convergence_curve(_run.network(), dataset.X_test, dataset.y_test, kind,
                                      seed=key.seed)


@st.cache_data(max_entries=MAX_CACHED, show_spinner=False)
def cached_results(key: TrainKey, k: int, source: str, kind: str, measure: str,
                   _run: TrainingRun) -> EnsembleResults:
    """Compact arrays (float32 grids, ~50×50 in the gallery), not figures. `key` identifies the
    run (`_run` itself is not hashed); the sampled masks are seeded by the training seed."""
    return ensemble.compute_ensemble(_run, k, source, kind, measure, seed=key.seed,
                                     convergence=cached_convergence(key, kind, _run))


cache.register(cached_results.clear)
cache.register(cached_convergence.clear)
# The figures of those results, shared by every session: a rerun that changes none of the
# tab's settings (another tab's control, projector mode elsewhere) rebuilds nothing.
FIGURES = cache.LRUCache(MAX_CACHED)
cache.register(FIGURES.clear)


# Projector mode fits the gallery and the average on one 1920×1080 screen: the sub-networks in
# one row of up to eight, the comparison lower, the tab's controls and captions after both.
PROJECTOR_COLUMNS = 8
PROJECTOR_GALLERY_HEIGHT = 290
PROJECTOR_COMPARISON_HEIGHT = 480
PROJECTOR_TITLE_SIZE = 17


def tab_figures(results: EnsembleResults, projector: bool) -> dict:
    figures = ensemble_figures(results, projector=projector)
    if projector:
        gallery = gallery_figure(results.gallery, results.data, projector=True,
                                 ncols=PROJECTOR_COLUMNS)
        # Titles a size smaller, so eight of them fit side by side from 1280 pixels up.
        figures["gallery"] = gallery.update_layout(height=PROJECTOR_GALLERY_HEIGHT) \
            .update_annotations(font_size=PROJECTOR_TITLE_SIZE)
        if "comparison" in figures:
            figures["comparison"].update_layout(height=PROJECTOR_COMPARISON_HEIGHT)
    return figures


REGRESSION_ONLY_MEAN = ("A regression network's sub-networks output numbers, not "
                        "probabilities: they are averaged by their plain mean.")
REGRESSION_NO_MAP = ("Their disagreement is the band (mean ± 2 sd), not a map over a "
                     "plane.")


def controls(hidden: tuple[str, ...] = (), regression: bool = False) -> None:
    """The tab's view settings; keyed by their Settings field, values live in session state.
    Controls in `hidden` (the teacher's view) are not drawn; their values stay as set. For a
    regression run the average and disagreement choices mean nothing: they are not drawn (a
    caption says why) and keep their values for the next classification run."""
    k_col, source_col, kind_col, measure_col = st.columns([3, 2, 2, 2])
    if "k_subnets" not in hidden:
        spec = FIELD_SPECS["k_subnets"]
        k_col.slider("Sub-networks shown (K)", int(spec.min), int(spec.max), step=1,
                     key="k_subnets", help=spec.help)
    if "gallery_source" not in hidden:
        source_col.radio(
            "Gallery", FIELD_SPECS["gallery_source"].choices, key="gallery_source",
            format_func=SOURCE_LABELS.get,
            help="Sampled now: fresh random masks on the final weights. As trained: the "
                 "masks training used in the last K epochs, with that epoch's weights.")
    if regression:
        for name in ("ensemble_kind", "uncertainty"):  # not drawn in this run: keep them
            if name in st.session_state:
                st.session_state[name] = st.session_state[name]
        kind_col.caption(REGRESSION_ONLY_MEAN + " " + REGRESSION_NO_MAP)
        return
    if "ensemble_kind" not in hidden:
        kind_col.radio(
            "Average", FIELD_SPECS["ensemble_kind"].choices, key="ensemble_kind",
            format_func=KIND_LABELS.get,
            help="How the sub-networks' probabilities are combined: their mean, or the "
                 "normalised geometric mean (exp of the mean log-probability, rescaled "
                 "to sum to 1).")
    if "uncertainty" not in hidden:
        measure_col.radio(
            "Disagreement", FIELD_SPECS["uncertainty"].choices, key="uncertainty",
            format_func=MEASURE_LABELS.get,
            help="Mutual information: the entropy of the averaged prediction minus the "
                 "sub-networks' average entropy, the part of the uncertainty due to their "
                 "disagreement. Standard deviation: the spread of the probability they give "
                 "the predicted class. Both are zero only where the sub-networks give "
                 "identical probabilities.")


def source_text(source: str, run: TrainingRun, k: int, wanted: int, drawing: str,
                titled: bool) -> str:
    """Where the K shown sub-networks come from ("sampled now" or "as trained"); each draws
    its own `drawing` (boundary, curve); `titled`: the picture titles each with its epoch."""
    if source == "sampled":
        return (f"**Sampled now:** {k} fresh random masks (drawn from the training seed, so a "
                "shared link shows the same ones) on the final weights. Every sub-network is "
                f"built from the same shared weights, yet each draws its own {drawing}: look "
                "at how much they differ, and where.")
    scope = run.config.mask_scope
    which = {
        "epoch": "each epoch trained exactly one mask, so these are the sub-networks of "
                 f"the last {k} epochs",
        "batch": f"every mini-batch trained its own mask ({run.n_batches} per epoch); "
                 f"shown is the one of the first mini-batch of each of the last {k} epochs",
        "example": "every example at every step had its own mask; shown is the one of the "
                   "first example of the first mini-batch of each of the last "
                   f"{k} epochs",
    }[scope]
    text = (f"**As trained:** {which}, each drawn with the weights at the end of that "
            "epoch." + (" Titles give the epoch." if titled else ""))
    if run.snapshot_every > 1:
        text += (f" This run kept every {run.snapshot_every}th epoch's weights (to bound "
                 "memory), so these are the last kept epochs.")
    if k < wanted:
        text += f" Only {k} epochs were trained, so only {k} are shown."
    return text


def empty_note(keep_masks, keep_probs, k: int) -> str:
    """Which of the K sub-networks lost every unit of a layer (they predict a constant)."""
    empty = [i for i in range(k)
             if any(not m[i].any() for m, q in zip(keep_masks, keep_probs) if q < 1.0)]
    if not empty:
        return ""
    names = ", ".join(f"#{i + 1}" for i in empty[:6])
    return f" {names} lost every unit of a layer, so it predicts the same for every point."


def gallery_caption(results: EnsembleResults, run: TrainingRun, settings: Settings,
                    wanted: int) -> str:
    gallery = results.gallery
    text = source_text(gallery.source, run, gallery.k, wanted, "boundary", titled=True)
    text += (" Grey, crossed-out units are dropped; blue links are positive weights, orange "
             f"negative, thicker for larger |w|. Layers wider than {GALLERY_MAX_NODES} units "
             f"show their first {GALLERY_MAX_NODES - 1}. Titles give each sub-network's test "
             "accuracy.")
    return text + empty_note(gallery.keep_masks, results.keep_probs, gallery.k)


def exactness_note(results: EnsembleResults, source: str) -> str:
    """What the test-time network is, relative to the ensemble, in these settings (and no more)."""
    keep = results.keep_probs
    if all(q == 1.0 for q in keep):
        note = ("With p = 0 nothing is dropped: every sub-network is the full network.")
    elif ensemble.weight_scaling_is_exact(keep):
        note = ("Dropout acts only on the last hidden layer here, so the softmax is the only "
                "nonlinearity after it: the test-time network is exactly the normalised "
                "geometric mean of all sub-networks, each weighted by its probability (Hinton "
                "et al. 2012; Baldi & Sadowski 2013). The geometric mean of sampled "
                "sub-networks estimates it; the arithmetic mean is a different average.")
    else:
        note = (f"Dropout acts before {results.activation} units here, so weight scaling only "
                "approximates the ensemble's average (Baldi & Sadowski 2013).")
    if source == "trained":
        note += (" As trained, the sub-networks carry weights from different epochs while the "
                 "test-time network has the final ones, so they need not agree even with many "
                 "sub-networks.")
    return note


def difference_note(results: EnsembleResults, source: str) -> str:
    """What the |difference| panel measures at this K, beside the same measure at a large K."""
    keep = results.keep_probs
    if all(q == 1.0 for q in keep):
        return ""
    comparison, convergence, k = results.comparison, results.convergence, results.gallery.k
    big = convergence.pooled_k
    text = (f" The right-hand panel compares an average of only K = {k} sampled sub-networks, "
            "so besides the gap between that average and weight scaling it shows Monte-Carlo "
            f"noise of about 1/√K (another draw of {k} gives another picture). Mean "
            f"|difference| over the {comparison.n_test} test points: **{comparison.gap:.3f}** "
            f"with these {k}, **{convergence.pooled_gap:.4f}** with K = {big:,} sub-networks "
            f"sampled on the final weights (the convergence chart's draws pooled, noise about "
            f"{np.sqrt(big / k):.0f} times smaller).")
    exact = ensemble.weight_scaling_is_exact(keep)
    if exact and comparison.kind == "geometric":
        text += " With the geometric mean the true gap is zero here: what remains is noise."
    elif exact:
        text += (" Even here, where weight scaling is exact, the arithmetic mean keeps a gap at "
                 "any K: it is not the average weight scaling computes.")
    else:
        text += (" What remains at large K is how far weight scaling is from this average "
                 "(plus a little noise).")
    if source == "trained":
        text += (" The gallery's sub-networks carry the weights of their own epochs, so its "
                 "number also includes how the weights changed.")
    return text


def agreement_line(results: EnsembleResults) -> str:
    comparison, k = results.comparison, results.gallery.k
    agreeing = round(comparison.agreement * comparison.n_test)
    return (f"The {KIND_LABELS[comparison.kind]} of the {k} sub-networks and the test-time "
            f"network predict the same class on **{agreeing} of {comparison.n_test} test "
            f"points ({comparison.agreement:.0%})**.")


def convergence_caption(convergence: Convergence) -> str:
    acc = convergence.accuracy.mean(axis=0)
    ks = convergence.ks
    target = convergence.test_time.accuracy
    close = np.abs(acc - target) <= 0.01
    settled = next((int(ks[i]) for i in range(len(ks)) if close[i:].all()), None)
    draws = (f" The band is the range over {convergence.repeats} independent draws: it narrows "
             "as K grows (the Monte-Carlo error shrinks about as 1/√K)."
             if convergence.repeats > 1 else "")
    if settled is None:
        settle = (f"Even at K = {int(ks[-1])} the average's accuracy differs from the test-time "
                  f"network's by {abs(acc[-1] - target) * 100:.1f} points.")
    else:
        settle = (f"From K = {settled} on, the average's accuracy stays within one point of the "
                  "test-time network's.")
    gap = convergence.gap.mean(axis=0)
    return (f"Each point averages the first K of {int(ks[-1])} sub-networks sampled on the "
            "final weights. One sub-network on its own scores "
            f"{convergence.single.accuracy:.1%} on average (dotted); the test-time network "
            f"{target:.1%} (dashed). {settle}{draws} Right: the mean |difference| between the "
            "average and the test-time network over the test points (the measure of the "
            f"comparison above), {gap[0]:.3f} at K = {int(ks[0])} and {gap[-1]:.4f} at "
            f"K = {int(ks[-1])}; dotted, {convergence.pooled_gap:.4f} with all "
            f"{convergence.pooled_k:,} sub-networks pooled. It falls as the Monte-Carlo noise "
            "shrinks, towards the real gap between this average and weight scaling. "
            "Srivastava et al. (2014, Fig. 11) found Monte-Carlo averaging as good as weight "
            "scaling from about K = 50 on MNIST; compare this data set.")


def uncertainty_caption(results: EnsembleResults, source: str) -> str:
    u = results.uncertainty
    measure = ("the **mutual information** of the sub-networks' predictions: the entropy of "
               "the averaged prediction minus their average entropy, in nats" if u.measure ==
               "entropy" else
               "the **standard deviation** of the probability the sub-networks give the "
               "predicted class")
    text = ("Filled points train, hollow points test. "
            f"The colour is {measure}, over {u.k} sampled sub-networks: from white at zero, "
            "which takes identical probabilities (as everywhere when p = 0), to deep purple "
            "where they disagree most. It is not zero where they all pick the same class: "
            "they can still differ in how confident they are")
    if u.unanimous_share > 0 and u.unanimous_max > 0:
        text += (f" (here all {u.k} pick the same class on {u.unanimous_share:.0%} of the "
                 f"plane, and there it reaches {u.unanimous_max:.3f})")
    text += (". Monte-Carlo dropout (Gal & Ghahramani 2016) reads this spread as the "
             "network's uncertainty: look where it is high — along the boundary, and check "
             "whether it grows away from the training points. Fixed scale from 0 to the "
             "largest possible value; more sub-networks give a smoother map.")
    if source == "trained":
        text += (" Drawn from sub-networks sampled on the final weights (not the gallery's "
                 "as-trained ones, whose weights differ by epoch).")
    return text


# ----------------------------------------------------------------------------- regression

def render_curves(settings: Settings, key: TrainKey, run: TrainingRun) -> None:
    """The tab for a regression run: the K sub-networks' curves, band and convergence."""
    source = settings.gallery_source
    view = (key, settings.k_subnets, source)
    results = curves.cached_curve_results(*view, run)
    figures = FIGURES.get_or_build(
        ("curves", *view, settings.projector, run.epochs_completed),
        lambda _: curves.curve_tab_figures(results, settings.projector))
    places = ensemble.band_places(results)
    texts = [source_text(source, run, results.k, settings.k_subnets, "curve", titled=False)
             + empty_note(results.keep_masks, results.keep_probs, results.k),
             curves.band_caption(results, places),
             curves.curve_exactness_note(results, run.config.activation, source)]
    st.subheader(f"{results.k} thinned sub-networks, their mean and the test-time network")
    # One under the other in projector mode too: side by side, the convergence chart's two
    # panels and legend do not fit beside the curves below about 1920 pixels.
    st.plotly_chart(figures["subnetworks"], key="ensemble_subnetworks", config=PLOTLY_CONFIG,
                    alt=alt.subnetworks_alt(figures["subnetworks"]))
    if not settings.projector:
        st.markdown(curves.mse_line(results))
        for text in texts:
            st.caption(text)
        st.subheader("More sub-networks, better average")
    st.plotly_chart(figures["convergence"], key="ensemble_convergence", config=PLOTLY_CONFIG,
                    alt=alt.convergence_alt(figures["convergence"]))
    if settings.projector:  # the pictures fill the screen; the words and controls follow
        st.markdown(curves.mse_line(results))
        controls(settings.hidden_controls, regression=True)
        for text in texts:
            st.caption(text)
    st.caption(curves.curve_convergence_caption(results.convergence))
    downloads.download_row(figures, run, settings, "ensemble")


def render(settings: Settings, key: TrainKey) -> None:
    st.markdown("Dropout trains many **thinned sub-networks** that share one set of weights. "
                "Here are some of them, their average, and how it compares with the single "
                "network used at test time.")
    # Known before training (an uploaded CSV may be a regression too), so the controls show
    # even while a long run waits for its start button.
    regression = cache.get_dataset(key.data).task == "regression"
    if not settings.projector:  # projector mode: under the pictures, which fill the screen
        controls(settings.hidden_controls, regression)
    run = runs.get_run(key)
    if run.diverged_at is not None:
        st.error(f"Training diverged in epoch {run.diverged_at + 1}; showing the last finite "
                 "weights. A lower learning rate helps.")
    if run.epochs_completed == 0:
        st.info("No epoch finished with finite weights, so there are no sub-networks to show.")
        return
    if regression:
        render_curves(settings, key, run)
        return
    source = settings.gallery_source
    view = (key, settings.k_subnets, source, settings.ensemble_kind, settings.uncertainty)
    results = cached_results(*view, run)
    figures = FIGURES.get_or_build(
        (*view, settings.projector, run.epochs_completed),
        lambda _: tab_figures(results, settings.projector))

    st.subheader(f"{results.gallery.k} thinned sub-networks")
    st.plotly_chart(figures["gallery"], key="ensemble_gallery", config=PLOTLY_CONFIG,
                    alt=alt.gallery_alt(figures["gallery"]))
    gallery_text = gallery_caption(results, run, settings, settings.k_subnets)
    if not settings.projector:  # projector mode: after the average, which shares the screen
        st.caption(gallery_text)

    st.subheader("Their average beside the test-time network")
    if "comparison" in figures:
        st.plotly_chart(figures["comparison"], key="ensemble_comparison", config=PLOTLY_CONFIG,
                        alt=alt.comparison_alt(figures["comparison"]))
        st.markdown(agreement_line(results))
        if settings.projector:
            controls(settings.hidden_controls)
            st.caption(gallery_text)
        st.caption("Same colour scale in all three; white is 50/50. Right: how far apart the "
                   "two are at each place (0 = identical). Look for where the difference "
                   "lives: mostly near the boundary, or far from the data? " +
                   exactness_note(results, source) + difference_note(results, source))
    else:
        avg, full = results.comparison.average_scores, results.comparison.test_time_scores
        left, right = st.columns(2)
        left.metric(f"{KIND_NAMES[results.comparison.kind]} of {results.gallery.k}: accuracy",
                    f"{avg.accuracy:.1%}", help=f"log-loss {avg.log_loss:.3f}")
        right.metric(f"{test_time_name(results.convention)}: accuracy",
                     f"{full.accuracy:.1%}", help=f"log-loss {full.log_loss:.3f}")
        st.markdown(agreement_line(results))
        if settings.projector:
            controls(settings.hidden_controls)
            st.caption(gallery_text)
        st.caption("These inputs have more than two features, so there is no plane to draw. "
                   + exactness_note(results, source))

    st.subheader("More sub-networks, better average")
    st.plotly_chart(figures["convergence"], key="ensemble_convergence", config=PLOTLY_CONFIG,
                    alt=alt.convergence_alt(figures["convergence"]))
    st.caption(convergence_caption(results.convergence))

    st.subheader("Where the sub-networks disagree")
    if "uncertainty" in figures:
        map_col, text_col = st.columns([3, 2])
        with map_col:
            st.plotly_chart(figures["uncertainty"], key="ensemble_uncertainty",
                            config=PLOTLY_CONFIG, alt=alt.uncertainty_alt(figures["uncertainty"]))
        with text_col:
            st.caption(uncertainty_caption(results, source))
    else:
        st.info("The disagreement map needs 2-D data: choose a data set other than digits.")
    downloads.download_row(figures, run, settings, "ensemble")
