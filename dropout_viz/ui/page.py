"""The page: settings from the URL and the sidebar, then the open tab (only it computes)."""

from __future__ import annotations

import functools
import logging

import streamlit as st
from threadpoolctl import threadpool_limits

from dropout_viz.data import GAP_INTERVAL
from dropout_viz.settings import TABS
from dropout_viz.ui import (
    action_tab,
    cache,
    classroom,
    ensemble_tab,
    experiments_tab,
    handmade_tab,
    learn_tab,
    lesson_panel,
    runs,
    sidebar,
    state,
    workers,
)

# Each tab is a module with render(settings, key); only the open one runs. `key` is the
# settings' resolved identity (cache.resolve), from which every cached result derives its key.
TAB_RENDERERS = {"action": action_tab.render, "ensemble": ensemble_tab.render,
                 "experiments": experiments_tab.render, "learn": learn_tab.render,
                 "handmade": handmade_tab.render}
LOG = logging.getLogger(__name__)
# The worker processes start once no script has run for this long (workers.start_when_idle).
WORKER_START_IDLE_S = 3.0


@functools.cache  # once per server process: the limit is process-wide
def limit_blas_threads() -> None:
    """One BLAS thread for the whole server: the page's matrices are small (a 100×100 grid
    through a 64-wide layer), where a second thread costs more in hand-over than it saves, and
    sessions already run in parallel threads. threadpoolctl comes with scikit-learn."""
    threadpool_limits(1, user_api="blas")


def data_notes(settings, key) -> list[str]:
    """Facts about the data that change what the settings mean: the batch is clamped to n;
    the gap's points all go to the test split, whatever the test fraction."""
    dataset = cache.get_dataset(key.data)
    n_train, n_test = len(dataset.y_train), len(dataset.y_test)
    notes = []
    if settings.batch_size > n_train:
        notes.append(f"Batch size {settings.batch_size} is larger than the {n_train} training "
                     f"points, so every step uses all {n_train} (full-batch training).")
    if dataset.name == "gap":
        low, high = GAP_INTERVAL
        x_test = dataset.unstandardize(dataset.X_test)[:, 0]
        in_gap = int(((x_test > low) & (x_test < high)).sum())
        notes.append(f"Gap: no training point lies between x = {low:g} and {high:g}; the "
                     f"{in_gap} points there are all test points, so the test split holds "
                     f"{n_test} of the {n_train + n_test} points (test fraction "
                     f"{settings.test_fraction:g}). Its test MSE includes the gap.")
    return notes


def render_tab(slug: str, settings, key) -> None:
    """One tab; an unexpected error becomes a message (the settings stay as they are)."""
    try:
        TAB_RENDERERS[slug](settings, key)
    except runs.LongRun as long_run:
        runs.ask_to_start(long_run)
    except Exception as error:  # noqa: BLE001 - a student must never get a traceback box
        LOG.exception("tab %s failed", slug)
        st.error(f"Something went wrong while drawing \"{state.TAB_LABELS[slug]}\": "
                 f"{type(error).__name__}: {str(error)[:300]}. Your settings are kept: change "
                 "a setting or open another tab to go on.")


@cache.SCRIPTS.counted
def main() -> None:
    state.init_session()
    # Present mode (a URL flag) starts with the sidebar closed, and keeps it as the user sets it.
    st.set_page_config(page_title="dropout_viz — dropout made visible", page_icon="🎲",
                       layout="wide",
                       initial_sidebar_state="collapsed" if classroom.present() else "auto")
    settings = state.current_settings()
    sidebar.render(settings)
    for warning in state.take_warnings():
        st.warning(warning)
    limit_blas_threads()  # before anything computes
    workers.start_when_idle(lambda: cache.SCRIPTS.idle_for() >= WORKER_START_IDLE_S)
    lesson_panel.render(settings)
    key = cache.resolve(settings)
    try:
        notes = data_notes(settings, key)
    except ValueError as error:
        notes = [f"The data set could not be made: {error}"]
    for note in notes:
        st.info(note)

    tabs = st.tabs([state.TAB_LABELS[t] for t in TABS], key=state.TAB_WIDGET, on_change="rerun")
    for slug, tab in zip(TABS, tabs):
        if tab.open:
            with tab:
                render_tab(slug, settings, key)
    state.sync_url(settings, state.current_tab())
