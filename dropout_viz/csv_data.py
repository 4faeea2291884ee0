"""A user's CSV as a Dataset, split and standardised like the generated sets (`data`): 2-D
labelled points (columns x1, x2, label) for classification, or pairs (columns x, y) for a 1-D
regression. Errors are ``ValueError`` messages written for the person uploading the file: what
is wrong, at which row and column, and what is allowed.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from dropout_viz.data import (
    MAX_SAMPLES,
    MAX_TEST_FRACTION,
    MIN_SAMPLES,
    MIN_TEST_FRACTION,
    Dataset,
    _check_float,
    _check_int,
)
from dropout_viz.dataset import _random_split, _split_indices, _standardised_dataset

CSV_COLUMNS: tuple[str, ...] = ("x1", "x2", "label")
CSV_REGRESSION_COLUMNS: tuple[str, ...] = ("x", "y")
CSV_MIN_ROWS = MIN_SAMPLES
CSV_MAX_ROWS = MAX_SAMPLES
CSV_MIN_CLASSES = 2
CSV_MAX_CLASSES = 10
# Coordinates beyond this overflow when squared for the standard deviation; no real 2-D toy
# problem needs them.
CSV_MAX_ABS_VALUE = 1e15


def dataset_from_csv(
    source: str | os.PathLike[str] | bytes | Any,
    test_fraction: float = 0.3,
    seed: int = 0,
    max_bytes: int = 5_000_000,
) -> Dataset:
    """Read a 2-D labelled point set from CSV and split/standardise it like the generated sets.

    ``source`` is a path, the file's bytes, or a binary file object (e.g. Streamlit's
    ``UploadedFile``; a seekable one is read from the start). The file must be UTF-8 (a BOM is
    fine) with a header row naming exactly the columns x1, x2 and label, or exactly x and y,
    in any order and any letter case. x1 and x2 are finite numbers; labels are integers or
    text, 2 to 10 different ones, mapped to classes 0..k-1 in sorted order (numeric order for
    integer labels); the original labels are kept in ``class_names``. A file of x and y (both
    finite numbers) is a regression set (``task == "regression"``, X of shape (n, 1), y
    standardised like x), split at random. Blank lines are skipped. The result's name is
    ``"csv"``. Row numbers in error messages count the header as row 1, as an editor does.
    """
    _check_float("test_fraction", test_fraction, MIN_TEST_FRACTION, MAX_TEST_FRACTION)
    _check_int("seed", seed, 0, 2**63 - 1)
    _check_int("max_bytes", max_bytes, 1, 2**62)

    raw = _read_limited(source, int(max_bytes))
    text = _decode(raw)
    X, labels = _parse_rows(text)
    if labels is None:  # x, y
        return _regression_dataset(X, float(test_fraction), int(seed))
    y, class_names = _encode_labels(labels)
    _check_spread(X)

    train_idx, test_idx = _split_indices(
        y, float(test_fraction), np.random.default_rng([int(seed), 2])
    )
    return _standardised_dataset(
        X,
        y,
        train_idx,
        test_idx,
        n_classes=len(class_names),
        name="csv",
        feature_names=("x1", "x2"),
        class_names=class_names,
    )


def _regression_dataset(values: np.ndarray, test_fraction: float, seed: int) -> Dataset:
    """The x, y pairs of a file as a 1-D regression set (x must take 2+ values)."""
    if np.ptp(values[:, 0]) == 0:
        raise ValueError(
            f"Every value in column 'x' is the same ({values[0, 0]:g}), so there is no curve "
            "to fit. Column x must take at least two different values."
        )
    train_idx, test_idx = _random_split(len(values), test_fraction,
                                        np.random.default_rng([seed, 2]))
    return _standardised_dataset(values[:, :1], values[:, 1], train_idx, test_idx, 0, "csv",
                                 ("x",), task="regression")


def _format_size(n_bytes: int) -> str:
    if n_bytes >= 1_000_000:
        return f"{n_bytes / 1_000_000:.1f} MB".replace(".0 MB", " MB")
    if n_bytes >= 1_000:
        return f"{n_bytes / 1_000:.1f} kB".replace(".0 kB", " kB")
    return f"{n_bytes} bytes"


def _too_large(max_bytes: int, size: int | None = None) -> ValueError:
    shown_size, shown_limit = _format_size(size or 0), _format_size(max_bytes)
    if shown_size == shown_limit:  # just over the limit: rounded, both would read the same
        shown_size, shown_limit = f"{size:,} bytes", f"{max_bytes:,} bytes"
    what = f"is {shown_size}" if size is not None else "is too large"
    return ValueError(
        f"The file {what}; the limit is {shown_limit}. Upload a smaller file (fewer rows)."
    )


def _read_limited(source: Any, max_bytes: int) -> bytes:
    """The file's bytes, refusing anything larger than max_bytes without reading it all."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise _too_large(max_bytes, len(data))
        return data
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"There is no file at {str(path)!r}.")
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_large(max_bytes, size)
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may have grown since stat()
    elif hasattr(source, "read"):
        size = getattr(source, "size", None)
        if isinstance(size, int) and size > max_bytes:
            raise _too_large(max_bytes, size)
        seekable = getattr(source, "seekable", None)
        if callable(seekable) and seekable():
            source.seek(0)  # an UploadedFile read on an earlier rerun sits at its end
        data = source.read(max_bytes + 1)
        if isinstance(data, str):
            raise ValueError("Expected a file opened in binary mode ('rb'), got a text stream.")
        data = bytes(data)
    else:
        raise ValueError(
            f"Cannot read a CSV from a {type(source).__name__}; "
            "give a file path, bytes, or a file opened in binary mode."
        )
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def _decode(raw: bytes) -> str:
    if not raw.strip():
        raise ValueError(
            "The file is empty. Upload a CSV whose first row is the header x1,x2,label "
            "followed by one row per point."
        )
    try:
        text = raw.decode("utf-8-sig")  # -sig: tolerate the BOM that Excel writes
    except UnicodeDecodeError as err:
        row = raw[: err.start].count(b"\n") + 1
        raise ValueError(
            f"The file is not UTF-8 text: row {row} contains the byte "
            f"0x{raw[err.start]:02x}, which is not valid UTF-8. "
            "Save it as 'CSV UTF-8' (comma-separated) and upload it again."
        ) from None
    if not text.strip():
        raise ValueError(
            "The file is empty. Upload a CSV whose first row is the header x1,x2,label "
            "followed by one row per point."
        )
    return text


def _expected_columns_text() -> str:
    return ("The first row must be a header naming the columns x1, x2 and label (points to "
            "classify), or x and y (a curve to fit), in any order.")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_header(cells: list[str], row_number: int) -> dict[str, int]:
    """Column index of x1, x2 and label (or of x and y) in the header row; ValueError if it is
    not exactly those. A header naming x or y and none of x1, x2, label is read as x, y."""
    names = [cell.strip().lower() for cell in cells]
    expected = CSV_COLUMNS
    if set(names) & set(CSV_REGRESSION_COLUMNS) and not set(names) & set(CSV_COLUMNS):
        expected = CSV_REGRESSION_COLUMNS
    if any(_is_number(name) for name in names if name) and not set(names) & set(expected):
        shown = ",".join(cell.strip() for cell in cells)
        raise ValueError(
            f"Row {row_number} ({shown!r}) looks like data, not a header. "
            + _expected_columns_text()
        )
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise ValueError(
                f"Row {row_number} (the header) names the column '{name}' more than once. "
                + _expected_columns_text()
            )
        seen.add(name)

    missing = [col for col in expected if col not in names]
    extra = [
        f"'{cells[i].strip()}'" if name else f"an unnamed column {i + 1} (a trailing comma?)"
        for i, name in enumerate(names)
        if name not in expected
    ]
    problems = []
    if missing:
        quoted = ", ".join(f"'{col}'" for col in missing)
        problems.append(f"missing column{'s' if len(missing) > 1 else ''} {quoted}")
    if extra:
        problems.append(f"extra column{'s' if len(extra) > 1 else ''} {', '.join(extra)}")
    if problems:
        advice = " Remove the other columns." if extra else ""
        raise ValueError(
            f"Row {row_number} (the header) has {' and '.join(problems)}. "
            f"The file must have exactly the columns {_listed(expected)}, in any "
            f"order.{advice}"
        )
    return {col: names.index(col) for col in expected}


def _listed(columns: tuple[str, ...]) -> str:
    """ "x1, x2 and label", "x and y"."""
    return ", ".join(columns[:-1]) + " and " + columns[-1]


def _numeric_columns(columns: dict[str, int]) -> tuple[str, ...]:
    return tuple(name for name in columns if name != "label")


def _parse_coordinate(cell: str, row_number: int, column: str,
                      numeric: tuple[str, ...] = ("x1", "x2")) -> float:
    text = cell.strip()
    rule = f"Columns {_listed(numeric)} must be numbers."
    if not text:
        raise ValueError(f"Row {row_number}, column '{column}' is empty. {rule}")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"Row {row_number}, column '{column}': {text!r} is not a number. {rule}"
        ) from None
    if not math.isfinite(value):
        raise ValueError(
            f"Row {row_number}, column '{column}': {text!r} is not a finite number "
            f"(NaN and infinity are not allowed). Columns {_listed(numeric)} must be ordinary "
            "numbers."
        )
    if abs(value) > CSV_MAX_ABS_VALUE:
        limit = f"{CSV_MAX_ABS_VALUE:.0e}".replace("+", "")  # "1e15"
        raise ValueError(
            f"Row {row_number}, column '{column}': {text} is too large. "
            f"Values in {_listed(numeric)} must lie between -{limit} and {limit}."
        )
    return value


def _parse_rows(text: str) -> tuple[np.ndarray, list[str] | None]:
    """Points (n, 2) in file order and their label texts; for an x, y file the (n, 2) pairs
    and None."""
    reader = csv.reader(io.StringIO(text, newline=""))
    columns: dict[str, int] | None = None
    n_cells = 0
    points: list[tuple[float, float]] = []
    labels: list[str] = []
    last_line = 0
    try:
        for cells in reader:
            # Physical line where this record starts, as an editor counts it (header = 1).
            row_number, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank line (or only commas)
            if last_line > row_number:
                raise ValueError(
                    f'Row {row_number}: a double quote (") opens a cell that is never closed, '
                    f"so rows {row_number} to {last_line} run together. "
                    "Remove the stray quote character."
                )
            if columns is None:
                columns = _parse_header(cells, row_number)
                n_cells = len(cells)
                continue
            if len(cells) != n_cells:
                raise ValueError(
                    f"Row {row_number} has {len(cells)} cell{'s' if len(cells) != 1 else ''} "
                    f"but the header has {n_cells}. "
                    f"Every row needs exactly one value for each of {_listed(tuple(columns))}."
                )
            if len(points) == CSV_MAX_ROWS:
                raise ValueError(
                    f"The file has more than {CSV_MAX_ROWS:,} data rows (row {row_number} is "
                    f"one too many). At most {CSV_MAX_ROWS:,} points are allowed."
                )
            numeric = _numeric_columns(columns)
            x1, x2 = (_parse_coordinate(cells[columns[name]], row_number, name, numeric)
                      for name in numeric)
            if "label" not in columns:
                points.append((x1, x2))
                continue
            label = cells[columns["label"]].strip()
            if not label:
                raise ValueError(
                    f"Row {row_number}, column 'label' is empty. Every row needs a class label "
                    "(a whole number or a word)."
                )
            points.append((x1, x2))
            labels.append(label)
    except csv.Error as err:
        raise ValueError(
            f"Row {last_line + 1} could not be read as CSV ({err}). "
            "Check for stray quote characters."
        ) from None

    if columns is None:  # only blank lines: _decode normally catches this first
        raise ValueError("The file is empty. " + _expected_columns_text())
    if len(points) < CSV_MIN_ROWS:
        raise ValueError(
            f"The file has only {len(points)} data row{'s' if len(points) != 1 else ''}; "
            f"at least {CSV_MIN_ROWS} are needed (both the training and the test split need "
            "at least 2 points)."
        )
    return np.array(points, dtype=np.float64), labels if "label" in columns else None


def _encode_labels(labels: list[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class indices 0..k-1 in sorted label order, and the label text of each class.

    Labels that are all whole numbers ("2", "10", "1.0") sort numerically and are named by
    their integer value; anything else sorts as text and keeps its spelling.
    """
    as_int = _whole_numbers(labels)
    keys: list[Any] = as_int if as_int is not None else labels
    distinct = sorted(set(keys))
    if len(distinct) < CSV_MIN_CLASSES:
        raise ValueError(
            f"Column 'label' has only one class ({str(distinct[0])!r}). "
            f"At least {CSV_MIN_CLASSES} different labels are needed to train a classifier."
        )
    if len(distinct) > CSV_MAX_CLASSES:
        examples = ", ".join(repr(str(key)) for key in distinct[:5])
        raise ValueError(
            f"Column 'label' has {len(distinct)} different labels ({examples}, ...); "
            f"at most {CSV_MAX_CLASSES} classes are allowed. "
            "The label column should name each point's class, not a measurement."
        )
    index = {key: k for k, key in enumerate(distinct)}
    y = np.array([index[key] for key in keys], dtype=np.int64)
    return y, tuple(str(key) for key in distinct)


def _whole_numbers(labels: list[str]) -> list[int] | None:
    values = []
    for label in labels:
        try:
            value = float(label)
        except ValueError:
            return None
        if not math.isfinite(value) or value != int(value):
            return None
        values.append(int(value))
    return values


def _check_spread(X: np.ndarray) -> None:
    """Reject files whose points do not spread out in both directions (nothing to standardise)."""
    constant = np.ptp(X, axis=0) == 0
    if constant.all():
        raise ValueError(
            f"All points are identical (x1={X[0, 0]:g}, x2={X[0, 1]:g}). "
            "The points must differ to draw a decision boundary."
        )
    for j, column in enumerate(("x1", "x2")):
        if constant[j]:
            raise ValueError(
                f"Every value in column '{column}' is the same ({X[0, j]:g}), so the points lie "
                f"on a line. Columns x1 and x2 must each take at least two different values."
            )
