"""The sidebar's "Classroom" section: projector mode, the teacher's view, and a link to share.

The teacher's view works like TensorFlow Playground's classroom flags: the link carries
`hidden_controls`, and the sidebar leaves those controls out, so a class sees only what the
lesson is about. Students are told that controls are hidden (and which), never left guessing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import streamlit as st

from dropout_viz.presets import STEP_PARAM
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

PRESENT_LABEL = "Present mode"
# Projector mode: bigger text everywhere, the sidebar included (Streamlit sizes text in rem),
# thicker slider tracks, and the page's own margins trimmed so that the first tab fits one
# screen: its chart (in the ONE_SCREEN container) gets the window's height below the tabs,
# less the epoch slider's row where the window is tall enough for both (900 px and up).
# The charts get their larger fonts and lines from settings.projector.
ONE_SCREEN = "one_screen"
PROJECTOR_CSS = """
<style>
html { font-size: 20px; }
[data-testid="stSlider"] [role="slider"] { width: 1.1rem; height: 1.1rem; }
[data-testid="stMainBlockContainer"] { padding: 3.6rem 1.5rem 6rem; }
:root { --bars: calc(var(--present-bar, 0rem) + var(--lesson-panel, 0rem));
        --one-screen: max(20rem, calc(100vh - 7.4rem - var(--bars))); }
@media (min-height: 900px) {
  :root { --one-screen: min(60rem, calc(100vh - 12.5rem - var(--bars))); } }
[data-testid="stLayoutWrapper"]:has(> .st-key-one_screen) {
  flex: 0 0 var(--one-screen) !important; height: var(--one-screen) !important; }
.st-key-one_screen { height: 100% !important; overflow: hidden; }
</style>
"""
# Present mode: p and the epoch on the page in large type (the sidebar starts collapsed).
PRESENT_CSS = """
<style>
:root { --present-bar: 5.9rem; }
.st-key-present_bar [data-testid="stSlider"] { padding-bottom: 0; }
.st-key-present_bar [data-testid="stWidgetLabel"] p,
.st-key-action_epoch [data-testid="stWidgetLabel"] p { font-size: 1.3rem; font-weight: 600; }
.st-key-present_bar [data-testid="stSliderThumbValue"],
.st-key-action_epoch [data-testid="stSliderThumbValue"] { font-size: 1.5rem; font-weight: 700; }
</style>
"""
# The page's one keyboard listener. ← and → anywhere on the page move p one step in present
# mode; Page Down / Page Up (what a presenter's clicker sends) move a guided lesson forward /
# back, and so do → / ← when present mode is off. Forward shows the step's answer, then the
# next step; back goes to the step before. A key that belongs to the element with the focus (a
# slider, the tabs, a text box...) stays with it. A components-v2 component runs in the page
# itself, so it can listen on the whole document. It sends the value it wants (p, or the
# lesson's position: state.lesson_position), counted from the last one it asked for: a second
# press that comes before the page has the first one's result must not start from the old one.
P_KEYS_JS = """
const asked = { p: [], lesson: [] };  // values sent that the page has not shown yet
const shown = { p: null, lesson: null };  // the values as the page last drew them
const next = {
  p: (from, direction, p) => Number(Math.min(Math.max(
       Math.round((from + direction * p.step) / p.step) * p.step, p.low), p.high).toFixed(10)),
  lesson: (from, direction, lesson) => direction > 0 ? Math.min(from + 1, lesson.last)
                                                     : Math.max(2 * (Math.floor(from / 2) - 1), 0),
};
export default function (component) {
  const { data, setTriggerValue } = component;
  for (const name of ["p", "lesson"]) {
    const value = data[name] ? data[name].value : null;
    const at = asked[name].indexOf(value);
    if (at >= 0) asked[name].splice(0, at + 1);  // the page caught up to that press
    else asked[name].length = 0;                 // set some other way: start from it
    shown[name] = value;
  }
  const ownArrows = 'input:not([type=checkbox]):not([type=button]), textarea, select, ' +
    '[contenteditable=""], [contenteditable=true], [role=slider], [role=tab], [role=radio], ' +
    '[role=radiogroup], [role=listbox], [role=option], [role=combobox], [role=menu], ' +
    '[role=menuitem], [role=spinbutton]';
  const onKey = (event) => {
    const arrow = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
    const direction = arrow || { PageUp: -1, PageDown: 1 }[event.key];
    if (!direction || event.defaultPrevented || event.altKey || event.ctrlKey ||
        event.metaKey || event.shiftKey) return;
    if (event.target instanceof Element && event.target.closest(ownArrows)) return;
    const name = arrow && data.p ? "p" : data.lesson ? "lesson" : null;
    if (!name) return;
    event.preventDefault();
    const from = asked[name].length ? asked[name][asked[name].length - 1] : shown[name];
    const value = next[name](from, direction, data[name]);
    if (value === from) return;
    asked[name].push(value);
    setTriggerValue(name, value);
    // The chart shows that p at once if the page holds its picture (ui/p_scrub.py).
    if (name === "p") document.dispatchEvent(new CustomEvent("dropout-viz-p", { detail: value }));
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
"""
P_KEYS_KEY = "p_keys"
P_KEYS = st.components.v2.component("dropout_viz.p_keys", js=P_KEYS_JS)


def present() -> bool:
    return bool(st.session_state.get(state.PRESENT_WIDGET))


def p_range() -> tuple[float, float, float]:
    """The p slider's lowest value, highest value and step."""
    spec = FIELD_SPECS["p_hidden"]
    return (spec.off if spec.off is not None else spec.min), spec.max, spec.step


def snap_p(value: Any) -> float:
    """A p the keyboard asked for, on the slider's grid and within its range."""
    low, high, step = p_range()
    return round(min(max(round(float(value) / step) * step, low), high), 10)


def _keyboard_moved_p() -> None:
    asked = (st.session_state.get(P_KEYS_KEY) or {}).get("p")
    if isinstance(asked, (int, float)):
        st.session_state["p_hidden"] = snap_p(asked)


def _keyboard_moved_lesson() -> None:
    asked = (st.session_state.get(P_KEYS_KEY) or {}).get("lesson")
    if isinstance(asked, (int, float)):
        state.go_to_position(int(asked))


def p_on_page(hidden: tuple[str, ...]) -> bool:
    """Present mode draws p on the page (and listens for its keys there) unless it is hidden."""
    return present() and "p_hidden" not in hidden


def page_keys(with_p: bool) -> None:
    """The keyboard listener (P_KEYS_JS), for p (`with_p`) and the running lesson, if any.
    Drawn once per run: in present mode's bar when p is there, else in the lesson's panel."""
    data: dict = {"p": None, "lesson": None}
    if with_p:
        low, high, step = p_range()
        data["p"] = {"value": st.session_state["p_hidden"], "low": low, "high": high,
                     "step": step}
    position = state.lesson_position()
    if position is not None:
        data["lesson"] = {"value": position[0], "last": position[1]}
    P_KEYS(key=P_KEYS_KEY, data=data, on_p_change=_keyboard_moved_p,
           on_lesson_change=_keyboard_moved_lesson, width=1, height=0)


def present_bar(draw_p) -> None:
    """Present mode's row at the top of the page: p in large type (drawn by `draw_p`, the
    sidebar's own control) and the keyboard listener that moves it."""
    st.html(PRESENT_CSS)
    with st.container(key="present_bar", horizontal=True, vertical_alignment="center"):
        with st.container(width="stretch"):
            draw_p()
        page_keys(with_p=True)
        lesson_keys = (" Page Down / Page Up: the lesson's answer and next step / the step "
                       "before." if state.lesson() is not None else "")
        st.caption("Press ← or → anywhere on the page to change p." + lesson_keys +
                   " Every other control is in the sidebar: open it with » at the top left.",
                   width=300)


def label(name: str) -> str:
    return LABELS.get(name, FIELD_SPECS[name].label)


def link_query(settings: Settings, tab: str, step: int | None = None) -> str:
    """The query string that reopens this page: changed settings, the open tab and the
    lesson's step (1-based), if one is running."""
    params = to_query_params(settings)
    if tab != TABS[0]:
        params[state.TAB_KEY] = tab
    if step is not None:
        params[STEP_PARAM] = str(step)
    return urlencode(params, safe=",")


def share_link(settings: Settings, tab: str, page_url: str | None,
               step: int | None = None) -> str:
    """The full link when the page's address is known, else just '?query'."""
    query = link_query(settings, tab, step)
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
    current = state.lesson()
    step = None if current is None else current[1] + 1
    with st.popover("Copy this link", icon=":material/link:", width="stretch",
                    help="A link that reopens this page with these settings and this tab "
                         "(and the lesson's step, when a guided lesson runs)."):
        st.code(share_link(settings, tab, page_url, step), language=None, wrap_lines=True)
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


def render(hidden: tuple[str, ...] = ()):
    """Draw the Classroom section at the end of the sidebar (after every other control); the
    place of its link to share (`link_box`) is returned, for the page's view to fill."""
    keep_hidden_values(hidden)
    with st.sidebar:
        st.subheader("Classroom")
        if hidden:
            st.caption(hidden_notice(hidden))
        if PROJECTOR_KEY not in hidden:
            st.toggle(label(PROJECTOR_KEY), key=PROJECTOR_KEY, help=FIELD_SPECS[PROJECTOR_KEY].help)
        st.toggle(PRESENT_LABEL, key=state.PRESENT_WIDGET,
                  help="For the laptop at the front: the sidebar starts closed, p is on the "
                       "page in large type and ← / → change it. The address keeps "
                       "present=1 for a bookmark; the link to share leaves it out.")
        if st.session_state.get(PROJECTOR_KEY):
            st.html(PROJECTOR_CSS)
        if HIDDEN_KEY not in hidden:
            teachers_view()
        return st.container()
