"""The page: settings from the URL and the sidebar, then the view: p, the open tab (only it
computes), the link to share.

Moving p reruns the view alone where that is safe (a fragment): Streamlit then leaves the
sidebar's forty controls as they are, and the server and the browser only redo what p changes.
A fragment's rerun cannot be interrupted by a newer one (fast reruns are for whole pages), so
the view is a fragment only while its work is quick: the first tab, with runs that end before a
progress bar and its Stop button would show. A view rerun that would change anything outside
it (a lesson step sets every control, the preset picker's caption) reruns the page.
"""

from __future__ import annotations

import functools
import logging

import streamlit as st
from threadpoolctl import threadpool_limits

from dropout_viz import pipeline
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
VIEW_DRAWN_FOR = "_view_drawn_for"  # session key: (a fragment?, the sidebar it sits beside)


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


def quick_view(settings) -> bool:
    """Whether the view runs as a fragment: the first tab is open and its run (for any p)
    trains before a progress bar would show (runs.SHOW_PROGRESS_AFTER_S)."""
    if state.current_tab() != TABS[0]:
        return False
    try:
        key = cache.resolve(settings)
        dataset = cache.get_dataset(key.data)
    except ValueError:
        return False
    seconds = pipeline.estimated_training_s_on(key, dataset)
    return seconds <= runs.SHOW_PROGRESS_AFTER_S


def drawn_for(settings) -> tuple:
    return quick_view(settings), sidebar.shown(settings)


@cache.SCRIPTS.counted
def main() -> None:
    state.init_session()
    # Present mode (a URL flag) starts with the sidebar closed, and keeps it as the user sets it.
    st.set_page_config(page_title="dropout_viz — dropout made visible", page_icon="🎲",
                       layout="wide",
                       initial_sidebar_state="collapsed" if classroom.present() else "auto")
    settings = state.current_settings()
    slots = sidebar.render(settings)
    for warning in state.take_warnings():
        st.warning(warning)
    limit_blas_threads()  # before anything computes
    workers.start_when_idle(lambda: cache.SCRIPTS.idle_for() >= WORKER_START_IDLE_S)
    st.session_state[VIEW_DRAWN_FOR] = drawn_for(settings)
    (st.fragment(view) if st.session_state[VIEW_DRAWN_FOR][0] else view)(slots)


@cache.SCRIPTS.counted
def view(slots: sidebar.Slots) -> None:
    """What p changes: its slider (in the sidebar, or present mode's bar), the lesson panel,
    the notes, the open tab, the link to share and the URL."""
    settings = state.current_settings()
    if drawn_for(settings) != st.session_state.get(VIEW_DRAWN_FOR):
        st.rerun()  # a rerun of the view alone would leave the rest of the page stale
    hidden = settings.hidden_controls
    if classroom.p_on_page(hidden):  # present mode: p on the page, not in the closed sidebar
        classroom.present_bar(lambda: sidebar.control("p_hidden"))
    elif slots.p is not None:
        with slots.p:
            sidebar.control("p_hidden")
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
    with slots.link:
        classroom.link_box(settings, state.current_tab())
    state.sync_url(settings, state.current_tab())
