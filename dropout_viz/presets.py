"""Lesson presets: one JSON file each in assets/presets/, loaded and validated here.

assets/presets/ is the one place to edit them. An installed package (`pip install .`) has no
checkout beside it, so pyproject.toml installs a copy of that folder inside the package, as
dropout_viz/lesson_presets/; PRESET_DIR is that copy when it exists, else the checkout's folder
(a checkout and `pip install -e .` read assets/presets/ itself).

A preset file looks like {"name": "over-fitting-rescue", "title": "Over-fitting rescue",
"teaches": "Two to four sentences...", "tab": "experiments", "settings": {"n_samples": 80}}.

Files are read in file-name order, so a numeric prefix ("01-over-fitting-rescue.json") sets the
order in the app; the rest of the file name must equal "name".

"teaches" may name the preset's own numbers in braces instead of writing them out, so that
editing "settings" cannot leave the text behind: any setting ("{width}", "{epochs}",
"{p_hidden}", ...) and a few derived values: "{n_train}" (training points after the split),
"{test_percent}" ("20%"), "{activation_label}" ("ReLU"), "{optimizer_label}" ("Adam") and
"{mask_scope_text}" ("a fresh mask for every example at every step"). They are filled in from
the preset applied to the defaults when the file is loaded.

"steps" (optional) makes the preset a guided lesson of MIN_STEPS to MAX_STEPS steps, each a
prediction and its reveal:

    {"title": "The test loss", "tab": "action", "settings": {"p_hidden": 0.0},
     "look_at": "the loss curves under the animation", "question": "Will the test loss ...?",
     "answer": "No: ...", "claims": [{"check": "higher", "metric": "test_loss",
                                       "than": {"p_hidden": 0.5}}]}

A step's "settings" are applied on top of the preset's (`step_settings`); its texts may use the
same {placeholders}, filled from the step's settings. "claims" (optional) back what the answer
states with numbers measured on the step's run (lesson_steps.py computes them; tests check
that every one holds): CLAIM_CHECKS says what each check needs, CLAIM_METRICS what can be
measured. "than" is either settings (the same metric on the step's run with those changes) or
another metric's name (on the same run).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
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
PRESET_KEYS = ("name", "title", "teaches", "tab", "settings", "steps")
REQUIRED_KEYS = PRESET_KEYS[:-1]
STEP_KEYS = ("title", "tab", "settings", "look_at", "question", "answer", "claims")
STEP_TEXTS = ("title", "look_at", "question", "answer")
MIN_STEPS, MAX_STEPS = 3, 6
STEP_PARAM = "step"  # the URL parameter: ?preset=NAME&step=3 (1-based)
# Kept from the page when a step is entered, unless the step sets them: how this screen shows
# the page (projector mode) and what the teacher hid are not the lesson's to change.
SCREEN_FIELDS = ("projector", "hidden_controls")
# check -> (the arguments it needs, the ones it may have)
CLAIM_CHECKS = {"lower": (("metric", "than"), ("by",)), "higher": (("metric", "than"), ("by",)),
                "close": (("metric", "than", "within"), ()),
                "differs": (("metric", "than", "within"), ()),
                "at_least": (("metric", "value"), ()), "at_most": (("metric", "value"), ())}
# What a claim can measure on a step's run (lesson_steps.METRICS computes each one).
CLAIM_METRICS = ("train_acc", "test_acc", "train_loss", "test_loss", "gap", "test_loss_rise",
                 "boundary_length", "loss_jitter", "sub_networks_trained",
                 "sub_network_acc_spread", "one_sub_network_acc", "average_test_loss",
                 "average_agreement", "mc_gap", "mc_gap_one", "disagreement_max",
                 "input_mean_error", "input_sample_error", "curve_rise_and_fall",
                 "test_mse_in_gap", "test_mse_off_gap", "band_gap_ratio", "band_share",
                 "mc_mean_test_mse")
ACTIVATION_LABELS = {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid"}
OPTIMIZER_LABELS = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}
MASK_SCOPE_TEXTS = {"epoch": "one mask per epoch", "batch": "a new mask for every mini-batch",
                    "example": "a fresh mask for every example at every step"}
DERIVED = ("n_train", "test_percent", "activation_label", "optimizer_label", "mask_scope_text")


@dataclass(frozen=True)
class Claim:
    """Something a step's answer states, as a check of numbers measured on the step's run."""

    check: str  # one of CLAIM_CHECKS
    metric: str  # one of CLAIM_METRICS
    than: Any = field(default=None, hash=False)  # settings changes (dict) or a metric's name
    value: float | str | None = None  # at_least / at_most: a number or a numeric setting
    by: float = 1.0  # lower / higher: by at least this factor
    within: float = 0.0  # close: |difference| at most this


@dataclass(frozen=True)
class Step:
    """One step of a guided lesson: its texts filled in from its settings."""

    title: str
    tab: str  # one of TABS
    settings: dict[str, Any] = field(hash=False)  # changes to the preset's settings, validated
    look_at: str = ""
    question: str = ""
    answer: str = ""
    claims: tuple[Claim, ...] = ()


@dataclass(frozen=True)
class Preset:
    name: str  # slug, also stored in Settings.preset when applied
    title: str
    teaches: str  # 2–4 sentences: what the lesson shows, its numbers filled in
    tab: str  # which tab to open, one of TABS
    settings: dict[str, Any] = field(hash=False)  # partial Settings fields, already validated
    template: str = ""  # "teaches" as written in the file, with its {placeholders}
    steps: tuple[Step, ...] = ()  # its guided lesson, if it has one


def load_presets(directory: Path | str | None = None) -> dict[str, Preset]:
    """Every preset in `directory` (default PRESET_DIR), by file name, validated.

    Raises ValueError naming the file (and the field) for anything malformed. Parsed once per
    version of the files (name, size, modification time): every rerun of the page reads them."""
    if directory is None and not PRESET_DIR.is_dir():  # a broken install: say so, not "none"
        raise FileNotFoundError(f"the lesson presets are missing: no folder {PRESET_DIR}")
    folder = Path(directory) if directory is not None else PRESET_DIR
    return dict(_parse_presets(tuple((path, _version(path))
                                     for path in sorted(folder.glob("*.json")))))


def _version(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:  # unreadable: _load_preset says so
        return None
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=8)
def _parse_presets(versions: tuple[tuple[Path, tuple | None], ...]) -> dict[str, Preset]:
    presets: dict[str, Preset] = {}
    for path, _ in versions:
        preset = _load_preset(path)
        if preset.name in presets:
            raise ValueError(f"{path.name}: preset name {preset.name!r} is used twice")
        presets[preset.name] = preset
    return presets


def apply_preset(preset: Preset, base: Settings | None = None) -> Settings:
    """`base` (default: the defaults) with the preset's settings applied and `preset` set."""
    return (base or Settings()).replace(**preset.settings, preset=preset.name)


def step_settings(preset: Preset, index: int, base: Settings | None = None) -> Settings:
    """The settings of step `index` (0-based): the preset's, then the step's changes. With a
    `base` (the page's settings), its SCREEN_FIELDS stay unless the preset or step sets them."""
    step = preset.steps[index]
    settings = apply_preset(preset).replace(**step.settings)
    if base is None:
        return settings
    kept = {name: getattr(base, name) for name in SCREEN_FIELDS
            if name not in preset.settings and name not in step.settings}
    return settings.replace(**kept)


def differences(preset: Preset, settings: Settings, step: int | None = None) -> list[str]:
    """The preset's own fields (and step `step`'s) that `settings` holds at other values ([]
    while the preset, or that step of its lesson, is in force)."""
    if step is None:
        wanted, names = apply_preset(preset), list(preset.settings)
    else:
        wanted = step_settings(preset, step)
        names = list(preset.settings) + [n for n in preset.steps[step].settings
                                         if n not in preset.settings]
    return [name for name in names if getattr(settings, name) != getattr(wanted, name)]


def parse_step(raw: Any, preset: Preset | None) -> tuple[int | None, str | None]:
    """A link's `step=N` (1-based) as a 0-based index, or None and a warning saying why not."""
    text = str(raw[-1] if isinstance(raw, (list, tuple)) and raw else raw)[:40]
    if preset is None or not preset.steps:
        which = f"lesson {preset.name!r} has no steps" if preset else "there is no preset=NAME"
        names = ", ".join(n for n, p in load_presets().items() if p.steps)
        return None, (f"Ignored 'step={text}': a step belongs to a guided lesson, and {which}. "
                      f"The lessons with steps are {names}.")
    n = len(preset.steps)
    if not re.fullmatch(r"\d{1,3}", text.strip()) or not 1 <= int(text) <= n:
        return None, (f"Ignored 'step={text}': lesson {preset.name!r} has steps 1 to {n}; "
                      "showing the lesson's own settings.")
    return int(text) - 1, None


def lesson_from_link(params) -> tuple[Settings, int | None, list[str]]:
    """`settings_from_link`, and `step=N` of the preset's guided lesson: the step's settings
    come between the preset's and the link's own fields. Returns (settings, 0-based step or
    None, warnings); never raises."""
    params = dict(params)
    raw_step = params.pop(STEP_PARAM, None)
    settings, warnings = settings_from_link(params)
    if raw_step is None:
        return settings, None, warnings
    preset = load_presets().get(settings.preset) if settings.preset else None
    index, problem = parse_step(raw_step, preset)
    if problem:
        return settings, None, [*warnings, problem]
    return step_settings(preset, index).replace(**_named(params, settings)), index, warnings


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
    return apply_preset(preset).replace(**_named(params, settings)), warnings


def _named(params, settings: Settings) -> dict[str, Any]:
    """The fields a link names, at the values read from it."""
    return {name: getattr(settings, name) for name in params if name in FIELD_SPECS}


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
    _check_fields(path.name, raw, PRESET_KEYS, REQUIRED_KEYS)

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
    preset = Preset(name, title.strip(), text, tab, settings, template)
    if "steps" not in raw:
        return preset
    steps = raw["steps"]
    if not isinstance(steps, list) or not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise ValueError(f"{path.name}: steps must be a list of {MIN_STEPS} to {MAX_STEPS} steps")
    return dataclasses.replace(preset, steps=tuple(
        _load_step(path, preset, f"step {i + 1}", raw_step) for i, raw_step in enumerate(steps)))


def _check_fields(where: str, raw: Mapping, allowed: tuple, required: tuple) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(allowed)}")
    missing = [key for key in required if key not in raw]
    if missing:
        raise ValueError(f"{where}: missing field {missing[0]!r}")


def _load_step(path: Path, preset: Preset, where: str, raw: Any) -> Step:
    where = f"{path.name}: {where}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a JSON object with keys {', '.join(STEP_KEYS)}")
    _check_fields(where, raw, STEP_KEYS, ("tab",) + STEP_TEXTS)
    if raw["tab"] not in TABS:
        raise ValueError(f"{where}: tab {raw['tab']!r} must be one of {', '.join(TABS)}")
    changes = _check_settings(path, raw.get("settings", {}), f"{where}: settings")
    settings = apply_preset(preset).replace(**changes)
    texts = {}
    for key in STEP_TEXTS:
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise ValueError(f"{where}: {key} must be non-empty text")
        try:
            texts[key] = fill_text(raw[key].strip(), settings)
        except KeyError as error:
            raise ValueError(f"{where}: {key} names {{{error.args[0]}}}, which is neither a "
                             f"setting nor one of {', '.join(DERIVED)}") from error
        except ValueError as error:
            raise ValueError(f"{where}: {key}: {error}") from error
    claims = raw.get("claims", [])
    if not isinstance(claims, list):
        raise ValueError(f"{where}: claims must be a list of claims")
    return Step(tab=raw["tab"], settings=changes, **texts, claims=tuple(
        _load_claim(path, f"{where}: claim {i + 1}", c) for i, c in enumerate(claims)))


def _load_claim(path: Path, where: str, raw: Any) -> Claim:
    if not isinstance(raw, Mapping) or raw.get("check") not in CLAIM_CHECKS:
        raise ValueError(f"{where} must be an object whose check is one of "
                         f"{', '.join(CLAIM_CHECKS)}")
    needed, optional = CLAIM_CHECKS[raw["check"]]
    unknown = sorted(set(raw) - {"check", *needed, *optional})
    if unknown:
        raise ValueError(f"{where}: {raw['check']} takes {', '.join(needed + optional)}, "
                         f"not {unknown[0]!r}")
    missing = [key for key in needed if key not in raw]
    if missing:
        raise ValueError(f"{where}: {raw['check']} needs {missing[0]!r}")
    if raw["metric"] not in CLAIM_METRICS:
        raise ValueError(f"{where}: metric {raw['metric']!r} must be one of "
                         f"{', '.join(CLAIM_METRICS)}")
    than = raw.get("than")
    if isinstance(than, str):
        if than not in CLAIM_METRICS:
            raise ValueError(f"{where}: than {than!r} must be settings or one of "
                             f"{', '.join(CLAIM_METRICS)}")
    elif than is not None:
        than = _check_settings(path, than, f"{where}: than")
    numbers: dict[str, Any] = {}
    if isinstance(raw.get("value"), str):  # a setting's value ("epochs"), read when checked
        if FIELD_SPECS.get(raw["value"]) is None or \
                FIELD_SPECS[raw["value"]].kind not in ("int", "float"):
            raise ValueError(f"{where}: value {raw['value']!r} must be a number or the name of "
                             "a numeric setting")
        numbers["value"] = raw["value"]
    for key in ("value", "by", "within"):
        if key in raw and key not in numbers:
            number = raw[key]
            if isinstance(number, bool) or not isinstance(number, (int, float)) or \
                    number < (1 if key == "by" else 0 if key == "within" else -math.inf):
                least = {"by": " of at least 1", "within": " of at least 0"}.get(key, "")
                raise ValueError(f"{where}: {key} must be a number{least}")
            numbers[key] = float(number)
    return Claim(raw["check"], raw["metric"], than, **numbers)


def _check_settings(path: Path, settings: Any, where: str = "") -> dict[str, Any]:
    where = where or f"{path.name}: settings"
    if not isinstance(settings, Mapping):
        raise ValueError(f"{where} must be a JSON object of Settings fields")
    checked: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in FIELD_SPECS or key == "preset":
            raise ValueError(f"{where}.{key} is not a setting a preset can set")
        if isinstance(value, list):  # JSON has no tuples (hidden_controls)
            value = tuple(value)
        try:
            checked[key] = FIELD_SPECS[key].check(value)
        except ValueError as error:
            raise ValueError(f"{where}.{error}") from error
    return checked
