"""How close K thinned sub-networks come to the test-time network: scores, agreement, distance,
disagreement over the plane, and the Monte-Carlo convergence curve (K = 1, 2, 4, ..., 256);
for a regression network the same curve in mean squared error (`curve_convergence`).

Pure NumPy, split from ensemble.py (which assembles everything the ensemble tab shows); every
prediction here goes through the engine's one stacked pass (`engine.inference.stacked_predict`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout_viz.engine import MLP, sample_keep_masks
from dropout_viz.engine.inference import thinned_predict
from dropout_viz.engine.network import mean_squared_error
from dropout_viz.pipeline import Scores, scores

KINDS = ("arithmetic", "geometric")
MEASURES = ("entropy", "std")
CONVERGENCE_KS = tuple(2**i for i in range(9))  # 1, 2, 4, ..., 256
# Repeats of the convergence curve (independent draws of 256 sub-networks) share a budget of
# multiply-adds, so a wide network on a large test set still answers quickly.
CONVERGENCE_REPEATS = 8
CONVERGENCE_BUDGET = 4e8


@dataclass(frozen=True)
class Convergence:
    """Test metrics of the Monte-Carlo average of K sampled sub-networks, K = 1, 2, 4, ...

    Classification fills accuracy, log_loss and agreement. Regression (the arithmetic mean of
    K sub-networks' predictions) fills mse instead and leaves those three None; its gap is the
    mean over test points of |ŷ_K − ŷ_test-time| (y standardised), and its Scores carry mse.
    """

    kind: str
    ks: np.ndarray  # (L,)
    accuracy: np.ndarray | None  # (repeats, L): each row one independent draw of sub-networks
    log_loss: np.ndarray | None  # (repeats, L)
    agreement: np.ndarray | None  # (repeats, L): share of test points agreeing with test-time
    single: Scores  # the mean single sub-network
    test_time: Scores
    # (repeats, L): mean over the test points of the total variation distance between the
    # average of the first K sub-networks and the test-time network (the |difference| panel's
    # measure). It shrinks with K while Monte-Carlo noise dominates, then levels off at the
    # real gap between that average and weight scaling.
    gap: np.ndarray
    pooled_k: int  # all repeats' sub-networks averaged together: repeats × max(ks)
    pooled_gap: float  # the same mean distance for that largest average
    mse: np.ndarray | None = None  # (repeats, L): regression's test MSE of the average

    @property
    def repeats(self) -> int:
        return self.gap.shape[0]


def shared_predict(net: MLP, keep_masks: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    """(K, n, C): K thinned sub-networks of `net` (its weights shared), one stacked pass in
    float32: the pictures do not need more, and it halves the memory traffic."""
    return thinned_predict(net, X, keep_masks, np.float32)


def sampled_keep_masks(net: MLP, k: int, seed: int) -> list[np.ndarray]:
    """K fresh sub-networks of `net`: one (K, units) 0/1 array per site, reproducible by seed."""
    return sample_keep_masks(net.keep_probs, net.site_sizes, k, seed)


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


# ----------------------------------------------------------------------------- regression


def squared_errors(outputs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The engine's MSE (torch's MSELoss) of outputs (..., n, 1) against targets y (n,) → (...)."""
    return mean_squared_error(np.asarray(outputs, dtype=np.float64),
                              np.asarray(y, dtype=np.float64)[:, None])


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean over the points of |a − b|, for (..., n, 1) outputs → (...)."""
    return np.abs(np.asarray(a, dtype=np.float64) - b)[..., 0].mean(axis=-1)


def curve_convergence(net: MLP, X_test: np.ndarray, y_test: np.ndarray, seed: int,
                      ks=CONVERGENCE_KS, repeats: int | None = None) -> Convergence:
    """`convergence_curve` for a regression network: the MC mean of the first k of K_max
    sampled sub-networks (the same stream of masks) in test MSE, and its mean |distance| from
    the test-time network (Monte-Carlo noise, ~1/√K, plus the real gap between the ensemble's
    mean and weight scaling, which is zero when only the linear output follows dropout)."""
    ks = np.asarray(ks, dtype=int)
    k_max = int(ks.max())
    repeats = repeats or convergence_repeats(net, len(y_test), k_max)
    masks = sampled_keep_masks(net, repeats * k_max, seed)
    outputs = thinned_predict(net, X_test, masks).reshape(repeats, k_max, len(y_test), 1)
    test_time = net.predict(X_test)
    means = np.cumsum(outputs, axis=1)[:, ks - 1] / ks[None, :, None, None]  # (repeats, L, n, 1)
    singles = outputs.reshape(repeats * k_max, len(y_test), 1)
    return Convergence(
        kind="arithmetic", ks=ks, accuracy=None, log_loss=None, agreement=None,
        single=Scores(None, None, float(squared_errors(singles, y_test).mean())),
        test_time=scores(test_time, y_test), gap=mean_abs_difference(means, test_time),
        pooled_k=repeats * k_max,
        pooled_gap=float(mean_abs_difference(singles.mean(axis=0), test_time)),
        mse=squared_errors(means, y_test))
