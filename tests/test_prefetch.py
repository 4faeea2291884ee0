"""Explore p without waiting (ui/prefetch.py): the p grid prepared ahead of use is exactly what
a p move would have built, prepared entries never push out the ones sessions asked for, a newer
grid replaces an older one at the next chunk, and the work runs in a worker process at the
lowest priority."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from dropout_viz import pipeline, tab_figures
from dropout_viz.figures import alt
from dropout_viz.settings import DEFAULTS, FIELD_SPECS
from dropout_viz.ui import action_tab, cache, prefetch, workers

SMALL = DEFAULTS.replace(epochs=12, width=8, n_samples=80)


@pytest.fixture(autouse=True)
def empty_caches():
    cache.clear_all()
    yield
    cache.clear_all()


def test_the_grid_is_the_sliders_values_nearest_first():
    spec = FIELD_SPECS["p_hidden"]
    assert prefetch.P_VALUES[0] == spec.min and prefetch.P_VALUES[-1] == spec.max
    assert np.allclose(np.diff(prefetch.P_VALUES), spec.step)
    ps = [k.p_hidden for _, k in prefetch.grid_keys(SMALL, SMALL.train_key())]
    assert sorted(ps) == [p for p in prefetch.P_VALUES if p != SMALL.p_hidden]
    assert ps[:4] == [0.45, 0.55, 0.4, 0.6]  # nearest first, the lower one of a tie first
    assert [s.p_hidden for s, _ in prefetch.grid_keys(SMALL, SMALL.train_key())] == ps


def test_prepared_runs_and_views_equal_what_a_p_move_builds():
    key = SMALL.train_key()
    dataset = pipeline.dataset_for(key.data)
    assert prefetch.prepare_grid(SMALL, key, dataset, action_tab.VIEWS,
                                 should_stop=lambda: False)
    grid = prefetch.grid_keys(SMALL, key)
    for settings_p, key_p in grid[:3] + grid[-1:]:
        prepared = cache.RUNS.peek(key_p)
        alone = pipeline.train_for(key_p, dataset,)
        for name in alone.history:
            assert np.array_equal(prepared.history[name], alone.history[name]), name
        for W, W_alone in zip(prepared.network(SMALL.epochs - 1).weights,
                              alone.network(SMALL.epochs - 1).weights, strict=True):
            assert np.array_equal(W, W_alone)
        entry = action_tab.view_key(prepared, settings_p, key_p)
        assert (json.dumps(action_tab.ANIMATIONS.peek(entry).to_dict(), default=str)
                == json.dumps(tab_figures.animation_figure(alone, settings_p).to_dict(),
                              default=str))
        assert action_tab.HISTORY_BASES.peek(entry) is not None


def test_prepared_entries_only_displace_each_other():
    lru = cache.LRUCache(max_entries=2, max_prepared=2)
    lru.put("asked 1", 1)
    lru.put("asked 2", 2)
    for i in range(3):
        lru.put(f"prepared {i}", i, prepared=True)
    assert lru.peek("asked 1") == 1 and lru.peek("asked 2") == 2  # never pushed out
    assert lru.peek("prepared 0") is None  # the oldest prepared one went first
    assert lru.get("prepared 2") == 2  # first use: an ordinary entry now...
    assert lru.peek("asked 1") is None  # ...which counts as the most recently used
    lru.put("prepared 2", -1, prepared=True)  # an ordinary entry is not replaced by preparing
    assert lru.peek("prepared 2") == 2


def test_a_newer_request_stops_the_work_at_the_next_chunk():
    key = SMALL.train_key()
    dataset = pipeline.dataset_for(key.data)
    chunks = []

    def run_chunk(items, data, stride):
        chunks.append([k.p_hidden for _, k in items])
        return workers.prepare_chunk(items, data, stride)

    assert not prefetch.prepare_grid(SMALL, key, dataset, action_tab.VIEWS,
                                     should_stop=lambda: len(chunks) == 1, run_chunk=run_chunk)
    assert chunks == [[0.45, 0.55, 0.4, 0.6]]  # the nearest values, trained together
    assert len(cache.RUNS) == prefetch.CHUNK and len(action_tab.ANIMATIONS) == prefetch.CHUNK
    assert not prefetch.prepare_grid(SMALL, key, dataset, action_tab.VIEWS,
                                     should_stop=lambda: False, run_chunk=lambda *_: None)


def test_slow_or_large_runs_are_not_prepared():
    dataset = pipeline.dataset_for(SMALL.train_key().data)
    assert prefetch.worth_preparing(DEFAULTS.train_key(), pipeline.dataset_for(
        DEFAULTS.train_key().data))
    assert not prefetch.worth_preparing(SMALL.replace(epochs=1000, batch_size=1).train_key(),
                                        dataset)
    assert not prefetch.worth_preparing(SMALL.replace(width=256, n_layers=4).train_key(),
                                        dataset)


def test_nothing_is_prepared_without_a_server():
    key = SMALL.train_key()
    worker = prefetch.Prefetcher()
    worker.request(SMALL, key, pipeline.dataset_for(key.data), action_tab.VIEWS)
    assert worker._thread is None and len(cache.RUNS) == 0


def test_the_page_asks_for_the_grid_after_showing_a_run(monkeypatch):
    asked = []
    monkeypatch.setattr(prefetch.PREFETCHER, "request", lambda *args: asked.append(args))
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"),
                           default_timeout=60)
    at.query_params.update({"epochs": "12", "width": "8", "n_samples": "80"})
    at.run()
    [(settings, key, dataset, views)] = asked
    assert key == SMALL.train_key() and settings.train_key() == key
    assert views is action_tab.VIEWS


def test_a_worker_at_the_lowest_priority_prepares_the_grid_when_no_script_runs(monkeypatch):
    monkeypatch.setattr(prefetch.st.runtime, "exists", lambda: True)
    monkeypatch.setattr(prefetch, "IDLE_GRACE_S", 0.3)
    background = workers.WorkerPool(workers.BACKGROUND_NICE)
    monkeypatch.setattr(workers, "BACKGROUND", background)
    try:
        pid = background.worker_pid()
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19  # only time nothing else wants
        key = SMALL.train_key()
        dataset = pipeline.dataset_for(key.data)
        prefetcher = prefetch.Prefetcher()
        with cache.SCRIPTS.running():  # a page script runs: nothing starts meanwhile
            prefetcher.request(SMALL, key, dataset, action_tab.VIEWS)
            time.sleep(3 * prefetch.IDLE_GRACE_S)
            assert len(cache.RUNS) == 0
        deadline = time.monotonic() + 120
        while prefetcher._request is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert prefetcher._request is None  # done
        for settings_p, key_p in prefetch.grid_keys(SMALL, key):
            run = cache.RUNS.peek(key_p)
            assert run is not None and run.epochs_completed == SMALL.epochs
            entry = action_tab.view_key(run, settings_p, key_p)
            assert action_tab.ANIMATIONS.peek(entry) is not None
            assert action_tab.HISTORY_BASES.peek(entry) is not None
        alone = pipeline.train_for(key_p, dataset)  # the farthest p, from the worker
        assert np.array_equal(run.final_params, alone.final_params)
        assert (json.dumps(action_tab.ANIMATIONS.peek(entry).to_dict(), default=str)
                == json.dumps(tab_figures.animation_figure(alone, settings_p).to_dict(),
                              default=str))  # it came through the pipe intact
        assert alt.history_alt(action_tab.HISTORY_BASES.peek(entry))  # as the page reads it
    finally:
        background.shutdown()


def test_a_grid_whose_runs_are_cached_without_views_gets_them_drawn():
    # The same runs, other views: projector mode draws its own animations. The cached runs
    # are kept (the views belong to them) and the animations are drawn for that mode.
    key = SMALL.train_key()
    dataset = pipeline.dataset_for(key.data)
    assert prefetch.prepare_grid(SMALL, key, dataset, action_tab.VIEWS, should_stop=lambda: False)
    runs_before = {k: cache.RUNS.peek(k) for _, k in prefetch.grid_keys(SMALL, key)}
    projector = SMALL.replace(projector=True)
    assert projector.train_key() == key
    for settings_p, key_p in prefetch.grid_keys(projector, key):
        assert not action_tab.has_views(runs_before[key_p], settings_p, key_p)

    assert prefetch.prepare_grid(projector, key, dataset, action_tab.VIEWS,
                                 should_stop=lambda: False)
    for settings_p, key_p in prefetch.grid_keys(projector, key):
        assert cache.RUNS.peek(key_p) is runs_before[key_p]
        animation = action_tab.ANIMATIONS.peek(
            action_tab.view_key(runs_before[key_p], settings_p, key_p))
        assert animation.spec["layout"]["height"] == tab_figures.animation_figure(
            runs_before[key_p], settings_p).spec["layout"]["height"]


def test_a_page_run_and_the_view_it_runs_count_as_one_script_and_the_view_alone_as_one():
    """The prefetch waits for the server to be idle: a run of the page's view alone (a p move,
    page.py) is a script like the page's own, and the view inside the page's run is not a
    second one (which would make the page look shared with another, workers.py)."""
    counts = []
    view = cache.SCRIPTS.counted(lambda: counts.append((bool(cache.SCRIPTS),
                                                        cache.SCRIPTS.shared())))
    page = cache.SCRIPTS.counted(view)
    page()
    view()
    assert counts == [(True, False), (True, False)]
    assert not cache.SCRIPTS and cache.SCRIPTS.idle_for() > 0
