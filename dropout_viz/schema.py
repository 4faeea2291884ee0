"""A run's fields, declared once: one table (`FIELD_SPECS`) that every layer reads.

Each entry says what one setting is: its group, kind, default, range or choices, widget step,
label and help. Everything else is derived from it, so nothing is kept in sync by hand:

- `settings.Settings`, its cache keys `DataKey` and `TrainKey`, and the URL binding;
- `pipeline.config_for`, which hands the training fields to the engine by name;
- the engine's `TrainConfig` checks: the fields a run shares with the page (dropout rates and
  choices) go through the same `FieldSpec.check`, so p_hidden ≤ 0.9 holds in every layer;
- the command line's options, choices, ranges and help (`cli.py`);
- the sidebar's widgets (`ui/sidebar.py`).

Why this module sits below the engine: the engine must check with the table, and nothing it
imports may come from above it (engine ← data ← pipeline ← ...). So this module imports nothing
from dropout_viz: it is plain data plus the one validator, and the layer picture starts
schema ← engine. Labels and help are plain strings (no Streamlit), as in TensorFlow
Playground's state.ts, where one table of properties serves the page and the URL alike.

Ranges are checked exactly: `step` is the widget increment only, so a URL or preset may carry any
in-range value (p_hidden = 0.33 is fine; p_hidden = 0.95 is not).
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal

import numpy as np

GROUPS = ("data", "network", "dropout", "training", "views")
UPLOAD = "upload"  # the dataset choice meaning "the CSV file this session uploaded"
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

Kind = Literal["int", "float", "choice", "bool", "names", "slug"]
# The Python type a field of each kind holds (the dataclasses in settings.py use it).
KIND_TYPES: dict[str, type] = {"int": int, "float": float, "choice": str, "bool": bool,
                               "names": tuple, "slug": str}


@dataclass(frozen=True)
class FieldSpec:
    """What one setting may be, how it reads from text, and how the sidebar shows it."""

    name: str
    group: str
    kind: Kind
    _: KW_ONLY
    default: Any
    label: str
    what: str  # noun phrase for messages: "the dropout rate must be in [0, 0.9]"
    help: str
    min: float | None = None
    max: float | None = None
    step: float | None = None  # widget increment only; validation accepts any in-range value
    log: bool = False  # widget should space values logarithmically
    off: float | None = None  # a value outside [min, max] meaning "off" (max_norm = 0)
    choices: tuple[str, ...] = ()
    page_only_choices: tuple[str, ...] = ()  # choices only the page can offer (an upload)
    page_only: bool = False  # the teacher's view and the preset marker: not a command option

    @property
    def type(self) -> type:
        return KIND_TYPES[self.kind]

    @property
    def command_line_choices(self) -> tuple[str, ...]:
        return tuple(c for c in self.choices if c not in self.page_only_choices)

    def range_text(self) -> str:
        bounds = f"in [{format_number(self.min)}, {format_number(self.max)}]"
        if self.off is not None:
            return f"{format_number(self.off)} (off) or {bounds}"
        return bounds

    def allowed(self, choices: tuple[str, ...] | None = None) -> str:
        """What is allowed, in words: "a number in [0, 0.9]", "one of relu, tanh, sigmoid"."""
        if self.kind in ("int", "float"):
            number = "a whole number" if self.kind == "int" else "a number"
            if self.off is not None:
                return (f"{format_number(self.off)} (off) or {number} in "
                        f"[{format_number(self.min)}, {format_number(self.max)}]")
            return f"{number} {self.range_text()}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices if choices is None else choices)
        if self.kind == "bool":
            return "1 or 0"
        if self.kind == "names":
            return "comma-separated setting names"
        return "empty or a preset name (lowercase letters, digits and hyphens)"

    def check(self, value: Any) -> Any:
        """`value` normalised to this field's type; ValueError naming the field if not allowed.

        The one validator of every layer: Settings, the URL, the command line and the engine.
        """
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
            raise ValueError(f"{self.name} = {show(value)} is not allowed: {self.what} "
                             "must be True or False")
        if self.kind == "names":
            return self._check_names(value)
        if isinstance(value, str) and (value == "" or SLUG_PATTERN.fullmatch(value)):
            return value
        raise self._error(value, "is not allowed")

    def parse(self, text: str) -> Any:
        """A value written as text (a URL or a command line), parsed and checked."""
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
            raise ValueError(f"{self.name} = {show(value)} is out of range: "
                             f"{self.what} must be {self.range_text()}")
        return number

    def _check_names(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise self._error(value, "is not allowed")
        names: list[str] = []
        for item in value:
            if not isinstance(item, str) or item not in FIELD_SPECS:
                raise ValueError(f"{self.name} contains {show(item)}, which is not a setting "
                                 f"name{did_you_mean(item)}")
            if item not in names:  # duplicates carry no meaning
                names.append(item)
        return tuple(names)

    def _error(self, value: Any, problem: str) -> ValueError:
        return ValueError(f"{self.name} = {show(value)} {problem}: {self.what} must be "
                          f"{self.allowed()}")


F = FieldSpec
FIELD_SPECS: dict[str, FieldSpec] = {spec.name: spec for spec in (
    # data
    F("dataset", "data", "choice", default="moons", label="Dataset", what="the dataset",
      help="Which toy problem to learn. Digits is scikit-learn's 8×8 handwritten digits "
           "(10 classes, 64 pixel inputs). Sine, gap and growing-noise are 1-D regression: "
           "fit a curve y(x) to noisy points (gap: no training points in an interval of x; "
           "growing-noise: the noise grows with x).",
      choices=("moons", "circles", "blobs", "xor", "spiral", "linear", "digits", "sine", "gap",
               "growing-noise", UPLOAD),
      page_only_choices=(UPLOAD,)),
    F("n_samples", "data", "int", default=150, label="Number of points",
      what="the number of points", min=20, max=2000, step=10,
      help="How many points to generate, before the train/test split."),
    F("noise", "data", "float", default=0.35, label="Noise", what="the noise",
      min=0.0, max=1.0, step=0.05,
      help="How much the classes overlap (regression: how far the points scatter around the "
           "curve). More noise with few points makes over-fitting easy to see."),
    F("test_fraction", "data", "float", default=0.4, label="Test fraction",
      what="the test fraction", min=0.1, max=0.9, step=0.05,
      help="Share of the points held out to measure generalisation."),
    F("data_seed", "data", "int", default=0, label="Data seed", what="the data seed",
      min=0, max=9999, step=1, help="Seed for generating and splitting the data."),
    # network
    F("n_layers", "network", "int", default=2, label="Hidden layers",
      what="the number of hidden layers", min=1, max=4, step=1,
      help="Number of hidden layers; dropout acts on each one's units."),
    F("width", "network", "int", default=64, label="Units per layer", what="the layer width",
      min=2, max=256, step=1,
      help="Units in each hidden layer. With p = 0.5 about half of them are active in any one "
           "sub-network."),
    F("activation", "network", "choice", default="relu", label="Activation",
      what="the activation", choices=("relu", "tanh", "sigmoid"),
      help="Nonlinearity of the hidden units."),
    F("init", "network", "choice", default="auto", label="Initial weights",
      what="the initialisation", choices=("auto", "glorot"),
      help="auto: He for relu layers, Glorot otherwise. glorot: Glorot uniform everywhere, "
           "which is what Keras' Dense layer does by default."),
    # dropout (p = probability of DROPPING a unit)
    F("p_hidden", "dropout", "float", default=0.5, label="Dropout rate p (hidden)",
      what="the dropout rate", min=0.0, max=0.9, step=0.05,
      help="Probability of DROPPING each hidden unit during training; q = 1 − p keeps it. "
           "Srivastava et al. (2014) suggest p = 0.2–0.5 for hidden units."),
    F("p_input", "dropout", "float", default=0.0, label="Dropout rate p (inputs)",
      what="the input dropout rate", min=0.0, max=0.5, step=0.05,
      help="Probability of dropping each input feature during training. Srivastava et al. "
           "suggest p = 0.2 for real-valued inputs; with only 2 inputs, keep it small."),
    F("mask_scope", "dropout", "choice", default="epoch", label="New mask every",
      what="the mask scope", choices=("epoch", "batch", "example"),
      help="When a fresh mask is drawn. Per example is what the paper and the frameworks do; "
           "per batch is Keras' noise_shape=(1, features); per epoch is the notes' "
           "description and trains at most one sub-network per epoch."),
    F("convention", "dropout", "choice", default="standard", label="Scaling convention",
      what="the convention", choices=("standard", "inverted"),
      help="Standard: train with plain masks, multiply the weights by q at test time. "
           "Inverted: divide kept units by q during training, change nothing at test time "
           "(Keras and PyTorch)."),
    # training
    F("optimizer", "training", "choice", default="adam", label="Optimizer",
      what="the optimizer", choices=("sgd", "momentum", "adam"),
      help="How the weights are updated."),
    F("lr", "training", "float", default=0.01, label="Learning rate", what="the learning rate",
      min=1e-4, max=1.0, log=True,
      help="Step size. Dropout nets often like a higher rate than plain ones."),
    F("batch_size", "training", "int", default=32, label="Batch size", what="the batch size",
      min=1, max=512, step=1, help="Examples per gradient step."),
    F("epochs", "training", "int", default=150, label="Epochs", what="the number of epochs",
      min=1, max=1000, step=1, help="Passes over the training set."),
    F("l2", "training", "float", default=0.0, label="L2 penalty", what="the L2 penalty",
      min=0.0, max=0.1, step=0.0005,
      help="Weight decay, to compare with dropout (which, for linear and generalised linear "
           "models, acts approximately like an adaptive L2 penalty: Wager et al. 2013)."),
    F("max_norm", "training", "float", default=0.0, label="Max-norm c", what="the max-norm",
      min=0.5, max=10.0, step=0.5, off=0.0,
      help="Cap on the length (L2 norm) of the incoming weight vector of every unit with "
           "incoming weights: the hidden units and the output units too (biases are not "
           "counted). After every update step a longer vector is scaled back to length c; "
           "0 turns it off. Srivastava et al. capped hidden units, with c ≈ 3–4."),
    F("seed", "training", "int", default=0, label="Training seed", what="the training seed",
      min=0, max=9999, step=1, help="Seed for initial weights, batches and masks."),
    # views (never affect training)
    F("k_subnets", "views", "int", default=8, label="Sub-networks shown",
      what="the number of sub-networks", min=4, max=16, step=1,
      help="How many thinned sub-networks the gallery shows."),
    F("gallery_source", "views", "choice", default="sampled", label="Gallery sub-networks",
      what="the gallery source", choices=("sampled", "trained"),
      help="Sampled: fresh random masks on the trained shared weights. Trained: the masks the "
           "training run actually used."),
    F("ensemble_kind", "views", "choice", default="arithmetic", label="Ensemble average",
      what="the ensemble average", choices=("arithmetic", "geometric"),
      help="How sub-network predictions are combined: the arithmetic mean of probabilities, "
           "or their normalised geometric mean."),
    F("uncertainty", "views", "choice", default="entropy", label="Uncertainty measure",
      what="the uncertainty measure", choices=("entropy", "std"),
      help="How much the sub-networks disagree: the mutual information (the entropy of their "
           "averaged prediction minus their average entropy), or the standard deviation of "
           "their predictions."),
    F("sweep_mode", "views", "choice", default="width", label="Sweep p with fixed",
      what="the sweep mode", choices=("width", "active"),
      help="Width: keep n units and vary p. Active: keep the expected number of active units "
           "q·n fixed, so the layer widens as p grows."),
    F("projector", "views", "bool", default=False, label="Projector mode",
      what="projector mode", help="Larger text and thicker lines for a classroom projector."),
    F("hidden_controls", "views", "names", default=(), label="Hidden controls",
      what="each hidden control", help="Controls hidden in the teacher's view.",
      page_only=True),
    F("preset", "views", "slug", default="", label="Preset", what="the preset",
      help="The preset last applied (informational).", page_only=True),
)}
del F

GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    group: tuple(name for name, spec in FIELD_SPECS.items() if spec.group == group)
    for group in GROUPS
}
DATA_FIELDS = GROUP_FIELDS["data"]
TRAIN_FIELDS = GROUP_FIELDS["network"] + GROUP_FIELDS["dropout"] + GROUP_FIELDS["training"]
# The network's shape reaches the engine as hidden = (width,) * n_layers; every other training
# field is a TrainConfig field of the same name.
LAYER_FIELDS = ("n_layers", "width")
ENGINE_FIELDS = tuple(name for name in TRAIN_FIELDS if name not in LAYER_FIELDS)


def format_number(value: float | int | None) -> str:
    """Shortest text that reads back exactly: 0.35, 0.0001, 10 (not 10.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def did_you_mean(name: Any) -> str:
    """" (did you mean 'p_hidden'?)" for a near miss of a setting name, else ""."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name[:100], FIELD_SPECS, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def clip(text: str, limit: int = 40) -> str:
    """Printable and short, for quoting user input in a message."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit + 1])
    return shown if len(shown) <= limit else shown[:limit] + "…"


def show(value: Any) -> str:
    return clip(repr(value), 60)
