"""The guided lesson's panel at the top of the page: "Step k of n", what to look at, the
question, and its answer on a click, with the numbers behind it measured on the step's run.

The steps are data (assets/presets/, presets.py); where the lesson is lives in the session and
the URL (state.py: `step=N`); the claims are measured by lesson_steps.py. Moving to a step sets
its settings and opens its tab once; a control changed afterwards stays changed, and the panel
says that the question is about the step's settings.
"""

from __future__ import annotations

import streamlit as st

from dropout_viz import lesson_steps
from dropout_viz.presets import Preset, differences, load_presets, step_settings
from dropout_viz.settings import FIELD_SPECS, Settings
from dropout_viz.ui import cache, classroom, runs, state

# Claims measured per (lesson, step), shared by every session: a few numbers each.
MEASURED = cache.LRUCache(64)
cache.register(MEASURED.clear)
# Room the panel takes above the tabs, for projector mode's one-screen chart (classroom.py).
PANEL_HEIGHT = {False: "10rem", True: "15rem"}
KEYS_HELP = {
    False: "Keys: → or Page Down shows the answer, then the next step; ← or Page Up goes back.",
    True: "Keys: Page Down shows the answer, then the next step; Page Up goes back "
          "(← and → change p).",
}


def _start(name: str) -> None:
    state.enter_step(load_presets()[name], 0)


def _toggle_answer() -> None:
    st.session_state[state.LESSON_REVEALED] = not st.session_state.get(state.LESSON_REVEALED)


def offer(settings: Settings) -> None:
    """While a preset with steps is in force and its lesson is not running: a way in."""
    preset = load_presets().get(settings.preset)
    if preset is None or not preset.steps:
        return
    with st.container(border=True, horizontal=True, vertical_alignment="center",
                      key="lesson_offer"):
        st.markdown(f":material/school: **Guided lesson: {preset.title}.** "
                    f"{len(preset.steps)} steps, each a question to answer before the page "
                    "shows what happens.", width="stretch")
        st.button("Start the lesson", key="_lesson_start", type="primary",
                  on_click=_start, args=(preset.name,))


def page_run(settings: Settings):
    """The step's runs come from the page's shared cache (trained once for every session)."""
    return runs.get_run(cache.resolve(settings))


def measured(preset: Preset, index: int) -> list[lesson_steps.ClaimResult]:
    entry = (preset.name, index, step_settings(preset, index))
    return MEASURED.get_or_build(
        entry, lambda _: lesson_steps.check_step(preset, index, get_run=page_run))


def measured_view(preset: Preset, index: int) -> None:
    """The numbers behind the answer, or why they are not there (never an exception box)."""
    if not preset.steps[index].claims:
        return
    try:
        with st.spinner("Measuring on this step's run…"):
            results = measured(preset, index)
    except runs.LongRun as long_run:
        st.caption(f"The numbers behind this answer need a run of about "
                   f"{long_run.seconds:.0f} s; start it in the tab below, then show the "
                   "answer again.")
        return
    except Exception as error:  # noqa: BLE001 - the lesson goes on without its numbers
        st.caption(f"The numbers behind this answer could not be measured "
                   f"({type(error).__name__}: {str(error)[:200]}).")
        return
    lines = [("✓ " if r.holds else "✗ ") + r.text
             + ("" if r.holds else " — this does not hold on this run") for r in results]
    st.caption("Measured on this step's run (its own settings):  \n" + "  \n".join(lines))


def changed_note(preset: Preset, index: int, settings: Settings) -> None:
    changed = differences(preset, settings, index)
    if not changed:
        return
    names = ", ".join(FIELD_SPECS[name].label.lower() for name in changed)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(f"You have changed {names} since this step set it: the question and the "
                   "answer are about the step's own settings.", width="stretch")
        st.button("Back to the step's settings", key="_lesson_reapply",
                  on_click=state.reenter_step)


def controls_row(preset: Preset, index: int, revealed: bool, settings: Settings) -> None:
    step, n = preset.steps[index], len(preset.steps)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f":material/school: **{preset.title}** · Step {index + 1} of {n}: "
                    f"**{step.title}**", width="stretch")
        st.button("Back", icon=":material/arrow_back:", key="_lesson_back",
                  disabled=index == 0, on_click=state.go_to_position, args=(2 * index - 2,))
        st.button("Hide the answer" if revealed else "Show the answer", key="_lesson_answer",
                  icon=":material/lightbulb:", on_click=_toggle_answer)
        if index + 1 < n:
            st.button("Next", icon=":material/arrow_forward:", key="_lesson_next",
                      type="primary", on_click=state.go_to_position, args=(2 * index + 2,))
        else:
            st.button("Finish", icon=":material/check:", key="_lesson_finish",
                      type="primary", on_click=state.end_lesson,
                      help="The last step: end the lesson (the settings stay).")
        if not classroom.p_on_page(settings.hidden_controls):  # else present mode's bar has it
            classroom.page_keys(with_p=False)
        st.button("End", icon=":material/close:", key="_lesson_end", on_click=state.end_lesson,
                  help="End the lesson (the settings stay as they are).")


def render(settings: Settings) -> None:
    """The running lesson's panel, or the offer to start one; nothing without a lesson."""
    current = state.lesson()
    if current is None:
        offer(settings)
        return
    preset, index = current
    step = preset.steps[index]
    revealed = bool(st.session_state.get(state.LESSON_REVEALED))
    st.html(f"<style>:root {{ --lesson-panel: {PANEL_HEIGHT[revealed]}; }}</style>")
    with st.container(border=True, key="lesson_panel"):
        controls_row(preset, index, revealed, settings)
        st.markdown(f":material/visibility: **Look at:** {step.look_at}")
        st.markdown(f"#### {step.question}")
        if revealed:
            st.success(step.answer, icon=":material/lightbulb:")
            measured_view(preset, index)
        changed_note(preset, index, settings)
        st.caption(KEYS_HELP[classroom.p_on_page(settings.hidden_controls)])
