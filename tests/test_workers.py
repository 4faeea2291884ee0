"""Quick runs trained in a worker process (ui/workers.py) are the runs the page's thread trains;
a dead worker costs nothing but a new one. (The p grid's worker: tests/test_prefetch.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from dropout_viz import pipeline
from dropout_viz.engine import train
from dropout_viz.settings import DEFAULTS
from dropout_viz.ui import cache, runs, workers


@pytest.fixture
def pool(monkeypatch):
    """A pool of its own, as under a Streamlit server, shut down after the test."""
    monkeypatch.setattr(workers.st.runtime, "exists", lambda: True)
    pool = workers.WorkerPool()
    pool.worker_pid()  # the worker has started
    yield pool
    pool.shutdown()


def assert_same_run(a, b) -> None:
    assert a.epochs_completed == b.epochs_completed
    assert a.history.keys() == b.history.keys()
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name])
    for name in ("initial_params", "final_params", "params_by_epoch"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("changes", [{}, {"mask_scope": "example", "convention": "standard"},
                                     {"dataset": "sine", "n_samples": 60}])
def test_a_run_from_the_worker_is_the_run_trained_here(pool, changes):
    key = DEFAULTS.replace(**changes, epochs=30).train_key()
    dataset = pipeline.dataset_for(key.data)
    stride = runs.snapshot_stride(key, dataset.n_features, dataset.n_outputs)
    from_worker = pool.run(workers.train_quick_run, dataset, pipeline.config_for(key), stride)
    with threadpool_limits(1, user_api="blas"):  # as the server and the worker
        here = train(dataset, pipeline.config_for(key), store_weights=stride)
    assert_same_run(from_worker, here)


def test_a_dead_worker_means_training_here_then_a_new_worker(pool):
    key = DEFAULTS.replace(epochs=5).train_key()
    dataset = pipeline.dataset_for(key.data)
    config = pipeline.config_for(key)
    for process in list(pool._pool._processes.values()):
        process.kill()
        process.join()
    assert pool.run(workers.train_quick_run, dataset, config, 1) is None  # trained here
    pool.worker_pid()  # a new worker
    assert pool.run(workers.train_quick_run, dataset, config, 1).epochs_completed == 5


def test_no_worker_without_a_server():
    key = DEFAULTS.replace(epochs=5).train_key()
    dataset = pipeline.dataset_for(key.data)
    pool = workers.WorkerPool()
    assert pool.run(workers.train_quick_run, dataset, pipeline.config_for(key), 1) is None
    assert pool._pool is None  # no process started


def test_a_quick_run_goes_to_the_worker_only_while_another_page_computes(monkeypatch):
    """For a page alone the worker's round trip (the run pickled there and back) costs more
    than it saves; with other pages computing it frees the server's GIL for them."""
    sent = []

    class Pool:  # a worker that is ready, and runs what it is sent right here
        def ready(self) -> bool:
            return True

        def run(self, function, *args):
            sent.append(function)
            return function(*args)

    monkeypatch.setattr(workers, "POOL", Pool())
    key = DEFAULTS.replace(epochs=5).train_key()
    with cache.SCRIPTS.running():  # this page's script alone
        alone = runs.get_run(key, session={}, session_id="alone")
    assert sent == [] and alone.epochs_completed == 5
    cache.clear_all()
    with cache.SCRIPTS.running(), cache.SCRIPTS.running():  # and another page's
        shared = runs.get_run(key, session={}, session_id="shared")
    assert sent == [workers.train_quick_run]
    assert_same_run(shared, alone)
