"""The page: settings from the URL and the sidebar, then the open tab (only it computes)."""

from __future__ import annotations

import importlib

import streamlit as st

from dropout_viz.settings import TABS
from dropout_viz.ui import sidebar, state

# Each tab is a module in dropout_viz/ui/ with render(settings).
TAB_MODULES = {"action": "action_tab", "ensemble": "ensemble_tab",
               "experiments": "experiments_tab", "learn": "learn_tab"}


def main() -> None:
    st.set_page_config(page_title="dropout_viz — dropout made visible", page_icon="🎲",
                       layout="wide")
    state.init_session()
    settings = state.current_settings()
    sidebar.render(hidden=settings.hidden_controls)
    for warning in state.take_warnings():
        st.warning(warning)

    tabs = st.tabs([state.TAB_LABELS[t] for t in TABS], key=state.TAB_WIDGET, on_change="rerun")
    for slug, tab in zip(TABS, tabs):
        if tab.open:
            with tab:
                module = importlib.import_module(f"dropout_viz.ui.{TAB_MODULES[slug]}")
                module.render(settings)
    state.sync_url(settings, state.current_tab())
