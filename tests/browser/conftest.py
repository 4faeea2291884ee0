"""Fixtures for the end-to-end tests: one Streamlit server per module, one Chromium browser."""

from __future__ import annotations

import pytest
from harness import StreamlitServer, chromium, new_page
from playwright.sync_api import sync_playwright


def pytest_collection_modifyitems(items):
    """All browser tests on one xdist worker: one Chromium and one server at a time, while the
    other worker runs the rest of the suite."""
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with StreamlitServer(log_path=log) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright, chromium(playwright) as launched:
        yield launched


@pytest.fixture
def page(browser):
    with new_page(browser) as opened:
        yield opened
