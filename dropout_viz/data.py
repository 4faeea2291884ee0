"""Datasets for the app: six generated 2-D problems, scikit-learn's 8x8 digits, three 1-D
regression curves (a user's CSV becomes a Dataset in `csv_data`), and the grid over the plane
(or the line) the boundaries and curves are drawn on.

Every loader returns a :class:`Dataset` whose features are standardised with the mean and
standard deviation of the TRAINING split only (the test split must not leak into the scaling);
a regression set's targets are standardised the same way.
All randomness comes from ``seed``, so the same arguments give the same arrays on every run.

Errors are ``ValueError`` with a message written for the person using the web page: what is
wrong, where (argument, or row and column of the file), and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

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

TASKS = ("classification", "regression")
CLASSIFICATION_DATASETS: tuple[str, ...] = ("moons", "circles", "blobs", "xor", "spiral",
                                            "linear", "digits")
# 1-D curves y(x): "sine" a noisy sine; "gap" the same with no training points in an interval
# of x; "growing-noise" a sine whose noise grows with x (see _generate_curve).
REGRESSION_DATASETS: tuple[str, ...] = ("sine", "gap", "growing-noise")
DATASET_NAMES: tuple[str, ...] = CLASSIFICATION_DATASETS + REGRESSION_DATASETS
TWO_D_DATASETS: tuple[str, ...] = tuple(name for name in CLASSIFICATION_DATASETS
                                        if name != "digits")

MIN_SAMPLES = 4
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


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value for ==
class Dataset:
    """A train/test split with standardised features.

    ``mean`` and ``scale`` are the per-feature training mean and standard deviation used to
    standardise (``scale`` is 1 where a feature is constant in the training split), so
    ``X_std = (X_raw - mean) / scale``; see :meth:`standardize` and :meth:`unstandardize`.
    Arrays are read-only so a cached dataset cannot be changed by accident.

    ``task`` is "classification" (integer labels 0..n_classes-1) or "regression": then y is a
    float64 target, standardised with the TRAINING targets' ``target_mean`` and
    ``target_scale`` (so a file with y in thousands trains like one with y near 1; a network's
    MSE is in these standardised units: "MSE (y standardised)"), ``n_classes`` is 0 and
    ``class_names`` empty. :attr:`n_outputs` is the width of the output layer either way;
    :meth:`unstandardize_target` maps outputs back to the data's units.
    """

    X_train: np.ndarray  # float64, (n_train, n_features), standardised
    y_train: np.ndarray  # int64 labels in 0..n_classes-1, or float64 targets; (n_train,)
    X_test: np.ndarray  # float64, (n_test, n_features), standardised with the TRAIN mean/scale
    y_test: np.ndarray  # like y_train, (n_test,)
    n_classes: int  # 0 for regression
    name: str
    feature_names: tuple[str, ...]
    mean: np.ndarray  # float64, (n_features,)
    scale: np.ndarray  # float64, (n_features,), never 0
    image_shape: tuple[int, int] | None = None  # (8, 8) for digits: how to draw one row
    class_names: tuple[str, ...] = field(default=())  # label text per class; default "0", "1"...
    task: str = "classification"
    target_mean: float = 0.0  # regression: y_std = (y_raw - target_mean) / target_scale
    target_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}.")
        regression = self.task == "regression"
        label_dtype = np.float64 if regression else np.int64
        # Normalise dtypes once here so every consumer can rely on them.
        for attr, dtype in (
            ("X_train", np.float64),
            ("y_train", label_dtype),
            ("X_test", np.float64),
            ("y_test", label_dtype),
            ("mean", np.float64),
            ("scale", np.float64),
        ):
            array = np.array(getattr(self, attr), dtype=dtype)  # a copy we own
            array.setflags(write=False)
            object.__setattr__(self, attr, array)
        object.__setattr__(self, "target_mean", float(self.target_mean))
        object.__setattr__(self, "target_scale", float(self.target_scale))
        if regression and (self.n_classes != 0 or self.class_names):
            raise ValueError("a regression set has no classes: n_classes must be 0 and "
                             "class_names empty.")
        if not (math.isfinite(self.target_scale) and self.target_scale > 0):
            raise ValueError(f"target_scale must be a positive number, got {self.target_scale}.")
        if not self.class_names and not regression:
            object.__setattr__(self, "class_names", tuple(str(k) for k in range(self.n_classes)))
        object.__setattr__(self, "feature_names", tuple(self.feature_names))

        d = len(self.feature_names)
        if self.X_train.ndim != 2 or self.X_train.shape[1] != d:
            raise ValueError(f"X_train must have shape (n_train, {d}), got {self.X_train.shape}.")
        if self.X_test.ndim != 2 or self.X_test.shape[1] != d:
            raise ValueError(f"X_test must have shape (n_test, {d}), got {self.X_test.shape}.")
        if self.y_train.shape != (len(self.X_train),) or self.y_test.shape != (len(self.X_test),):
            raise ValueError("y_train and y_test must have one label per row of X_train/X_test.")
        if self.mean.shape != (d,) or self.scale.shape != (d,):
            raise ValueError(f"mean and scale must have shape ({d},).")
        if len(self.class_names) != self.n_classes:
            raise ValueError(
                f"class_names has {len(self.class_names)} names for {self.n_classes} classes."
            )
        if self.image_shape is not None and math.prod(self.image_shape) != d:
            raise ValueError(f"image_shape {self.image_shape} does not hold {d} features.")

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_outputs(self) -> int:
        """Units in the network's output layer: one per class, or 1 for regression."""
        return 1 if self.task == "regression" else self.n_classes

    def standardize_target(self, y_raw: np.ndarray) -> np.ndarray:
        """Regression targets in the data's units → the model's (standardised) units."""
        return (np.asarray(y_raw, dtype=np.float64) - self.target_mean) / self.target_scale

    def unstandardize_target(self, y: np.ndarray) -> np.ndarray:
        """Model outputs (standardised) → the data's units. A spread (an sd) maps back as
        sd * target_scale, without the shift."""
        return np.asarray(y, dtype=np.float64) * self.target_scale + self.target_mean

    def standardize(self, X_raw: np.ndarray) -> np.ndarray:
        """Map raw feature values (as in the file / generator) into the model's coordinates."""
        return (np.asarray(X_raw, dtype=np.float64) - self.mean) / self.scale

    def unstandardize(self, X: np.ndarray) -> np.ndarray:
        """Map standardised coordinates back to raw values (e.g. digit pixels 0..16 for images)."""
        return np.asarray(X, dtype=np.float64) * self.scale + self.mean


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


def _random_split(n: int, test_fraction: float, rng: np.random.Generator,
                  forced_test: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seeded unstratified split for regression: (train indices, test indices), shuffled.

    The test split gets `_test_size(n, test_fraction)` points; rows where forced_test is True
    (the gap) always go to it, so it is larger when they alone are more than that.
    """
    forced = np.zeros(n, dtype=bool) if forced_test is None else np.asarray(forced_test)
    free = rng.permutation(np.flatnonzero(~forced))
    if len(free) < 2:
        raise ValueError(f"Only {len(free)} of the {n} points lie outside the gap; the "
                         "training split needs at least 2. Use more points.")
    n_free_test = min(max(_test_size(n, test_fraction) - int(forced.sum()), 0), len(free) - 2)
    test_idx = rng.permutation(np.concatenate([np.flatnonzero(forced), free[:n_free_test]]))
    return free[n_free_test:], test_idx


def _test_size(n: int, test_fraction: float) -> int:
    """round(n * test_fraction), kept within [2, n - 2] so both splits have 2+ points."""
    return min(max(math.floor(n * test_fraction + 0.5), 2), n - 2)


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


# ----------------------------------------------------------------------------- split and scale


def _split_indices(
    y: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified seeded split: (train indices, test indices), each in shuffled order.

    The test split gets round(n * test_fraction) points, kept within [2, n - 2], shared out
    over classes in proportion to their sizes (largest remainder). Every class keeps at least
    one training point when that is possible, and the training split has at least 2 classes
    whenever ``y`` has.
    """
    n = len(y)
    if n < MIN_SAMPLES:
        raise ValueError(f"At least {MIN_SAMPLES} points are needed to split; got {n}.")
    classes, counts = np.unique(y, return_counts=True)
    n_test = _test_size(n, test_fraction)

    ideal = counts * n_test / n
    alloc = np.minimum(np.floor(ideal).astype(np.int64), counts - 1)
    # Largest fractional share first; ties go to the bigger class, then to the lower label.
    order = sorted(range(len(classes)), key=lambda k: (-(ideal[k] - alloc[k]), -counts[k], k))
    # First keep a training point in every class. Only if that leaves too few test points do
    # classes give up their last one; by then each class has exactly one training point, and
    # n - n_test >= 2 of those stay, so the training split always keeps 2+ classes.
    for cap in (counts - 1, counts):
        while alloc.sum() < n_test:
            room = [k for k in order if alloc[k] < cap[k]]
            if not room:
                break
            for k in room[: n_test - alloc.sum()]:
                alloc[k] += 1

    train_parts, test_parts = [], []
    for k, label in enumerate(classes):
        members = rng.permutation(np.flatnonzero(y == label))
        test_parts.append(members[: alloc[k]])
        train_parts.append(members[alloc[k] :])
    # Shuffle so the classes are interleaved rather than in blocks.
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    return train_idx, test_idx


def _standardised_dataset(
    X: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    n_classes: int,
    name: str,
    feature_names: tuple[str, ...],
    image_shape: tuple[int, int] | None = None,
    class_names: tuple[str, ...] = (),
    task: str = "classification",
) -> Dataset:
    """Features (and, for regression, targets) standardised with the training split's mean and
    standard deviation."""
    X = np.asarray(X, dtype=np.float64)
    X_train_raw, X_test_raw = X[train_idx], X[test_idx]
    mean = X_train_raw.mean(axis=0)
    scale = X_train_raw.std(axis=0)
    # A constant feature (blank digit border pixels) has std 0; leave it unscaled instead of
    # dividing by zero. ptp, not std, decides: the std of equal floats can come out as 1e-17.
    scale = np.where(np.ptp(X_train_raw, axis=0) == 0, 1.0, scale)
    y = np.asarray(y)
    y_train, y_test = y[train_idx], y[test_idx]
    target_mean, target_scale = 0.0, 1.0
    if task == "regression":
        y_train, y_test = y_train.astype(np.float64), y_test.astype(np.float64)
        target_mean = float(y_train.mean())
        target_scale = float(y_train.std()) if np.ptp(y_train) > 0 else 1.0
        y_train = (y_train - target_mean) / target_scale
        y_test = (y_test - target_mean) / target_scale
    return Dataset(
        X_train=(X_train_raw - mean) / scale,
        y_train=y_train,
        X_test=(X_test_raw - mean) / scale,
        y_test=y_test,
        n_classes=n_classes,
        name=name,
        feature_names=feature_names,
        mean=mean,
        scale=scale,
        image_shape=image_shape,
        class_names=class_names,
        task=task,
        target_mean=target_mean,
        target_scale=target_scale,
    )


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
