"""Shared fixtures: every test starts and ends with empty caches (runs, data sets, the tabs'
derived results), because AppTest runs share one process and Streamlit's caches with it."""

from __future__ import annotations

import pytest

from dropout_viz.ui import cache


@pytest.fixture(autouse=True)
def fresh_caches():
    cache.clear_all()
    yield
    cache.clear_all()
