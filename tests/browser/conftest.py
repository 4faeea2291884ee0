"""Fixtures for the end-to-end tests: one Streamlit server per module, one Chromium browser."""

from __future__ import annotations

import pytest
from harness import StreamlitServer, chromium
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
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()
