"""The one table of fields: every layer derives from it and agrees with it.

A field's range and choices must be the same on the page (Settings), in a link (the URL
parser), on the command line and in the engine's TrainConfig; the keys and the engine's
configuration must carry every field the table says they do.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from test_settings import valid_settings

from dropout_viz import cli, data, pipeline
from dropout_viz.engine import ACTIVATIONS, CONVENTIONS, MASK_SCOPES, OPTIMIZERS, TrainConfig
from dropout_viz.engine.training import TABLE_CHECKED
from dropout_viz.schema import (
    DATA_FIELDS,
    ENGINE_FIELDS,
    FIELD_SPECS,
    LAYER_FIELDS,
    TRAIN_FIELDS,
    UPLOAD,
    FieldSpec,
    format_number,
)
from dropout_viz.settings import DEFAULTS, DataKey, Settings, TrainKey, from_query_params

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = [name for name, spec in FIELD_SPECS.items() if spec.kind in ("int", "float")]
CHOICES = [name for name, spec in FIELD_SPECS.items() if spec.kind == "choice"]


def just_outside(spec: FieldSpec) -> list[float]:
    """The nearest values beyond each bound (whole numbers for an int field)."""
    gap = 1 if spec.kind == "int" else max(1e-9, (spec.max - spec.min) * 1e-6)
    below = spec.min - gap
    return [spec.max + gap] + ([below] if below != spec.off else [])


def cli_accepts(name: str, text: str, capsys) -> bool:
    args = cli.build_parser().parse_args  # parse only: no training
    try:
        args(["export", "--out", "x", f"{cli.option_name(name)}={text}"])
        return True
    except SystemExit:
        message = capsys.readouterr().err
        assert cli.option_name(name) in message
        return False


def engine_accepts(name: str, value) -> bool:
    try:
        TrainConfig(**{name: value})
        return True
    except ValueError as error:
        assert name in str(error)
        return False


# ----------------------------------------------------------------------------- one range


@pytest.mark.parametrize("name", NUMBERS)
def test_every_number_has_one_range_in_the_url_the_cli_and_the_engine(name, capsys):
    spec = FIELD_SPECS[name]
    inside = [spec.min, spec.max] + ([spec.off] if spec.off is not None else [])
    for value in inside:
        text = format_number(value)
        s, warnings = from_query_params({name: text})
        assert (getattr(s, name), warnings) == (value, []), text
        if not spec.page_only:
            assert cli_accepts(name, text, capsys), text
        if name in ENGINE_FIELDS:
            assert engine_accepts(name, getattr(s, name)), text
    for value in just_outside(spec):
        text = format_number(value)
        s, warnings = from_query_params({name: text})
        assert getattr(s, name) == spec.default
        assert warnings == [f"Ignored '{name}={text}': must be {spec.allowed()}; using "
                            f"{format_number(spec.default)}."]
        assert not cli_accepts(name, text, capsys), text
        with pytest.raises(ValueError, match=f"^{name} = "):
            Settings(**{name: value})
        if name in TABLE_CHECKED:  # the engine refuses exactly what the table refuses
            assert not engine_accepts(name, value), text


@pytest.mark.parametrize("name", CHOICES)
def test_every_choice_list_is_the_same_in_the_url_the_cli_and_the_engine(name, capsys):
    spec = FIELD_SPECS[name]
    for choice in spec.choices:
        s, warnings = from_query_params({name: choice})
        assert (getattr(s, name), warnings) == (choice, [])
        assert cli_accepts(name, choice, capsys) == (choice not in spec.page_only_choices)
        if name in ENGINE_FIELDS:
            assert engine_accepts(name, choice)
    assert from_query_params({name: "nonsense"})[1] == [
        f"Ignored '{name}=nonsense': must be {spec.allowed()}; using {spec.default}."]
    assert not cli_accepts(name, "nonsense", capsys)
    if name in ENGINE_FIELDS:
        assert not engine_accepts(name, "nonsense")


def test_the_engine_checks_the_shared_fields_with_the_table_and_can_run_every_choice():
    shared = {"p_input", "p_hidden"} | {name for name in CHOICES if name in ENGINE_FIELDS}
    assert set(TABLE_CHECKED) == shared
    # Every choice the table allows is one the engine knows how to run.
    assert FIELD_SPECS["activation"].choices == ACTIVATIONS
    assert FIELD_SPECS["mask_scope"].choices == MASK_SCOPES
    assert FIELD_SPECS["convention"].choices == CONVENTIONS
    assert FIELD_SPECS["optimizer"].choices == OPTIMIZERS
    with pytest.raises(ValueError, match=r"drops every unit.*must be in \[0, 0\.9\]\.$"):
        TrainConfig(p_hidden=1.0)
    with pytest.raises(ValueError, match=r"^p_input = 0\.6 is out of range: the input dropout "
                                         r"rate must be in \[0, 0\.5\]$"):
        TrainConfig(p_input=0.6)


@settings(max_examples=200, deadline=None)
@given(valid_settings)
def test_every_run_the_page_allows_reaches_the_engine_unchanged(s):
    # The engine's own wider checks (seed, lr, epochs, ...) hold every value the table allows.
    key = s.train_key(content="0" * 64 if s.dataset == UPLOAD else "")
    config = pipeline.config_for(key)
    assert config.hidden == (s.width,) * s.n_layers
    assert {name: getattr(config, name) for name in ENGINE_FIELDS} == \
        {name: getattr(s, name) for name in ENGINE_FIELDS}


def test_the_data_module_accepts_every_data_set_and_range_of_the_table():
    assert FIELD_SPECS["dataset"].choices == (*data.DATASET_NAMES, UPLOAD)
    for name, low, high in (("n_samples", data.MIN_SAMPLES, data.MAX_SAMPLES),
                            ("noise", data.MIN_NOISE, data.MAX_NOISE),
                            ("test_fraction", data.MIN_TEST_FRACTION, data.MAX_TEST_FRACTION)):
        assert low <= FIELD_SPECS[name].min and FIELD_SPECS[name].max <= high, name


# ----------------------------------------------------------------------------- derived shapes


def test_settings_and_keys_are_made_from_the_table_in_its_order():
    assert [f.name for f in dataclasses.fields(Settings)] == list(FIELD_SPECS)
    assert all(f.default == FIELD_SPECS[f.name].default for f in dataclasses.fields(Settings))
    assert [f.name for f in dataclasses.fields(DataKey)] == [*DATA_FIELDS, "content"]
    assert [f.name for f in dataclasses.fields(TrainKey)] == ["data", *TRAIN_FIELDS]
    assert Settings.__module__ == "dropout_viz.settings"  # pickles and reads as before
    assert repr(DEFAULTS).startswith("Settings(dataset='moons', n_samples=150,")


def test_the_engine_config_takes_every_training_field_by_name():
    engine_only = {"hidden", "precision"}  # the layers' shape, and the arithmetic's precision
    assert {f.name for f in dataclasses.fields(TrainConfig)} == set(ENGINE_FIELDS) | engine_only
    assert set(ENGINE_FIELDS) | set(LAYER_FIELDS) == set(TRAIN_FIELDS)


def test_the_cli_offers_every_field_but_the_page_only_ones():
    assert cli.EXPORT_OPTIONS == tuple(n for n, s in FIELD_SPECS.items() if not s.page_only)
    assert cli.TRAIN_OPTIONS == DATA_FIELDS + TRAIN_FIELDS


def test_the_upload_identity_is_unchanged():
    # An upload's key is its file's SHA-256; no key can be made for it without one.
    upload = DEFAULTS.replace(dataset=UPLOAD)
    with pytest.raises(ValueError, match="identified by its content"):
        upload.data_key()
    with pytest.raises(ValueError, match="identified by its content"):
        DataKey(dataset=UPLOAD, n_samples=150, noise=0.35, test_fraction=0.4, data_seed=0)
    assert upload.train_key(content="a" * 64) != upload.train_key(content="b" * 64)


def test_a_bad_link_value_gets_a_clear_message_and_keeps_the_rest():
    s, warnings = from_query_params({"p_hidden": "0.95", "width": "16", "mask_scope": "example",
                                     "p_input": "0.7"})
    assert (s.p_hidden, s.p_input, s.width, s.mask_scope) == (0.5, 0.0, 16, "example")
    assert warnings == [
        "Ignored 'p_hidden=0.95': must be a number in [0, 0.9]; using 0.5.",
        "Ignored 'p_input=0.7': must be a number in [0, 0.5]; using 0."]


def test_the_table_imports_nothing_from_the_package():
    # It sits below the engine, which checks with it: an import from dropout_viz would run up.
    tree = ast.parse((ROOT / "dropout_viz" / "schema.py").read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names]
    assert not [name for name in imported if name and name.startswith("dropout_viz")]
