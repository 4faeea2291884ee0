"""A dropout site: what one layer's activations are multiplied by before the next weights.

Every dropout site (the inputs, then each hidden layer) keeps each of its units with probability
q = 1 − p. Like CS231n's `dropout_forward`, the site decides everything about itself:

* the keep rule: a unit is kept when its random 16-bit level (masks.py draws them from the
  seed) is at most `keep_threshold(q)`, so it is kept with probability q to within 1/131072;
* the training multiplier: the 0/1 keep mask × s, with s = 1 for standard dropout and 1/q for
  inverted dropout (kept units scaled up, so the expected input stays the same);
* the test-time multiplier: q for standard dropout (the same as multiplying the outgoing
  weights by q) and 1 for inverted dropout (the scaling already happened in training).

masks.py draws the levels from the seed and says which masks each mini-batch uses.

A multiplier of None means 1: no dropout at that site, and no multiplication at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CONVENTIONS = ("standard", "inverted")
LEVELS = 65536  # random levels are 16-bit


def keep_threshold(q: float) -> int:
    """The highest level that keeps a unit: kept iff level <= round(q·65536) - 1.

    -1 for q = 0 (nothing kept) and 65535 for q = 1 (everything kept).
    """
    return math.floor(q * LEVELS + 0.5) - 1


def kept(levels: np.ndarray, threshold, out: np.ndarray | None = None) -> np.ndarray:
    """The keep rule: True (or 1.0 into a float `out`) where a unit's level keeps it."""
    return np.less_equal(levels, threshold, out=out)


def keep_mask(levels: np.ndarray, q: float) -> np.ndarray:
    """0/1 float keep mask of one site from its levels (any shape)."""
    return kept(levels.astype(np.int32), keep_threshold(q)).astype(np.float64)


def training_scale(q: float, convention: str) -> float:
    """s: what a kept unit is multiplied by during training (inverted dropout: 1/q)."""
    return 1.0 / q if convention == "inverted" else 1.0


def test_time_scale(q: float, convention: str) -> float:
    """What every unit is multiplied by at test time (standard dropout: q)."""
    return 1.0 if convention == "inverted" else float(q)


def training_multipliers(keep_masks: Sequence[np.ndarray], keep_probs: Sequence[float],
                         convention: str) -> list[np.ndarray]:
    """Site multipliers of a thinned sub-network exactly as it runs during training."""
    return [np.asarray(mask, dtype=np.float64) * training_scale(q, convention)
            for mask, q in zip(keep_masks, keep_probs)]


def test_time_multipliers(keep_probs: Sequence[float], convention: str) -> list[float | None]:
    """Site multipliers of the deterministic test-time network (None where it is 1).

    Standard dropout trained with 0/1 masks, so a unit's outgoing weights are multiplied by q at
    test time to match the expected input the next layer saw in training. Inverted dropout
    already scaled by 1/q in training, so the weights are used as they are.
    """
    scales = [test_time_scale(q, convention) for q in keep_probs]
    return [None if s == 1.0 else s for s in scales]
