"""Fixtures for the end-to-end tests: one Streamlit server per module, one Chromium browser."""

from __future__ import annotations

import pytest
from harness import StreamlitServer, chromium, new_page
from playwright.sync_api import sync_playwright


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
