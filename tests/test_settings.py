"""Settings: defaults, validation messages, cache keys and the URL round-trip."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dropout_viz.settings import (
    DATA_FIELDS,
    DEFAULTS,
    FIELD_SPECS,
    GROUP_FIELDS,
    TRAIN_FIELDS,
    DataKey,
    FieldSpec,
    Settings,
    TrainKey,
    format_value,
    from_query_params,
    to_query_params,
    validate,
)


def field_strategy(spec: FieldSpec) -> st.SearchStrategy:
    """Any valid value for one field, built from its spec."""
    if spec.kind == "int":
        return st.integers(int(spec.min), int(spec.max))
    if spec.kind == "float":
        in_range = st.floats(spec.min, spec.max, allow_nan=False, allow_infinity=False)
        return in_range if spec.off is None else st.one_of(st.just(spec.off), in_range)
    if spec.kind == "choice":
        return st.sampled_from(spec.choices)
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "names":
        return st.lists(st.sampled_from(list(FIELD_SPECS)), unique=True, max_size=6).map(tuple)
    return st.one_of(st.just(""), st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,3}",
                                                fullmatch=True))


valid_settings = st.builds(Settings, **{name: field_strategy(spec)
                                        for name, spec in FIELD_SPECS.items()})

# One out-of-range (or wrong-kind) value per field.
BAD_VALUES = {
    "dataset": "mnist", "n_samples": 19, "noise": 1.05, "test_fraction": 0.95,
    "data_seed": 10000, "n_layers": 5, "width": 1, "activation": "gelu", "init": "lecun",
    "p_hidden": 1.0,
    "p_input": 0.55, "mask_scope": "step", "convention": "scaled", "optimizer": "rmsprop",
    "lr": 2.0, "batch_size": 0, "epochs": 1001, "l2": -0.01, "max_norm": 0.25, "seed": -1,
    "k_subnets": 17, "gallery_source": "random", "ensemble_kind": "harmonic",
    "uncertainty": "variance", "sweep_mode": "depth", "projector": 1,
    "hidden_controls": ("p_hidden", "nonsense"), "preset": "Not A Slug",
}


def test_defaults_are_valid_and_match_the_brief():
    s = Settings()
    assert validate(s) is s
    assert (s.dataset, s.n_samples, s.noise, s.test_fraction) == ("moons", 150, 0.35, 0.4)
    assert (s.n_layers, s.width, s.activation) == (2, 64, "relu")
    assert (s.p_hidden, s.p_input, s.mask_scope, s.convention) == (0.5, 0.0, "epoch", "standard")
    assert (s.optimizer, s.lr, s.batch_size, s.epochs) == ("adam", 0.01, 32, 150)
    assert (s.k_subnets, s.hidden_controls, s.preset, s.projector) == (8, (), "", False)
    assert s.hidden == (64, 64)
    assert Settings(n_layers=3, width=16).hidden == (16, 16, 16)


def test_field_specs_cover_every_field_once():
    names = [f.name for f in dataclasses.fields(Settings)]
    assert list(FIELD_SPECS) == names
    grouped = [name for group in GROUP_FIELDS.values() for name in group]
    assert sorted(grouped) == sorted(names)
    for name, spec in FIELD_SPECS.items():
        assert spec.name == name and spec.label and spec.help and spec.what
        assert spec.default == getattr(Settings(), name)
        if spec.kind in ("int", "float"):
            assert spec.min < spec.max
        if spec.kind == "choice":
            assert spec.default in spec.choices


def test_every_field_has_a_bad_value_listed():
    assert set(BAD_VALUES) == set(FIELD_SPECS)


@pytest.mark.parametrize("name", list(BAD_VALUES))
def test_out_of_range_value_raises_naming_the_field(name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        Settings(**{name: BAD_VALUES[name]})
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        DEFAULTS.replace(**{name: BAD_VALUES[name]})


def test_messages_say_what_is_allowed():
    with pytest.raises(ValueError) as error:
        Settings(p_hidden=1.0)
    assert str(error.value) == (
        "p_hidden = 1.0 is out of range: the dropout rate must be in [0, 0.9]")
    with pytest.raises(ValueError, match=r"must be 0 \(off\) or in \[0.5, 10\]"):
        Settings(max_norm=0.3)
    with pytest.raises(ValueError, match="one of relu, tanh, sigmoid"):
        Settings(activation="gelu")
    with pytest.raises(ValueError, match="whole number in \\[20, 2000\\]"):
        Settings(n_samples=150.5)
    with pytest.raises(ValueError, match="'nonsense', which is not a setting name"):
        Settings(hidden_controls=("nonsense",))


@pytest.mark.parametrize("name", ["noise", "p_hidden", "lr", "l2", "max_norm"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_rejected(name, value):
    with pytest.raises(ValueError, match=rf"^{name} = "):
        Settings(**{name: value})


def test_bounds_are_inclusive_and_exact_values_are_kept():
    s = Settings(p_hidden=0.9, p_input=0.5, lr=1e-4, n_samples=2000, max_norm=10.0)
    assert (s.p_hidden, s.p_input, s.lr, s.n_samples, s.max_norm) == (0.9, 0.5, 1e-4, 2000, 10)
    assert Settings(p_hidden=0.33).p_hidden == 0.33  # off the 0.05 widget grid, still allowed
    assert Settings(max_norm=0).max_norm == 0.0


def test_types_are_normalised():
    import numpy as np

    s = Settings(n_samples=np.int64(100), lr=1, hidden_controls=["lr", "seed", "lr"],
                 projector=np.bool_(True))
    assert type(s.n_samples) is int and s.n_samples == 100
    assert type(s.lr) is float
    assert s.hidden_controls == ("lr", "seed")  # a tuple, duplicates dropped
    assert s.projector is True
    assert hash(s) == hash(Settings(n_samples=100, lr=1.0, hidden_controls=("lr", "seed"),
                                    projector=True))
    with pytest.raises(ValueError, match="^projector"):
        Settings(projector="yes")
    with pytest.raises(ValueError, match="^n_samples"):
        Settings(n_samples=True)  # a bool is not a count


def test_replace_validates_and_rejects_unknown_fields():
    s = DEFAULTS.replace(p_hidden=0.2, width=16)
    assert (s.p_hidden, s.width, s.n_layers) == (0.2, 16, 2)
    assert DEFAULTS.p_hidden == 0.5  # frozen: the original is unchanged
    with pytest.raises(ValueError, match="Unknown setting 'p_hiden'.*did you mean 'p_hidden'"):
        DEFAULTS.replace(p_hiden=0.2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.width = 8  # type: ignore[misc]


def test_data_and_train_keys_hold_only_their_fields():
    # ... plus the content hash that names an uploaded data set.
    assert [f.name for f in dataclasses.fields(DataKey)] == [*DATA_FIELDS, "content"]
    assert [f.name for f in dataclasses.fields(TrainKey)] == ["data", *TRAIN_FIELDS]
    assert DEFAULTS.train_key().data == DEFAULTS.data_key()
    assert DEFAULTS.train_key().hidden == (64, 64)
    assert len({DEFAULTS.train_key(), DEFAULTS.replace().train_key()}) == 1  # hashable by value


def test_an_upload_key_is_named_by_its_content_and_two_files_never_share_one():
    upload = DEFAULTS.replace(dataset="upload")
    with pytest.raises(ValueError, match="identified by its content"):
        upload.train_key()  # no key for an upload without the file's hash
    with pytest.raises(ValueError, match="identified by its content"):
        DEFAULTS.train_key(content="ab" * 32)  # and generated data carries none
    a, b = upload.train_key(content="a" * 64), upload.train_key(content="b" * 64)
    assert a != b and a.data.content == "a" * 64
    assert a == upload.train_key(content="a" * 64)


@pytest.mark.parametrize("name", list(FIELD_SPECS))
def test_changing_a_field_changes_exactly_the_keys_it_should(name):
    other = next(v for v in _some_valid_values(name) if v != getattr(DEFAULTS, name))
    changed = DEFAULTS.replace(**{name: other})
    group = FIELD_SPECS[name].group
    assert (changed.data_key() != DEFAULTS.data_key()) == (group == "data")
    assert (changed.train_key() != DEFAULTS.train_key()) == (group != "views")


def _some_valid_values(name):
    spec = FIELD_SPECS[name]
    if spec.kind in ("int", "float"):
        return [spec.min, spec.max]
    return {"choice": spec.choices, "bool": (True, False), "names": (("lr",),),
            "slug": ("a-preset",)}[spec.kind]


# URL round-trip


def test_defaults_give_an_empty_query():
    assert to_query_params(Settings()) == {}
    assert from_query_params({}) == (Settings(), [])


def test_query_is_short_and_readable():
    s = Settings(lr=1e-4, max_norm=3.0, p_hidden=0.25, hidden_controls=("lr", "seed"),
                 projector=True, dataset="spiral", width=128)
    assert to_query_params(s) == {
        "dataset": "spiral", "width": "128", "p_hidden": "0.25", "lr": "0.0001",
        "max_norm": "3", "projector": "1", "hidden_controls": "lr,seed",
    }


@settings(max_examples=300, deadline=None)
@given(valid_settings)
def test_query_round_trip_is_exact(s):
    params = to_query_params(s)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
    restored, warnings = from_query_params(params)
    assert restored == s
    assert warnings == []


def test_list_values_use_the_last_one_with_a_warning():
    s, warnings = from_query_params({"width": ["16", "32"], "seed": ["7"]})
    assert (s.width, s.seed) == (32, 7)
    assert warnings == ["'width' was given 2 times; using the last value."]


def test_bad_value_falls_back_to_its_default_and_keeps_the_rest():
    s, warnings = from_query_params({"p_hidden": "abc", "width": "16", "lr": "0.1"})
    assert (s.p_hidden, s.width, s.lr) == (0.5, 16, 0.1)
    assert warnings == ["Ignored 'p_hidden=abc': must be a number in [0, 0.9]; using 0.5."]


def test_unknown_key_is_ignored_with_a_suggestion():
    s, warnings = from_query_params({"p_hiden": "0.2", "zzz": "1"})
    assert s == Settings()
    assert warnings == ["Ignored unknown setting 'p_hiden' (did you mean 'p_hidden'?).",
                        "Ignored unknown setting 'zzz'."]


def test_numbers_accept_friendly_spellings():
    s, warnings = from_query_params({"n_samples": "1e3", "epochs": " 20 ", "projector": "true",
                                     "noise": ".5"})
    assert (s.n_samples, s.epochs, s.projector, s.noise) == (1000, 20, True, 0.5)
    assert warnings == []


def test_hidden_controls_keep_the_known_names():
    s, warnings = from_query_params({"hidden_controls": "lr,bogus,,seed"})
    assert s.hidden_controls == ("lr", "seed")
    assert warnings == ["Ignored 'hidden_controls' entry 'bogus': not a setting name."]
    assert from_query_params({"hidden_controls": ""}) == (Settings(), [])


# Junk that no field (other than the free-form preset slug) accepts.
ALWAYS_BAD = ["", " ", "\n", "nan", "NaN", "inf", "-inf", "1e400", "-1", "0x10", "1/2", "None",
              "[]", "∞", "\x00", "é" * 5000, "9" * 5000, "1" * 201, "0.5.5", "🙂", "١/٢"]
# Odd spellings that some fields accept: full-width digits, "true", an underflow to 0, "-0".
ODD_BUT_MAYBE_OK = ["０.５", "true", "1e-400", "-0", "1_0", " 8 "]
CHECKED_FIELDS = [n for n in FIELD_SPECS if n not in ("hidden_controls", "preset")]


@pytest.mark.parametrize("name", CHECKED_FIELDS)
def test_hand_made_junk_gives_the_default_and_a_warning_naming_the_key(name):
    for junk in ALWAYS_BAD:
        s, warnings = from_query_params({name: junk})
        assert s == Settings(), junk
        assert len(warnings) == 1, junk
        assert warnings[0].startswith(f"Ignored '{name}=")
        assert FIELD_SPECS[name].allowed() in warnings[0]


@pytest.mark.parametrize("name", list(FIELD_SPECS))
def test_odd_values_are_either_valid_or_reported(name):
    for junk in ODD_BUT_MAYBE_OK + ALWAYS_BAD:
        s, warnings = from_query_params({name: junk})
        value = getattr(s, name)
        assert FIELD_SPECS[name].check(value) == value
        assert all(f"'{name}" in w for w in warnings), junk
        if value != getattr(DEFAULTS, name) and name != "hidden_controls":
            assert warnings == [], junk
        assert all(getattr(s, other) == getattr(DEFAULTS, other)
                   for other in FIELD_SPECS if other != name)


def test_some_junk_is_reported_precisely():
    assert from_query_params({"p_hidden": "nan"})[1] == [
        "Ignored 'p_hidden=nan': must be a number in [0, 0.9]; using 0.5."]
    assert from_query_params({"p_hidden": "1e400"})[1] == [
        "Ignored 'p_hidden=1e400': must be a number in [0, 0.9]; using 0.5."]
    s, warnings = from_query_params({"epochs": "9" * 5000})
    assert s.epochs == 150
    assert len(warnings) == 1 and warnings[0].startswith("Ignored 'epochs=9999")
    assert len(warnings[0]) < 200  # long input is clipped in the message
    assert from_query_params({"dataset": "\x00"})[1] == [
        "Ignored 'dataset=\\x00': must be one of moons, circles, blobs, xor, spiral, linear, "
        "digits, sine, gap, growing-noise, upload; using moons."]
    assert from_query_params({"projector": ""})[1] == [
        "Ignored 'projector=': must be 1 or 0; using 0."]
    assert from_query_params({"width": []})[1] == [
        "Ignored 'width': it has no value; using 64."]


def test_non_string_junk_never_raises():
    s, warnings = from_query_params({"width": None, "seed": 12, 3: "x", "lr": [None, 0.5]})
    assert (s.width, s.seed, s.lr) == (64, 12, 0.5)
    assert len(warnings) == 3  # width empty, unknown key 3, lr given twice
    assert from_query_params(None)[0] == Settings()  # type: ignore[arg-type]


query_values = st.one_of(st.text(max_size=30), st.lists(st.text(max_size=30), max_size=3),
                         st.floats().map(repr), st.integers().map(str))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.one_of(st.sampled_from(list(FIELD_SPECS)), st.text(max_size=20)),
                       query_values, max_size=8))
def test_random_junk_never_raises(params):
    s, warnings = from_query_params(params)
    assert validate(s) is s
    unknown = [key for key in params if key not in FIELD_SPECS]
    for key in unknown:
        assert sum("Ignored unknown setting" in w for w in warnings) >= 1, key
    assert sum("Ignored unknown setting" in w for w in warnings) == len(unknown)
    for name in FIELD_SPECS:
        if name not in params:
            assert getattr(s, name) == getattr(DEFAULTS, name)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([n for n in FIELD_SPECS if FIELD_SPECS[n].kind in ("int", "float")]),
       st.text(alphabet=st.characters(categories=["L", "S", "Zs"]), min_size=1, max_size=50))
def test_non_numeric_text_for_a_number_gives_the_default_and_a_warning(name, text):
    # No digits in the alphabet, so nothing here is a number ("inf"/"nan" are refused too).
    s, warnings = from_query_params({name: text})
    assert getattr(s, name) == getattr(DEFAULTS, name)
    assert len(warnings) == 1 and warnings[0].startswith(f"Ignored '{name}=")
    assert warnings[0].endswith(f"; using {format_value(getattr(DEFAULTS, name))}.")
