"""Guided lessons: every preset's steps load, every claim an answer makes holds on that step's
run, and the page walks through them (AppTest): the tab, the question, the answer on a click,
Next / Back, `step=` in the URL, bad links and a control changed mid-lesson."""

from __future__ import annotations

import json
import re

import pytest
from helpers import app, assert_clean

from dropout_viz import lesson_steps
from dropout_viz.presets import (
    MAX_STEPS,
    MIN_STEPS,
    PRESET_DIR,
    Claim,
    load_presets,
    step_settings,
)
from dropout_viz.settings import FIELD_SPECS, TABS, from_query_params, to_query_params
from dropout_viz.ui import state
from dropout_viz.ui.state import TAB_LABELS, TAB_WIDGET, widget_value

PRESETS = load_presets()
STEPS = [(name, i) for name, preset in PRESETS.items() for i in range(len(preset.steps))]
CLAIMS = [(name, i, c) for name, i in STEPS for c in range(len(PRESETS[name].steps[i].claims))]
# One set of runs per lesson for the whole module: the claims of its steps share them.
RUNS = {name: lesson_steps.StepRuns() for name in PRESETS}


def url(at) -> dict[str, str]:
    return {key: value[-1] if isinstance(value, list) else str(value)
            for key, value in at.query_params.items()}


def texts(elements) -> list[str]:
    return [e.value for e in elements]


# ---- the steps as data -----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_a_guided_lesson_of_three_to_six_steps(name):
    preset = PRESETS[name]
    assert MIN_STEPS <= len(preset.steps) <= MAX_STEPS
    for index, step in enumerate(preset.steps):
        assert step.tab in TABS
        for text in (step.title, step.look_at, step.question, step.answer):
            assert text.strip() and "{" not in text and "}" not in text, text
        assert step.question.rstrip().endswith("?"), step.question
        settings = step_settings(preset, index)
        assert settings.preset == name
        assert from_query_params(to_query_params(settings)) == (settings, [])  # a link holds it


def test_step_texts_are_filled_from_the_steps_own_settings():
    rescue = PRESETS["over-fitting-rescue"]
    assert rescue.steps[0].question.startswith(
        "No dropout (p = 0), 40 noisy training points and 2 × 128 units.")
    assert "Push p to 0.9" in rescue.steps[4].question
    ensemble = PRESETS["ensemble-in-disguise"]
    assert ensemble.steps[4].question.startswith("With 1 hidden layer,")


def test_a_step_changes_the_presets_settings_and_keeps_the_screens():
    preset = PRESETS["over-fitting-rescue"]
    base = step_settings(preset, 0).replace(projector=True, hidden_controls=("lr",), width=8)
    settings = step_settings(preset, 4, base)
    assert settings.p_hidden == 0.9 and settings.width == 128  # the step's, then the preset's
    assert settings.projector and settings.hidden_controls == ("lr",)  # the screen's choices


GOOD_STEP = {"title": "t", "tab": "action", "look_at": "here", "question": "q?", "answer": "a"}


@pytest.mark.parametrize(("steps", "message"), [
    ([GOOD_STEP] * 2, r"steps must be a list of 3 to 6 steps"),
    ([GOOD_STEP] * 7, r"steps must be a list of 3 to 6 steps"),
    ([GOOD_STEP, {**GOOD_STEP, "tab": "nope"}, GOOD_STEP], r"step 2: tab 'nope' must be one of"),
    ([GOOD_STEP, GOOD_STEP, {**GOOD_STEP, "hint": "x"}], r"step 3: unknown field 'hint'"),
    ([{k: v for k, v in GOOD_STEP.items() if k != "question"}] + [GOOD_STEP] * 2,
     r"step 1: missing field 'question'"),
    ([GOOD_STEP, {**GOOD_STEP, "settings": {"width": 9999}}, GOOD_STEP],
     r"step 2: settings\.width"),
    ([GOOD_STEP, {**GOOD_STEP, "answer": "{nonsense}"}, GOOD_STEP],
     r"step 2: answer names \{nonsense\}"),
    ([GOOD_STEP, {**GOOD_STEP, "claims": [{"check": "bigger", "metric": "gap"}]}, GOOD_STEP],
     r"step 2: claim 1 must be an object whose check is one of lower"),
    ([GOOD_STEP, {**GOOD_STEP, "claims": [{"check": "lower", "metric": "gap"}]}, GOOD_STEP],
     r"step 2: claim 1: lower needs 'than'"),
    ([{**GOOD_STEP, "claims": [{"check": "at_most", "metric": "speed", "value": 1}]}] +
     [GOOD_STEP] * 2, r"step 1: claim 1: metric 'speed' must be one of"),
    ([{**GOOD_STEP, "claims": [{"check": "lower", "metric": "gap", "than": {"p": 0}}]}] +
     [GOOD_STEP] * 2, r"step 1: claim 1: than\.p is not a setting"),
    ([{**GOOD_STEP, "claims": [{"check": "higher", "metric": "gap", "than": "gap", "by": 0.5}]}]
     + [GOOD_STEP] * 2, r"step 1: claim 1: by must be a number of at least 1"),
])
def test_malformed_steps_raise_naming_the_file_and_the_step(tmp_path, steps, message):
    raw = json.loads((PRESET_DIR / "05-spiral-stress-test.json").read_text(encoding="utf-8"))
    raw["steps"] = steps
    (tmp_path / "spiral-stress-test.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValueError, match=r"spiral-stress-test\.json: " + message):
        load_presets(tmp_path)


# ---- every claim holds on its step's run -----------------------------------------------------

@pytest.mark.parametrize(("name", "index", "claim"), CLAIMS,
                         ids=[f"{n}-step{i + 1}-claim{c + 1}" for n, i, c in CLAIMS])
def test_every_claim_of_every_step_holds_on_its_run(name, index, claim):
    preset = PRESETS[name]
    settings = step_settings(preset, index)
    result = lesson_steps.check_claim(preset.steps[index].claims[claim], settings, RUNS[name])
    assert result.holds, f"{name} step {index + 1}: {result.text}"


def test_answers_that_compare_runs_carry_a_claim():
    """An answer saying lower/higher/smoother/more/... is backed by at least one claim."""
    comparing = re.compile(r"\b(lower|higher|smoother|jagged|worse|falls|climbs|thousands|"
                           r"at most|identical|match|differ|same|above|down|ahead)\b", re.I)
    for name, index in STEPS:
        step = PRESETS[name].steps[index]
        if comparing.search(step.answer):
            assert step.claims, f"{name} step {index + 1}: {step.answer}"


def test_a_claim_that_is_false_on_the_run_does_not_hold():
    """The checks can fail: the opposite of step 4's claim is measured as false."""
    preset = PRESETS["over-fitting-rescue"]
    settings = step_settings(preset, 3)
    runs = RUNS["over-fitting-rescue"]
    for check in ("higher", "close"):
        opposite = Claim(check, "test_loss", {"p_hidden": 0.0}, within=0.01)
        assert not lesson_steps.check_claim(opposite, settings, runs).holds
    result = lesson_steps.check_claim(Claim("lower", "test_loss", {"p_hidden": 0.0}), settings,
                                      runs)
    assert result.holds and re.fullmatch(
        r"test loss: \d\.\d{3}; with p = 0: \d\.\d{3}", result.text), result.text


# ---- the page walks through the lesson -------------------------------------------------------

@pytest.mark.parametrize(("name", "index"), STEPS, ids=[f"{n}-step{i + 1}" for n, i in STEPS])
def test_every_step_opens_its_tab_asks_and_reveals_its_answer(name, index):
    preset, step = PRESETS[name], PRESETS[name].steps[index]
    at = app(preset=name, step=str(index + 1)).run()
    assert_clean(at)
    assert at.session_state[TAB_WIDGET] == TAB_LABELS[step.tab]
    expected = step_settings(preset, index)
    for field in FIELD_SPECS:
        assert at.session_state[field] == widget_value(field, getattr(expected, field)), field
    assert url(at)["step"] == str(index + 1) and url(at)["preset"] == name
    shown = texts(at.markdown)
    assert f"#### {step.question}" in shown
    assert any(f"Step {index + 1} of {len(preset.steps)}" in m for m in shown)
    assert not at.success  # the answer waits for the click
    at.button(key="_lesson_answer").click().run()
    assert_clean(at)
    assert step.answer in texts(at.success)
    [numbers] = [c for c in texts(at.caption) if c.startswith("Measured on this step's run")]
    assert numbers.count("✓") == len(step.claims) and "✗" not in numbers


def test_start_next_back_and_finish_move_through_the_lesson():
    name = "spiral-stress-test"
    preset = PRESETS[name]
    at = app(preset=name).run()
    assert_clean(at)
    assert "step" not in url(at) and not [m for m in texts(at.markdown) if "#### " in m]
    at.button(key="_lesson_start").click().run()
    assert url(at)["step"] == "1" and at.session_state["p_hidden"] == 0.2
    at.button(key="_lesson_next").click().run()
    assert_clean(at)
    assert url(at)["step"] == "2" and at.session_state["p_hidden"] == 0.5
    assert f"#### {preset.steps[1].question}" in texts(at.markdown)
    at.button(key="_lesson_back").click().run()
    assert url(at)["step"] == "1" and at.session_state["p_hidden"] == 0.2
    assert at.button(key="_lesson_back").disabled  # nothing before step 1
    at.button(key="_lesson_next").click().run()
    at.button(key="_lesson_next").click().run()
    assert url(at)["step"] == "3" and at.session_state["p_hidden"] == 0.8
    at.button(key="_lesson_finish").click().run()  # the last step: Next becomes Finish
    assert_clean(at)
    assert "step" not in url(at) and at.session_state["p_hidden"] == 0.8  # settings stay
    assert at.button(key="_lesson_start")  # and the lesson can start again


def test_a_control_changed_mid_lesson_stays_changed_and_the_panel_says_so():
    at = app(preset="over-fitting-rescue", step="3").run()
    at.slider(key="width").set_value(16).run()
    assert_clean(at)
    assert at.session_state["width"] == 16 and url(at)["step"] == "3"  # not fought back
    assert any(c.startswith("You have changed units per layer") for c in texts(at.caption))
    at.button(key="_lesson_answer").click().run()  # another rerun: still the user's width
    assert at.session_state["width"] == 16
    at.button(key="_lesson_reapply").click().run()
    assert_clean(at)
    assert at.session_state["width"] == 128 and url(at)["step"] == "3"
    assert not any(c.startswith("You have changed") for c in texts(at.caption))


@pytest.mark.parametrize(("params", "named"), [
    ({"preset": "over-fitting-rescue", "step": "abc"}, "step=abc"),
    ({"preset": "over-fitting-rescue", "step": "0"}, "step=0"),
    ({"preset": "over-fitting-rescue", "step": "9"}, "step=9"),
    ({"preset": "over-fitting-rescue", "step": "2.5"}, "step=2.5"),
    ({"step": "2", "width": "16"}, "step=2"),
])
def test_a_bad_step_in_a_link_is_ignored_with_a_warning_and_the_settings_kept(params, named):
    at = app(**params).run()
    assert_clean(at)
    [warning] = [w for w in texts(at.warning) if f"Ignored '{named}'" in w]
    assert "steps 1 to 5" in warning or "lessons with steps are" in warning
    assert "step" not in url(at) and not [m for m in texts(at.markdown) if "#### " in m]
    if "preset" in params:  # the lesson's own settings, not the defaults
        assert at.session_state["width"] == 128 and at.session_state["p_hidden"] == 0.5
    else:
        assert at.session_state["width"] == 16


def test_a_step_link_round_trips_through_the_share_link():
    at = app(preset="ensemble-in-disguise", step="5").run()
    assert_clean(at)
    [link] = [c.value for c in at.code if "?" in c.value]
    assert "step=5" in link and "preset=ensemble-in-disguise" in link
    query = dict(item.split("=", 1) for item in link.split("?", 1)[1].split("&"))
    again = app(**query).run()
    assert_clean(again)
    assert url(again) == url(at)
    assert again.session_state[TAB_WIDGET] == TAB_LABELS["ensemble"]
    assert again.session_state["n_layers"] == 1


def test_a_lesson_in_present_mode_keeps_arrows_for_p_and_pages_for_steps():
    at = app(preset="spiral-stress-test", step="1", present="1").run()
    assert_clean(at)
    assert url(at)["present"] == "1" and url(at)["step"] == "1"
    captions = texts(at.main.caption)
    assert any("Page Down shows the answer" in c and "(← and → change p)" in c
               for c in captions)
    assert any(c.startswith("Press ← or →") and "Page Down" in c for c in captions)
    assert state.LESSON_STEP in at.session_state
