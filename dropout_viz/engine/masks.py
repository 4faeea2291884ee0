"""Replayable randomness: initial weights, data order and keep masks all derive from the seed.

Each epoch gets its own generator, built from SeedSequence(seed, spawn_key=(EPOCH_STREAM, epoch)).
It draws, in a fixed order, the epoch's shuffle and then ONE array of random levels for every
keep mask of the epoch. So the masks of any (epoch, batch) can be regenerated later without
storing them, and the same seed gives a bit-identical run on any machine (NumPy's PCG64 output
is platform-independent).

A random level is a 16-bit integer, uniform on 0..65535, four from each 64-bit output of the
generator (a quarter of the random bits a float32 uniform costs: per-example masks need one
draw per unit per example, and drawing them was an eighth of a training epoch). A unit is kept
when its level is below round(q·65536), so it is kept with probability q to within 1/131072.
Runs that share a seed share the levels, so their masks are nested: every unit kept at p = 0.5
is also kept at p = 0.3 (common random numbers make sweeps over p less noisy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dropout_viz.engine.dropout import keep_mask

MASK_SCOPES = ("epoch", "batch", "example")
INIT_STREAM, EPOCH_STREAM, SAMPLE_STREAM = 0, 1, 2


def stream_rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(key)))


def n_batches(n_train: int, batch_size: int) -> int:
    return -(-n_train // min(batch_size, n_train))


def mask_rows(mask_scope: str, n_train: int, batch_size: int) -> int:
    """How many masks per site one epoch draws: one, one per mini-batch or one per example."""
    return {"epoch": 1, "batch": n_batches(n_train, batch_size), "example": n_train}[mask_scope]


def batch_rows(mask_scope: str, batch: int, batch_size: int) -> slice:
    """The rows of an epoch's masks (`mask_rows` of them) that mini-batch `batch` trains with."""
    if mask_scope == "example":
        return slice(batch * batch_size, (batch + 1) * batch_size)
    return slice(batch, batch + 1) if mask_scope == "batch" else slice(0, 1)


def random_levels(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform 16-bit random levels (uint16, 0..65535), four from each 64-bit generator output
    (lowest 16 bits first, whatever the machine's byte order)."""
    count = math.prod(shape)
    raw = rng.bit_generator.random_raw(-(-count // 4))
    return np.asarray(raw, dtype="<u8").view("<u2")[:count].reshape(shape)


def draw_epoch(seed: int, epoch: int, n_train: int, batch_size: int, n_units: int, mask_scope: str):
    """The epoch's data order and the random levels behind its keep masks.

    levels has shape (1, U) for epoch scope, (n_batches, U) for batch scope and (n_train, U) for
    example scope (row i belongs to the i-th example in the shuffled order); U counts the units of
    every dropout site, inputs first.
    """
    rng = stream_rng(seed, EPOCH_STREAM, epoch)
    order = rng.permutation(n_train)
    return order, random_levels(rng, (mask_rows(mask_scope, n_train, batch_size), n_units))


def split_sites(levels: np.ndarray, site_sizes: Sequence[int]) -> list[np.ndarray]:
    bounds = np.cumsum((0,) + tuple(site_sizes))
    return [levels[..., start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]


def keep_masks_from_levels(levels, site_sizes, keep_probs) -> list[np.ndarray]:
    """0/1 float masks per site (same leading shape as the levels)."""
    return [keep_mask(u, q) for u, q in zip(split_sites(levels, site_sizes), keep_probs)]


def epoch_keep_masks(seed, epoch, batch, n_train, batch_size, site_sizes, keep_probs, mask_scope):
    """The keep masks one mini-batch of one epoch trained with.

    Epoch and batch scope: one (units,) vector per site. Example scope: (batch_examples, units).
    """
    batch_size = min(batch_size, n_train)
    total_batches = n_batches(n_train, batch_size)
    if not 0 <= batch < total_batches:
        raise ValueError(f"batch must be in [0, {total_batches - 1}], got {batch}")
    _, levels = draw_epoch(seed, epoch, n_train, batch_size, sum(site_sizes), mask_scope)
    rows = levels[batch_rows(mask_scope, batch, batch_size)]
    return keep_masks_from_levels(rows if mask_scope == "example" else rows[0], site_sizes,
                                  keep_probs)


def sample_keep_masks(keep_probs, site_sizes, n_samples: int, seed: int) -> list[np.ndarray]:
    """K fresh sub-networks: one (K, units) 0/1 mask per site, each row one whole network."""
    rng = stream_rng(seed, SAMPLE_STREAM)
    return keep_masks_from_levels(random_levels(rng, (n_samples, sum(site_sizes))), site_sizes,
                                  keep_probs)
