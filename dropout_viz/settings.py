"""Every choice on the page, as one frozen, validated, URL-serialisable object.

`Settings` holds the values (and their defaults, in one place); `FIELD_SPECS` holds what each
field may be (kind, range, choices, widget step, label, help). The sidebar, validation and URL
parsing all read `FIELD_SPECS`, so a range changed there changes everywhere.

Ranges are checked exactly: `step` is the widget increment only, so a URL or preset may carry any
in-range value (p_hidden = 0.33 is fine; p_hidden = 0.95 is not).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

GROUPS = ("data", "network", "dropout", "training", "views")
UPLOAD = "upload"  # the dataset choice meaning "the CSV file this session uploaded"
TABS = ("action", "ensemble", "experiments", "learn")
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

# Longest raw URL value we try to parse; anything longer is junk by construction.
_MAX_RAW_LENGTH = 200


@dataclass(frozen=True)
class Settings:
    """One serialisable object holding every choice on the page (defaults live here)."""

    # data
    dataset: str = "moons"
    n_samples: int = 150
    noise: float = 0.35
    test_fraction: float = 0.4
    data_seed: int = 0
    # network
    n_layers: int = 2
    width: int = 64
    activation: str = "relu"
    init: str = "auto"
    # dropout (p = probability of DROPPING a unit)
    p_hidden: float = 0.5
    p_input: float = 0.0
    mask_scope: str = "epoch"
    convention: str = "standard"
    # training
    optimizer: str = "adam"
    lr: float = 0.01
    batch_size: int = 32
    epochs: int = 150
    l2: float = 0.0
    max_norm: float = 0.0
    seed: int = 0
    # views (never affect training)
    k_subnets: int = 8
    gallery_source: str = "sampled"
    ensemble_kind: str = "arithmetic"
    uncertainty: str = "entropy"
    sweep_mode: str = "width"
    projector: bool = False
    hidden_controls: tuple[str, ...] = ()
    preset: str = ""

    def __post_init__(self) -> None:
        # Normalise types (numpy ints, int for float, list for tuple) so equal settings
        # compare and hash equal, and reject anything out of range.
        for name, spec in FIELD_SPECS.items():
            value = spec.check(getattr(self, name))
            object.__setattr__(self, name, value)

    @property
    def hidden(self) -> tuple[int, ...]:
        """Hidden layer sizes, e.g. (64, 64)."""
        return (self.width,) * self.n_layers

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` applied and validated (ValueError on unknown or bad fields)."""
        unknown = [name for name in changes if name not in FIELD_SPECS]
        if unknown:
            raise ValueError(f"Unknown setting {unknown[0]!r}{_did_you_mean(unknown[0])}")
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


@dataclass(frozen=True)
class DataKey:
    dataset: str
    n_samples: int
    noise: float
    test_fraction: float
    data_seed: int
    content: str = ""  # SHA-256 of an uploaded file's bytes; "" for generated data

    def __post_init__(self) -> None:
        # Two uploads with equal settings must never share a cache entry, so an upload's key
        # cannot be made without its content (and a generated set's cannot carry one).
        if (self.dataset == UPLOAD) != bool(self.content):
            raise ValueError("an uploaded data set is identified by its content: its key needs "
                             "the file's SHA-256, and only an upload has one")


@dataclass(frozen=True)
class TrainKey:
    data: DataKey
    n_layers: int
    width: int
    activation: str
    init: str
    p_hidden: float
    p_input: float
    mask_scope: str
    convention: str
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    l2: float
    max_norm: float
    seed: int

    @property
    def hidden(self) -> tuple[int, ...]:
        return (self.width,) * self.n_layers


Kind = Literal["int", "float", "choice", "bool", "names", "slug"]


@dataclass(frozen=True)
class FieldSpec:
    """What one Settings field may be, and how the sidebar shows it."""

    name: str
    group: str
    kind: Kind
    label: str
    help: str
    what: str  # noun phrase for messages: "the dropout rate must be in [0, 0.9]"
    min: float | None = None
    max: float | None = None
    step: float | None = None  # widget increment only; validation accepts any in-range value
    log: bool = False  # widget should space values logarithmically
    off: float | None = None  # a value outside [min, max] meaning "off" (max_norm = 0)
    choices: tuple[str, ...] = ()

    @property
    def default(self) -> Any:
        return getattr(DEFAULTS, self.name)

    def range_text(self) -> str:
        bounds = f"in [{format_number(self.min)}, {format_number(self.max)}]"
        if self.off is not None:
            return f"{format_number(self.off)} (off) or {bounds}"
        return bounds

    def allowed(self) -> str:
        """What is allowed, in words: "a number in [0, 0.9]", "one of relu, tanh, sigmoid"."""
        if self.kind == "int":
            return f"a whole number {self.range_text()}"
        if self.kind == "float":
            return f"a number {self.range_text()}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "1 or 0"
        if self.kind == "names":
            return "comma-separated setting names"
        return "empty or a preset name (lowercase letters, digits and hyphens)"

    def check(self, value: Any) -> Any:
        """`value` normalised to this field's type; ValueError naming the field if not allowed."""
        if self.kind in ("int", "float"):
            return self._check_number(value)
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise self._error(value, "is not allowed")
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, np.bool_):  # from a NumPy array or a widget
                return bool(value)
            raise ValueError(f"{self.name} = {_show(value)} is not allowed: {self.what} "
                             "must be True or False")
        if self.kind == "names":
            return self._check_names(value)
        if isinstance(value, str) and (value == "" or SLUG_PATTERN.fullmatch(value)):
            return value
        raise self._error(value, "is not allowed")

    def parse(self, text: str) -> Any:
        """A URL value parsed and checked (ValueError if not allowed)."""
        text = text.strip()
        if self.kind == "int":
            try:
                return self.check(int(text))
            except ValueError:
                number = float(text)  # "1e3" or "150.0" are fine if whole
                if not number.is_integer():
                    raise
                return self.check(int(number))
        if self.kind == "float":
            return self.check(float(text))
        if self.kind == "bool":
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if self.kind == "names":
            return self.check(tuple(item.strip() for item in text.split(",") if item.strip()))
        return self.check(text)

    def _check_number(self, value: Any) -> int | float:
        assert self.min is not None and self.max is not None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self._error(value, "is not allowed")
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                raise self._error(value, "is not allowed")
            number: int | float = int(value)
        else:
            number = float(value) + 0.0  # + 0.0 turns -0.0 into 0.0
            if not math.isfinite(number):
                raise self._error(value, "is not allowed")
        if self.off is not None and number == self.off:
            return number
        if not self.min <= number <= self.max:
            raise ValueError(f"{self.name} = {_show(value)} is out of range: "
                             f"{self.what} must be {self.range_text()}")
        return number

    def _check_names(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise self._error(value, "is not allowed")
        names: list[str] = []
        for item in value:
            if not isinstance(item, str) or item not in FIELD_SPECS:
                raise ValueError(f"{self.name} contains {_show(item)}, which is not a setting "
                                 f"name{_did_you_mean(item)}")
            if item not in names:  # duplicates carry no meaning
                names.append(item)
        return tuple(names)

    def _error(self, value: Any, problem: str) -> ValueError:
        return ValueError(f"{self.name} = {_show(value)} {problem}: {self.what} must be "
                          f"{self.allowed()}")


FIELD_SPECS: dict[str, FieldSpec] = {spec.name: spec for spec in (
    # data
    FieldSpec("dataset", "data", "choice", "Dataset",
              "Which toy problem to classify. Digits is scikit-learn's 8×8 handwritten digits "
              "(10 classes, 64 pixel inputs). Upload is a CSV file of your own (x1, x2, label) "
              "chosen below; a link cannot carry the file.", "the dataset",
              choices=("moons", "circles", "blobs", "xor", "spiral", "linear", "digits",
                       UPLOAD)),
    FieldSpec("n_samples", "data", "int", "Number of points",
              "How many points to generate, before the train/test split.",
              "the number of points", min=20, max=2000, step=10),
    FieldSpec("noise", "data", "float", "Noise",
              "How much the classes overlap. More noise with few points makes over-fitting "
              "easy to see.", "the noise", min=0.0, max=1.0, step=0.05),
    FieldSpec("test_fraction", "data", "float", "Test fraction",
              "Share of the points held out to measure generalisation.",
              "the test fraction", min=0.1, max=0.9, step=0.05),
    FieldSpec("data_seed", "data", "int", "Data seed",
              "Seed for generating and splitting the data.", "the data seed",
              min=0, max=9999, step=1),
    # network
    FieldSpec("n_layers", "network", "int", "Hidden layers",
              "Number of hidden layers; dropout acts on each one's units.",
              "the number of hidden layers", min=1, max=4, step=1),
    FieldSpec("width", "network", "int", "Units per layer",
              "Units in each hidden layer. With p = 0.5 about half of them are active in any "
              "one sub-network.", "the layer width", min=2, max=256, step=1),
    FieldSpec("activation", "network", "choice", "Activation",
              "Nonlinearity of the hidden units.", "the activation",
              choices=("relu", "tanh", "sigmoid")),
    FieldSpec("init", "network", "choice", "Initial weights",
              "auto: He for relu layers, Glorot otherwise. glorot: Glorot uniform everywhere, "
              "which is what Keras' Dense layer does by default.", "the initialisation",
              choices=("auto", "glorot")),
    # dropout
    FieldSpec("p_hidden", "dropout", "float", "Dropout rate p (hidden)",
              "Probability of DROPPING each hidden unit during training; q = 1 − p keeps it. "
              "Srivastava et al. (2014) suggest p = 0.2–0.5 for hidden units.",
              "the dropout rate", min=0.0, max=0.9, step=0.05),
    FieldSpec("p_input", "dropout", "float", "Dropout rate p (inputs)",
              "Probability of dropping each input feature during training. Srivastava et al. "
              "suggest p = 0.2 for real-valued inputs; with only 2 inputs, keep it small.",
              "the input dropout rate", min=0.0, max=0.5, step=0.05),
    FieldSpec("mask_scope", "dropout", "choice", "New mask every",
              "When a fresh mask is drawn. Per example is what the paper and the frameworks do; "
              "per batch is Keras' noise_shape=(1, features); per epoch is the notes' "
              "description and trains at most one sub-network per epoch.",
              "the mask scope", choices=("epoch", "batch", "example")),
    FieldSpec("convention", "dropout", "choice", "Scaling convention",
              "Standard: train with plain masks, multiply the weights by q at test time. "
              "Inverted: divide kept units by q during training, change nothing at test time "
              "(Keras and PyTorch).", "the convention", choices=("standard", "inverted")),
    # training
    FieldSpec("optimizer", "training", "choice", "Optimizer",
              "How the weights are updated.", "the optimizer",
              choices=("sgd", "momentum", "adam")),
    FieldSpec("lr", "training", "float", "Learning rate",
              "Step size. Dropout nets often like a higher rate than plain ones.",
              "the learning rate", min=1e-4, max=1.0, log=True),
    FieldSpec("batch_size", "training", "int", "Batch size",
              "Examples per gradient step.", "the batch size", min=1, max=512, step=1),
    FieldSpec("epochs", "training", "int", "Epochs",
              "Passes over the training set.", "the number of epochs", min=1, max=1000, step=1),
    FieldSpec("l2", "training", "float", "L2 penalty",
              "Weight decay, to compare with dropout (which, for linear and generalised "
              "linear models, acts approximately like an adaptive L2 penalty: Wager et al. "
              "2013).",
              "the L2 penalty", min=0.0, max=0.1, step=0.0005),
    FieldSpec("max_norm", "training", "float", "Max-norm c",
              "Cap on the length (L2 norm) of the incoming weight vector of every unit with "
              "incoming weights: the hidden units and the output units too (biases are not "
              "counted). After every update step a longer vector is scaled back to length c; "
              "0 turns it off. Srivastava et al. capped hidden units, with c ≈ 3–4.",
              "the max-norm",
              min=0.5, max=10.0, step=0.5, off=0.0),
    FieldSpec("seed", "training", "int", "Training seed",
              "Seed for initial weights, batches and masks.", "the training seed",
              min=0, max=9999, step=1),
    # views
    FieldSpec("k_subnets", "views", "int", "Sub-networks shown",
              "How many thinned sub-networks the gallery shows.", "the number of sub-networks",
              min=4, max=16, step=1),
    FieldSpec("gallery_source", "views", "choice", "Gallery sub-networks",
              "Sampled: fresh random masks on the trained shared weights. Trained: the masks "
              "the training run actually used.", "the gallery source",
              choices=("sampled", "trained")),
    FieldSpec("ensemble_kind", "views", "choice", "Ensemble average",
              "How sub-network predictions are combined: the arithmetic mean of probabilities, "
              "or their normalised geometric mean.", "the ensemble average",
              choices=("arithmetic", "geometric")),
    FieldSpec("uncertainty", "views", "choice", "Uncertainty measure",
              "How much the sub-networks disagree: the mutual information (the entropy of "
              "their averaged prediction minus their average entropy), or the standard "
              "deviation of their predictions.", "the uncertainty measure",
              choices=("entropy", "std")),
    FieldSpec("sweep_mode", "views", "choice", "Sweep p with fixed",
              "Width: keep n units and vary p. Active: keep the expected number of active "
              "units q·n fixed, so the layer widens as p grows.", "the sweep mode",
              choices=("width", "active")),
    FieldSpec("projector", "views", "bool", "Projector mode",
              "Larger text and thicker lines for a classroom projector.", "projector mode"),
    FieldSpec("hidden_controls", "views", "names", "Hidden controls",
              "Controls hidden in the teacher's view.", "each hidden control"),
    FieldSpec("preset", "views", "slug", "Preset",
              "The preset last applied (informational).", "the preset"),
)}

GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    group: tuple(name for name, spec in FIELD_SPECS.items() if spec.group == group)
    for group in GROUPS
}
DATA_FIELDS = GROUP_FIELDS["data"]
TRAIN_FIELDS = GROUP_FIELDS["network"] + GROUP_FIELDS["dropout"] + GROUP_FIELDS["training"]

if tuple(FIELD_SPECS) != tuple(f.name for f in dataclasses.fields(Settings)):
    raise RuntimeError("FIELD_SPECS must list exactly the Settings fields, in order")

DEFAULTS = Settings()


def validate(settings: Settings) -> Settings:
    """Check every field again (ValueError naming the first bad one); returns `settings`."""
    for name, spec in FIELD_SPECS.items():
        spec.check(getattr(settings, name))
    return settings


def format_number(value: float | int | None) -> str:
    """Shortest text that reads back exactly: 0.35, 0.0001, 10 (not 10.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


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
            warnings.append(f"Ignored '{_clip(str(key))}': it could not be read.")
    try:
        return Settings(**values), warnings
    except Exception:  # cannot happen (each value was checked), but never raise
        return DEFAULTS, [*warnings, "Ignored the URL parameters: they did not fit together."]


def _read_param(key: str, raw_value: Any, values: dict[str, Any], warnings: list[str]) -> None:
    spec = FIELD_SPECS.get(key)
    if spec is None:
        warnings.append(f"Ignored unknown setting '{_clip(key)}'{_did_you_mean(key)}.")
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
                warnings.append(f"Ignored '{key}' entry '{_clip(item)}': not a setting name"
                                f"{_did_you_mean(item)}.")
        values[key] = tuple(names)
        return

    try:
        if len(text) > _MAX_RAW_LENGTH:
            raise ValueError("too long")
        values[key] = spec.parse(text)
    except (ValueError, OverflowError, TypeError):
        warnings.append(f"Ignored '{key}={_clip(text)}': must be {spec.allowed()}; "
                        f"using {_default_text(spec)}.")


def _default_text(spec: FieldSpec) -> str:
    text = format_value(spec.default)
    return text if text else "none"


def _did_you_mean(name: Any) -> str:
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name[:100], FIELD_SPECS, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _clip(text: str, limit: int = 40) -> str:
    """Printable and short, for quoting user input in a message."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit + 1])
    return shown if len(shown) <= limit else shown[:limit] + "…"


def _show(value: Any) -> str:
    return _clip(repr(value), 60)
