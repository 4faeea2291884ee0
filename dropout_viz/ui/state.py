"""The page's state: one `Settings` object, read from the widgets and mirrored in the URL.

Each Settings field has a widget whose session-state key is the field's name. On a session's
first run the URL seeds those keys (bad values fall back to defaults with a warning); on every
run the settings are rebuilt from the keys and written back to the URL, so a copied link
reopens the same page. The open tab travels in the URL as `tab`.

The hand-made sub-network of the "Build a sub-network" tab travels as `drop=1.3,1.7` (layer.unit
items, handmade.py). It is not a field of the settings table: which items are valid depends on
the network (its layers and widths, and the data set's inputs), which a table entry cannot
check on its own, and it never changes what is trained. So it is read here, beside the table,
with the same kind of warning: junk syntax when the link is read, unknown units when the tab
meets the network.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dropout_viz.handmade import DROP_PARAM, format_drop, parse_drop
from dropout_viz.presets import settings_from_link
from dropout_viz.settings import (
    DEFAULTS,
    FIELD_SPECS,
    TABS,
    Settings,
    to_query_params,
)
from dropout_viz.ui import upload

INITIALISED = "_settings_initialised"
WARNINGS = "_url_warnings"
TAB_KEY = "tab"  # URL parameter naming the open tab
TAB_WIDGET = "_tab_label"  # session-state key of the st.tabs widget (holds the label)
# Present mode (ui/classroom.py) travels in the URL as `present=1`: how this screen shows the
# page, not a setting (a shared link for the class leaves it out).
PRESENT_KEY = "present"
PRESENT_WIDGET = "_present"
TAB_LABELS = {"action": "Dropout in action", "ensemble": "Thinned sub-networks",
              "experiments": "Experiments", "learn": "Learn",
              "handmade": "Build a sub-network"}
DROPPED = "_handmade_dropped"  # the hand-made sub-network's dropped units, (layer, unit) pairs
DROP_TAB = "handmade"  # the tab a drop= link opens (unless it names another)


def open_tab(tab: str) -> None:
    st.session_state[TAB_WIDGET] = TAB_LABELS[tab]


def current_tab() -> str:
    label = st.session_state.get(TAB_WIDGET)
    return next((slug for slug, text in TAB_LABELS.items() if text == label), TABS[0])


def dropped() -> tuple[tuple[int, int], ...]:
    return st.session_state.get(DROPPED, ())


def set_dropped(units) -> None:
    st.session_state[DROPPED] = tuple(sorted(set(units)))


def widget_value(name: str, value: Any) -> Any:
    """A Settings value as its widget holds it (multiselect wants a list)."""
    return list(value) if FIELD_SPECS[name].kind == "names" else value


def load_into_session(settings: Settings) -> None:
    """Set every widget's value from `settings` (a preset, a link, or the defaults)."""
    for name in FIELD_SPECS:
        st.session_state[name] = widget_value(name, getattr(settings, name))


# Controls drawn inside a tab (only while it is open) rather than in the sidebar.
TAB_CONTROLS = {"ensemble": ("k_subnets", "gallery_source", "ensemble_kind", "uncertainty"),
                "experiments": ("sweep_mode",)}


def keep_undrawn_tab_controls() -> None:
    """Streamlit forgets a widget's value on a run that does not draw it, so the controls of
    the tabs that are closed in this run are written back through the Session State API.

    Only those: writing a key whose widget IS drawn in this run would push that value to the
    browser, and a run interrupted by a newer slider move could then undo the move.
    """
    open_controls = TAB_CONTROLS.get(current_tab(), ())
    for controls in TAB_CONTROLS.values():
        for name in controls:
            if name not in open_controls and name in st.session_state:
                st.session_state[name] = st.session_state[name]


def init_session() -> None:
    """On a session's first run, read the settings from the URL (never raises)."""
    if st.session_state.get(INITIALISED):
        keep_undrawn_tab_controls()
        return
    params = {key: st.query_params.get_all(key) for key in st.query_params}
    tab = params.pop(TAB_KEY, [None])[-1]
    st.session_state[PRESENT_WIDGET] = params.pop(PRESENT_KEY, ["0"])[-1] in ("1", "true")
    drop = params.pop(DROP_PARAM, None)
    settings, warnings = settings_from_link(params)
    if drop:
        units, drop_warnings = parse_drop(drop[-1])
        set_dropped(units)
        warnings.extend(drop_warnings)
        tab = tab or DROP_TAB
    if tab is not None and tab not in TABS:
        warnings.append(f"Ignored 'tab={str(tab)[:40]}': must be one of {', '.join(TABS)}.")
        tab = None
    load_into_session(settings)
    open_tab(tab or TABS[0])
    st.session_state[WARNINGS] = warnings
    st.session_state[INITIALISED] = True


def _normalise(name: str, value: Any) -> Any:
    spec = FIELD_SPECS[name]
    if spec.kind == "float" and isinstance(value, float) and spec.step and not spec.log:
        # Slider arithmetic gives 0.35000000000000003; keep settings (and URLs) exact.
        return round(value, 10)
    if spec.kind == "names":
        return tuple(value or ())
    return value


def current_settings() -> Settings:
    """Settings from the widgets' values; a value that does not fit is reset with a message."""
    values = {}
    for name in FIELD_SPECS:
        value = _normalise(name, st.session_state.get(name, getattr(DEFAULTS, name)))
        try:
            FIELD_SPECS[name].check(value)
        except ValueError as error:
            st.session_state.setdefault(WARNINGS, []).append(f"{error}; using the default.")
            value = getattr(DEFAULTS, name)
            st.session_state[name] = widget_value(name, value)
        values[name] = value
    if values["dataset"] == upload.UPLOAD and upload.current() is None:
        # A link (or a stale session) asks for an upload this session does not hold.
        st.session_state.setdefault(WARNINGS, []).append(
            f"dataset=upload needs a CSV file, and a link cannot carry one: showing "
            f"{DEFAULTS.dataset} instead. Upload the file in the sidebar's Data group.")
        values["dataset"] = st.session_state["dataset"] = DEFAULTS.dataset
    return Settings(**values)


def sync_url(settings: Settings, tab: str) -> None:
    """Mirror the settings (only what differs from the defaults) and the tab in the URL."""
    params = to_query_params(settings)
    if tab != TABS[0]:
        params[TAB_KEY] = tab
    if st.session_state.get(PRESENT_WIDGET):
        params[PRESENT_KEY] = "1"
    if dropped():
        params[DROP_PARAM] = format_drop(dropped())
    if params != st.query_params.to_dict():
        st.query_params.from_dict(params)


def take_warnings() -> list[str]:
    """Warnings collected since the last run (URL problems, reset values), shown once."""
    warnings = st.session_state.get(WARNINGS, [])
    st.session_state[WARNINGS] = []
    return warnings
