"""The Dataset container, and the seeded splits and standardisation every loader uses (the
generated sets in `data`, a user's CSV in `csv_data`).

Features are standardised with the mean and standard deviation of the TRAINING split only (the
test split must not leak into the scaling); a regression set's targets are standardised the
same way, so a file with y in thousands trains like one with y near 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TASKS = ("classification", "regression")
MIN_SAMPLES = 4


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
