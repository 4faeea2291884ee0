"""Presets: the shipped JSON files load and teach what they say; malformed files are named."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import app, assert_clean

from dropout_viz import ensemble, pipeline
from dropout_viz.data import REGRESSION_DATASETS
from dropout_viz.presets import PRESET_DIR, Preset, apply_preset, fill_text, load_presets
from dropout_viz.settings import FIELD_SPECS, TABS, Settings, from_query_params, to_query_params
from dropout_viz.ui import cache
from dropout_viz.ui.sidebar import PRESET_KEY
from dropout_viz.ui.state import TAB_LABELS, widget_value

README = Path(__file__).resolve().parents[1] / "README.md"
# Numbers a preset's text may write out: facts that no setting decides ("100%" training
# accuracy, "1 − p", the 8×8 digits, "raise p to 0.5"). Every other number is a placeholder.
FIXED_NUMBERS = {"100", "1", "8", "0.5"}

EXPECTED = {
    "over-fitting-rescue": ("Over-fitting rescue", "experiments"),
    "ensemble-in-disguise": ("An ensemble in disguise", "ensemble"),
    "epoch-vs-example": ("Per epoch vs per example", "action"),
    "standard-vs-inverted": ("Standard vs inverted", "learn"),
    "spiral-stress-test": ("Spiral stress test", "action"),
    "notes-keras-digits": ("The notes' Keras model on digits", "experiments"),
    "curve-through-noise": ("A curve through noise", "experiments"),
    "what-happens-in-the-gap": ("What happens in the gap", "ensemble"),
}


@pytest.fixture(scope="module")
def presets() -> dict[str, Preset]:
    return load_presets()


def test_every_shipped_preset_loads_in_lesson_order(presets):
    assert list(presets) == list(EXPECTED)
    assert len(list(PRESET_DIR.glob("*.json"))) == len(EXPECTED)
    for name, preset in presets.items():
        assert (preset.title, preset.tab) == EXPECTED[name]
        assert preset.name == name and preset.tab in TABS


@pytest.mark.parametrize("name", list(EXPECTED))
def test_preset_is_valid_quick_and_explained(presets, name):
    preset = presets[name]
    s = apply_preset(preset)
    assert s.preset == name
    for key, value in preset.settings.items():
        assert getattr(s, key) == value
    # Quick: the cost model says its run takes well under a second (on the machine it was
    # fitted to), so a class that picks it does not wait.
    key = s.train_key()
    dataset = pipeline.dataset_for(key.data)
    assert pipeline.estimated_training_s(key, len(dataset.y_train), len(dataset.y_test),
                                         dataset.n_features, dataset.n_outputs) < 1.0
    sentences = re.findall(r"[.!?](?:\s|$)", preset.teaches)
    assert 2 <= len(sentences) <= 4, preset.teaches
    # A preset survives the URL: sharing the link reproduces the lesson.
    assert from_query_params(to_query_params(s)) == (s, [])


def test_presets_set_what_their_lessons_need(presets):
    rescue = apply_preset(presets["over-fitting-rescue"])
    assert (rescue.dataset, rescue.n_samples, rescue.noise) == ("moons", 80, 0.5)
    assert (rescue.n_layers, rescue.width, rescue.p_hidden) == (2, 128, 0.5)

    ensemble = apply_preset(presets["ensemble-in-disguise"])
    assert 8 <= ensemble.k_subnets <= 12

    assert apply_preset(presets["epoch-vs-example"]).mask_scope == "example"

    spiral = apply_preset(presets["spiral-stress-test"])
    assert (spiral.dataset, spiral.hidden) == ("spiral", (64, 64, 64))
    assert spiral.epochs > Settings().epochs

    keras = apply_preset(presets["notes-keras-digits"])
    assert keras.dataset == "digits" and keras.hidden == (128, 128)
    assert (keras.activation, keras.p_hidden, keras.p_input) == ("relu", 0.5, 0.0)
    assert (keras.mask_scope, keras.convention) == ("example", "inverted")
    assert (keras.optimizer, keras.lr, keras.batch_size, keras.epochs) == ("adam", 0.001, 32, 10)
    assert keras.test_fraction == 0.2


def test_widths_stay_small_except_where_needed(presets):
    for preset in presets.values():
        settings = apply_preset(preset)
        # One input and thirty noisy points: over-fitting a curve takes more units than a plane.
        limit = 256 if settings.dataset in REGRESSION_DATASETS else 128
        assert settings.width <= limit


def test_apply_preset_keeps_the_base_outside_the_preset(presets):
    base = Settings(projector=True, hidden_controls=("lr",), k_subnets=5)
    s = apply_preset(presets["spiral-stress-test"], base)
    assert (s.projector, s.hidden_controls, s.k_subnets) == (True, ("lr",), 5)
    assert (s.dataset, s.preset) == ("spiral", "spiral-stress-test")
    assert apply_preset(presets["spiral-stress-test"]).projector is False  # defaults by default


GOOD = {"name": "tiny", "title": "Tiny", "teaches": "One. Two.", "tab": "learn",
        "settings": {"width": 8, "hidden_controls": ["lr"]}}


def write(tmp_path, filename: str, content) -> None:
    text = content if isinstance(content, str) else json.dumps(content)
    (tmp_path / filename).write_text(text, encoding="utf-8")


def test_load_from_a_directory_in_file_name_order(tmp_path):
    write(tmp_path, "02-tiny.json", GOOD)
    write(tmp_path, "01-first.json", {**GOOD, "name": "first"})
    write(tmp_path, "notes.txt", "not a preset")
    presets = load_presets(tmp_path)
    assert list(presets) == ["first", "tiny"]
    assert presets["tiny"].settings == {"width": 8, "hidden_controls": ("lr",)}
    assert apply_preset(presets["tiny"]).hidden_controls == ("lr",)
    assert load_presets(tmp_path / "empty-but-missing") == {}


def test_presets_are_read_once_and_an_edited_file_is_read_again(tmp_path):
    """Every rerun of the page asks for the presets: they are parsed once per version of
    the files, and a file edited (or added) while the server runs is read again."""
    write(tmp_path, "tiny.json", GOOD)
    first = load_presets(tmp_path)
    assert load_presets(tmp_path)["tiny"] is first["tiny"]  # parsed once
    first.pop("tiny")  # a caller changing its copy changes nobody else's
    assert "tiny" in load_presets(tmp_path)
    write(tmp_path, "tiny.json", {**GOOD, "title": "Tiny, edited"})
    os.utime(tmp_path / "tiny.json", ns=(1, 10**18))  # a new modification time for sure
    assert load_presets(tmp_path)["tiny"].title == "Tiny, edited"
    write(tmp_path, "other.json", {**GOOD, "name": "other"})
    assert list(load_presets(tmp_path)) == ["other", "tiny"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"bad\.json: not a readable JSON file"),
        ([1, 2], r"bad\.json: must hold a JSON object"),
        ({**GOOD, "colour": "red"}, r"bad\.json: unknown field 'colour'"),
        ({k: v for k, v in GOOD.items() if k != "teaches"}, r"bad\.json: missing field 'teaches'"),
        ({**GOOD, "name": "Bad Name"}, r"bad\.json: name 'Bad Name' must be a slug"),
        ({**GOOD, "name": "other"}, r"bad\.json: file name must be other\.json"),
        ({**GOOD, "title": ""}, r"bad\.json: title must be non-empty text"),
        ({**GOOD, "tab": "home"}, r"bad\.json: tab 'home' must be one of action, ensemble"),
        ({**GOOD, "settings": [1]}, r"bad\.json: settings must be a JSON object"),
        ({**GOOD, "settings": {"dropout": 0.5}},
         r"bad\.json: settings\.dropout is not a setting a preset can set"),
        ({**GOOD, "settings": {"preset": "x"}}, r"bad\.json: settings\.preset is not a setting"),
        ({**GOOD, "settings": {"p_hidden": 1.0}},
         r"bad\.json: settings\.p_hidden = 1\.0 is out of range: the dropout rate must be in "
         r"\[0, 0\.9\]"),
        ({**GOOD, "settings": {"epochs": 10.5}}, r"bad\.json: settings\.epochs = 10\.5"),
        ({**GOOD, "settings": {"hidden_controls": ["nope"]}},
         r"bad\.json: settings\.hidden_controls contains 'nope'"),
        ({**GOOD, "teaches": "{widht} units. Two."},
         r"bad\.json: teaches names \{widht\}, which is neither a setting nor one of n_train"),
        ({**GOOD, "teaches": "{width:.2f} units. Two."},
         r"bad\.json: teaches: placeholders are bare names like \{width\}, got \{width:\.2f\}"),
        ({**GOOD, "teaches": "{width units. Two."}, r"bad\.json: teaches: "),
    ],
)
def test_malformed_preset_raises_naming_file_and_field(tmp_path, content, message):
    if isinstance(content, dict) and content.get("name") == "tiny":
        content = {**content, "name": "bad"}
    write(tmp_path, "01-good.json", {**GOOD, "name": "good"})
    write(tmp_path, "bad.json", content)
    with pytest.raises(ValueError, match=message):
        load_presets(tmp_path)


def test_duplicate_names_are_refused(tmp_path):
    write(tmp_path, "01-tiny.json", GOOD)
    write(tmp_path, "02-tiny.json", GOOD)
    with pytest.raises(ValueError, match=r"02-tiny\.json: preset name 'tiny' is used twice"):
        load_presets(tmp_path)


# --- the texts' numbers come from the settings ------------------------------------------------


@pytest.mark.parametrize("name", list(EXPECTED))
def test_preset_texts_write_out_no_number_a_setting_decides(presets, name):
    preset = presets[name]
    raw = json.loads(next(PRESET_DIR.glob(f"*{name}.json")).read_text(encoding="utf-8"))
    assert preset.template == raw["teaches"]
    written = set(re.findall(r"\d+(?:\.\d+)?", re.sub(r"\{\w+\}", "", preset.template)))
    assert written <= FIXED_NUMBERS, written - FIXED_NUMBERS
    assert "{" not in preset.teaches and "}" not in preset.teaches
    assert preset.teaches == fill_text(preset.template, apply_preset(preset))


def test_preset_texts_quote_their_settings(presets):
    assert presets["over-fitting-rescue"].teaches.startswith(
        "40 noisy training points and a wide network (2 × 128 units)")
    rescue = apply_preset(presets["over-fitting-rescue"])
    data = pipeline.dataset_for(rescue.data_key())
    assert len(data.y_train) == 40 and rescue.mask_scope == "example"
    assert "With p = 0.5 and a fresh mask for every example at every step" in \
        presets["over-fitting-rescue"].teaches
    assert "The gallery shows 12 of them" in presets["ensemble-in-disguise"].teaches
    assert "with ReLU hidden layers" in presets["ensemble-in-disguise"].teaches
    assert "100 epochs then train at most 100 sub-networks" in presets["epoch-vs-example"].teaches
    assert "3 hidden layers of 64 units and 300 epochs. With p = 0.2" in \
        presets["spiral-stress-test"].teaches
    assert ("2 Dense(128, relu) layers, each followed by Dropout(0.5), trained with Adam "
            "(learning rate 0.001) for 10 epochs in batches of 32 with 20% of the data held "
            "out") in presets["notes-keras-digits"].teaches
    assert "after only 10 epochs" in presets["notes-keras-digits"].teaches


def test_editing_a_presets_settings_changes_its_text(tmp_path):
    raw = json.loads((PRESET_DIR / "01-over-fitting-rescue.json").read_text(encoding="utf-8"))
    raw["settings"].update(n_samples=100, width=64, n_layers=3, p_hidden=0.3,
                           mask_scope="epoch")
    (tmp_path / "over-fitting-rescue.json").write_text(json.dumps(raw), encoding="utf-8")
    text = load_presets(tmp_path)["over-fitting-rescue"].teaches
    assert text.startswith("50 noisy training points and a wide network (3 × 64 units)")
    assert "With p = 0.3 and one mask per epoch," in text


def test_readme_shows_the_preset_texts_the_app_shows(presets):
    readme = README.read_text(encoding="utf-8")
    for preset in presets.values():
        line = (f"**{preset.title}** (`{preset.name}`, opens *{TAB_LABELS[preset.tab]}*). "
                f"{preset.teaches}")
        assert line in readme.splitlines(), preset.name


def test_over_fitting_rescue_without_dropout_fits_every_point_and_its_test_loss_climbs(presets):
    """What the preset says happens without dropout, on its own settings."""
    settings = apply_preset(presets["over-fitting-rescue"]).replace(p_hidden=0.0)
    run = pipeline.train_for(settings.train_key())
    history = run.history
    assert history["train_acc"][-1] == 1.0  # training accuracy reaches 100%
    test_loss = np.asarray(history["test_loss"])
    best = int(np.argmin(test_loss))
    assert best < len(test_loss) // 2 and test_loss[-1] > 1.5 * test_loss[best]  # it climbs


def test_ensemble_in_disguise_average_is_close_to_weight_scaling_but_not_identical(presets):
    """ReLU layers after the dropout: close, not identical, even with many sub-networks."""
    settings = apply_preset(presets["ensemble-in-disguise"])
    run = pipeline.train_for(settings.train_key())
    results = ensemble.compute_ensemble(run, settings.k_subnets, "sampled", "arithmetic",
                                        seed=settings.seed)
    assert not ensemble.weight_scaling_is_exact(results.keep_probs)
    assert results.comparison.agreement >= 0.9
    assert 0.005 < results.convergence.pooled_gap < 0.1


# --- links that say a preset run exactly that preset ---------------------------------------


@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_preset_link_runs_exactly_that_presets_settings(name):
    expected = apply_preset(load_presets()[name])
    at = app(preset=name).run()
    assert_clean(at)
    for field in FIELD_SPECS:
        assert at.session_state[field] == widget_value(field, getattr(expected, field)), field
    assert at.selectbox(key=PRESET_KEY).value == name
    assert not [c for c in at.caption if c.value.startswith("Modified:")]
    assert load_presets()[name].teaches in [c.value for c in at.caption]
    # What ran is the preset's training, not the defaults' (the first tab trains it; every
    # test starts with empty caches).
    assert cache.RUNS.get(expected.train_key()) is not None
    assert cache.RUNS.get(Settings().train_key()) is None


def test_changing_a_setting_after_a_preset_link_marks_it_modified_and_back_again():
    name = "over-fitting-rescue"
    preset = load_presets()[name]
    at = app(preset=name).run()
    assert_clean(at)
    assert not [c for c in at.caption if c.value.startswith("Modified:")]
    at.slider(key="width").set_value(16).run()  # the preset says 128
    assert_clean(at)
    picker = at.selectbox(key=PRESET_KEY)
    # The picker still names the lesson, under its own unchanged label; the caption says.
    assert picker.value == name and picker.format_func(name) == preset.title
    captions = [c.value for c in at.caption]
    assert preset.teaches not in captions  # its text quotes 128 units, no longer on screen
    assert any(c.startswith("Modified:") and "units per layer" in c for c in captions)
    at.slider(key="width").set_value(128).run()  # its own value again: the lesson is in force
    assert not [c for c in at.caption if c.value.startswith("Modified:")]
    assert preset.teaches in [c.value for c in at.caption]
    at.selectbox(key=PRESET_KEY).select("").run()  # no lesson: the link stops naming it
    assert_clean(at)
    assert "preset" not in {k for k in at.query_params}
    assert at.session_state["width"] == 128  # the settings themselves stay


def test_a_link_overrides_its_preset_and_a_changed_setting_marks_it_modified():
    at = app(preset="over-fitting-rescue", epochs="5").run()
    assert_clean(at)
    assert at.session_state["epochs"] == 5  # the link's own field wins
    assert at.session_state["width"] == apply_preset(load_presets()["over-fitting-rescue"]).width
    [note] = [c.value for c in at.caption if c.value.startswith("Modified:")]
    assert "epochs" in note.lower()
    assert load_presets()["over-fitting-rescue"].teaches not in [c.value for c in at.caption]
    at.button(key="_reapply_preset").click().run()  # back to the lesson
    assert_clean(at)
    assert at.session_state["epochs"] == apply_preset(load_presets()["over-fitting-rescue"]).epochs
    assert not [c for c in at.caption if c.value.startswith("Modified:")]


def test_an_unknown_preset_in_a_link_is_ignored_with_a_warning():
    at = app(preset="no-such-lesson").run()
    assert_clean(at)
    assert any("Ignored 'preset=no-such-lesson'" in w.value for w in at.warning)
    assert at.session_state["width"] == 64
