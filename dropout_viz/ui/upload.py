"""A custom data set uploaded as CSV, held by the session that uploaded it: 2-D labelled points
(x1, x2, label) to classify, or x, y pairs to fit a curve to (regression).

The file's bytes live in the uploading session's state (they vanish with the session); what the
shared caches see is their content hash: `cache.resolve` puts it in the data key
(`DataKey.content`), so two sessions uploading the same file share its trained runs and two
different files never mix. A link cannot carry the file, so `dataset=upload` without one falls
back to the default data set with a message (see `state.current_settings`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st

from dropout_viz.csv_data import CSV_MAX_CLASSES, dataset_from_csv
from dropout_viz.data import Dataset
from dropout_viz.settings import DEFAULTS, UPLOAD

# The server refuses files above server.maxUploadSize (5, in MiB, in .streamlit/config.toml);
# this is the limit the page itself checks and states (a little lower, in round MB).
MAX_UPLOAD_BYTES = 5_000_000
FILE_WIDGET = "_upload_file"
UPLOADED = "_uploaded_csv"
UPLOAD_ERROR = "_upload_error"
PREVIOUS_DATASET = "_dataset_before_upload"


@dataclass(frozen=True)
class UploadedCSV:
    name: str
    digest: str  # SHA-256 of the bytes: the cache key of this content
    raw: bytes
    n_points: int
    n_classes: int  # 0 for an x, y file (regression)

    def summary(self) -> str:
        """ "120 points, 3 classes" or "120 points, regression"."""
        kind = f"{self.n_classes} classes" if self.n_classes else "regression"
        return f"{self.n_points} points, {kind}"


def content_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def current() -> UploadedCSV | None:
    """The file this session uploaded and the page accepted, if any."""
    return st.session_state.get(UPLOADED)


def read(raw: bytes, test_fraction: float, seed: int) -> Dataset:
    """The uploaded bytes as a Dataset (ValueError with a message for the user if not valid)."""
    return dataset_from_csv(raw, test_fraction=test_fraction, seed=seed,
                            max_bytes=MAX_UPLOAD_BYTES)


def _accept_file() -> None:
    """on_change of the uploader: check the new file; keep the previous data set if it is bad."""
    session = st.session_state
    file = session.get(FILE_WIDGET)
    if file is None:  # the user removed the file
        forget()
        return
    raw = file.getvalue()
    try:
        dataset = read(raw, session.get("test_fraction", DEFAULTS.test_fraction),
                       session.get("data_seed", DEFAULTS.data_seed))
    except ValueError as error:
        session[UPLOAD_ERROR] = f"{file.name} was not used: {error} (The data set in use is kept.)"
        return
    session.pop(UPLOAD_ERROR, None)
    session[UPLOADED] = UploadedCSV(
        name=file.name, digest=content_digest(raw), raw=raw,
        n_points=len(dataset.y_train) + len(dataset.y_test), n_classes=dataset.n_classes)
    if session.get("dataset") != UPLOAD:
        session[PREVIOUS_DATASET] = session.get("dataset", DEFAULTS.dataset)
        session["dataset"] = UPLOAD  # a callback runs before the widgets: allowed here


def forget() -> None:
    """Drop the uploaded file; a page showing it goes back to the data set chosen before."""
    session = st.session_state
    session.pop(UPLOADED, None)
    session.pop(UPLOAD_ERROR, None)
    if session.get("dataset") == UPLOAD:
        session["dataset"] = session.pop(PREVIOUS_DATASET, DEFAULTS.dataset)


def render() -> None:
    """The uploader, what it holds, and the last rejection (inside the sidebar's Data group)."""
    st.file_uploader(
        "Upload your own points (CSV)", type=["csv"], key=FILE_WIDGET, on_change=_accept_file,
        max_upload_size=MAX_UPLOAD_BYTES // 1_000_000,
        help=f"A UTF-8 CSV with a header row x1,x2,label and one row per point: x1 and x2 "
             f"numbers, label 2 to {CSV_MAX_CLASSES} classes (whole numbers or words). Or a "
             "header row x,y and one row per point, both numbers: a curve to fit "
             f"(regression). At most {MAX_UPLOAD_BYTES // 1_000_000} MB. The file stays in "
             "this browser session.")
    error = st.session_state.get(UPLOAD_ERROR)
    if error:
        st.error(error)
    uploaded = current()
    if uploaded is not None:
        in_use = st.session_state.get("dataset") == UPLOAD
        st.caption(f"{'Using' if in_use else 'Uploaded'}: {uploaded.name}, {uploaded.summary()}."
                   + ("" if in_use else ' Choose "upload" as the dataset to use it.'))
