"""The ensemble behind dropout, computed: thinned sub-networks, their average, the test-time
network, Monte-Carlo convergence and the sub-networks' disagreement over the plane.

Pure NumPy (no Streamlit, no Plotly). Every stack of sub-networks runs as one batched pass:
masks become (K, 1, units) multipliers that broadcast over the points, and sub-networks with
their own weights ("as trained") stack their weight matrices along a leading axis.
Results are compact dataclasses of float32 arrays so that a cache can hold and copy them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout_viz import pipeline
from dropout_viz.engine import (
    MLP,
    TrainingRun,
    accuracy,
    ensemble_mean,
    log_loss,
    sample_keep_masks,
)
from dropout_viz.engine.network import forward

SOURCES = ("sampled", "trained")
KINDS = ("arithmetic", "geometric")
MEASURES = ("entropy", "std")
CONVERGENCE_KS = tuple(2**i for i in range(9))  # 1, 2, 4, ..., 256
GALLERY_RESOLUTION = 50
# Repeats of the convergence curve (independent draws of 256 sub-networks) share a budget of
# multiply-adds, so a wide network on a large test set still answers quickly.
CONVERGENCE_REPEATS = 8
CONVERGENCE_BUDGET = 4e8
# Bound the (K, n, width) intermediates of a stacked pass (as the engine does) to ~32 MB.
_MAX_STACK_ELEMENTS = 4_000_000


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Scores:
    accuracy: float
    log_loss: float


@dataclass(frozen=True)
class PlotData:
    """What every panel draws on top: the data (float32) and the planes' coordinates."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    planar: bool
    xs: np.ndarray | None  # the full grid (R,), None when the data are not 2-D
    ys: np.ndarray | None


@dataclass(frozen=True)
class Gallery:
    """K thinned sub-networks exactly as shown: masks, weights, boundaries and test scores."""

    source: str  # "sampled" (fresh masks on the final weights) or "trained"
    mask_scope: str
    epochs: np.ndarray  # (K,) 0-based epoch whose weights each sub-network uses
    keep_masks: tuple[np.ndarray, ...]  # one (K, units) 0/1 float32 array per dropout site
    weights: tuple[tuple[np.ndarray, ...], ...]  # per sub-network, per layer (fan_in, fan_out)
    xs: np.ndarray | None  # the gallery's coarser grid (about 50 x 50)
    ys: np.ndarray | None
    grid_probs: np.ndarray | None  # (K, len(ys) * len(xs), C) float32
    test_accuracy: np.ndarray  # (K,)
    test_log_loss: np.ndarray  # (K,)

    @property
    def k(self) -> int:
        return len(self.epochs)


@dataclass(frozen=True)
class Comparison:
    """The average of the gallery's sub-networks beside the deterministic test-time network."""

    kind: str  # "arithmetic" or "geometric"
    average: np.ndarray | None  # (R*R, C) float32 on the full grid
    test_time: np.ndarray | None  # (R*R, C) float32
    average_scores: Scores
    test_time_scores: Scores
    agreement: float  # share of test points where both predict the same class
    n_test: int
    # Mean over the test points of the |difference| panel's measure (total variation distance
    # ½·Σ|P_average − P_test-time|): Monte-Carlo noise of the K sub-networks included.
    gap: float


@dataclass(frozen=True)
class Uncertainty:
    """How much K sampled sub-networks (on the final weights) disagree, over the plane."""

    measure: str  # "entropy" (mutual information) or "std"
    values: np.ndarray  # (R*R,) float32, zero only where the K probabilities are identical
    k: int
    upper: float  # the measure's largest possible value (colour-scale end)
    # Largest value where all K sub-networks pick the same class (they may still differ in
    # confidence, so it need not be zero); 0.0 when they split everywhere.
    unanimous_max: float
    unanimous_share: float  # share of the plane where all K pick the same class


@dataclass(frozen=True)
class Convergence:
    """Test metrics of the Monte-Carlo average of K sampled sub-networks, K = 1, 2, 4, ..."""

    kind: str
    ks: np.ndarray  # (L,)
    accuracy: np.ndarray  # (repeats, L): each row one independent draw of sub-networks
    log_loss: np.ndarray  # (repeats, L)
    agreement: np.ndarray  # (repeats, L): share of test points agreeing with the test-time net
    single: Scores  # the mean single sub-network
    test_time: Scores
    # (repeats, L): mean over the test points of the total variation distance between the
    # average of the first K sub-networks and the test-time network (the |difference| panel's
    # measure). It shrinks with K while Monte-Carlo noise dominates, then levels off at the
    # real gap between that average and weight scaling.
    gap: np.ndarray
    pooled_k: int  # all repeats' sub-networks averaged together: repeats × max(ks)
    pooled_gap: float  # the same mean distance for that largest average

    @property
    def repeats(self) -> int:
        return self.accuracy.shape[0]


@dataclass(frozen=True)
class EnsembleResults:
    data: PlotData
    gallery: Gallery
    comparison: Comparison
    uncertainty: Uncertainty | None  # None when the data are not 2-D
    convergence: Convergence
    convention: str
    activation: str
    keep_probs: tuple[float, ...]


# ----------------------------------------------------------------------------- predictions


def fold_masks(weights: list[np.ndarray], biases: list[np.ndarray],
               keep_masks: list[np.ndarray], keep_probs: tuple[float, ...],
               convention: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each thinned sub-network as the smaller dense network it really is.

    Dropped hidden units are removed, and the dropout multiplier of a kept unit (1, or 1/q for
    inverted dropout) is folded into its outgoing weights; dropped inputs get zero weights.
    Networks keep different numbers of units, so each layer is padded to the largest count
    with dummy units whose outgoing weights are zero. weights[l] is (fan_in, fan_out) shared by
    all K networks or (K, fan_in, fan_out); returns stacked (K, m_l, m_l+1) weights and
    (K, m_l+1) biases. With p = 0.5 the hidden-to-hidden products shrink about fourfold.
    """
    n_networks = keep_masks[0].shape[0]
    sites = []  # per layer input: (unit indices (K, m), multiplier (K, m))
    for site, (mask, q) in enumerate(zip(keep_masks, keep_probs)):
        kept = np.asarray(mask) > 0.5
        scale = 1.0 / q if convention == "inverted" else 1.0
        if site == 0:  # the inputs are data columns: zero a dropped one's weights instead
            indices = np.broadcast_to(np.arange(kept.shape[1]), kept.shape)
            sites.append((indices, kept * scale))
            continue
        width = max(1, int(kept.sum(axis=1).max()))
        indices = np.argsort(~kept, axis=1, kind="stable")[:, :width]  # kept units first
        sites.append((indices, np.take_along_axis(kept, indices, axis=1) * scale))
    n_classes = weights[-1].shape[-1]
    sites.append((np.broadcast_to(np.arange(n_classes), (n_networks, n_classes)), None))
    network = np.arange(n_networks)[:, None, None]
    folded_w, folded_b = [], []
    for layer, (W, b) in enumerate(zip(weights, biases)):
        (rows, multiplier), (cols, _) = sites[layer], sites[layer + 1]
        if W.ndim == 2:
            picked_w, picked_b = W[rows[:, :, None], cols[:, None, :]], b[cols]
        else:
            picked_w = W[network, rows[:, :, None], cols[:, None, :]]
            picked_b = np.take_along_axis(b, cols, axis=1)
        folded_w.append(picked_w * multiplier[:, :, None].astype(W.dtype))
        folded_b.append(picked_b)
    return folded_w, folded_b


def stacked_predict(weights: list[np.ndarray], biases: list[np.ndarray], activation: str,
                    keep_probs: tuple[float, ...], convention: str,
                    keep_masks: list[np.ndarray], X: np.ndarray,
                    dtype: type = np.float32) -> np.ndarray:
    """Probabilities (K, n, C) of K thinned sub-networks, stacked in one pass (per chunk).

    keep_masks[s] is (K, units) per dropout site. weights[l] is (fan_in, fan_out), shared by all
    K networks, or (K, fan_in, fan_out) when each has its own weights (likewise biases). The
    sub-networks run as their folded, smaller dense networks (`fold_masks`) batched along a
    leading axis: no Python loop per network or per point beyond memory-bounding chunks.
    float32 by default: the pictures do not need more, and it halves the memory traffic.
    """
    X = np.asarray(X, dtype=dtype)
    weights = [np.asarray(W, dtype=dtype) for W in weights]
    biases = [np.asarray(b, dtype=dtype) for b in biases]
    folded_w, folded_b = fold_masks(weights, biases, keep_masks, keep_probs, convention)
    n_networks = keep_masks[0].shape[0]
    widest = max(W.shape[-1] for W in folded_w)
    chunk = max(1, _MAX_STACK_ELEMENTS // max(1, len(X) * widest))
    no_dropout = [None] * len(folded_w)
    parts = []
    for start in range(0, n_networks, chunk):
        rows = slice(start, start + chunk)
        log_probs, _ = forward([W[rows] for W in folded_w], [b[rows] for b in folded_b], X,
                               activation, no_dropout)
        parts.append(np.exp(log_probs))
    return np.concatenate(parts, axis=0)


def shared_predict(net: MLP, keep_masks: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    """(K, n, C): K thinned sub-networks of `net` (its weights shared), one stacked pass."""
    return stacked_predict(net.weights, net.biases, net.activation, net.keep_probs,
                           net.convention, keep_masks, X)


def sampled_keep_masks(net: MLP, k: int, seed: int) -> list[np.ndarray]:
    """K fresh sub-networks of `net`: one (K, units) 0/1 array per site, reproducible by seed."""
    return sample_keep_masks(net.keep_probs, net.site_sizes, k, seed)


def trained_epochs(run: TrainingRun, k: int) -> np.ndarray:
    """The last K epochs whose weights the run kept (every epoch unless it stored a stride)."""
    return np.asarray(run.snapshot_epochs[-k:], dtype=int)


def trained_sub_networks(run: TrainingRun, k: int):
    """The sub-networks training used in the last K kept epochs, each with that epoch's weights.

    Epoch scope: the epoch's one mask. Batch scope: the mask of the epoch's first mini-batch.
    Example scope: the mask of the first example of the first mini-batch. The weights are those
    at the end of the epoch. Returns (epochs, keep_masks per site (K, units), weights, biases),
    weights[l] stacked (K, fan_in, fan_out).
    """
    epochs = trained_epochs(run, k)
    masks_by_epoch = [pipeline.view_mask(run.keep_masks(int(e), 0)) for e in epochs]
    keep_masks = [np.stack([m[s] for m in masks_by_epoch]).astype(np.float32)
                  for s in range(len(masks_by_epoch[0]))]
    nets = [run.network(int(e)) for e in epochs]
    weights = [np.stack([net.weights[l] for net in nets]) for l in range(len(nets[0].weights))]
    biases = [np.stack([net.biases[l] for net in nets]) for l in range(len(nets[0].biases))]
    return epochs, keep_masks, weights, biases


# ----------------------------------------------------------------------------- measures


def scores(probs: np.ndarray, y: np.ndarray) -> Scores:
    return Scores(accuracy(probs, y), log_loss(probs, y))


def per_network_log_loss(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Log-loss of each of K networks' predictions (K, n, C) → (K,)."""
    picked = np.take_along_axis(probs, np.asarray(y, dtype=int)[None, :, None], axis=-1)[..., 0]
    return -np.log(np.maximum(picked, 1e-15)).mean(axis=-1)


def agreement(probs_a: np.ndarray, probs_b: np.ndarray) -> float:
    """Share of points where the two predictions pick the same class."""
    return float(np.mean(probs_a.argmax(axis=-1) == probs_b.argmax(axis=-1)))


def distance(probs_a: np.ndarray, probs_b: np.ndarray) -> np.ndarray:
    """Total variation distance ½·Σ_c |P_a − P_b| at each point (|ΔP(class 1)| for two
    classes): what the comparison's |difference| panel draws."""
    diff = np.asarray(probs_a, dtype=np.float64) - np.asarray(probs_b, dtype=np.float64)
    return 0.5 * np.abs(diff).sum(axis=-1)


def unanimous(probs: np.ndarray) -> np.ndarray:
    """(n,) True where all K sub-networks (K, n, C) predict the same class."""
    winners = np.asarray(probs).argmax(axis=-1)
    return (winners == winners[0]).all(axis=0)


def disagreement(probs: np.ndarray, measure: str) -> np.ndarray:
    """Spread of K sub-networks' predictions (K, n, C) at each point → (n,).

    Zero only where the K probability vectors are identical: where all pick the same class with
    different confidence, both measures are above zero.

    "entropy": the mutual information H[mean p] − mean H[p] — the part of the averaged
    prediction's entropy that comes from the sub-networks disagreeing (Gal's thesis, §3.3).
    "std": the standard deviation over sub-networks of the probability they give the class the
    average predicts (for two classes: the spread of P(class 1)).
    """
    probs = np.asarray(probs, dtype=np.float64)
    # Averages taken relative to the first sub-network, so identical sub-networks give exactly
    # zero (a plain mean of equal numbers can be off in the last bit).
    mean = probs[0] + (probs - probs[0]).mean(axis=0)
    if measure == "entropy":
        # mean over k of KL(p_k || mean) = H[mean] − mean H[p_k]; each term is ≥ 0.
        log_ratio = np.log(np.maximum(probs, 1e-300)) - np.log(np.maximum(mean, 1e-300))
        return np.maximum((probs * log_ratio).sum(axis=-1).mean(axis=0), 0.0)
    if measure == "std":
        winner = mean.argmax(axis=-1)
        picked = np.take_along_axis(probs, winner[None, :, None], axis=-1)[..., 0]
        return (picked - picked[0]).std(axis=0)
    raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")


def measure_upper(measure: str, n_classes: int) -> float:
    """Largest possible value: ln C nats of mutual information, 0.5 of a probability's spread."""
    return float(np.log(n_classes)) if measure == "entropy" else 0.5


def weight_scaling_is_exact(keep_probs: tuple[float, ...]) -> bool:
    """True when the test-time network equals the normalised geometric mean of ALL sub-networks.

    That holds when the softmax is the only nonlinearity after any dropout: dropout only on the
    last hidden layer (or none at all). Otherwise weight scaling only approximates the ensemble.
    """
    return all(q == 1.0 for q in keep_probs[:-1])


# ----------------------------------------------------------------------------- convergence


def prefix_means(probs: np.ndarray, ks, kind: str) -> np.ndarray:
    """Ensemble means of the first k sub-networks for every k in ks → (len(ks), n, C)."""
    probs = np.asarray(probs, dtype=np.float64)
    ks = np.asarray(ks)
    if kind == "arithmetic":
        sums = np.cumsum(probs, axis=0)[ks - 1]
        return sums / ks[:, None, None]
    if kind == "geometric":
        logs = np.cumsum(np.log(np.maximum(probs, 1e-300)), axis=0)[ks - 1] / ks[:, None, None]
        logs -= logs.max(axis=-1, keepdims=True)
        unnormalised = np.exp(logs)
        return unnormalised / unnormalised.sum(axis=-1, keepdims=True)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def convergence_repeats(net: MLP, n_test: int, k_max: int) -> int:
    params = sum(W.size for W in net.weights)
    return int(np.clip(CONVERGENCE_BUDGET // max(1, k_max * n_test * params), 1,
                       CONVERGENCE_REPEATS))


def convergence_curve(net: MLP, X_test: np.ndarray, y_test: np.ndarray, kind: str, seed: int,
                      ks=CONVERGENCE_KS, repeats: int | None = None) -> Convergence:
    """Test metrics of the MC average of the first k of K_max sampled sub-networks.

    Repeat r uses sub-networks r*K_max .. (r+1)*K_max - 1 of the seed's stream, so repeat 0
    starts with the very sub-networks a "sampled" gallery with the same seed shows.
    """
    ks = np.asarray(ks, dtype=int)
    k_max = int(ks.max())
    repeats = repeats or convergence_repeats(net, len(y_test), k_max)
    masks = sampled_keep_masks(net, repeats * k_max, seed)
    probs = shared_predict(net, masks, X_test).reshape(repeats, k_max, len(y_test), -1)
    test_time = net.predict_proba(X_test)
    acc = np.empty((repeats, len(ks)))
    loss = np.empty_like(acc)
    agree = np.empty_like(acc)
    gap = np.empty_like(acc)
    for r in range(repeats):  # a handful of repeats; each is one vectorised pass
        means = prefix_means(probs[r], ks, kind)
        acc[r] = (means.argmax(axis=-1) == y_test).mean(axis=-1)
        picked = np.take_along_axis(means, y_test[None, :, None], axis=-1)[..., 0]
        loss[r] = -np.log(np.maximum(picked, 1e-15)).mean(axis=-1)
        agree[r] = (means.argmax(axis=-1) == test_time.argmax(axis=-1)).mean(axis=-1)
        gap[r] = distance(means, test_time).mean(axis=-1)
    singles = probs.reshape(repeats * k_max, len(y_test), -1)
    single = Scores(float((singles.argmax(axis=-1) == y_test).mean()),
                    float(per_network_log_loss(singles, y_test).mean()))
    pooled_k = repeats * k_max
    pooled = prefix_means(singles, [pooled_k], kind)[0]
    return Convergence(kind, ks, acc, loss, agree, single, scores(test_time, y_test), gap,
                       pooled_k, float(distance(pooled, test_time).mean()))


# ----------------------------------------------------------------------------- everything


def gallery_indices(resolution: int, target: int = GALLERY_RESOLUTION) -> np.ndarray:
    """Indices picking about `target` evenly spread rows/columns of a resolution-wide grid."""
    return np.unique(np.round(np.linspace(0, resolution - 1, min(target, resolution)))
                     .astype(int))


def plot_data(dataset, grid: pipeline.Grid | None) -> PlotData:
    return PlotData(
        X_train=np.asarray(dataset.X_train, dtype=np.float32),
        y_train=np.asarray(dataset.y_train, dtype=int),
        X_test=np.asarray(dataset.X_test, dtype=np.float32),
        y_test=np.asarray(dataset.y_test, dtype=int),
        n_classes=int(dataset.n_classes),
        feature_names=tuple(str(n) for n in dataset.feature_names),
        class_names=tuple(str(n) for n in dataset.class_names),
        planar=grid is not None,
        xs=None if grid is None else grid.xs, ys=None if grid is None else grid.ys)


def compute_ensemble(run: TrainingRun, k: int, source: str = "sampled",
                     kind: str = "arithmetic", measure: str = "entropy", seed: int = 0,
                     resolution: int = pipeline.GRID_RESOLUTION,
                     gallery_resolution: int = GALLERY_RESOLUTION,
                     convergence: Convergence | None = None) -> EnsembleResults:
    """Everything the "Thinned sub-networks" tab shows for K sub-networks from `source`.

    `seed` draws the sampled masks (the page passes the training seed, so a link reproduces the
    gallery). Pass a precomputed `convergence` to reuse it (it depends on neither K nor source).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    dataset = run.dataset
    net = run.network()
    grid = pipeline.grid_for(dataset, resolution) if pipeline.is_planar(dataset) else None
    data = plot_data(dataset, grid)
    X_test, y_test = dataset.X_test, np.asarray(dataset.y_test, dtype=int)
    n_test = len(y_test)
    # Grid points and test points go through the sub-networks together, in one pass.
    points = X_test if grid is None else np.vstack([grid.points, X_test])

    sampled_masks = sampled_keep_masks(net, k, seed)
    sampled_probs = shared_predict(net, sampled_masks, points)
    if source == "sampled":
        epochs = np.full(k, run.epochs_completed - 1)
        keep_masks = [m.astype(np.float32) for m in sampled_masks]
        shared = tuple(W.astype(np.float32) for W in net.weights)
        weights = (shared,) * k  # one set of weights, referenced K times
        probs = sampled_probs
    else:
        epochs, keep_masks, stacked_w, stacked_b = trained_sub_networks(run, k)
        weights = tuple(tuple(W[i].astype(np.float32) for W in stacked_w)
                        for i in range(len(epochs)))
        probs = stacked_predict(stacked_w, stacked_b, net.activation, net.keep_probs,
                                net.convention, keep_masks, points)
    test_probs = probs[:, -n_test:]
    full = net.predict_proba(points)

    gallery_xs = gallery_ys = gallery_grid = None
    if grid is not None:
        pick = gallery_indices(len(grid.xs), gallery_resolution)
        gallery_xs, gallery_ys = grid.xs[pick], grid.ys[pick]
        flat = (pick[:, None] * len(grid.xs) + pick[None, :]).ravel()  # rows along y
        gallery_grid = probs[:, flat].astype(np.float32)
    gallery = Gallery(
        source=source, mask_scope=run.config.mask_scope, epochs=np.asarray(epochs, dtype=int),
        keep_masks=tuple(keep_masks), weights=weights, xs=gallery_xs, ys=gallery_ys,
        grid_probs=gallery_grid,
        test_accuracy=(test_probs.argmax(axis=-1) == y_test).mean(axis=-1),
        test_log_loss=per_network_log_loss(test_probs, y_test))

    average = ensemble_mean(probs, kind)
    n_grid = 0 if grid is None else len(grid.points)
    comparison = Comparison(
        kind=kind,
        average=None if grid is None else average[:n_grid].astype(np.float32),
        test_time=None if grid is None else full[:n_grid].astype(np.float32),
        average_scores=scores(average[n_grid:], y_test),
        test_time_scores=scores(full[n_grid:], y_test),
        agreement=agreement(average[n_grid:], full[n_grid:]), n_test=n_test,
        gap=float(distance(average[n_grid:], full[n_grid:]).mean()))

    uncertainty = None
    if grid is not None:
        values = disagreement(sampled_probs[:, :n_grid], measure)
        same = unanimous(sampled_probs[:, :n_grid])
        uncertainty = Uncertainty(
            measure=measure, values=values.astype(np.float32), k=k,
            upper=measure_upper(measure, dataset.n_classes),
            unanimous_max=float(values[same].max()) if same.any() else 0.0,
            unanimous_share=float(same.mean()))

    if convergence is None or convergence.kind != kind:
        convergence = convergence_curve(net, X_test, y_test, kind, seed)
    return EnsembleResults(data=data, gallery=gallery, comparison=comparison,
                           uncertainty=uncertainty, convergence=convergence,
                           convention=net.convention, activation=net.activation,
                           keep_probs=net.keep_probs)
