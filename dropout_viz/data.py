"""Datasets for the app: six generated 2-D problems, scikit-learn's 8x8 digits, three 1-D
regression curves (a user's CSV becomes a Dataset in `csv_data`), and the grid over the plane
(or the line) the boundaries and curves are drawn on.

Every loader returns a :class:`Dataset` (dataset.py: the container, the splits and the
standardisation with the TRAINING split's mean and standard deviation).
All randomness comes from ``seed``, so the same arguments give the same arrays on every run.

Errors are ``ValueError`` with a message written for the person using the web page: what is
wrong, where (argument, or row and column of the file), and what is allowed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from dropout_viz.dataset import (
    MIN_SAMPLES,
    TASKS,
    Dataset,
    _random_split,
    _split_indices,
    _standardised_dataset,
)

__all__ = [
    "DATASET_NAMES",
    "REGRESSION_DATASETS",
    "TASKS",
    "TWO_D_DATASETS",
    "Dataset",
    "load_dataset",
    "make_grid",
    "make_line",
]

CLASSIFICATION_DATASETS: tuple[str, ...] = ("moons", "circles", "blobs", "xor", "spiral",
                                            "linear", "digits")
# 1-D curves y(x): "sine" a noisy sine; "gap" the same with no training points in an interval
# of x; "growing-noise" a sine whose noise grows with x (see _generate_curve).
REGRESSION_DATASETS: tuple[str, ...] = ("sine", "gap", "growing-noise")
DATASET_NAMES: tuple[str, ...] = CLASSIFICATION_DATASETS + REGRESSION_DATASETS
TWO_D_DATASETS: tuple[str, ...] = tuple(name for name in CLASSIFICATION_DATASETS
                                        if name != "digits")

MAX_SAMPLES = 20_000
MIN_NOISE = 0.0
MAX_NOISE = 2.0
MIN_TEST_FRACTION = 0.1
MAX_TEST_FRACTION = 0.9

DIGITS_IMAGE_SHAPE = (8, 8)

# Standard deviation of the label-independent jitter per unit of ``noise``, chosen per set so
# that the default noise=0.25 gives a visibly noisy but still learnable boundary: the scale is
# about the gap between neighbouring classes of the clean set.
_NOISE_SCALE = {
    "moons": 1.0,  # sklearn's own unit: arms about 0.5 apart
    "circles": 0.5,  # radii 1 and 0.5
    "blobs": 0.5,  # centres sqrt(3) apart
    "xor": 0.5,  # quadrants of [-1, 1]^2
    "spiral": 0.2,  # arms about 0.33 apart
    "linear": 0.5,  # centres 2 apart
}


# ----------------------------------------------------------------------------- generated sets


def load_dataset(
    name: str,
    n_samples: int = 200,
    noise: float = 0.25,
    test_fraction: float = 0.3,
    seed: int = 0,
) -> Dataset:
    """Generate (or load) a dataset by name and split it into standardised train/test parts.

    ``n_samples`` is the total number of points before the split, divided as evenly as
    possible between the classes. ``noise`` is the standard deviation of a Gaussian jitter
    added to every point regardless of its label, in units chosen per set (see
    ``_NOISE_SCALE``); 0 gives the clean shape. For ``"digits"`` all 1797 bundled images are
    used and ``n_samples`` and ``noise`` are ignored (they are still validated).
    ``round(n_samples * test_fraction)`` points (at least 2) go to the test split, spread over
    the classes in proportion to their sizes. The result depends only on the arguments.

    The regression sets (``REGRESSION_DATASETS``) are 1-D curves: X (n, 1) and float targets y
    (n,), split at random (``_generate_curve`` says what each teaches; for ``"gap"`` the test
    split also holds every point of the gap).
    """
    _check_choice("name", name, DATASET_NAMES)
    _check_int("n_samples", n_samples, MIN_SAMPLES, MAX_SAMPLES)
    _check_float("noise", noise, MIN_NOISE, MAX_NOISE)
    _check_float("test_fraction", test_fraction, MIN_TEST_FRACTION, MAX_TEST_FRACTION)
    _check_int("seed", seed, 0, 2**63 - 1)
    n_samples, seed = int(n_samples), int(seed)
    noise, test_fraction = float(noise), float(test_fraction)

    if name in REGRESSION_DATASETS:
        return _curve_dataset(name, n_samples, noise, test_fraction, seed)
    if name == "digits":
        X, y = _digits()
        n_classes = 10
        feature_names = tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8))
        image_shape: tuple[int, int] | None = DIGITS_IMAGE_SHAPE
        # Its own generator for the split, so the digits split never depends on anything else.
        split_rng = np.random.default_rng(seed)
    else:
        X, y, n_classes = _generate_2d(name, n_samples, noise * _NOISE_SCALE[name], seed)
        feature_names = ("x1", "x2")
        image_shape = None
        # Spawned from the same seed but independent of the stream used to draw the points.
        split_rng = np.random.default_rng([seed, 1])

    train_idx, test_idx = _split_indices(y, test_fraction, split_rng)
    return _standardised_dataset(
        X, y, train_idx, test_idx, n_classes, name, feature_names, image_shape=image_shape
    )


def _generate_2d(
    name: str, n_samples: int, jitter_std: float, seed: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Raw points and labels of a 2-D set; the jitter is added to every point alike."""
    if name in ("moons", "circles"):
        X, y = _two_arcs(name, n_samples, jitter_std, seed)
        return X, y, 2

    rng = np.random.default_rng(seed)
    n_classes = 3 if name == "blobs" else 2
    y = _balanced_labels(n_samples, n_classes)
    if name == "blobs":
        # Three round clusters on the corners of an equilateral triangle.
        angles = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
        centres = np.column_stack([np.cos(angles), np.sin(angles)])
        X = centres[y] + rng.normal(scale=0.3, size=(n_samples, 2))
    elif name == "xor":
        # Uniform on [-1, 1]^2 given the label: class 1 where x1*x2 > 0 (quadrants I and III),
        # class 0 where x1*x2 < 0. Drawing per label keeps the classes balanced even for tiny n.
        magnitude = rng.uniform(0.0, 1.0, size=(n_samples, 2))
        sign_x1 = rng.choice([-1.0, 1.0], size=n_samples)
        sign_x2 = np.where(y == 1, sign_x1, -sign_x1)
        X = magnitude * np.column_stack([sign_x1, sign_x2])
    elif name == "spiral":
        # Two arms r = t, angle = 3*pi*t (1.5 turns), the second arm rotated by pi.
        t = np.sqrt(rng.uniform(0.02, 1.0, size=n_samples))  # sqrt: even density along arms
        angle = 3 * np.pi * t + np.pi * y
        X = np.column_stack([t * np.cos(angle), t * np.sin(angle)])
    elif name == "linear":
        # Two Gaussian clouds either side of the line x1 + x2 = 0.
        centres = np.array([[-1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2.0)
        X = centres[y] + rng.normal(scale=0.4, size=(n_samples, 2))
    else:  # pragma: no cover - load_dataset validated the name
        raise ValueError(f"Unknown 2-D dataset '{name}'.")
    X = X + rng.normal(scale=jitter_std, size=X.shape)
    return X, y, n_classes


def _two_arcs(name: str, n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's make_moons / make_circles(factor=0.5), point for point (a test checks it).

    Written out because importing sklearn.datasets takes about a second, which the page's
    first load would pay for the default data set.
    """
    n_out, n_in = n_samples // 2, n_samples - n_samples // 2
    if name == "moons":
        outer, inner = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
        xs = np.append(np.cos(outer), 1 - np.cos(inner))
        ys = np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)
    else:
        outer = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
        inner = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
        xs = np.append(np.cos(outer), np.cos(inner) * 0.5)
        ys = np.append(np.sin(outer), np.sin(inner) * 0.5)
    X = np.vstack([xs, ys]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    rng = np.random.RandomState(seed)  # the legacy generator, as scikit-learn uses
    order = np.arange(n_samples)
    rng.shuffle(order)
    X, y = X[order], y[order]
    X += rng.normal(scale=noise, size=X.shape)
    return X, y


# Curves live on x in [-5, 5] (about 1.6 periods of the sine); noise is the standard deviation
# of the observation noise in units of the sine's amplitude (1), so the default 0.25 is visibly
# noisy but the curve is still easy to see.
CURVE_X_RANGE = (-5.0, 5.0)
# "gap": no training points with x in this interval (raw units); it covers the sine's crest at
# π/2, so a network bridging the gap with a straight line misses it and the test MSE shows it.
GAP_INTERVAL = (0.5, 2.5)


def _generate_curve(name: str, n_samples: int, noise: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw x (n, 1) and y (n,) of a regression set.

    sine and gap: y = sin(x) + noise·ε, the same points for the same seed (gap differs only in
    its split). growing-noise: y = sin(x) + noise·s(x)·ε with s rising linearly from 0 at the
    left end to 2 at the right (the same average noise as sine): dropout's spread between
    sub-networks is model uncertainty, so its band does not follow this observation noise (Gal's
    predictive variance adds a separate τ⁻¹ for that).
    """
    rng = np.random.default_rng([seed, 3])
    low, high = CURVE_X_RANGE
    x = rng.uniform(low, high, size=n_samples)
    jitter = rng.normal(size=n_samples)
    if name == "growing-noise":
        jitter *= 2.0 * (x - low) / (high - low)
    return x[:, None], np.sin(x) + noise * jitter


def _curve_dataset(name: str, n_samples: int, noise: float, test_fraction: float,
                   seed: int) -> Dataset:
    X, y = _generate_curve(name, n_samples, noise, seed)
    in_gap = (X[:, 0] > GAP_INTERVAL[0]) & (X[:, 0] < GAP_INTERVAL[1]) if name == "gap" \
        else np.zeros(n_samples, dtype=bool)
    train_idx, test_idx = _random_split(n_samples, test_fraction,
                                        np.random.default_rng([seed, 1]), in_gap)
    return _standardised_dataset(X, y, train_idx, test_idx, 0, name, ("x",), task="regression")


def _balanced_labels(n_samples: int, n_classes: int) -> np.ndarray:
    """Labels 0..k-1 with class sizes differing by at most one (earlier classes get extras)."""
    sizes = [n_samples // n_classes + (k < n_samples % n_classes) for k in range(n_classes)]
    return np.repeat(np.arange(n_classes), sizes)


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 bundled 8x8 digit images (pixels 0..16), loaded once per process."""
    from sklearn.datasets import load_digits  # bundled with sklearn: no download

    bunch = load_digits()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


# ----------------------------------------------------------------------------- argument checks


def _check_choice(arg: str, value: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{arg} must be one of: {', '.join(allowed)}; got {value!r}.")


def _check_int(arg: str, value: Any, low: int, high: int) -> None:
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not is_int or not low <= value <= high:
        raise ValueError(f"{arg} must be a whole number from {low} to {high}; got {value!r}.")


def _check_float(arg: str, value: Any, low: float, high: float) -> None:
    is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    # Written so that NaN fails too.
    if not is_number or not low <= value <= high:
        raise ValueError(f"{arg} must be a number from {low:g} to {high:g}; got {value!r}.")


# ----------------------------------------------------------------------------- the plane


def make_grid(
    X: np.ndarray, resolution: int = 100, margin: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evenly spaced grid over the bounds of X (first two columns) plus `margin` on each side.

    Returns xs (R,), ys (R,) and grid_points (R*R, 2) in row-major order (y outer, x inner), so
    `values.reshape(R, R)` is directly a heatmap z with rows along y.
    """
    lo, hi = _padded_bounds(X, 2, resolution, margin)
    xs = np.linspace(lo[0], hi[0], resolution)
    ys = np.linspace(lo[1], hi[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])


def make_line(
    X: np.ndarray, resolution: int = 200, margin: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """`make_grid` for one input: evenly spaced xs (R,) over the bounds of X's first column plus
    `margin` each side (where dropout's band widens away from the data), and points (R, 1)."""
    lo, hi = _padded_bounds(X, 1, resolution, margin)
    xs = np.linspace(lo[0], hi[0], resolution)
    return xs, xs[:, None]


def _padded_bounds(X: np.ndarray, columns: int, resolution: int,
                   margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Low and high ends of the first `columns` columns of X, padded by margin."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] < columns or len(X) == 0:
        raise ValueError(f"X must have shape (n, {columns}) with n >= 1, got {X.shape}")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    lo = X[:, :columns].min(axis=0) - margin
    hi = X[:, :columns].max(axis=0) + margin
    hi = np.where(hi > lo, hi, lo + 1.0)  # a degenerate axis still gets a usable range
    return lo, hi
