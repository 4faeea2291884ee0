"""Lesson presets: one JSON file each in assets/presets/, loaded and validated here.

assets/presets/ is the one place to edit them. An installed package (`pip install .`) has no
checkout beside it, so pyproject.toml installs a copy of that folder inside the package, as
dropout_viz/lesson_presets/; PRESET_DIR is that copy when it exists, else the checkout's folder
(a checkout and `pip install -e .` read assets/presets/ itself).

A preset file looks like

    {"name": "over-fitting-rescue", "title": "Over-fitting rescue",
     "teaches": "Two to four sentences...", "tab": "experiments",
     "settings": {"n_samples": 80, "width": 128}}

Files are read in file-name order, so a numeric prefix ("01-over-fitting-rescue.json") sets the
order in the app; the rest of the file name must equal "name".

"teaches" may name the preset's own numbers in braces instead of writing them out, so that
editing "settings" cannot leave the text behind: any setting ("{width}", "{epochs}",
"{p_hidden}", ...) and a few derived values: "{n_train}" (training points after the split),
"{test_percent}" ("20%"), "{activation_label}" ("ReLU"), "{optimizer_label}" ("Adam") and
"{mask_scope_text}" ("a fresh mask for every example at every step"). They are filled in from
the preset applied to the defaults when the file is loaded.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dropout_viz.data import load_dataset
from dropout_viz.settings import FIELD_SPECS, SLUG_PATTERN, TABS, Settings, from_query_params

_PACKAGE_DIR = Path(__file__).resolve().parent
INSTALLED_PRESET_DIR = _PACKAGE_DIR / "lesson_presets"  # pyproject.toml: package-dir
CHECKOUT_PRESET_DIR = _PACKAGE_DIR.parent / "assets" / "presets"
PRESET_DIR = INSTALLED_PRESET_DIR if INSTALLED_PRESET_DIR.is_dir() else CHECKOUT_PRESET_DIR
PRESET_KEYS = ("name", "title", "teaches", "tab", "settings")
ACTIVATION_LABELS = {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid"}
OPTIMIZER_LABELS = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}
MASK_SCOPE_TEXTS = {"epoch": "one mask per epoch", "batch": "a new mask for every mini-batch",
                    "example": "a fresh mask for every example at every step"}
DERIVED = ("n_train", "test_percent", "activation_label", "optimizer_label", "mask_scope_text")


@dataclass(frozen=True)
class Preset:
    name: str  # slug, also stored in Settings.preset when applied
    title: str
    teaches: str  # 2–4 sentences: what the lesson shows, its numbers filled in
    tab: str  # which tab to open, one of TABS
    settings: dict[str, Any] = field(hash=False)  # partial Settings fields, already validated
    template: str = ""  # "teaches" as written in the file, with its {placeholders}


def load_presets(directory: Path | str | None = None) -> dict[str, Preset]:
    """Every preset in `directory` (default PRESET_DIR), by file name, validated.

    Raises ValueError naming the file (and the field) for anything malformed.
    """
    if directory is None and not PRESET_DIR.is_dir():  # a broken install: say so, not "none"
        raise FileNotFoundError(f"the lesson presets are missing: no folder {PRESET_DIR}")
    folder = Path(directory) if directory is not None else PRESET_DIR
    presets: dict[str, Preset] = {}
    for path in sorted(folder.glob("*.json")):
        preset = _load_preset(path)
        if preset.name in presets:
            raise ValueError(f"{path.name}: preset name {preset.name!r} is used twice")
        presets[preset.name] = preset
    return presets


def apply_preset(preset: Preset, base: Settings | None = None) -> Settings:
    """`base` (default: the defaults) with the preset's settings applied and `preset` set."""
    return (base or Settings()).replace(**preset.settings, preset=preset.name)


def differences(preset: Preset, settings: Settings) -> list[str]:
    """The preset's own fields that `settings` holds at other values ([] while it is in force)."""
    wanted = apply_preset(preset)
    return [name for name in preset.settings if getattr(settings, name) != getattr(wanted, name)]


def settings_from_link(params) -> tuple[Settings, list[str]]:
    """A link's settings and warnings: `preset=NAME` sets that preset's settings first, and
    every other field the link names overrides them (`?preset=x&width=8` is x with width 8)."""
    settings, warnings = from_query_params(params)
    if not settings.preset:
        return settings, warnings
    presets = load_presets()
    preset = presets.get(settings.preset)
    if preset is None:
        warnings.append(f"Ignored 'preset={settings.preset}': there is no such lesson; the "
                        f"presets are {', '.join(presets)}.")
        return settings.replace(preset=""), warnings
    named = {name: getattr(settings, name) for name in params if name in FIELD_SPECS}
    return apply_preset(preset).replace(**named), warnings


def _text_value(name: str, settings: Settings) -> str:
    """One placeholder of a preset's text, as it reads there."""
    if name == "n_train":
        data = load_dataset(settings.dataset, settings.n_samples, settings.noise,
                            settings.test_fraction, settings.data_seed)
        return str(len(data.y_train))
    if name == "test_percent":
        return f"{settings.test_fraction:.0%}"
    if name == "activation_label":
        return ACTIVATION_LABELS[settings.activation]
    if name == "optimizer_label":
        return OPTIMIZER_LABELS[settings.optimizer]
    if name == "mask_scope_text":
        return MASK_SCOPE_TEXTS[settings.mask_scope]
    if name not in FIELD_SPECS or name in ("hidden_controls", "preset"):
        raise KeyError(name)
    value = getattr(settings, name)
    return f"{value:g}" if isinstance(value, float) else str(value)


def fill_text(template: str, settings: Settings) -> str:
    """`template` with each {placeholder} replaced by its value under `settings`.

    Raises KeyError for a name that is neither a setting nor one of DERIVED, ValueError for
    a malformed template (an unmatched brace, a format spec).
    """
    fields = [(name, spec, conversion)
              for _, name, spec, conversion in string.Formatter().parse(template)
              if name is not None]
    for name, spec, conversion in fields:
        if not name or spec or conversion:
            raise ValueError(f"placeholders are bare names like {{width}}, got "
                             f"{{{name}{'!' + conversion if conversion else ''}"
                             f"{':' + spec if spec else ''}}}")
    return template.format_map({name: _text_value(name, settings) for name, _, _ in fields})


def _load_preset(path: Path) -> Preset:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path.name}: not a readable JSON file ({error})") from error
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path.name}: must hold a JSON object with keys {', '.join(PRESET_KEYS)}")
    unknown = sorted(set(raw) - set(PRESET_KEYS))
    if unknown:
        raise ValueError(f"{path.name}: unknown field {unknown[0]!r}; "
                         f"allowed: {', '.join(PRESET_KEYS)}")
    missing = [key for key in PRESET_KEYS if key not in raw]
    if missing:
        raise ValueError(f"{path.name}: missing field {missing[0]!r}")

    name, title, teaches, tab = raw["name"], raw["title"], raw["teaches"], raw["tab"]
    if not isinstance(name, str) or not SLUG_PATTERN.fullmatch(name):
        raise ValueError(f"{path.name}: name {name!r} must be a slug "
                         "(lowercase letters, digits and hyphens)")
    if not re.fullmatch(rf"(\d+-)?{re.escape(name)}", path.stem):
        raise ValueError(f"{path.name}: file name must be {name}.json or NN-{name}.json")
    for key, text in (("title", title), ("teaches", teaches)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{path.name}: {key} must be non-empty text")
    if tab not in TABS:
        raise ValueError(f"{path.name}: tab {tab!r} must be one of {', '.join(TABS)}")
    settings = _check_settings(path, raw["settings"])
    template = teaches.strip()
    try:
        text = fill_text(template, Settings().replace(**settings, preset=name))
    except KeyError as error:
        raise ValueError(f"{path.name}: teaches names {{{error.args[0]}}}, which is neither a "
                         f"setting nor one of {', '.join(DERIVED)}") from error
    except ValueError as error:
        raise ValueError(f"{path.name}: teaches: {error}") from error
    return Preset(name, title.strip(), text, tab, settings, template)


def _check_settings(path: Path, settings: Any) -> dict[str, Any]:
    if not isinstance(settings, Mapping):
        raise ValueError(f"{path.name}: settings must be a JSON object of Settings fields")
    checked: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in FIELD_SPECS or key == "preset":
            raise ValueError(f"{path.name}: settings.{key} is not a setting a preset can set")
        if isinstance(value, list):  # JSON has no tuples (hidden_controls)
            value = tuple(value)
        try:
            checked[key] = FIELD_SPECS[key].check(value)
        except ValueError as error:
            raise ValueError(f"{path.name}: settings.{error}") from error
    return checked
