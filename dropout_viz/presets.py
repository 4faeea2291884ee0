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
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dropout_viz.settings import FIELD_SPECS, SLUG_PATTERN, TABS, Settings

_PACKAGE_DIR = Path(__file__).resolve().parent
INSTALLED_PRESET_DIR = _PACKAGE_DIR / "lesson_presets"  # pyproject.toml: package-dir
CHECKOUT_PRESET_DIR = _PACKAGE_DIR.parent / "assets" / "presets"
PRESET_DIR = INSTALLED_PRESET_DIR if INSTALLED_PRESET_DIR.is_dir() else CHECKOUT_PRESET_DIR
PRESET_KEYS = ("name", "title", "teaches", "tab", "settings")


@dataclass(frozen=True)
class Preset:
    name: str  # slug, also stored in Settings.preset when applied
    title: str
    teaches: str  # 2–4 sentences: what the lesson shows
    tab: str  # which tab to open, one of TABS
    settings: dict[str, Any] = field(hash=False)  # partial Settings fields, already validated


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
    return Preset(name, title.strip(), teaches.strip(), tab,
                  _check_settings(path, raw["settings"]))


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
