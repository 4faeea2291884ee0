"""Inference with dropout: sampled thinned sub-networks and their ensemble averages.

The deterministic test-time network (weight scaling) is `MLP.predict_proba(X)`. Here are the
alternatives it approximates: K sampled sub-networks (Monte-Carlo dropout) and their mean.
Each sampled sub-network uses ONE mask for every point, so it is a coherent network whose
decision boundary can be drawn (re-sampling per point would draw no network at all).

Every stack of K sub-networks (`thinned_predict`, `mc_predict`, the ensemble tab's gallery and
averages) runs through `stacked_predict`: each sub-network folded into the smaller dense
network it really is (`fold_masks`), then the one `network.forward`. The tests check it
against the reference multiplier form, `MLP.predict_proba(X, masks as (K, 1, units))`.

For a regression network (loss="mse") the stacks hold raw outputs ŷ, (K, n, 1), instead of
probabilities; `mc_mean_and_sd` is the Monte-Carlo predictive mean and spread over them.
"""

from __future__ import annotations

import numpy as np

from dropout_viz.engine.dropout import training_scale
from dropout_viz.engine.masks import sample_keep_masks
from dropout_viz.engine.network import MLP, forward, log_softmax

# Bound the (K, n, width) intermediate arrays of a stacked pass to ~32 MB.
_MAX_STACK_ELEMENTS = 4_000_000


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
        scale = training_scale(q, convention)
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
                    dtype: type = np.float32, loss: str = "cross_entropy") -> np.ndarray:
    """Probabilities (K, n, C) of K thinned sub-networks, stacked in one pass (per chunk); for
    loss="mse" their outputs ŷ (K, n, 1), no softmax.

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
        logits, _ = forward([W[rows] for W in folded_w], [b[rows] for b in folded_b], X,
                            activation, no_dropout)
        parts.append(logits if loss == "mse" else np.exp(log_softmax(logits)))
    return np.concatenate(parts, axis=0)


def thinned_predict(net: MLP, X: np.ndarray, keep_masks: list[np.ndarray],
                    dtype: type = np.float64) -> np.ndarray:
    """Probabilities of K sub-networks of `net`: keep_masks[s] has shape (K, units) →
    (K, n, classes), all K in one stacked pass (`stacked_predict`, in float64 by default).
    A regression network gives its outputs, (K, n, 1)."""
    return stacked_predict(net.weights, net.biases, net.activation, net.keep_probs,
                           net.convention, keep_masks, X, dtype, net.loss)


def mc_predict(net: MLP, X: np.ndarray, n_samples: int, seed: int = 0,
               keep_masks: list[np.ndarray] | None = None) -> np.ndarray:
    """(K, n, classes): K = n_samples thinned sub-networks sampled from `seed` (or given masks);
    (K, n, 1) outputs for a regression network."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    if keep_masks is None:
        keep_masks = sample_keep_masks(net.keep_probs, net.site_sizes, n_samples, seed)
    return thinned_predict(net, X, keep_masks)


def ensemble_mean(probs: np.ndarray, kind: str = "arithmetic",
                  weights: np.ndarray | None = None) -> np.ndarray:
    """Average of sub-network probabilities over axis 0.

    "arithmetic": the mean of the probabilities (what Monte-Carlo dropout estimates).
    "geometric": the normalised geometric mean (exp of the mean log-probability, renormalised),
    which weight scaling equals exactly when the only nonlinearity after dropout is the softmax.
    weights: optional probability of each sub-network (defaults to equal weights).
    """
    probs = np.asarray(probs, dtype=np.float64)
    w = np.full(probs.shape[0], 1.0 / probs.shape[0]) if weights is None else \
        np.asarray(weights, dtype=np.float64) / np.sum(weights)
    w = w.reshape((-1,) + (1,) * (probs.ndim - 1))
    if kind == "arithmetic":
        return (w * probs).sum(axis=0)
    if kind == "geometric":
        log_mean = (w * np.log(np.maximum(probs, 1e-300))).sum(axis=0)
        log_mean -= log_mean.max(axis=-1, keepdims=True)
        unnormalised = np.exp(log_mean)
        return unnormalised / unnormalised.sum(axis=-1, keepdims=True)
    raise ValueError(f"kind must be 'arithmetic' or 'geometric', got {kind!r}")


def mc_mean_and_sd(outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo dropout for regression: the mean and standard deviation over axis 0 of K
    sub-networks' outputs (K, n, 1), each (n, 1).

    The sd is the spread of the sub-networks (1/K, not 1/(K − 1), as Gal's sample variance): it
    is model uncertainty only. Gal's predictive variance adds the observation noise τ⁻¹, which
    dropout does not estimate, so a band of ± sd does not widen where the data are noisier.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    return outputs.mean(axis=0), outputs.std(axis=0)


def predictive_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy (nats) of the mean prediction: high where the sub-networks disagree or are unsure."""
    mean = ensemble_mean(probs)
    return -(mean * np.log(np.maximum(mean, 1e-300))).sum(axis=-1)


def log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    picked = probs[np.arange(len(y)), np.asarray(y, dtype=np.int64)]
    return float(-np.mean(np.log(np.maximum(picked, 1e-15))))


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(probs.argmax(axis=-1) == np.asarray(y)))
