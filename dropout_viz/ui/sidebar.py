"""The sidebar: presets, then the controls, grouped, each drawn from its FIELD_SPECS entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from dropout_viz.data import REGRESSION_DATASETS
from dropout_viz.presets import apply_preset, differences, load_presets
from dropout_viz.settings import FIELD_SPECS, GROUP_FIELDS, Settings
from dropout_viz.ui import classroom, state, upload

LR_CHOICES = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3,
              0.5, 1.0)
SCOPE_CAPTIONS = {
    "epoch": "One mask per layer for a whole epoch: each epoch trains one thinned network "
             "(the original notes' description; not what the frameworks do).",
    "batch": "A new mask for every mini-batch, shared by its examples "
             "(Keras noise_shape=(1, features)).",
    "example": "A new mask for every example at every step: the paper, Keras and PyTorch.",
}
CONVENTION_CAPTIONS = {
    "standard": "Train with 0/1 masks; at test time multiply each unit's outgoing weights by q.",
    "inverted": "Scale kept units by 1/q while training; use the weights as they are at test "
                "time (Keras, PyTorch).",
}
GROUP_TITLES = {"data": "Data", "network": "Network", "dropout": "Dropout",
                "training": "Training"}
LABEL_OVERRIDES = {"p_hidden": "Dropout rate p", "max_norm": "Max-norm c (0 = off)"}
# Help about the page itself, after the field's help (the command line has no upload).
PAGE_HELP = {"dataset": "Upload is a CSV file of your own (x1, x2, label; or x, y for a curve) "
                        "chosen below; a link cannot carry the file."}
PRESET_KEY = "_preset_choice"


def _apply_chosen_preset() -> None:
    name = st.session_state.get(PRESET_KEY)
    presets = load_presets()
    state.end_lesson()  # a lesson picked (again) starts from its own settings
    if not name:  # "— choose a lesson —": the settings stay, the link no longer names a lesson
        st.session_state["preset"] = ""
    elif name in presets:
        preset = presets[name]
        state.load_into_session(apply_preset(preset))
        state.open_tab(preset.tab)


def preset_status(settings: Settings):
    """(the preset the picker shows, the guided lesson's step in force or None, the fields
    whose values differ from it)."""
    presets = load_presets()
    current = st.session_state.get("preset", "")
    st.session_state.setdefault(PRESET_KEY, current if current in presets else "")
    chosen = presets.get(st.session_state.get(PRESET_KEY, ""))
    lesson = state.lesson()
    step = lesson[1] if lesson is not None and lesson[0] == chosen else None
    changed = differences(chosen, settings, step) if chosen is not None else []
    return chosen, step, changed


def preset_picker(settings: Settings) -> None:
    """The picker shows a lesson as itself only while its settings (or those of the guided
    lesson's step) are in force; the caption below it says when they are not. (Its options'
    labels stay the same: a selectbox's value travels as its label, and a label that changed
    since the browser's copy made the old one read as another choice, ending the lesson.)"""
    presets = load_presets()
    names = [""] + list(presets)
    chosen, step, changed = preset_status(settings)
    st.selectbox(
        "Lesson preset", names, key=PRESET_KEY, on_change=_apply_chosen_preset,
        format_func=lambda n: presets[n].title if n else "— choose a lesson —",
        help="Sets every control for a prepared lesson; change any control afterwards.",
    )
    if chosen is None:
        return
    if not changed:
        st.caption(chosen.teaches)
        return
    labels = ", ".join(FIELD_SPECS[name].label.lower() for name in changed)
    if step is not None:
        st.caption(f"Modified: {labels} differ from step {step + 1} of this lesson, so its "
                   "question and answer are about other settings than the page's.")
        st.button("Back to the step's settings", key="_reapply_preset", on_click=state.reenter_step)
        return
    # The lesson's text quotes its own settings, which are no longer all on screen.
    st.caption(f"Modified: {labels} differ from this lesson, so its description no longer "
               "matches the page.")
    st.button("Back to the lesson's settings", key="_reapply_preset",
              on_click=_apply_chosen_preset)


def dataset_label(name: str) -> str:
    """How the picker names a data set: the regression sets (and an uploaded x, y file) say
    so, "sine (regression)"; the others by their name."""
    uploaded = upload.current()
    if name in REGRESSION_DATASETS or (name == upload.UPLOAD and uploaded is not None
                                       and not uploaded.n_classes):
        return f"{name} (regression)"
    return name


def control(name: str, disabled: bool = False) -> None:
    """One settings widget, keyed by the field name (its value lives in session state)."""
    spec = FIELD_SPECS[name]
    label = LABEL_OVERRIDES.get(name, spec.label)
    help_text = " ".join(filter(None, (spec.help, PAGE_HELP.get(name))))
    common = dict(key=name, help=help_text, disabled=disabled)
    if name == "lr":
        value = st.session_state.get(name, spec.default)
        options = sorted(set(LR_CHOICES) | {value})
        st.select_slider(label + " (log scale)", options=options,
                         format_func=lambda v: f"{v:g}", **common)
    elif name == "mask_scope":
        st.radio(label, spec.choices, captions=[SCOPE_CAPTIONS[c] for c in spec.choices],
                 format_func={"epoch": "per epoch", "batch": "per mini-batch",
                              "example": "per example"}.get, **common)
    elif name == "convention":
        st.radio(label, spec.choices, captions=[CONVENTION_CAPTIONS[c] for c in spec.choices],
                 horizontal=False, **common)
    elif name == "dataset":
        # "upload" is offered once this session holds an accepted file.
        choices = [c for c in spec.choices if c != upload.UPLOAD or upload.current()]
        st.selectbox(label, choices, format_func=dataset_label, **common)
    elif spec.kind == "choice":
        st.selectbox(label, spec.choices, **common)
    elif spec.kind == "bool":
        st.toggle(label, **common)
    elif spec.kind == "int":
        st.slider(label, int(spec.min), int(spec.max), step=int(spec.step or 1), **common)
    elif spec.kind == "float":
        low = spec.off if spec.off is not None else spec.min
        st.slider(label, float(low), float(spec.max), step=float(spec.step), **common)


@dataclass
class Slots:
    """The sidebar's places that the page's view (page.py) fills on each of its runs: the p
    slider (None where p is on the page or hidden) and the link to share."""

    p: Any
    link: Any


def shown(settings: Settings) -> tuple:
    """What the sidebar shows of these settings, apart from what the view draws into it (p
    and the link): every other value, and the preset picker's verdict (which p can change)."""
    chosen, step, changed = preset_status(settings)
    values = tuple(getattr(settings, name) for name in FIELD_SPECS if name != "p_hidden")
    return values, chosen and chosen.name, step, tuple(changed)


def render(settings: Settings) -> Slots:
    """Draw the sidebar; controls the teacher's view hides (settings.hidden_controls) are left
    out. The places it keeps for the view are returned."""
    hidden = settings.hidden_controls
    present = classroom.present()
    on_page = ("p_hidden",) if classroom.p_on_page(hidden) else ()
    p_slot = None
    with st.sidebar:
        st.title("dropout_viz")
        if "preset" not in hidden:
            preset_picker(settings)
        for group, title in GROUP_TITLES.items():
            names = [n for n in GROUP_FIELDS[group] if n not in hidden and n not in on_page]
            if not names:
                continue
            # Present mode opens every group: each control is then one click (») away.
            with st.expander(title, expanded=present or group in ("dropout", "network")):
                for name in names:
                    if name == "p_hidden":  # drawn by the view, which p reruns (page.py)
                        p_slot = st.container()
                        continue
                    disabled = (st.session_state.get("dataset") in ("digits", upload.UPLOAD)
                                and name in ("n_samples", "noise"))
                    control(name, disabled=disabled)
                if group == "data" and st.session_state.get("dataset") == "digits":
                    st.caption("Digits uses all 1,797 bundled images: points and noise "
                               "do not apply.")
                if group == "data":
                    upload.render()
    return Slots(p=p_slot, link=classroom.render(hidden))
