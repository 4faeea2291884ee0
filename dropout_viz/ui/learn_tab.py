"""The "Learn" tab: the lesson in words and formulas, with live numbers from the current run.

Every statement here follows ../shared/dropout-facts.md. The app's p is the probability of
DROPPING a unit (as in the notes, Keras and PyTorch); Srivastava et al. and Gal & Ghahramani
write p for the KEEP probability, so quotes from them are translated and say so.
"""

from __future__ import annotations

import streamlit as st

from dropout_viz import lesson
from dropout_viz.engine import TrainingRun
from dropout_viz.figures import PLOTLY_CONFIG
from dropout_viz.figures.lesson import site_name, unit_input_figure
from dropout_viz.lesson import N_MASKS, probe_result
from dropout_viz.settings import Settings, TrainKey
from dropout_viz.ui import cache, downloads, learn_regression, runs

SITE_KEY, UNIT_KEY, POINT_KEY = "learn_site", "learn_unit", "learn_point"
N_MC = 200  # sub-networks behind the Monte-Carlo comparison

NOTATION = (
    "**Notation.** Here p is the probability of **dropping** a unit, as in the notes, Keras "
    "(`Dropout(rate)`) and PyTorch (`nn.Dropout(p)`); q = 1 − p is the probability of keeping "
    "it. Srivastava et al. (2014) and Gal & Ghahramani (2016) write p for the **keep** "
    "probability: their p = 0.5 is the same, but their p = 0.8 is our p = 0.2. Quotes below "
    "are translated to our p and say so."
)

CO_ADAPTATION = """
A wide network trained on few examples can fit them with units that only make sense
together: one unit corrects another's mistake on a particular training point. Hinton et al.
(2012) called this *co-adaptation*, and it is one face of over-fitting: the combination works on
the training set and nowhere else.

Dropout removes each unit (with its connections) with probability p, drawing a new random mask
again and again during training. A unit can no longer count on any particular partner being
present, so it is pushed to learn a feature that is useful with many random sets of other
units. Each mask picks out a **thinned sub-network**; all of them share the same weights. With
n droppable units there are 2ⁿ sub-networks, and the network you test with stands in for their
probability-weighted average (the *Thinned sub-networks* tab shows them).
"""

MASK_SCOPE_TEXT = {
    "epoch": "**This page's run draws one mask per epoch** (the notes' description): each epoch "
             "trains one thinned sub-network for a whole pass over the data. The paper and the "
             "frameworks draw a new mask for every example at every step instead; switch with "
             "*New mask every* in the sidebar.",
    "batch": "**This page's run draws one mask per mini-batch**: every step trains one thinned "
             "sub-network on its batch. The paper and the frameworks draw a new mask for every "
             "example at every step; switch with *New mask every* in the sidebar.",
    "example": "**This page's run draws a new mask for every example at every step**, as the "
               "paper and the frameworks do: each step trains as many thinned sub-networks as "
               "its batch has examples. The notes describe one mask per epoch; switch with "
               "*New mask every* in the sidebar.",
}


def co_adaptation_text(mask_scope: str) -> str:
    """The co-adaptation paragraph, saying which mask scope the page is showing."""
    return CO_ADAPTATION + "\n" + MASK_SCOPE_TEXT[mask_scope]


def output_name(loss: str) -> str:
    """A network's output unit: a logit before the softmax, or a regression's linear y."""
    return "output y" if loss == "mse" else "output logit"


def _receiver_name(net, site: int) -> str:
    if site == len(net.weights) - 1:
        return output_name(net.loss)
    return f"unit of hidden layer {site + 1}"


def unit_input_alt(result: lesson.UnitInput, point: int, n_weight_layers: int,
                   loss: str = "cross_entropy") -> str:
    """The histogram's text alternative: the numbers its three lines mark."""
    low, high = float(result.sampled.min()), float(result.sampled.max())
    receiver = (f"{output_name(loss)} {result.unit + 1}" if result.site == n_weight_layers - 1
                else f"unit {result.unit + 1} of hidden layer {result.site + 1}")
    return (f"Histogram of the input {receiver} receives from test point {point + 1} over "
            f"{result.n_masks} sampled masks of {site_name(result.site)} (q = "
            f"{result.keep_prob:g}): from {low:.3g} to {high:.3g}, mean over the masks "
            f"{result.sampled_mean:.3g}, test-time input {result.test_time:.3g}, with "
            f"{result.without_fix_text} {result.without_fix:.3g}.")


@st.cache_data(max_entries=32, show_spinner="Sampling sub-networks…")
def _ensemble_comparison(key: TrainKey, _run: TrainingRun) -> lesson.EnsembleComparison:
    # `_run` is the run for `key` (not hashed); the result is a few floats.
    return lesson.compare_ensembles(_run.network(), _run.dataset.X_test, N_MC, seed=key.seed)


cache.register(_ensemble_comparison.clear)


def _live_unit_input(run: TrainingRun, settings: Settings) -> None:
    net = run.network()
    sites = lesson.dropout_sites(net)
    if not sites:
        st.info("p = 0 everywhere: nothing is dropped, so training and test time feed every "
                "unit the same input. Set p > 0 in the sidebar to see the numbers.")
        return
    if st.session_state.get(SITE_KEY) not in sites:
        st.session_state[SITE_KEY] = sites[-1]
    site_col, unit_col, point_col = st.columns(3)
    with site_col:
        site = st.selectbox("Dropout site", sites, key=SITE_KEY, format_func=site_name)
    n_units = net.weights[site].shape[1]
    n_points = len(run.dataset.X_test)
    for key, top in ((UNIT_KEY, n_units), (POINT_KEY, n_points)):
        if not 1 <= st.session_state.get(key, 1) <= top:
            st.session_state[key] = 1
    with unit_col:
        unit = st.number_input(f"Receiving {_receiver_name(net, site)} (1–{n_units})", 1,
                               n_units, key=UNIT_KEY) - 1
    with point_col:
        point = st.number_input(f"Test point (1–{n_points})", 1, n_points, key=POINT_KEY) - 1

    result = probe_result(run, site, unit, point)
    standard = result.convention == "standard"
    mean_col, test_col, wrong_col = st.columns(3)
    mean_col.metric(f"Mean training-time input ({N_MASKS} masks)", f"{result.sampled_mean:.4f}",
                    help=f"± {result.standard_error:.4f} (standard error); the exact mean over "
                         f"all masks is {result.expected:.4f}.")
    test_col.metric("Test-time input, " + ("weights × q" if standard else "weights as trained"),
                    f"{result.test_time:.4f}")
    wrong_col.metric("With " + result.without_fix_text, f"{result.without_fix:.4f}")
    st.caption(unit_input_caption(result, point, lesson.all_sites_input(
        net, run.dataset.X_test[point], site, unit, n_masks=N_MASKS, seed=run.config.seed),
        net.activation))
    figure = unit_input_figure(result, settings.projector)
    st.plotly_chart(figure, key="learn_unit_input", config=PLOTLY_CONFIG,
                    alt=unit_input_alt(result, point, len(net.weights), net.loss))
    downloads.download_row({"unit_input": figure}, run, settings, "learn")


def unit_input_caption(result: lesson.UnitInput, point: int,
                       compounded: lesson.AllSitesInput | None, activation: str) -> str:
    """Under the three numbers: what they are, and (with dropout at several sites below the
    unit) the mean when all of those sites drop at once."""
    text = (f"Point {point + 1} of the test set; dropout at {site_name(result.site)} with "
            f"q = {result.keep_prob:g} ({result.convention} convention), every other layer as "
            f"at test time. The exact mean over all masks is {result.expected:.4f} = the "
            f"test-time input {result.test_time:.4f}: the sampled mean differs from it only by "
            f"sampling noise (± {result.standard_error:.4f}).")
    if compounded is not None:
        names = " and ".join(site_name(s) for s in compounded.sites)
        text += (f" With dropout at {names} at once, as in training, the mean over "
                 f"{compounded.n_masks} masks is {compounded.mean:.4f} "
                 f"(± {compounded.standard_error:.4f}): the {activation} units in between "
                 "make the test-time input only an approximation of that mean.")
    return text


def _standard_section(settings: Settings) -> None:
    st.subheader("Why the test-time network uses weights × (1 − p)")
    st.markdown(
        "During training (standard convention) a unit's output hᵢ reaches the next layer only "
        "when its keep mask mᵢ is 1, which happens with probability q = 1 − p. The unit j of "
        "the next layer therefore receives a random input:")
    st.latex(r"z_j = \sum_i W_{ij}\, m_i\, h_i + b_j, \qquad m_i \sim \mathrm{Bernoulli}(q)")
    st.latex(r"\mathbb{E}[z_j] = \sum_i (q\,W_{ij})\, h_i + b_j")
    st.markdown(
        "At test time nothing is dropped: every hᵢ arrives. With the trained weights the unit "
        "would get Σ Wᵢⱼhᵢ + bⱼ, larger (in the weighted part) by a factor 1/q than anything it "
        "saw on average in training. Multiplying each unit's outgoing weights by q gives the "
        "layer right after a dropout site exactly the **mean** training-time input, as long "
        "as the layers below it run as at test time. With dropout at several sites the means "
        "compound through the nonlinear units in between, and deeper layers get the mean "
        "only approximately (the caption under the live numbers measures it). This is the "
        "notes' \"numerical coherence\", and what *Full network* means in this app when the "
        "convention is standard.")
    st.markdown("**Live, from the current network** — pick a unit and a test point:")


def _inverted_section(settings: Settings) -> None:
    st.subheader("The inverted convention: what Keras and PyTorch do")
    st.markdown(
        "The frameworks move the correction to training time: kept units are divided by q "
        "while training, so the expected input is already right and the test-time network "
        "uses the weights as they are.")
    st.latex(r"z_j = \sum_i W_{ij}\, \frac{m_i}{q}\, h_i + b_j, \qquad "
             r"\mathbb{E}[z_j] = \sum_i W_{ij}\, h_i + b_j")
    st.markdown(
        "- Keras `Dropout(rate)`: kept inputs are scaled by 1/(1 − rate) when `training=True`; "
        "at inference the layer is the identity.\n"
        "- PyTorch `nn.Dropout(p)`: p is the probability of zeroing; × 1/(1 − p) in training, "
        "identity in `eval()` mode.\n\n"
        "**Keras does not rescale the weights at test time.** The notes' last line says it "
        "multiplies the weights by (1 − p); that is an understandable slip, since the two "
        "conventions give the same expected activations, but in Keras the scaling happens "
        "during training (it moved there in 2015), and nothing at all happens at test time. "
        "Scaling by (1 − p) *again* at test time would shrink every input, as the third number "
        "above shows when the convention is inverted.")
    st.markdown(
        "Both conventions give the same expected activations, and with W_inverted = q·W_standard "
        "at each site they are the same function; yet their training trajectories differ, "
        "because the gradient of every weight right after a dropout site is 1/q times larger "
        "in the inverted network. A rescale per layer undoes it: for each layer after a site, "
        "initial weights × q and SGD learning rate × q² reproduce the standard run exactly. "
        "One global rescale of the learning rate and the initialisation does not (see "
        "Srivastava et al., §10). Compare them with the *Standard vs inverted* preset.")


def _masks_section(run: TrainingRun, settings: Settings) -> None:
    st.subheader("Per-epoch masks vs per-example masks")
    net = run.network()
    droppable = sum(net.site_sizes[s] for s in lesson.dropout_sites(net))
    n_train, epochs = len(run.dataset.y_train), run.epochs_completed
    counts = {scope: lesson.mask_counts(scope, epochs, n_train, settings.batch_size, droppable,
                                        settings.width, settings.p_hidden)
              for scope in ("epoch", "batch", "example")}
    st.markdown(
        "The notes describe one mask per epoch: \"for every epoch we train a different neural "
        "network\". The paper, Keras and PyTorch draw a fresh mask for **every training "
        "example at every step**. The difference is large:")
    st.markdown(
        f"- **Per epoch**: {epochs} epochs train at most **{counts['epoch'].masks_drawn:,}** "
        "sub-networks, each for a full pass over the data. That is closer to training a "
        "fixed handful of sub-networks (like gyro dropout or Masksembles) than to dropout "
        "as the paper describes it.\n"
        f"- **Per mini-batch** (Keras `noise_shape=(1, features)`, \"batchwise dropout\"): "
        f"up to **{counts['batch'].masks_drawn:,}** sub-networks in this run.\n"
        f"- **Per example** (the paper and the frameworks): up to "
        f"**{counts['example'].masks_drawn:,}** ({n_train} training examples × {epochs} "
        "epochs).\n\n"
        f"For comparison, this network has {droppable} droppable units and so "
        + (f"2^{droppable} ≈ {float(counts['example'].possible):.2g}" if droppable > 30
           else f"{counts['example'].possible:,}")
        + " distinct sub-networks. This run uses masks **per "
        + {"epoch": "epoch", "batch": "mini-batch", "example": "example"}[settings.mask_scope]
        + "** (sidebar: *New mask every*).")
    if settings.p_hidden > 0:
        st.caption(f"A whole hidden layer of {settings.width} units is dropped with probability "
                   f"pⁿ = {settings.p_hidden:g}^{settings.width} = "
                   f"{counts['epoch'].whole_layer_dropped:.3g}; such a sub-network outputs a "
                   "constant.")


def _ensemble_section(run: TrainingRun, settings: Settings, key: TrainKey) -> None:
    st.subheader("Monte-Carlo averaging vs weight scaling")
    st.markdown(
        "The ideal prediction is a probability-weighted average over all 2ⁿ sub-networks: a "
        "sub-network m that keeps k of the n units counts with weight "
        "π(m) = q^k (1 − q)^(n − k). Two practical stand-ins:\n"
        "- **Weight scaling**: one deterministic pass with weights × q (standard) or the "
        "weights as they are (inverted).\n"
        "- **Monte-Carlo (MC) dropout**: keep dropout on at test time and average K sampled "
        "sub-networks. The average converges to the arithmetic mean of the ensemble at about "
        "1/√K.\n\n"
        "When do they agree?\n"
        "- **Linear network**: the probability-weighted mean over all masks of the **logits** "
        "(the outputs before the softmax) equals the weight-scaled network's logits exactly. "
        "The averaged probabilities do not: after the softmax, weight scaling gives the "
        "normalised geometric mean of the sub-networks, not their arithmetic mean.\n"
        "- **Softmax right after the dropout site** (dropout on the last hidden layer only, or "
        "logistic regression with input dropout): weight scaling equals exactly the "
        "*normalised geometric mean* of all sub-networks, each weighted by its probability "
        "(Hinton et al. 2012; Baldi & Sadowski 2013). Not the arithmetic mean.")
    st.latex(r"\frac{\prod_m P(y \mid x, m)^{\pi(m)}}{\sum_{y'} \prod_m P(y' \mid x, m)^{\pi(m)}}"
             r" = \mathrm{softmax}\big(\mathbb{E}_m[z]\big), \qquad "
             r"\pi(m) = q^{k}(1-q)^{n-k}")
    st.markdown(
        "- **Hidden nonlinearities after dropout** (ReLU, tanh, sigmoid in any layer after a "
        "dropout site): weight scaling only approximates the ensemble. Baldi & Sadowski found "
        "the errors tend not to accumulate, but that is worth measuring, not assuming.\n\n"
        "Srivastava et al. (§7.5, MNIST) found MC averaging as good as weight scaling from "
        "about K = 50 sub-networks: an observation on MNIST, not a law. Gal & Ghahramani (2016) "
        "use MC dropout to estimate uncertainty: T = 10 passes is already reasonable.")
    if not lesson.dropout_sites(run.network()):
        return
    comparison = _ensemble_comparison(key, run)
    where = ("Here dropout acts only on the last hidden layer, so the geometric mean should "
             "match weight scaling up to sampling noise." if comparison.exact_case else
             "Here a nonlinearity follows a dropout site, so neither mean has to match weight "
             "scaling exactly.")
    where += (f" Both numbers include Monte-Carlo noise: about 1/√K = {N_MC ** -0.5:.2f} times "
              "the spread of the sub-networks' own predictions. And the arithmetic mean keeps a "
              "gap to weight scaling even where weight scaling is exact, because what it then "
              "equals is the normalised geometric mean.")
    arith_col, geo_col, agree_col = st.columns(3)
    arith_col.metric(f"Arithmetic MC mean vs weight scaling (K = {N_MC})",
                     f"{comparison.arithmetic_gap:.4f}",
                     help="Mean absolute difference in predicted probability over the test "
                          "points and classes.")
    geo_col.metric(f"Geometric MC mean vs weight scaling (K = {N_MC})",
                   f"{comparison.geometric_gap:.4f}")
    agree_col.metric("Same predicted class", f"{comparison.agreement:.0%}")
    st.caption("Measured on the current network's test points. " + where)


SUGGESTIONS = (
    ("Dropout rate p for hidden units", "p_hidden", 0.2, 0.5, "keep 0.5–0.8"),
    ("Dropout rate p for inputs", "p_input", 0.2, 0.2, "keep 0.8 for real-valued inputs"),
    ("Max-norm c", "max_norm", 3.0, 4.0, "c ≈ 3–4"),
)


def suggestion_rows(settings: Settings) -> list[dict[str, str]]:
    """The paper's practical advice, in this app's p, beside the current values."""
    rows = []
    for label, name, low, high, paper in SUGGESTIONS:
        value = getattr(settings, name)
        suggested = f"{low:g}" if low == high else f"{low:g}–{high:g}"
        inside = low - 1e-9 <= value <= high + 1e-9
        rows.append({"Setting": label, "Suggested": suggested, "Paper (its p = keep)": paper,
                     "Now": ("off" if name == "max_norm" and value == 0 else f"{value:g}")
                     + (" ✓" if inside else "")})
    return rows


def _practice_section(settings: Settings) -> None:
    st.subheader("Practical advice")
    st.markdown(
        "Srivastava et al. (2014, Appendix A) give ranges; they write p for the **keep** "
        "probability, translated here to this app's drop probability:")
    st.table(suggestion_rows(settings))
    st.markdown(
        "- Dropout nets like a higher learning rate, and momentum of 0.95–0.99.\n"
        "- With a fixed width n the test error was flat for keep 0.4–0.8 (our p = 0.2–0.6); "
        "with q·n held fixed it was best near keep 0.6 (our p = 0.4). The *Experiments* tab "
        "sweeps p both ways.\n"
        "- On a toy problem with two input features, dropping inputs removes half of what "
        "the network can see; keep p for inputs small.\n"
        "- These ranges come from large image and speech benchmarks; expect the direction, not "
        "the exact numbers, on small 2-D data.")


REFERENCES = """
- N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov (2014).
  *Dropout: A Simple Way to Prevent Neural Networks from Overfitting.* JMLR 15, 1929–1958.
  (Their p is the keep probability.)
- Y. Gal, Z. Ghahramani (2016). *Dropout as a Bayesian Approximation: Representing Model
  Uncertainty in Deep Learning.* ICML. (Their p is the keep probability.)
- P. Baldi, P. Sadowski (2013). *Understanding Dropout.* NIPS 26.
- S. Wager, S. Wang, P. Liang (2013). *Dropout Training as Adaptive Regularization.* NIPS 26.
  (For linear and generalised linear models dropout acts approximately as an adaptive L2
  penalty.)
- G. Hinton, N. Srivastava, A. Krizhevsky, I. Sutskever, R. Salakhutdinov (2012).
  *Improving neural networks by preventing co-adaptation of feature detectors.*
  arXiv:1207.0580.
"""


def render(settings: Settings, key: TrainKey) -> None:
    run = runs.get_run(key)
    st.info(NOTATION)
    st.subheader("Why dropout: co-adaptation")
    st.markdown(co_adaptation_text(settings.mask_scope))
    _standard_section(settings)
    if run.epochs_completed == 0:
        st.warning("Training diverged before the first epoch finished, so the numbers below "
                   "come from the initial weights.")
    _live_unit_input(run, settings)
    _inverted_section(settings)
    _masks_section(run, settings)
    if run.task == "regression":  # no softmax: the output is linear
        learn_regression.render(run, key, N_MC)
    else:
        _ensemble_section(run, settings, key)
    _practice_section(settings)
    st.subheader("References")
    st.markdown(REFERENCES)

