"""Explore p without waiting: the p slider's other values, prepared while the server is idle.

After "Dropout in action" has shown a run, the runs for the slider's other values of p (every
other setting the same) are trained in the background, a few at a time in one `train_many`
call, nearest p first, and their animation and curves are drawn: the very entries a p move
reads, so moving p then only sends a figure that is ready. `train_many` gives each run exactly
what training it alone gives (tests/test_prefetch.py checks it), so a prepared run is the run.

The work never delays a session: it runs only while no page script runs (`cache.SCRIPTS`), and
a chunk of training stops at its next epoch when a script starts (it is done again later).
Prepared entries sit beside the ones sessions asked for and only displace each other
(`LRUCache.put(prepared=True)`). One p grid at a time: a newer request replaces the older one.
Off without a Streamlit server (scripts) and when `enabled` is False (the tests' AppTest pages);
`prepare_grid` does the same work in the caller's thread.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable

import streamlit as st

from dropout_viz import pipeline
from dropout_viz.data import Dataset
from dropout_viz.engine import TrainingRun
from dropout_viz.settings import FIELD_SPECS, Settings, TrainKey
from dropout_viz.ui import cache, runs

_P = FIELD_SPECS["p_hidden"]
P_VALUES = tuple(round(_P.min + i * _P.step, 10)
                 for i in range(round((_P.max - _P.min) / _P.step) + 1))
CHUNK = 4  # runs per train_many call: most of its gain, and a short wait if it must stop
MAX_RUN_S = 1.0  # prepare only grids of quick runs (pipeline.estimated_training_s)
MAX_RUN_BYTES = 8 * 2**20  # ... whose stored weights are small (19 of them are kept)
# Start only after no script has run for this long: past a class's gaps between reruns, and
# past the sending of the last run's messages, which the server's event loop does after the
# script ends.
IDLE_GRACE_S = 5.0
IDLE_POLL_S = 0.05
# A pause after every epoch and every drawing: the work holds Python's GIL, and the server's
# event loop (which receives a new rerun and sends its messages) gets it back only at these.
YIELD_S = 0.002
LOG = logging.getLogger(__name__)

# Draws a run's views and stores them as prepared entries (action_tab.prepare_views).
PrepareViews = Callable[[TrainingRun, Settings, TrainKey], None]


def grid_keys(settings: Settings, key: TrainKey) -> list[tuple[Settings, TrainKey]]:
    """The other values of p on the slider, nearest first, as (settings, key) pairs."""
    others = sorted((p for p in P_VALUES if p != key.p_hidden),
                    key=lambda p: (abs(p - key.p_hidden), p))
    return [(dataclasses.replace(settings, p_hidden=p), dataclasses.replace(key, p_hidden=p))
            for p in others]


def worth_preparing(key: TrainKey, dataset: Dataset) -> bool:
    seconds = pipeline.estimated_training_s(key, len(dataset.y_train), len(dataset.y_test),
                                            dataset.n_features, dataset.n_outputs)
    per_epoch = runs.weight_bytes_per_epoch(key, dataset.n_features, dataset.n_outputs)
    stride = runs.snapshot_stride(key, dataset.n_features, dataset.n_outputs)
    return seconds <= MAX_RUN_S and per_epoch * -(-key.epochs // stride) <= MAX_RUN_BYTES


def prepare_grid(settings: Settings, key: TrainKey, dataset: Dataset,
                 prepare_views: PrepareViews, should_stop: Callable[[], bool]) -> bool:
    """Train and draw the grid's missing entries, a step at a time, until done (True) or
    `should_stop()` (False; checked between steps and at every epoch of a chunk)."""
    grid = grid_keys(settings, key)
    while True:
        if should_stop():
            return False
        missing = [k for _, k in grid if cache.RUNS.peek(k) is None][:CHUNK]
        if missing:
            _train_chunk(missing, dataset, should_stop)
            continue
        for settings_p, key_p in grid:
            if should_stop():
                return False
            run = cache.RUNS.peek(key_p)
            if run is not None:  # else dropped meanwhile for runs sessions asked for
                prepare_views(run, settings_p, key_p)
            time.sleep(YIELD_S)
        return True


def _train_chunk(keys: list[TrainKey], dataset: Dataset, should_stop: Callable[[], bool]) -> None:
    stopped = False

    def on_progress(_fraction: float) -> bool | None:
        nonlocal stopped
        time.sleep(YIELD_S)
        stopped = stopped or should_stop()
        return False if stopped else None

    stride = runs.snapshot_stride(keys[0], dataset.n_features, dataset.n_outputs)
    trained = pipeline.train_together(keys, dataset, on_progress=on_progress,
                                      store_weights=stride)
    if not stopped:  # a chunk stopped early holds partial runs: dropped, trained again later
        for k, run in zip(keys, trained, strict=True):
            cache.RUNS.put(k, run, prepared=True)


class Prefetcher:
    """One background thread preparing the newest requested grid while no script runs."""

    def __init__(self) -> None:
        self.enabled = True
        self._request: tuple | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def request(self, settings: Settings, key: TrainKey, dataset: Dataset,
                prepare_views: PrepareViews) -> None:
        if not (self.enabled and st.runtime.exists()) or not worth_preparing(key, dataset):
            return
        with self._lock:
            self._request = (settings, key, dataset, prepare_views)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="prefetch",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def _superseded(self, request: tuple) -> bool:
        return self._request is not request

    def _should_stop(self, request: tuple) -> bool:
        return bool(cache.SCRIPTS) or self._superseded(request)

    def _serve(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            request = self._request
            if request is None:
                continue
            while cache.SCRIPTS.idle_for() < IDLE_GRACE_S and not self._superseded(request):
                time.sleep(IDLE_POLL_S)

            try:
                done = prepare_grid(*request, should_stop=functools.partial(
                    self._should_stop, request))
            except Exception:  # noqa: BLE001 - background work must never end the thread
                LOG.exception("preparing the p grid failed")
                done = True
            with self._lock:
                if done and not self._superseded(request):
                    self._request = None
                elif not done:
                    self._wake.set()  # interrupted: go on when the server is idle again


PREFETCHER = Prefetcher()
