"""Shared fixtures: every test starts and ends with empty caches (runs, data sets, the tabs'
derived results), because AppTest runs share one process and Streamlit's caches with it; and
no p grid is prepared in the background (prefetch.py) unless a test asks for it, so that what
a test finds in the caches is what its own page runs put there; and runs train in the page's
thread, not in a worker process (workers.py), unless a test asks for one."""

from __future__ import annotations

import pytest

from dropout_viz.ui import cache, prefetch, workers


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch):
    monkeypatch.setattr(prefetch.PREFETCHER, "enabled", False)
    monkeypatch.setattr(workers.POOL, "enabled", False)  # AppTest pages train in their thread
    cache.clear_all()
    yield
    cache.clear_all()
