"""Inference with dropout: sampled thinned sub-networks and their ensemble averages.

The deterministic test-time network (weight scaling) is `MLP.predict_proba(X)`. Here are the
alternatives it approximates: K sampled sub-networks (Monte-Carlo dropout) and their mean.
Each sampled sub-network uses ONE mask for every point, so it is a coherent network whose
decision boundary can be drawn (re-sampling per point would draw no network at all).
"""

from __future__ import annotations

import numpy as np

from dropout_viz.engine.masks import sample_keep_masks
from dropout_viz.engine.network import MLP

# Bound the (K, n, width) intermediate arrays of a stacked pass to ~32 MB.
_MAX_STACK_ELEMENTS = 4_000_000


def thinned_predict(net: MLP, X: np.ndarray, keep_masks: list[np.ndarray]) -> np.ndarray:
    """Probabilities of K sub-networks: keep_masks[s] has shape (K, units) → (K, n, classes).

    All K networks run in one stacked pass per chunk (the masks become (K, 1, units) multipliers
    that broadcast over the points), so there is no Python loop per sub-network or per point.
    """
    X = np.asarray(X, dtype=np.float64)
    n_networks = keep_masks[0].shape[0]
    widest = max(net.layer_sizes)
    chunk = max(1, _MAX_STACK_ELEMENTS // max(1, len(X) * widest))
    parts = []
    for start in range(0, n_networks, chunk):
        stacked = [m[start:start + chunk, None, :] for m in keep_masks]
        parts.append(net.predict_proba(X, stacked))
    return np.concatenate(parts, axis=0)


def mc_predict(net: MLP, X: np.ndarray, n_samples: int, seed: int = 0,
               keep_masks: list[np.ndarray] | None = None) -> np.ndarray:
    """(K, n, classes): K = n_samples thinned sub-networks sampled from `seed` (or given masks)."""
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


def predictive_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy (nats) of the mean prediction: high where the sub-networks disagree or are unsure."""
    mean = ensemble_mean(probs)
    return -(mean * np.log(np.maximum(mean, 1e-300))).sum(axis=-1)


def log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    picked = probs[np.arange(len(y)), np.asarray(y, dtype=np.int64)]
    return float(-np.mean(np.log(np.maximum(picked, 1e-15))))


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(probs.argmax(axis=-1) == np.asarray(y)))
