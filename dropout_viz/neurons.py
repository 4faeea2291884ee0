"""Inside the neurons: what the hidden units of a test-time network output.

Pure NumPy. `activation_stats` / `compare_activations`: histogram, mean and fraction near zero
of each hidden layer on a set of points (the sparsity effect of Srivastava et al. 2014,
Fig. 8); `unit_maps`: every hidden unit's output over the 2-D input plane (TensorFlow
Playground style).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dropout_viz.engine import MLP

# An activation counts as "near zero" when |a| < NEAR_ZERO. For ReLU units that is exactly the
# fraction of inactive (zero) outputs; for tanh it counts outputs at the origin; sigmoid units
# output 0.5 at rest, so for them the fraction measures saturation towards 0, not sparsity.
NEAR_ZERO = 1e-3
HISTOGRAM_BINS = 40


@dataclass(frozen=True)
class ActivationStats:
    """What one hidden layer of the test-time network outputs on a set of points.

    mean: mean activation over points and units. near_zero: fraction of activations with
    |a| < NEAR_ZERO. unit_means: each unit's mean over the points. counts: histogram of all
    activations on `edges` (values outside the edges are clipped into the end bins).
    """

    layer: int  # 1-based hidden layer
    mean: float
    near_zero: float
    unit_means: np.ndarray  # (units,)
    counts: np.ndarray  # (bins,)
    edges: np.ndarray  # (bins + 1,)

    @property
    def n_values(self) -> int:
        return int(self.counts.sum())


def hidden_activations(net: MLP, X: np.ndarray) -> list[np.ndarray]:
    """Each hidden layer's output (n, units) in the test-time network (no units dropped).

    This is the unit's own output h, before the next layer's dropout multiplier (×q in the
    standard convention), so networks trained with and without dropout compare like for like.
    """
    return net.hidden_activations(X)


def activation_edges(arrays: Sequence[np.ndarray], bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Shared histogram edges covering every array (so two networks' histograms line up)."""
    low = min(float(np.min(a)) for a in arrays)
    high = max(float(np.max(a)) for a in arrays)
    if high <= low:
        high = low + 1.0
    return np.linspace(low, high, bins + 1)


def layer_stats(activations: np.ndarray, layer: int, edges: np.ndarray) -> ActivationStats:
    values = np.asarray(activations, dtype=float)
    clipped = np.clip(values.ravel(), edges[0], edges[-1])
    counts, _ = np.histogram(clipped, bins=edges)
    return ActivationStats(
        layer=layer, mean=float(values.mean()),
        near_zero=float(np.mean(np.abs(values) < NEAR_ZERO)),
        unit_means=values.mean(axis=0), counts=counts, edges=np.asarray(edges, dtype=float))


def activation_stats(net: MLP, X: np.ndarray,
                     edges: Sequence[np.ndarray] | None = None) -> list[ActivationStats]:
    """One ActivationStats per hidden layer of `net` on the points X."""
    layers = hidden_activations(net, X)
    if edges is None:
        edges = [activation_edges([h]) for h in layers]
    return [layer_stats(h, l + 1, e) for l, (h, e) in enumerate(zip(layers, edges))]


def compare_activations(nets: Mapping[str, MLP], X: np.ndarray,
                        bins: int = HISTOGRAM_BINS) -> dict[str, list[ActivationStats]]:
    """activation_stats of several networks with the same histogram edges per layer."""
    layers = {name: hidden_activations(net, X) for name, net in nets.items()}
    depth = min(len(h) for h in layers.values())
    edges = [activation_edges([h[l] for h in layers.values()], bins) for l in range(depth)]
    return {name: [layer_stats(h[l], l + 1, edges[l]) for l in range(depth)]
            for name, h in layers.items()}


def pooled_stats(stats: Sequence[ActivationStats]) -> dict[str, float]:
    """Mean activation and near-zero fraction over all hidden layers (weighted by values)."""
    sizes = np.array([s.n_values for s in stats], dtype=float)
    return {"mean": float(np.average([s.mean for s in stats], weights=sizes)),
            "near_zero": float(np.average([s.near_zero for s in stats], weights=sizes))}


@dataclass(frozen=True)
class UnitMaps:
    """Every hidden unit's output over a grid: maps[l] is (len(ys), len(xs), units)."""

    xs: np.ndarray
    ys: np.ndarray
    maps: list[np.ndarray]
    dropped: list[np.ndarray]  # per hidden layer, indices of units dropped in the shown mask


def unit_maps(net: MLP, xs: np.ndarray, ys: np.ndarray,
              keep_masks: Sequence[np.ndarray] | None = None) -> UnitMaps:
    """Each hidden unit's output over the plane (test-time network; nothing dropped).

    keep_masks (one (units,) vector per site, inputs first) only marks which units that mask
    drops; the maps show what each unit computes when it is present.
    """
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    gx, gy = np.meshgrid(xs, ys)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    layers = hidden_activations(net, points)
    maps = [h.reshape(len(ys), len(xs), h.shape[1]) for h in layers]
    if keep_masks is None:
        dropped = [np.array([], dtype=int) for _ in layers]
    else:
        dropped = [np.flatnonzero(np.asarray(m).reshape(-1) < 0.5) for m in keep_masks[1:]]
    return UnitMaps(xs, ys, maps, dropped)
