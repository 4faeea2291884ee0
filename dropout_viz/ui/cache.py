"""Caches for the page: data sets and training runs, keyed by the settings that decide them.

Training runs live in a small LRU shared by every session of the server (a class of thirty
opening the same preset trains it once). It is not `st.cache_data` on purpose: training reports
progress to a bar on the page, and `st.cache_data` records every element message sent during a
miss and replays it on later hits. Runs are returned without copying, so callers treat them as
read-only. Bounded by MAX_RUNS entries and by SNAPSHOT_BUDGET_BYTES of stored weights per run.

Long runs stay interruptible: while the progress bar shows, every update is a point where
Streamlit may end the script for a newer rerun (runner.fastReruns). The reporter then stops the
engine cleanly instead; a superseded run is dropped, a run the user stopped with "Stop training"
is kept for that session with the epochs it finished (`run.stopped_at`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from dropout_viz import pipeline
from dropout_viz.data import Dataset
from dropout_viz.engine import TrainingRun
from dropout_viz.settings import DataKey, TrainKey
from dropout_viz.ui import upload

MAX_RUNS = 24
MAX_DATASETS = 16
SNAPSHOT_BUDGET_BYTES = 48 * 2**20
SHOW_PROGRESS_AFTER_S = 0.6
MAX_STOPPED_RUNS = 2  # per session
STOP_REQUESTED = "_stop_requested"  # session keys
INTERRUPTED_RUN = "_interrupted_run"
STOPPED_RUNS = "_stopped_runs"


class LRUCache:
    """A thread-safe, bounded, least-recently-used mapping."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


RUNS = LRUCache(MAX_RUNS)


@st.cache_data(max_entries=MAX_DATASETS, show_spinner=False)
def _generated_dataset(key: DataKey) -> Dataset:
    return pipeline.dataset_for(key)


@st.cache_data(max_entries=MAX_DATASETS, show_spinner=False)
def _uploaded_dataset(digest: str, test_fraction: float, seed: int, _raw: bytes) -> Dataset:
    # Keyed by the content's digest; the bytes themselves (leading _) are not hashed again.
    return upload.read(_raw, test_fraction, seed)


def content_key(key: DataKey) -> DataKey:
    """The key naming the data's content: dataset "upload" becomes "upload:<sha256>"."""
    if key.dataset != upload.UPLOAD:
        return key
    uploaded = upload.current()
    if uploaded is None:
        raise ValueError("The dataset is 'upload' but no file was uploaded in this session.")
    return dataclasses.replace(key, dataset=f"{upload.UPLOAD}:{uploaded.digest}")


def get_dataset(key: DataKey) -> Dataset:
    if key.dataset == upload.UPLOAD:
        uploaded = upload.current()
        if uploaded is None:
            raise ValueError("The dataset is 'upload' but no file was uploaded in this session.")
        return _uploaded_dataset(uploaded.digest, key.test_fraction, key.data_seed,
                                 uploaded.raw)
    return _generated_dataset(key)


def snapshot_stride(key: TrainKey, n_features: int, n_classes: int) -> int:
    """Keep every k-th epoch's weights so one run stays within SNAPSHOT_BUDGET_BYTES."""
    sizes = (n_features,) + key.hidden + (n_classes,)
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    per_epoch = 8 * n_params
    return max(1, -(-key.epochs * per_epoch // SNAPSHOT_BUDGET_BYTES))


class ProgressReporter:
    """Shows a progress bar only when training is slow, and gives Streamlit a chance to
    interrupt the run when a newer slider value arrives (every st call is such a point)."""

    def __init__(self, epochs: int, label: str = "Training", stop_key: str | None = None):
        """With `stop_key`, a "Stop training" button (that key) shows beside the bar, and an
        interruption stops the engine (returns False) and is kept in `interruption` for the
        caller to re-raise; without it, the interruption propagates through the engine."""
        self.epochs, self.label, self.stop_key = epochs, label, stop_key
        self.started = time.perf_counter()
        self.box = None
        self.bar = None
        self.last_update = 0.0
        self.interruption: ScriptControlException | None = None

    def __call__(self, epoch: int, metrics: dict) -> bool | None:
        if self.interruption is not None:
            return False
        now = time.perf_counter()
        if now - self.started < SHOW_PROGRESS_AFTER_S or now - self.last_update < 0.1:
            return None
        self.last_update = now
        text = f"{self.label}: epoch {epoch + 1} of {self.epochs}"
        try:
            if self.bar is None:
                self.box = st.container()
                self.bar = self.box.progress(0.0, text=text)
                if self.stop_key is not None:
                    self.box.button("Stop training", key=self.stop_key, on_click=_request_stop,
                                    help="Stop now and keep the epochs finished so far.")
            self.bar.progress((epoch + 1) / self.epochs, text=text)
        except ScriptControlException as interruption:
            if self.stop_key is None:
                raise
            self.interruption = interruption
            return False
        return None

    def done(self) -> None:
        if self.box is not None:
            self.box.empty()


def _request_stop() -> None:
    # Runs at the start of the rerun the click causes, after the old run was interrupted.
    st.session_state[STOP_REQUESTED] = True


def _stopped_run(run_key: TrainKey, session) -> TrainingRun | None:
    """This session's stopped run for `run_key`. An interrupted run becomes a stopped one only
    if the interruption was the Stop button; otherwise (a newer setting) it is dropped."""
    interrupted = session.pop(INTERRUPTED_RUN, None)
    stopped = session.setdefault(STOPPED_RUNS, {})
    if session.pop(STOP_REQUESTED, False) and interrupted is not None:
        stopped_key, run = interrupted
        stopped.pop(stopped_key, None)
        stopped[stopped_key] = run
        while len(stopped) > MAX_STOPPED_RUNS:
            stopped.pop(next(iter(stopped)))
    return stopped.get(run_key)


def _stop_key(run_key: TrainKey) -> str:
    return f"_stop_training_{hash(run_key) & 0xFFFFFFFF:08x}"


def _train_fully(run_key: TrainKey) -> None:
    st.session_state.get(STOPPED_RUNS, {}).pop(run_key, None)


def _stopped_note(run_key: TrainKey, run: TrainingRun) -> None:
    finished = run.epochs_completed
    st.info(f"Training was stopped after epoch {finished} of {run_key.epochs}: everything "
            f"below shows the {finished} epoch{'s' if finished != 1 else ''} finished so far.")
    st.button(f"Train all {run_key.epochs} epochs", key=_stop_key(run_key) + "_resume",
              on_click=_train_fully, args=(run_key,))


def get_run(key: TrainKey, session=None) -> TrainingRun:
    """The trained run for `key`: this session's stopped run, the shared cache, or training now
    (interruptible; see the module docstring). `session` defaults to st.session_state."""
    session = st.session_state if session is None else session
    run_key = dataclasses.replace(key, data=content_key(key.data))
    stopped = _stopped_run(run_key, session)
    if stopped is not None:
        _stopped_note(run_key, stopped)
        return stopped
    run = RUNS.get(run_key)
    if run is not None:
        return run
    dataset = get_dataset(key.data)
    reporter = ProgressReporter(key.epochs, stop_key=_stop_key(run_key))
    stride = snapshot_stride(key, dataset.n_features, dataset.n_classes)
    run = pipeline.train(dataset, pipeline.config_for(key), on_epoch=reporter,
                         store_weights=stride)
    if reporter.interruption is not None:
        # Kept until the next run decides: the Stop button keeps it, a newer setting drops it.
        session[INTERRUPTED_RUN] = (run_key, run)
        raise reporter.interruption
    reporter.done()
    RUNS.put(run_key, run)
    return run


def clear_all() -> None:
    """Forget every cached data set and run (tests call this between app runs)."""
    RUNS.clear()
    _generated_dataset.clear()
    _uploaded_dataset.clear()
