"""Replayable randomness: initial weights, data order and keep masks all derive from the seed.

Each epoch gets its own generator, built from SeedSequence(seed, spawn_key=(EPOCH_STREAM, epoch)).
It draws, in a fixed order, the epoch's shuffle and then ONE array of uniforms for every keep
mask of the epoch. So the masks of any (epoch, batch) can be regenerated later without storing
them, and the same seed gives a bit-identical run on any machine (NumPy's PCG64 and its float
conversion are platform-independent).

A unit is kept when its uniform is below q. Runs that share a seed share the uniforms, so their
masks are nested: every unit kept at p = 0.5 is also kept at p = 0.3 (common random numbers make
sweeps over p less noisy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MASK_SCOPES = ("epoch", "batch", "example")
INIT_STREAM, EPOCH_STREAM, SAMPLE_STREAM = 0, 1, 2


def stream_rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(key)))


def n_batches(n_train: int, batch_size: int) -> int:
    return -(-n_train // min(batch_size, n_train))


def draw_epoch(seed: int, epoch: int, n_train: int, batch_size: int, n_units: int, mask_scope: str):
    """The epoch's data order and the uniforms behind its keep masks.

    uniforms has shape (1, U) for epoch scope, (n_batches, U) for batch scope and (n_train, U) for
    example scope (row i belongs to the i-th example in the shuffled order); U counts the units of
    every dropout site, inputs first.
    """
    rng = stream_rng(seed, EPOCH_STREAM, epoch)
    order = rng.permutation(n_train)
    rows = {"epoch": 1, "batch": n_batches(n_train, batch_size), "example": n_train}[mask_scope]
    uniforms = rng.random((rows, n_units), dtype=np.float32)
    return order, uniforms


def split_sites(uniforms: np.ndarray, site_sizes: Sequence[int]) -> list[np.ndarray]:
    bounds = np.cumsum((0,) + tuple(site_sizes))
    return [uniforms[..., start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]


def keep_masks_from_uniforms(uniforms, site_sizes, keep_probs) -> list[np.ndarray]:
    """0/1 float masks per site (same leading shape as the uniforms)."""
    return [
        (u < np.float32(q)).astype(np.float64)
        for u, q in zip(split_sites(uniforms, site_sizes), keep_probs)
    ]


def epoch_keep_masks(seed, epoch, batch, n_train, batch_size, site_sizes, keep_probs, mask_scope):
    """The keep masks one mini-batch of one epoch trained with.

    Epoch and batch scope: one (units,) vector per site. Example scope: (batch_examples, units).
    """
    batch_size = min(batch_size, n_train)
    total_batches = n_batches(n_train, batch_size)
    if not 0 <= batch < total_batches:
        raise ValueError(f"batch must be in [0, {total_batches - 1}], got {batch}")
    _, uniforms = draw_epoch(seed, epoch, n_train, batch_size, sum(site_sizes), mask_scope)
    if mask_scope == "epoch":
        rows = uniforms[0]
    elif mask_scope == "batch":
        rows = uniforms[batch]
    else:
        rows = uniforms[batch * batch_size:(batch + 1) * batch_size]
    return keep_masks_from_uniforms(rows, site_sizes, keep_probs)


def sample_keep_masks(keep_probs, site_sizes, n_samples: int, seed: int) -> list[np.ndarray]:
    """K fresh sub-networks: one (K, units) 0/1 mask per site, each row one whole network."""
    rng = stream_rng(seed, SAMPLE_STREAM)
    uniforms = rng.random((n_samples, sum(site_sizes)), dtype=np.float32)
    return keep_masks_from_uniforms(uniforms, site_sizes, keep_probs)
