"""Every choice on the page, as one frozen, validated, URL-serialisable object.

The fields are not written here: `Settings`, and its cache keys `DataKey` and `TrainKey`, are
made from the one table in `schema.py` (names, types, defaults; `FieldSpec.check` validates each
value). This module adds what the page does with them: the cache keys and the URL binding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from dropout_viz.schema import (
    DATA_FIELDS,
    FIELD_SPECS,
    GROUP_FIELDS,
    GROUPS,
    SLUG_PATTERN,
    TRAIN_FIELDS,
    UPLOAD,
    FieldSpec,
    clip,
    did_you_mean,
    format_number,
)

__all__ = [
    "DATA_FIELDS", "DEFAULTS", "FIELD_SPECS", "GROUPS", "GROUP_FIELDS", "SLUG_PATTERN", "TABS",
    "TRAIN_FIELDS", "UPLOAD", "DataKey", "FieldSpec", "Settings", "TrainKey", "format_number",
    "format_value", "from_query_params", "to_query_params", "validate",
]

TABS = ("action", "ensemble", "experiments", "learn", "handmade")

# Longest raw URL value we try to parse; anything longer is junk by construction.
_MAX_RAW_LENGTH = 200


def _frozen_dataclass(name: str, fields: list[tuple], methods: type, doc: str) -> type:
    """A frozen (hashable, comparable) dataclass `name` of this module: `fields` as
    make_dataclass takes them, the behaviour of the plain class `methods`."""
    return dataclasses.make_dataclass(name, fields, bases=(methods,), frozen=True,
                                      namespace={"__module__": __name__, "__doc__": doc})


def _table_fields(names: tuple[str, ...], with_defaults: bool) -> list[tuple]:
    return [(name, FIELD_SPECS[name].type, FIELD_SPECS[name].default) if with_defaults
            else (name, FIELD_SPECS[name].type) for name in names]


class _DataKeyMethods:
    def __post_init__(self) -> None:
        # Two uploads with equal settings must never share a cache entry, so an upload's key
        # cannot be made without its content (and a generated set's cannot carry one).
        if (self.dataset == UPLOAD) != bool(self.content):
            raise ValueError("an uploaded data set is identified by its content: its key needs "
                             "the file's SHA-256, and only an upload has one")


DataKey = _frozen_dataclass(
    "DataKey", [*_table_fields(DATA_FIELDS, with_defaults=False), ("content", str, "")],
    _DataKeyMethods,
    "The fields that change the dataset, plus `content`: the SHA-256 of an uploaded file's "
    "bytes (\"\" for generated data). A cache key.")


class _TrainKeyMethods:
    @property
    def hidden(self) -> tuple[int, ...]:
        return (self.width,) * self.n_layers


TrainKey = _frozen_dataclass(
    "TrainKey", [("data", DataKey), *_table_fields(TRAIN_FIELDS, with_defaults=False)],
    _TrainKeyMethods,
    "The fields that change training, with the data's key: the one identity from which every "
    "cached result of a run derives its key.")


class _SettingsMethods:
    def __post_init__(self) -> None:
        # Normalise types (numpy ints, int for float, list for tuple) so equal settings
        # compare and hash equal, and reject anything out of range.
        for name, spec in FIELD_SPECS.items():
            object.__setattr__(self, name, spec.check(getattr(self, name)))

    @property
    def hidden(self) -> tuple[int, ...]:
        """Hidden layer sizes, e.g. (64, 64)."""
        return (self.width,) * self.n_layers

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` applied and validated (ValueError on unknown or bad fields)."""
        unknown = [name for name in changes if name not in FIELD_SPECS]
        if unknown:
            raise ValueError(f"Unknown setting {unknown[0]!r}{did_you_mean(unknown[0])}")
        return dataclasses.replace(self, **changes)

    def data_key(self, content: str = "") -> DataKey:
        """Only the fields that change the dataset (hashable; a cache key). An uploaded data
        set is named by its `content` (the SHA-256 of the file), which settings cannot hold."""
        return DataKey(**{name: getattr(self, name) for name in DATA_FIELDS}, content=content)

    def train_key(self, content: str = "") -> TrainKey:
        """Only the fields that change training, including the dataset (hashable; a cache key):
        the one identity from which every cached result of these settings derives its key."""
        values = {name: getattr(self, name) for name in TRAIN_FIELDS}
        return TrainKey(data=self.data_key(content), **values)


Settings = _frozen_dataclass(
    "Settings", _table_fields(tuple(FIELD_SPECS), with_defaults=True), _SettingsMethods,
    "One serialisable object holding every choice on the page: the fields of schema.FIELD_SPECS, "
    "in its order, with its defaults, each value checked by its FieldSpec.")

DEFAULTS = Settings()


def validate(settings: Settings) -> Settings:
    """Check every field again (ValueError naming the first bad one); returns `settings`."""
    for name, spec in FIELD_SPECS.items():
        spec.check(getattr(settings, name))
    return settings


def format_value(value: Any) -> str:
    """A Settings value as URL text."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def to_query_params(settings: Settings) -> dict[str, str]:
    """Only the fields that differ from the defaults, as URL text."""
    return {
        name: format_value(getattr(settings, name))
        for name in FIELD_SPECS
        if getattr(settings, name) != getattr(DEFAULTS, name)
    }


def from_query_params(params: Mapping[str, Any]) -> tuple[Settings, list[str]]:
    """Settings read from URL parameters, plus one warning per problem. Never raises.

    Bad values fall back to that field's default; unknown keys are ignored; the rest is kept.
    """
    values: dict[str, Any] = {}
    warnings: list[str] = []
    try:
        items = list(params.items())
    except Exception:  # not a mapping at all
        return DEFAULTS, ["Ignored the URL parameters: they could not be read."]
    for key, raw_value in items:
        try:
            _read_param(str(key), raw_value, values, warnings)
        except Exception:  # belt and braces: one bad parameter must not break the page
            warnings.append(f"Ignored '{clip(str(key))}': it could not be read.")
    try:
        return Settings(**values), warnings
    except Exception:  # cannot happen (each value was checked), but never raise
        return DEFAULTS, [*warnings, "Ignored the URL parameters: they did not fit together."]


def _read_param(key: str, raw_value: Any, values: dict[str, Any], warnings: list[str]) -> None:
    spec = FIELD_SPECS.get(key)
    if spec is None:
        warnings.append(f"Ignored unknown setting '{clip(key)}'{did_you_mean(key)}.")
        return
    if isinstance(raw_value, (list, tuple)):
        if not raw_value:
            warnings.append(f"Ignored '{key}': it has no value; using {_default_text(spec)}.")
            return
        if len(raw_value) > 1:
            warnings.append(f"'{key}' was given {len(raw_value)} times; using the last value.")
        raw_value = raw_value[-1]
    text = "" if raw_value is None else str(raw_value)

    if spec.kind == "names":
        names = []
        for item in (part.strip() for part in text[:2000].split(",")):
            if item in FIELD_SPECS:
                names.append(item)
            elif item:
                warnings.append(f"Ignored '{key}' entry '{clip(item)}': not a setting name"
                                f"{did_you_mean(item)}.")
        values[key] = tuple(names)
        return

    try:
        if len(text) > _MAX_RAW_LENGTH:
            raise ValueError("too long")
        values[key] = spec.parse(text)
    except (ValueError, OverflowError, TypeError):
        warnings.append(f"Ignored '{key}={clip(text)}': must be {spec.allowed()}; "
                        f"using {_default_text(spec)}.")


def _default_text(spec: FieldSpec) -> str:
    text = format_value(spec.default)
    return text if text else "none"
