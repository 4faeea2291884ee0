"""Caches for the page: data sets and training runs, keyed by the settings that decide them.

Training runs live in a small LRU shared by every session of the server (a class of thirty
opening the same preset trains it once). It is not `st.cache_data` on purpose: training reports
progress to a bar on the page, and `st.cache_data` records every element message sent during a
miss and replays it on later hits. Runs are returned without copying, so callers treat them as
read-only. Bounded by MAX_RUNS entries and by SNAPSHOT_BUDGET_BYTES of stored weights per run.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import streamlit as st

from dropout_viz import pipeline
from dropout_viz.data import Dataset
from dropout_viz.engine import TrainingRun
from dropout_viz.settings import DataKey, TrainKey

MAX_RUNS = 24
MAX_DATASETS = 16
SNAPSHOT_BUDGET_BYTES = 48 * 2**20
SHOW_PROGRESS_AFTER_S = 0.6


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
def get_dataset(key: DataKey) -> Dataset:
    return pipeline.dataset_for(key)


def snapshot_stride(key: TrainKey, n_features: int, n_classes: int) -> int:
    """Keep every k-th epoch's weights so one run stays within SNAPSHOT_BUDGET_BYTES."""
    sizes = (n_features,) + key.hidden + (n_classes,)
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    per_epoch = 8 * n_params
    return max(1, -(-key.epochs * per_epoch // SNAPSHOT_BUDGET_BYTES))


class ProgressReporter:
    """Shows a progress bar only when training is slow, and gives Streamlit a chance to
    interrupt the run when a newer slider value arrives (every st call is such a point)."""

    def __init__(self, epochs: int, label: str = "Training"):
        self.epochs, self.label = epochs, label
        self.started = time.perf_counter()
        self.bar = None
        self.last_update = 0.0

    def __call__(self, epoch: int, metrics: dict) -> None:
        now = time.perf_counter()
        if now - self.started < SHOW_PROGRESS_AFTER_S or now - self.last_update < 0.1:
            return
        self.last_update = now
        text = f"{self.label}: epoch {epoch + 1} of {self.epochs}"
        if self.bar is None:
            self.bar = st.progress(0.0, text=text)
        self.bar.progress((epoch + 1) / self.epochs, text=text)

    def done(self) -> None:
        if self.bar is not None:
            self.bar.empty()


def get_run(key: TrainKey) -> TrainingRun:
    run = RUNS.get(key)
    if run is not None:
        return run
    dataset = get_dataset(key.data)
    reporter = ProgressReporter(key.epochs)
    stride = snapshot_stride(key, dataset.n_features, dataset.n_classes)
    run = pipeline.train(dataset, pipeline.config_for(key), on_epoch=reporter,
                         store_weights=stride)
    reporter.done()
    RUNS.put(key, run)
    return run


def clear_all() -> None:
    """Forget every cached data set and run (tests call this between app runs)."""
    RUNS.clear()
    get_dataset.clear()
