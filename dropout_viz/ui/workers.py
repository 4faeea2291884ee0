"""Quick training runs in a worker process, so that they use the machine's other core.

The server's sessions are threads of one process and take turns on Python's GIL: twenty
students moving p at once, each under a seed of their own, trained one run after another on one
core while the other idled. A run that takes under QUICK_RUN_S (most of what the sliders
reach) is sent to a worker process instead; the session's thread waits for it without holding
the GIL or a compute slot (cache.COMPUTE_SLOTS), and the server draws and sends other
sessions' pages meanwhile. A worker runs the very same `engine.train` with one BLAS thread, as
the server does (page.limit_blas_threads), so the run is the run: tests/test_workers.py checks
that the weights are identical.

Longer runs stay in the session's thread (runs.py): they show a progress bar and a Stop button,
which need the training to call back into the page. Off without a Streamlit server and when
`enabled` is False (the tests' AppTest pages); while the worker starts, or if it died, runs
train in the session's thread as before, so a page never waits for or fails because of it.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import streamlit as st
from threadpoolctl import threadpool_limits

from dropout_viz.data import Dataset
from dropout_viz.engine import TrainConfig, TrainingRun, train

QUICK_RUN_S = 1.0  # runs estimated to take longer train in the session's thread
N_WORKERS = 1  # the server process keeps one core busy drawing and sending pages
LOG = logging.getLogger(__name__)


def _start_worker() -> None:
    threadpool_limits(1, user_api="blas")  # as the server: the same floats


def _ready() -> bool:
    return True


def train_quick_run(dataset: Dataset, config: TrainConfig, store_weights: int) -> TrainingRun:
    """What a worker runs: the engine's training, nothing else."""
    return train(dataset, config, store_weights=store_weights)


class TrainingPool:
    """A process pool started on first use ("spawn": the server's threads are not copied)."""

    def __init__(self) -> None:
        self.enabled = True
        self._pool: ProcessPoolExecutor | None = None
        self._started: Future | None = None  # done once a worker has imported everything
        self._lock = threading.Lock()

    def _ready_pool(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    N_WORKERS, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker)
                self._started = self._pool.submit(_ready)
            return self._pool if self._started.done() else None

    def start(self) -> None:
        """Start the worker ahead of the first run (the page calls this on every run)."""
        if self.enabled and st.runtime.exists():
            self._ready_pool()

    def train(self, dataset: Dataset, config: TrainConfig,
              store_weights: int) -> TrainingRun | None:
        """The run trained in a worker, or None when no worker can take it now (then the
        caller trains it). An error of the training itself is raised here as it would be
        in the caller's thread."""
        if not (self.enabled and st.runtime.exists()):
            return None
        pool = self._ready_pool()
        if pool is None:
            return None
        try:
            return pool.submit(train_quick_run, dataset, config, store_weights).result()
        except BrokenProcessPool:  # a worker died (killed, out of memory): start afresh
            LOG.exception("the training worker died; training in the session's thread")
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            return None


POOL = TrainingPool()
