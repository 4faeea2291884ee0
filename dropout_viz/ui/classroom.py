"""The sidebar's "Classroom" section: projector mode, the teacher's view, and a link to share.

The teacher's view works like TensorFlow Playground's classroom flags: the link carries
`hidden_controls`, and the sidebar leaves those controls out, so a class sees only what the
lesson is about. Students are told that controls are hidden (and which), never left guessing.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from dropout_viz.settings import FIELD_SPECS, TABS, Settings, to_query_params
from dropout_viz.ui import state

HIDDEN_KEY = "hidden_controls"
PROJECTOR_KEY = "projector"
# Controls a teacher can hide: every setting (the preset picker and the teacher's view too).
HIDEABLE = tuple(FIELD_SPECS)
LABELS = {"preset": "Lesson preset picker", "hidden_controls": "Teacher's view (this box)",
          "p_hidden": "Dropout rate p (hidden)"}
# "Everything but p": what the class sees in the example lesson.
FOCUS_ON_P = tuple(name for name in HIDEABLE if name not in ("p_hidden",))

# Projector mode: bigger text everywhere (Streamlit sizes text in rem), thicker slider tracks.
# The charts get their larger fonts and lines from settings.projector.
PROJECTOR_CSS = """
<style>
html { font-size: 19px; }
[data-testid="stSlider"] [role="slider"] { width: 1.1rem; height: 1.1rem; }
</style>
"""


def label(name: str) -> str:
    return LABELS.get(name, FIELD_SPECS[name].label)


def link_query(settings: Settings, tab: str) -> str:
    """The query string that reopens this page: changed settings plus the open tab."""
    params = to_query_params(settings)
    if tab != TABS[0]:
        params[state.TAB_KEY] = tab
    return urlencode(params, safe=",")


def share_link(settings: Settings, tab: str, page_url: str | None) -> str:
    """The full link when the page's address is known, else just '?query'."""
    query = link_query(settings, tab)
    base = (page_url or "").split("?")[0]
    return f"{base}?{query}" if query else (base or "?")


def hidden_notice(hidden: tuple[str, ...]) -> str:
    names = ", ".join(label(name) for name in hidden)
    count = f"{len(hidden)} control" + ("s are" if len(hidden) != 1 else " is")
    return (f":material/lock: Teacher's view: {count} hidden by this link ({names}). They keep the "
            "values the link set.")


def _focus_on_p() -> None:
    st.session_state[HIDDEN_KEY] = list(FOCUS_ON_P)


def _show_all() -> None:
    st.session_state[HIDDEN_KEY] = []


def teachers_view() -> None:
    with st.expander("Teacher's view"):
        st.multiselect(
            "Hide these controls", HIDEABLE, key=HIDDEN_KEY, format_func=label,
            help="Hidden controls keep their values but are not shown; the link below carries "
                 "the list, so a class opening it sees only the rest.")
        focus_col, all_col = st.columns(2)
        focus_col.button("Only p", on_click=_focus_on_p, key="_hide_all_but_p",
                         help="Hide every control except the dropout rate (the tabs' own "
                              "sliders, such as the epoch, stay).")
        all_col.button("Show all", on_click=_show_all, key="_show_all_controls")
        st.caption("Hiding the teacher's view itself locks the page down for the class; "
                   "remove hidden_controls from the link to get it back.")


def link_box(settings: Settings, tab: str) -> None:
    page_url = getattr(st.context, "url", None)
    with st.popover("Copy this link", icon=":material/link:", width="stretch",
                    help="A link that reopens this page with these settings and this tab."):
        st.code(share_link(settings, tab, page_url), language=None, wrap_lines=True)
        if page_url:
            st.caption("Copy it with the button in the box's corner.")
        else:
            st.caption("The page's address is not known here: add this query string to the "
                       "address in your browser's bar.")


def keep_hidden_values(hidden: tuple[str, ...]) -> None:
    """Streamlit forgets the value of a widget that is not drawn in a run; writing the value
    back through the Session State API keeps a hidden control's value (the link's, or the
    one it had before it was hidden)."""
    for name in hidden:
        if name in st.session_state:
            st.session_state[name] = st.session_state[name]


def render(hidden: tuple[str, ...] = ()) -> None:
    """Draw the Classroom section at the end of the sidebar (after every other control)."""
    keep_hidden_values(hidden)
    with st.sidebar:
        st.subheader("Classroom")
        if hidden:
            st.caption(hidden_notice(hidden))
        if PROJECTOR_KEY not in hidden:
            st.toggle(label(PROJECTOR_KEY), key=PROJECTOR_KEY, help=FIELD_SPECS[PROJECTOR_KEY].help)
        if st.session_state.get(PROJECTOR_KEY):
            st.html(PROJECTOR_CSS)
        if HIDDEN_KEY not in hidden:
            teachers_view()
        link_box(state.current_settings(), state.current_tab())
