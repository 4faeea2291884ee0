"""Explore p without waiting: the p slider's other values, prepared in a worker process.

After "Dropout in action" has shown a run, the runs for the slider's other values of p (every
other setting the same) are trained in the background, a few at a time in one `train_many`
call, nearest p first, and their animation and curves are drawn: the very entries a p move
reads, so moving p then only sends a figure that is ready. `train_many` gives each run exactly
what training it alone gives (tests/test_prefetch.py checks it), so a prepared run is the run.

The work keeps out of the sessions' way: it runs in a worker process of its own at the lowest
priority (workers.BACKGROUND, nice 19) and holds neither the server's GIL nor a compute slot
(the server only stores what comes back); and a chunk starts only after no page script has run
for IDLE_GRACE_S, because even a niced process slows the server down: it shares the
processor's caches and, on a virtual machine, often its physical core (measured with
benchmarks/class_load.py). Prepared entries sit beside the ones sessions asked for and only
displace each other (`LRUCache.put(prepared=True)`). One p grid at a time: a newer request
replaces the older one at the next chunk. Off without a Streamlit server (scripts) and when
`enabled` is False (the tests' AppTest pages); `prepare_grid` does the same work in the
caller's thread.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

import streamlit as st

from dropout_viz import pipeline
from dropout_viz.data import Dataset
from dropout_viz.engine import TrainingRun
from dropout_viz.figures.spec import AnimatedFigure
from dropout_viz.settings import FIELD_SPECS, Settings, TrainKey
from dropout_viz.ui import cache, runs, workers

_P = FIELD_SPECS["p_hidden"]
P_VALUES = tuple(round(_P.min + i * _P.step, 10)
                 for i in range(round((_P.max - _P.min) / _P.step) + 1))
CHUNK = 4  # runs per train_many call: most of its gain, and a newer grid waits little
MAX_RUN_S = 1.0  # prepare only grids of quick runs (pipeline.estimated_training_s)
MAX_RUN_BYTES = 8 * 2**20  # ... whose stored weights are small (19 of them are kept)
IDLE_GRACE_S = 1.0  # no page script for this long: the server is idle (a class is not)
IDLE_POLL_S = 0.05
LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Views:
    """The drawn views of a grid's run (action_tab.VIEWS): `store` keeps them as prepared
    entries, given the run's animation; `have` says whether they are there (they are drawn per
    projector mode, so a cached run may lack them)."""

    store: Callable[[TrainingRun, Settings, TrainKey, AnimatedFigure], None]
    have: Callable[[TrainingRun, Settings, TrainKey], bool]


# Trains and draws one chunk of the grid (workers.prepare_chunk, here or in the worker);
# None when the worker could not take it.
RunChunk = Callable[[list, Dataset, int], list | None]


def grid_keys(settings: Settings, key: TrainKey) -> list[tuple[Settings, TrainKey]]:
    """The other values of p on the slider, nearest first, as (settings, key) pairs."""
    others = sorted((p for p in P_VALUES if p != key.p_hidden),
                    key=lambda p: (abs(p - key.p_hidden), p))
    return [(dataclasses.replace(settings, p_hidden=p), dataclasses.replace(key, p_hidden=p))
            for p in others]


def worth_preparing(key: TrainKey, dataset: Dataset) -> bool:
    seconds = pipeline.estimated_training_s_on(key, dataset)
    per_epoch = runs.weight_bytes_per_epoch(key, dataset.n_features, dataset.n_outputs)
    stride = runs.snapshot_stride(key, dataset.n_features, dataset.n_outputs)
    return seconds <= MAX_RUN_S and per_epoch * -(-key.epochs // stride) <= MAX_RUN_BYTES


def prepare_grid(settings: Settings, key: TrainKey, dataset: Dataset, views: Views,
                 should_stop: Callable[[], bool],
                 run_chunk: RunChunk = workers.prepare_chunk) -> bool:
    """Train and draw the grid's missing runs a chunk at a time, until done (True),
    `should_stop()` (False; checked before every chunk) or `run_chunk` returns None (False).
    A run that is cached without its views is trained again to draw them (it is the same run,
    and the one in the cache is kept)."""
    stride = runs.snapshot_stride(key, dataset.n_features, dataset.n_outputs)
    grid = {k: s for s, k in grid_keys(settings, key)}  # key → settings, nearest first

    def ready(settings_p: Settings, key_p: TrainKey) -> bool:
        run = cache.RUNS.peek(key_p)
        return run is not None and views.have(run, settings_p, key_p)

    while not should_stop():
        missing = [(s, k) for k, s in grid.items() if not ready(s, k)][:CHUNK]
        if not missing:
            return True
        prepared = run_chunk(missing, dataset, stride)
        if prepared is None:
            return False
        for key_p, run, animation in prepared:
            cached = cache.RUNS.peek(key_p)
            if cached is None:
                cache.RUNS.put(key_p, run, prepared=True)
            views.store(run if cached is None else cached, grid[key_p], key_p, animation)
    return False


class Prefetcher:
    """One background thread handing the newest requested grid to the background worker."""

    def __init__(self) -> None:
        self.enabled = True
        self._request: tuple | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def request(self, settings: Settings, key: TrainKey, dataset: Dataset,
                views: Views) -> None:
        if not (self.enabled and st.runtime.exists()) or not worth_preparing(key, dataset):
            return
        with self._lock:
            self._request = (settings, key, dataset, views)
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
            while (cache.SCRIPTS.idle_for() < IDLE_GRACE_S or not workers.BACKGROUND.ready()) \
                    and not self._superseded(request):
                time.sleep(IDLE_POLL_S)  # a script ran lately, or the worker is starting
            try:
                done = prepare_grid(*request, should_stop=lambda r=request: self._should_stop(r),
                                    run_chunk=lambda *args: workers.BACKGROUND.run(
                                        workers.prepare_chunk, *args))
            except Exception:  # noqa: BLE001 - background work must never end the thread
                LOG.exception("preparing the p grid failed")
                done = True
            with self._lock:
                if done and not self._superseded(request):
                    self._request = None
                elif not done:
                    self._wake.set()  # a script started: go on when the server is idle again


PREFETCHER = Prefetcher()
