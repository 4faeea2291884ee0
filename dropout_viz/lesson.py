"""The live numbers behind the Learn tab, computed from the current trained network.

Pure NumPy (no Streamlit), so tests can check each number against a direct computation.

The central one is `unit_input`: take one point, the activations h that reach a dropout site
from the (deterministic) layers below it, and one unit j of the next layer. During training
that unit receives z(m) = Σᵢ mᵢ·s·hᵢ·Wᵢⱼ + bⱼ with a random keep mask m (s = 1 for standard
dropout, 1/q for inverted). Its mean over masks is Σᵢ q·s·hᵢ·Wᵢⱼ + bⱼ, and that is exactly
what the test-time network feeds it: weights × q (standard) or the weights as they are
(inverted, where s = 1/q already made the mean right during training). Exactly, that is, for
the layer right after one dropout site with the layers below it at test time: with dropout at
several sites the means compound through the nonlinear units in between
(`all_sites_input` measures by how much).

The masks are the engine's: `sample_keep_masks(seed)` replays them, mask k being the k-th
sampled sub-network's, and every input here is computed by the engine's one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout_viz.engine import (
    MLP,
    TrainingRun,
    ensemble_mean,
    mc_mean_and_sd,
    mc_predict,
    sample_keep_masks,
)
from dropout_viz.engine.dropout import training_multipliers, training_scale
from dropout_viz.engine.masks import mask_rows
from dropout_viz.engine.network import forward


@dataclass(frozen=True)
class UnitInput:
    """What one unit of the layer after a dropout site receives, in training and at test time."""

    site: int  # dropout site: 0 = the inputs, l = hidden layer l
    unit: int  # the receiving unit in the layer after the site
    keep_prob: float  # q = 1 − p at this site
    convention: str
    n_masks: int
    sampled: np.ndarray  # (n_masks,) training-time pre-activations, one per sampled mask
    expected: float  # exact mean over all masks: Σ q·s·hᵢ·Wᵢⱼ + bⱼ
    test_time: float  # what the deterministic test-time network feeds the unit
    without_fix: float  # the test-time input if the convention's correction were done wrong

    @property
    def sampled_mean(self) -> float:
        return float(self.sampled.mean())

    @property
    def standard_error(self) -> float:
        """Standard error of `sampled_mean` (0 when every mask gives the same input)."""
        if self.n_masks < 2:
            return 0.0
        return float(self.sampled.std(ddof=1) / np.sqrt(self.n_masks))

    @property
    def without_fix_text(self) -> str:
        """What `without_fix` means, for this convention."""
        if self.convention == "standard":
            return "full weights at test time (forgetting × q)"
        return "weights × q at test time as well (scaling twice)"


N_MASKS = 1000  # sampled masks behind the Learn tab's "mean training-time input"


def default_probe(run: TrainingRun) -> tuple[int, int, int] | None:
    """(site, unit, point) the Learn tab shows before the reader picks: the last dropout site."""
    sites = dropout_sites(run.network())
    return (sites[-1], 0, 0) if sites else None


def probe_result(run: TrainingRun, site: int, unit: int, point: int) -> UnitInput:
    return unit_input(run.network(), run.dataset.X_test[point], site, unit,
                      n_masks=N_MASKS, seed=run.config.seed)


def dropout_sites(net: MLP) -> list[int]:
    """The sites where units are actually dropped (q < 1)."""
    return [site for site, q in enumerate(net.keep_probs) if q < 1.0]


def site_activations(net: MLP, X: np.ndarray, site: int) -> np.ndarray:
    """(n, units): the activations arriving at dropout site `site` from the test-time network
    below it (the inputs themselves for site 0)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if not 0 <= site < len(net.weights):
        raise ValueError(f"site must be in [0, {len(net.weights) - 1}], got {site}")
    if site == 0:
        return X
    return net.hidden_activations(X)[site - 1]


def unit_input(net: MLP, x: np.ndarray, site: int, unit: int, n_masks: int = 1000,
               seed: int = 0) -> UnitInput:
    """The mean training-time input of `unit` (over `n_masks` sampled masks at `site` only;
    every other layer as at test time) beside the exact mean and the test-time input."""
    h = site_activations(net, x, site)[0]
    W, b = net.weights[site], net.biases[site]
    if not 0 <= unit < W.shape[1]:
        raise ValueError(f"unit must be in [0, {W.shape[1] - 1}], got {unit}")
    q = net.keep_probs[site]
    scale = training_scale(q, net.convention)
    keep_masks = sample_keep_masks(net.keep_probs, net.site_sizes, n_masks, seed)[site]
    multiplier = training_multipliers([keep_masks], [q], net.convention)[0]
    # The unit's weight layer alone, its input h dropped by each of the n_masks masks.
    sampled, _ = forward([W[:, unit:unit + 1]], [b[unit:unit + 1]], h[None], net.activation,
                         [multiplier])
    sampled = sampled[:, 0]
    contributions = h * W[:, unit]  # hᵢ·Wᵢⱼ
    expected = float(q * scale * contributions.sum() + b[unit])
    test_weights = net.test_time_weights()[site]
    test_time = float(h @ test_weights[:, unit] + b[unit])
    if net.convention == "standard":
        without_fix = float(contributions.sum() + b[unit])
    else:
        without_fix = float(q * contributions.sum() + b[unit])
    return UnitInput(site, unit, q, net.convention, n_masks, sampled, expected, test_time,
                     without_fix)


@dataclass(frozen=True)
class AllSitesInput:
    """The same unit's mean training-time input when every dropout site below it drops too."""

    sites: tuple[int, ...]  # the dropout sites sampled (all those at or below `site`)
    n_masks: int
    mean: float
    standard_error: float


def all_sites_input(net: MLP, x: np.ndarray, site: int, unit: int, n_masks: int = 1000,
                    seed: int = 0) -> AllSitesInput | None:
    """Mean over `n_masks` training-time passes, with a fresh mask at EVERY dropout site up to
    `site` (as in training), of the input of `unit` in the layer after `site`.

    None when `site` is the only dropout site at or below it: then `unit_input` is the whole
    story and the test-time input equals the exact mean.
    """
    sites = tuple(s for s in dropout_sites(net) if s <= site)
    if len(sites) < 2:
        return None
    layers = slice(0, site + 1)  # the weight layers up to the unit's, as one shorter network
    keep_masks = sample_keep_masks(net.keep_probs, net.site_sizes, n_masks, seed)[layers]
    multipliers = [m if q < 1.0 else None for m, q in zip(
        training_multipliers(keep_masks, net.keep_probs[layers], net.convention),
        net.keep_probs[layers])]
    X = np.atleast_2d(np.asarray(x, dtype=np.float64))
    z, _ = forward(net.weights[layers], net.biases[layers], X, net.activation, multipliers)
    values = z[:, unit]
    return AllSitesInput(sites, n_masks, float(values.mean()),
                         float(values.std(ddof=1) / np.sqrt(n_masks)))


@dataclass(frozen=True)
class EnsembleComparison:
    """Monte-Carlo averages of sampled sub-networks against the weight-scaled network."""

    n_samples: int
    arithmetic_gap: float  # mean |MC arithmetic mean − weight scaling| over points and classes
    geometric_gap: float  # same for the normalised geometric mean
    agreement: float  # share of points where the MC mean and weight scaling pick the same class
    exact_case: bool  # only the softmax follows the dropout: weight scaling = geometric mean


def softmax_follows_dropout_only(net: MLP) -> bool:
    """True when the only dropout site is the last hidden layer (or the inputs of a network
    with no hidden layer): then the softmax (for a regression network: nothing, the output is
    linear) is the only nonlinearity after dropout."""
    return dropout_sites(net) == [len(net.weights) - 1]


def compare_ensembles(net: MLP, X: np.ndarray, n_samples: int = 200,
                      seed: int = 0) -> EnsembleComparison:
    """How far Monte-Carlo dropout (arithmetic and geometric means of `n_samples` sampled
    sub-networks) is from the weight-scaled test-time network on the points X."""
    probs = mc_predict(net, X, n_samples, seed=seed)
    scaled = net.predict_proba(X)
    arithmetic = ensemble_mean(probs, "arithmetic")
    geometric = ensemble_mean(probs, "geometric")
    return EnsembleComparison(
        n_samples=n_samples,
        arithmetic_gap=float(np.abs(arithmetic - scaled).mean()),
        geometric_gap=float(np.abs(geometric - scaled).mean()),
        agreement=float(np.mean(arithmetic.argmax(-1) == scaled.argmax(-1))),
        exact_case=softmax_follows_dropout_only(net),
    )


@dataclass(frozen=True)
class CurveComparison:
    """A regression network: the Monte-Carlo mean of sampled sub-networks against the test-time
    network's output, on some points (y standardised)."""

    n_samples: int
    mean_gap: float  # mean over the points of |MC mean − test-time output|
    # Mean over the points of the MC mean's standard error, sd / √K: the part of mean_gap that
    # more samples would remove.
    standard_error: float
    spread: float  # mean over the points of the sub-networks' own sd (the band's half-width / 2)
    # The linear output is the only thing after the dropout (dropout on the last hidden layer
    # only): then the mean over all masks IS the test-time output, and mean_gap is sampling noise.
    exact_case: bool


def compare_curves(net: MLP, X: np.ndarray, n_samples: int = 200,
                   seed: int = 0) -> CurveComparison:
    """How far the mean of `n_samples` sampled sub-networks of a regression network is from its
    test-time output on the points X."""
    mean, sd = mc_mean_and_sd(mc_predict(net, X, n_samples, seed=seed))
    return CurveComparison(
        n_samples=n_samples,
        mean_gap=float(np.abs(mean - net.predict(X)).mean()),
        standard_error=float(sd.mean() / np.sqrt(n_samples)), spread=float(sd.mean()),
        exact_case=softmax_follows_dropout_only(net))


@dataclass(frozen=True)
class MaskCounts:
    """How many different sub-networks a run could have trained."""

    masks_drawn: int  # masks per site drawn over the whole run (an upper bound on sub-networks)
    possible: int  # 2 ** (number of droppable units): every distinct thinned network
    whole_layer_dropped: float  # chance pⁿ that one hidden layer loses every unit


def mask_counts(mask_scope: str, epochs: int, n_train: int, batch_size: int, n_droppable: int,
                width: int, p_hidden: float) -> MaskCounts:
    per_epoch = mask_rows(mask_scope, n_train, batch_size)
    return MaskCounts(per_epoch * epochs, 2 ** n_droppable, float(p_hidden ** width))

