"""Work in worker processes, so that it uses the machine's other core: quick training runs,
and the p grid prepared ahead of use (prefetch.py).

The server's sessions are threads of one process and take turns on Python's GIL: twenty
students moving p at once, each under a seed of their own, trained one run after another on one
core while the other idled. A run that takes under QUICK_RUN_S (most of what the sliders
reach) is sent to a worker process instead while other pages compute (runs.get_run; for a page
alone the round trip costs more than it saves); the session's thread waits for it without
holding the GIL or a compute slot (cache.COMPUTE_SLOTS), and the server draws and sends other
sessions' pages meanwhile. A worker runs the very same `engine.train` with one BLAS thread, as
the server does (page.limit_blas_threads), so the run is the run: tests/test_workers.py checks
that the weights are identical.

Longer runs stay in the session's thread (runs.py): they show a progress bar and a Stop button,
which need the training to call back into the page. The p grid has a worker of its own at the
lowest priority (nice 19), so it only ever takes processor time that nothing else wants.

Off without a Streamlit server and when `enabled` is False (the tests' AppTest pages); while a
worker starts, or if it died, its work is done in the server as before, so a page never waits
for or fails because of a worker.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import streamlit as st
from threadpoolctl import threadpool_limits

from dropout_viz.data import Dataset
from dropout_viz.engine import TrainConfig, TrainingRun, train
from dropout_viz.figures.spec import AnimatedFigure
from dropout_viz.pipeline import train_together
from dropout_viz.settings import Settings, TrainKey
from dropout_viz.tab_figures import animation_figure

QUICK_RUN_S = 1.0  # runs estimated to take longer train in the session's thread
BACKGROUND_NICE = 19  # the p grid's worker (prefetch.py) takes only otherwise idle time
LOG = logging.getLogger(__name__)


def _start_worker(niceness: int) -> None:
    threadpool_limits(1, user_api="blas")  # as the server: the same floats
    os.nice(niceness)


def _ready() -> int:
    return os.getpid()


def train_quick_run(dataset: Dataset, config: TrainConfig, store_weights: int) -> TrainingRun:
    """What the training worker runs: the engine's training, nothing else."""
    return train(dataset, config, store_weights=store_weights)


def prepare_chunk(items: list[tuple[Settings, TrainKey]], dataset: Dataset,
                  store_weights: int) -> list[tuple[TrainKey, TrainingRun, AnimatedFigure]]:
    """What the background worker runs for a chunk of the p grid: the runs trained together
    (`train_many`: each the run it would be alone) and each run's animation drawn, the
    costliest figure. (A plain spec, it crosses processes as it is; a go.Figure would come back
    with its arrays still encoded, so the training curves are drawn in the server.)"""
    trained = train_together([key for _, key in items], dataset, store_weights=store_weights)
    return [(key, run, animation_figure(run, settings))
            for (settings, key), run in zip(items, trained, strict=True)]


class WorkerPool:
    """One worker process, started on first use ("spawn": the server's threads are not
    copied into it), at the given niceness."""

    def __init__(self, niceness: int = 0) -> None:
        self.enabled = True
        self.niceness = niceness
        self._pool: ProcessPoolExecutor | None = None
        self._started: Future | None = None  # done once the worker has imported everything
        self._lock = threading.Lock()

    def _ready_pool(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker, initargs=(self.niceness,))
                self._started = self._pool.submit(_ready)
            return self._pool if self._started.done() else None

    def start(self) -> None:
        """Start the worker ahead of use (`start_when_idle`)."""
        if self.enabled and st.runtime.exists():
            self._ready_pool()

    def _started_pool(self) -> ProcessPoolExecutor | None:
        with self._lock:
            return self._pool if self._pool is not None and self._started.done() else None

    def ready(self) -> bool:
        """Whether the worker has started and takes work."""
        return self._started_pool() is not None

    def worker_pid(self, timeout_s: float = 120.0) -> int:
        self._ready_pool()
        return self._started.result(timeout=timeout_s)

    def run(self, function, *args):
        """`function(*args)` in the worker, or None when no worker can take it now (then the
        caller does the work). An error of the work itself is raised here as it would be in
        the caller's thread."""
        pool = self._started_pool() if self.enabled and st.runtime.exists() else None
        if pool is None:  # not started yet (start_when_idle), or off
            return None
        try:
            return pool.submit(function, *args).result()
        except BrokenProcessPool:  # the worker died (killed, out of memory): start afresh
            LOG.exception("a worker process died; the work is done in the server")
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            self._ready_pool()  # a new worker, ready for the next work
            return None

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(cancel_futures=True)


POOL = WorkerPool()  # sessions' quick runs (runs.py)
BACKGROUND = WorkerPool(BACKGROUND_NICE)  # the p grid (prefetch.py)
_STARTING = threading.Lock()  # held once: the first page run starts the starter thread


def start_when_idle(is_idle, poll_s: float = 0.1) -> None:
    """Start both workers from a background thread once `is_idle()`: a worker's start (a new
    interpreter importing NumPy, Plotly and Streamlit) would otherwise compete with the first
    pages of a freshly started server. Until then runs train in the session's thread, and no
    p grid is prepared."""
    if not st.runtime.exists() or not _STARTING.acquire(blocking=False):
        return

    def start() -> None:
        while not is_idle():
            time.sleep(poll_s)
        POOL.start()
        BACKGROUND.start()

    threading.Thread(target=start, name="start workers", daemon=True).start()

