"""Tests for dropout_viz.data: generated sets, digits, and CSV upload validation."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dropout_viz.csv_data import dataset_from_csv
from dropout_viz.data import (
    DATASET_NAMES,
    REGRESSION_DATASETS,
    TWO_D_DATASETS,
    Dataset,
    _split_indices,
    load_dataset,
)

# ----------------------------------------------------------------------------- generated sets


def test_dataset_names() -> None:
    assert DATASET_NAMES == ("moons", "circles", "blobs", "xor", "spiral", "linear", "digits",
                             "sine", "gap", "growing-noise")
    assert TWO_D_DATASETS == ("moons", "circles", "blobs", "xor", "spiral", "linear")
    assert REGRESSION_DATASETS == ("sine", "gap", "growing-noise")


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_same_arguments_give_identical_arrays(name: str) -> None:
    a = load_dataset(name, n_samples=120, noise=0.3, test_fraction=0.25, seed=7)
    b = load_dataset(name, n_samples=120, noise=0.3, test_fraction=0.25, seed=7)
    for attr in ("X_train", "y_train", "X_test", "y_test", "mean", "scale"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_different_seeds_differ(name: str) -> None:
    a = load_dataset(name, n_samples=120, seed=1)
    b = load_dataset(name, n_samples=120, seed=2)
    assert a.X_train.shape == b.X_train.shape
    assert not np.array_equal(a.X_train, b.X_train)


@pytest.mark.parametrize("name", TWO_D_DATASETS)
def test_noise_changes_points_not_labels(name: str) -> None:
    clean = load_dataset(name, n_samples=100, noise=0.0, seed=3)
    noisy = load_dataset(name, n_samples=100, noise=0.5, seed=3)
    # Same split of the same labels; only the coordinates move.
    np.testing.assert_array_equal(clean.y_train, noisy.y_train)
    raw_clean = clean.unstandardize(clean.X_train)
    raw_noisy = noisy.unstandardize(noisy.X_train)
    assert not np.allclose(raw_clean, raw_noisy)


@pytest.mark.parametrize(
    ("name", "n_classes"),
    [("moons", 2), ("circles", 2), ("blobs", 3), ("xor", 2), ("spiral", 2), ("linear", 2)],
)
def test_two_d_shapes_and_classes(name: str, n_classes: int) -> None:
    ds = load_dataset(name, n_samples=200, test_fraction=0.3)
    assert isinstance(ds, Dataset)
    assert ds.name == name
    assert ds.X_train.shape == (140, 2) and ds.X_test.shape == (60, 2)
    assert ds.y_train.shape == (140,) and ds.y_test.shape == (60,)
    assert ds.X_train.dtype == np.float64 and ds.y_train.dtype == np.int64
    assert ds.n_features == 2 and ds.feature_names == ("x1", "x2")
    assert ds.image_shape is None
    assert ds.n_classes == n_classes
    assert ds.class_names == tuple(str(k) for k in range(n_classes))
    # Balanced classes, and the stratified split keeps them balanced in both parts.
    all_y = np.concatenate([ds.y_train, ds.y_test])
    counts = np.bincount(all_y, minlength=n_classes)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 200
    assert set(np.unique(ds.y_test)) == set(range(n_classes))


def test_xor_labels_follow_quadrants_without_noise() -> None:
    ds = load_dataset("xor", n_samples=200, noise=0.0)
    raw = ds.unstandardize(ds.X_train)
    assert np.all(np.abs(raw) <= 1.0 + 1e-12)
    np.testing.assert_array_equal(ds.y_train, (raw[:, 0] * raw[:, 1] > 0).astype(np.int64))


def test_circles_radii_without_noise() -> None:
    ds = load_dataset("circles", n_samples=200, noise=0.0)
    radius = np.linalg.norm(ds.unstandardize(ds.X_train), axis=1)
    # sklearn: class 0 is the outer circle (radius 1), class 1 the inner one (factor 0.5).
    np.testing.assert_allclose(radius[ds.y_train == 0], 1.0)
    np.testing.assert_allclose(radius[ds.y_train == 1], 0.5)


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_standardised_with_training_statistics(name: str) -> None:
    ds = load_dataset(name, n_samples=300)
    varying = ds.X_train.std(axis=0) > 0
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0)[varying], 1.0, rtol=1e-12)
    # The test split uses the training mean/scale, so its mean is close to but not exactly 0.
    assert not np.allclose(ds.X_test.mean(axis=0)[varying], 0.0, atol=1e-12)
    assert np.all(ds.scale > 0)
    # standardize/unstandardize are inverse maps.
    np.testing.assert_allclose(ds.standardize(ds.unstandardize(ds.X_test)), ds.X_test)


def test_digits() -> None:
    ds = load_dataset("digits", test_fraction=0.3)
    assert len(ds.X_train) + len(ds.X_test) == 1797
    assert len(ds.X_test) == 539  # round(1797 * 0.3)
    assert ds.n_features == 64 and ds.X_train.shape[1] == 64
    assert ds.n_classes == 10 and set(np.unique(ds.y_train)) == set(range(10))
    assert ds.image_shape == (8, 8)
    assert len(ds.feature_names) == 64 and len(set(ds.feature_names)) == 64
    assert ds.feature_names[0] == "pixel_0_0" and ds.feature_names[63] == "pixel_7_7"
    # Pixels are 0..16; blank border pixels (zero variance) keep scale 1 instead of dividing by 0.
    raw = ds.unstandardize(ds.X_train)
    np.testing.assert_allclose(raw, np.round(raw), atol=1e-9)
    assert raw.min() > -1e-9 and raw.max() < 16 + 1e-9
    constant = np.ptp(raw, axis=0) == 0
    assert constant[0]  # pixel (0, 0) is blank in every image
    assert np.all(ds.scale[constant] == 1.0)
    assert np.all(np.isfinite(ds.X_train)) and np.all(np.isfinite(ds.X_test))


def test_digits_ignores_n_samples_and_noise() -> None:
    a = load_dataset("digits", n_samples=50, noise=0.0)
    b = load_dataset("digits", n_samples=5000, noise=1.5)
    np.testing.assert_array_equal(a.X_train, b.X_train)


@pytest.mark.parametrize(
    ("n_samples", "test_fraction", "n_test"),
    [(200, 0.3, 60), (200, 0.1, 20), (200, 0.9, 180), (101, 0.5, 51), (10, 0.25, 3)],
)
def test_test_fraction_respected(n_samples: int, test_fraction: float, n_test: int) -> None:
    ds = load_dataset("moons", n_samples=n_samples, test_fraction=test_fraction)
    assert len(ds.X_test) == n_test
    assert len(ds.X_train) == n_samples - n_test


@pytest.mark.parametrize("name", TWO_D_DATASETS)
def test_smallest_sets_still_split(name: str) -> None:
    for test_fraction in (0.1, 0.9):
        ds = load_dataset(name, n_samples=4, test_fraction=test_fraction)
        assert len(ds.X_train) >= 2 and len(ds.X_test) >= 2
        assert len(np.unique(ds.y_train)) >= 2


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(1, 6), min_size=2, max_size=10).filter(lambda c: sum(c) >= 4),
    test_fraction=st.floats(0.1, 0.9),
    seed=st.integers(0, 2**32),
)
def test_split_invariants(counts: list[int], test_fraction: float, seed: int) -> None:
    # Covers every small, unbalanced case a CSV can produce (4+ rows, 2-10 classes).
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    train_idx, test_idx = _split_indices(y, test_fraction, np.random.default_rng(seed))
    assert len(test_idx) == min(max(math.floor(n * test_fraction + 0.5), 2), n - 2)
    assert len(train_idx) >= 2 and len(test_idx) >= 2
    assert sorted(np.concatenate([train_idx, test_idx]).tolist()) == list(range(n))
    assert len(np.unique(y[train_idx])) >= 2
    if n - len(test_idx) >= len(counts):  # room for it: every class keeps a training point
        assert len(np.unique(y[train_idx])) == len(counts)


def test_train_and_test_are_disjoint_and_cover_everything() -> None:
    ds = load_dataset("linear", n_samples=50, noise=0.0)
    points = np.vstack([ds.X_train, ds.X_test])
    assert len(np.unique(points, axis=0)) == 50


def test_arrays_are_read_only() -> None:
    ds = load_dataset("moons")
    with pytest.raises(ValueError, match="read-only"):
        ds.X_train[0, 0] = 1.0


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (
            {"name": "swirl"},
            r"name must be one of: moons, circles, blobs, xor, spiral, linear, digits, sine, gap, "
            r"growing-noise; got 'swirl'",
        ),
        ({"name": "moons", "n_samples": 3}, r"n_samples.*4 to 20000.*3"),
        ({"name": "moons", "n_samples": 20_001}, r"n_samples.*4 to 20000"),
        ({"name": "moons", "n_samples": 100.5}, r"n_samples must be a whole number"),
        ({"name": "moons", "noise": -0.1}, r"noise.*0 to 2.*-0.1"),
        ({"name": "moons", "noise": 2.5}, r"noise.*0 to 2"),
        ({"name": "moons", "noise": float("nan")}, r"noise.*0 to 2"),
        ({"name": "moons", "test_fraction": 0.05}, r"test_fraction.*0.1 to 0.9"),
        ({"name": "moons", "test_fraction": 0.95}, r"test_fraction.*0.1 to 0.9"),
        ({"name": "moons", "seed": -1}, r"seed must be a whole number"),
        ({"name": "digits", "noise": 3.0}, r"noise.*0 to 2"),
    ],
)
def test_load_dataset_validation(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        load_dataset(**kwargs)


# ----------------------------------------------------------------------------- CSV upload


def _csv(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode("utf-8")


def _good_rows(n: int = 8) -> list[str]:
    return ["x1,x2,label"] + [f"{i * 0.5},{(i % 3) - 1.25},{i % 2}" for i in range(n)]


def test_good_csv_round_trips_the_numbers(tmp_path: Path) -> None:
    rows = ["x1,x2,label"] + [f"{0.1 * i:.3f},{-2.5 + i * i},{i % 2}" for i in range(10)]
    expected = np.array([[round(0.1 * i, 3), -2.5 + i * i] for i in range(10)])
    expected_y = np.arange(10) % 2
    path = tmp_path / "points.csv"
    path.write_bytes(_csv(rows))
    ds = dataset_from_csv(path, test_fraction=0.3)

    assert ds.name == "csv" and ds.n_classes == 2 and ds.class_names == ("0", "1")
    assert len(ds.X_train) == 7 and len(ds.X_test) == 3
    X = np.vstack([ds.unstandardize(ds.X_train), ds.unstandardize(ds.X_test)])
    y = np.concatenate([ds.y_train, ds.y_test])
    # Every file row comes back exactly once with its label (order is shuffled by the split).
    order = np.lexsort((X[:, 1], X[:, 0]))
    np.testing.assert_allclose(X[order], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(y[order], expected_y)
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1.0, rtol=1e-12)


def test_csv_sources_path_str_bytes_and_file_objects(tmp_path: Path) -> None:
    data = _csv(_good_rows())
    path = tmp_path / "good.csv"
    path.write_bytes(data)
    reference = dataset_from_csv(data, seed=4)

    stream = io.BytesIO(data)
    stream.read()  # a Streamlit UploadedFile read on an earlier rerun sits at its end
    for source in (str(path), path, stream, io.BytesIO(data)):
        ds = dataset_from_csv(source, seed=4)
        np.testing.assert_array_equal(ds.X_train, reference.X_train)
        np.testing.assert_array_equal(ds.y_test, reference.y_test)


def test_csv_is_deterministic_per_seed() -> None:
    data = _csv(_good_rows(40))
    a, b, c = (dataset_from_csv(data, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)


def test_csv_header_case_order_whitespace_bom_and_blank_lines() -> None:
    text = "\ufeff Label , X2,x1 \r\n\r\ncat,1,10\r\ndog,2,20\r\ncat,3,30\r\n\r\ndog,4,40\r\n"
    ds = dataset_from_csv(text.encode("utf-8"), test_fraction=0.5)
    assert ds.class_names == ("cat", "dog")
    X = np.vstack([ds.unstandardize(ds.X_train), ds.unstandardize(ds.X_test)])
    y = np.concatenate([ds.y_train, ds.y_test])
    order = np.argsort(X[:, 0])
    np.testing.assert_allclose(X[order], [[10, 1], [20, 2], [30, 3], [40, 4]])
    np.testing.assert_array_equal(y[order], [0, 1, 0, 1])


def test_csv_integer_labels_sort_numerically() -> None:
    rows = ["x1,x2,label"] + [f"{i},{i % 4},{label}" for i, label in enumerate([10, 2, 9, 2.0] * 3)]
    ds = dataset_from_csv(_csv(rows))
    assert ds.class_names == ("2", "9", "10")
    assert ds.n_classes == 3


def test_csv_ten_classes_allowed() -> None:
    rows = ["x1,x2,label"] + [f"{i},{i % 7},{i % 10}" for i in range(40)]
    assert dataset_from_csv(_csv(rows)).n_classes == 10


def test_csv_max_rows_allowed() -> None:
    rows = ["x1,x2,label"] + [f"{i},{i % 5},{i % 2}" for i in range(20_000)]
    ds = dataset_from_csv(_csv(rows))
    assert len(ds.X_train) + len(ds.X_test) == 20_000


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        pytest.param(b"", r"file is empty", id="empty"),
        pytest.param(b"\xef\xbb\xbf \n\n", r"file is empty", id="only-bom-and-blank-lines"),
        pytest.param(
            "x1,x2,label\n1,2,0\n3,4,caf\u00e9\n".encode("latin-1"),
            r"not UTF-8.*row 3.*0xe9.*CSV UTF-8",
            id="not-utf8",
        ),
        pytest.param("x1,x2,label\n1,2,0\n".encode("utf-16"), r"not UTF-8.*row 1", id="utf16"),
        pytest.param(
            _csv(["0.5,1.5,0", "1,2,1", "3,4,0", "5,6,1", "7,8,0"]),
            r"Row 1 .*looks like data, not a header.*x1, x2 and label",
            id="no-header",
        ),
        pytest.param(
            _csv(["x1,x2", "1,2", "3,4", "5,6", "7,8"]),
            r"Row 1 \(the header\) has missing column 'label'\. "
            r"The file must have exactly the columns x1, x2 and label"
            r", in any order\.$",
            id="missing-column",
        ),
        pytest.param(
            _csv(["a,b,c", "1,2,0"]),
            r"missing columns 'x1', 'x2', 'label' and extra columns 'a', 'b', 'c'",
            id="wrong-columns",
        ),
        pytest.param(
            _csv(["id,x1,x2,label,weight", "1,1,2,0,1"]),
            r"extra columns 'id', 'weight'\. .*exactly the columns x1, x2 and label"
            r".*Remove the other columns",
            id="extra-columns",
        ),
        pytest.param(
            _csv(["x1,x2,label,", "1,2,0,"]),
            r"extra column an unnamed column 4 \(a trailing comma\?\)",
            id="trailing-comma-column",
        ),
        pytest.param(
            _csv(["x1,x2,X1,label", "1,2,3,0"]),
            r"names the column 'x1' more than once",
            id="duplicate-column",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", "3,4,1", "5,6,0", "7,8,1", "9,10,0", "11,abc,1"]),
            r"Row 7, column 'x2': 'abc' is not a number\. Columns x1 and x2 must be numbers\.",
            id="non-numeric",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", ",4,1", "5,6,0", "7,8,1"]),
            r"Row 3, column 'x1' is empty",
            id="empty-cell",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", "3,4,1", "NaN,6,0", "7,8,1"]),
            r"Row 4, column 'x1': 'NaN' is not a finite number.*NaN and infinity",
            id="nan",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", "3,-inf,1", "5,6,0", "7,8,1"]),
            r"Row 3, column 'x2': '-inf' is not a finite number",
            id="inf",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", "3,1e400,1", "5,6,0", "7,8,1"]),
            r"Row 3, column 'x2': '1e400' is not a finite number",
            id="overflow",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", "3,4,1", "5,6,0", "1e300,8,1"]),
            r"Row 5, column 'x1': 1e300 is too large.*between -1e15 and 1e15",
            id="huge",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", "3,4,1", "5,6", "7,8,1"]),
            r"Row 4 has 2 cells but the header has 3",
            id="short-row",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", "3,4,1,9", "5,6,0", "7,8,1"]),
            r"Row 3 has 4 cells but the header has 3",
            id="long-row",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", "3,4, ", "5,6,0", "7,8,1"]),
            r"Row 3, column 'label' is empty",
            id="empty-label",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,a", "3,4,a", "5,6,a", "7,8,a"]),
            r"only one class \('a'\)\. At least 2 different labels",
            id="one-class",
        ),
        pytest.param(
            _csv(["x1,x2,label"] + [f"{i},{i % 3},{i % 11}" for i in range(30)]),
            r"11 different labels.*at most 10 classes",
            id="eleven-classes",
        ),
        pytest.param(
            _csv(["x1,x2,label"] + [f"{i},{i % 3},{i % 2}" for i in range(20_001)]),
            r"more than 20,000 data rows \(row 20002 .*At most 20,000 points",
            id="too-many-rows",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", "3,4,1", "5,6,0"]),
            r"only 3 data rows; at least 4 are needed",
            id="too-few-rows",
        ),
        pytest.param(_csv(["x1,x2,label"]), r"only 0 data rows; at least 4", id="header-only"),
        pytest.param(
            _csv(["x1,x2,label", "1.5,2,0", "1.5,2,1", "1.5,2,0", "1.5,2,1"]),
            r"All points are identical \(x1=1\.5, x2=2\)",
            id="identical-points",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", "3,2,1", "5,2,0", "7,2,1"]),
            r"Every value in column 'x2' is the same \(2\).*at least two different values",
            id="constant-column",
        ),
        pytest.param(
            _csv(["x1,x2,label", "1,2,0", '3,"4,1', "5,6,0", "7,8,1"]),
            r"Row 3: a double quote \(\"\) opens a cell.*rows 3 to 5 run together",
            id="stray-quote",
        ),
    ],
)
def test_csv_rejections(data: bytes, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        dataset_from_csv(data)


def test_csv_file_larger_than_limit_is_rejected_before_reading(tmp_path: Path) -> None:
    data = _csv(_good_rows(200))
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    limit = len(data) - 1
    # One byte over: rounded to kB both sizes would read the same, so the message gives bytes.
    pattern = (rf"The file is {len(data):,} bytes; the limit is {limit:,} bytes\. "
               "Upload a smaller file")
    with pytest.raises(ValueError, match=pattern):
        dataset_from_csv(path, max_bytes=limit)
    with pytest.raises(ValueError, match=r"The file is \d+(\.\d)? kB; the limit is 1 kB\."):
        dataset_from_csv(path, max_bytes=1_000)
    with pytest.raises(ValueError, match=r"limit is"):
        dataset_from_csv(data, max_bytes=limit)
    with pytest.raises(ValueError, match=r"limit is"):
        dataset_from_csv(io.BytesIO(data), max_bytes=limit)

    class Upload(io.BytesIO):
        size = 6_000_000  # as Streamlit reports it; must be refused without reading

        def read(self, *args: object) -> bytes:  # pragma: no cover - must not be called
            raise AssertionError("read() called on an over-size upload")

    with pytest.raises(ValueError, match=r"The file is 6 MB; the limit is 5 MB"):
        dataset_from_csv(Upload(data))
    assert dataset_from_csv(data, max_bytes=len(data)).n_classes == 2


def test_csv_argument_validation(tmp_path: Path) -> None:
    data = _csv(_good_rows())
    with pytest.raises(ValueError, match=r"test_fraction.*0.1 to 0.9"):
        dataset_from_csv(data, test_fraction=1.0)
    with pytest.raises(ValueError, match=r"max_bytes must be a whole number"):
        dataset_from_csv(data, max_bytes=0)
    with pytest.raises(ValueError, match=r"There is no file at"):
        dataset_from_csv(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"binary mode"):
        dataset_from_csv(io.StringIO("x1,x2,label\n"))


@pytest.mark.parametrize("name", ["moons", "circles"])
def test_moons_and_circles_are_scikit_learns_point_for_point(name):
    from sklearn.datasets import make_circles, make_moons

    from dropout_viz.data import _two_arcs

    for n_samples, noise, seed in [(150, 0.35, 0), (7, 0.0, 3), (401, 1.2, 12345)]:
        X, y = _two_arcs(name, n_samples, noise, seed)
        if name == "moons":
            X_ref, y_ref = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
        else:
            X_ref, y_ref = make_circles(n_samples=n_samples, noise=noise, factor=0.5,
                                        random_state=seed)
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)
