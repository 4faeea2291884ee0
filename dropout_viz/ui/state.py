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

A guided lesson (a preset's steps, presets.py) travels as `step=N` (1-based) beside
`preset=NAME`. Entering a step sets its settings and opens its tab once; after that the controls
are the user's, as always. Its place in the session is a position: 2 × step, plus 1 while its
answer shows, so "forward" (a Next key) is always one more.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dropout_viz.handmade import DROP_PARAM, format_drop, parse_drop
from dropout_viz.presets import STEP_PARAM, Preset, lesson_from_link, load_presets, step_settings
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
LESSON_STEP = "_lesson_step"  # 0-based step of the running guided lesson, or None
LESSON_REVEALED = "_lesson_revealed"  # whether that step's answer shows


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


def lesson() -> tuple[Preset, int] | None:
    """The running guided lesson and its step (0-based): the applied preset's, if it has one."""
    index = st.session_state.get(LESSON_STEP)
    preset = load_presets().get(st.session_state.get("preset", ""))
    if index is None or preset is None or not 0 <= index < len(preset.steps):
        return None
    return preset, index


def enter_step(preset: Preset, index: int) -> None:
    """Set step `index`'s settings (keeping this screen's projector mode and hidden controls),
    open its tab, and hide its answer."""
    load_into_session(step_settings(preset, index, base=current_settings()))
    open_tab(preset.steps[index].tab)
    st.session_state[LESSON_STEP] = index
    st.session_state[LESSON_REVEALED] = False


def reenter_step() -> None:
    """Back to the running step's settings (and tab); its answer stays as it was."""
    current, revealed = lesson(), st.session_state.get(LESSON_REVEALED)
    if current is not None:
        enter_step(*current)
        st.session_state[LESSON_REVEALED] = revealed


def end_lesson() -> None:
    st.session_state[LESSON_STEP] = None
    st.session_state[LESSON_REVEALED] = False


def lesson_position() -> tuple[int, int] | None:
    """(position, last position) of the running lesson: 2 × step + 1 while the answer shows."""
    current = lesson()
    if current is None:
        return None
    preset, index = current
    return 2 * index + bool(st.session_state.get(LESSON_REVEALED)), 2 * len(preset.steps) - 1


def go_to_position(position: int) -> None:
    """Move the lesson to `position` (clamped): a new step is entered, the same step only shows
    or hides its answer (the controls stay as the user set them)."""
    current = lesson()
    if current is None:
        return
    preset, index = current
    position = min(max(int(position), 0), 2 * len(preset.steps) - 1)
    if position // 2 != index:
        enter_step(preset, position // 2)
    st.session_state[LESSON_REVEALED] = bool(position % 2)


def init_session() -> None:
    """On a session's first run, read the settings from the URL (never raises)."""
    if st.session_state.get(INITIALISED):
        keep_undrawn_tab_controls()
        return
    params = {key: st.query_params.get_all(key) for key in st.query_params}
    tab = params.pop(TAB_KEY, [None])[-1]
    st.session_state[PRESENT_WIDGET] = params.pop(PRESENT_KEY, ["0"])[-1] in ("1", "true")
    drop = params.pop(DROP_PARAM, None)
    settings, step, warnings = lesson_from_link(params)
    st.session_state[LESSON_STEP], st.session_state[LESSON_REVEALED] = step, False
    if step is not None:
        tab = tab or load_presets()[settings.preset].steps[step].tab
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
    if lesson() is not None:
        params[STEP_PARAM] = str(lesson()[1] + 1)
    if params != st.query_params.to_dict():
        st.query_params.from_dict(params)


def take_warnings() -> list[str]:
    """Warnings collected since the last run (URL problems, reset values), shown once."""
    warnings = st.session_state.get(WARNINGS, [])
    st.session_state[WARNINGS] = []
    return warnings
