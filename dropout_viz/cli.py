"""Command line: train a run and print its metrics, or export every tab's figures and the data.

    python -m dropout_viz train --preset over-fitting-rescue --p-hidden 0.3 --json
    python -m dropout_viz export --preset over-fitting-rescue --out DIR

Every option is generated from schema.FIELD_SPECS (same names, ranges, choices and help as the
app's controls), so the command line cannot drift from the sidebar.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from dropout_viz import export, pipeline
from dropout_viz.presets import apply_preset, load_presets
from dropout_viz.schema import DATA_FIELDS, FIELD_SPECS, TRAIN_FIELDS, FieldSpec
from dropout_viz.settings import DEFAULTS, Settings, format_value
from dropout_viz.tab_figures import FIGURE_BUILDERS

TRAIN_OPTIONS = DATA_FIELDS + TRAIN_FIELDS
# Every field but the page-only ones (the teacher's view and the preset marker).
EXPORT_OPTIONS = tuple(name for name, spec in FIELD_SPECS.items() if not spec.page_only)


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _value_type(spec: FieldSpec):
    def parse(text: str):
        try:
            return spec.parse(text)
        except (ValueError, OverflowError) as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {spec.what} must be {spec.allowed()}"
                                             ) from error
    parse.__name__ = spec.kind  # argparse names the type in "invalid <type> value" messages
    return parse


def option_help(spec: FieldSpec) -> str:
    """The field's help, then what this command line accepts and the default, in its terms:
    a flag pair for a switch, and only the choices it can offer (no upload)."""
    if spec.kind == "bool":
        return (f"{spec.help} {option_name(spec.name)} turns it on, "
                f"--no-{option_name(spec.name)[2:]} off. Default: "
                f"{'on' if spec.default else 'off'}.")
    default = format_value(spec.default) or "none"
    app_only = (f" Only in the app: {', '.join(spec.page_only_choices)}."
                if spec.page_only_choices else "")
    return (f"{spec.help} Allowed: {spec.allowed(spec.command_line_choices)}.{app_only} "
            f"Default: {default}.")


def add_settings_options(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    group = parser.add_argument_group("settings (override the preset, then the defaults)")
    for name in names:
        spec = FIELD_SPECS[name]
        common = dict(dest=name, default=None, help=option_help(spec).replace("%", "%%"))
        if spec.kind == "bool":
            group.add_argument(option_name(name), action=argparse.BooleanOptionalAction,
                               **common)
        elif spec.kind == "choice":
            group.add_argument(option_name(name), choices=spec.command_line_choices, **common)
        else:
            group.add_argument(option_name(name), type=_value_type(spec),
                               metavar=spec.kind.upper(), **common)


def build_parser() -> argparse.ArgumentParser:
    presets = load_presets()
    parser = argparse.ArgumentParser(
        prog="python -m dropout_viz",
        description="dropout_viz from the command line: train a configuration and print its "
                    "metrics, or export every tab's figures and the run's data.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    preset_help = ("Start from a lesson preset: " + ", ".join(presets)
                   + ". Options given explicitly override it.")

    train = commands.add_parser(
        "train", help="train one run and print its final metrics",
        description="Train one run with the app's engine and print its final metrics.")
    train.add_argument("--preset", choices=list(presets), metavar="NAME", help=preset_help)
    train.add_argument("--json", action="store_true",
                       help="print the metrics and the settings as JSON")
    add_settings_options(train, TRAIN_OPTIONS)

    export_parser = commands.add_parser(
        "export", help="write every tab's figures (HTML, PNG if possible) and the run's data",
        description="Write each tab's figures as HTML (plotly.js once beside them, as "
                    "plotly.min.js, so the folder opens offline), plus PNG at 2x when the "
                    "kaleido image engine is installed, history.csv, weights.npz and "
                    "settings.json to a folder.")
    export_parser.add_argument("--preset", choices=list(presets), metavar="NAME",
                               help=preset_help)
    export_parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                               help="folder to write into (created if missing)")
    export_parser.add_argument("--no-png", action="store_true",
                               help="write HTML only, even if PNG export is available")
    export_parser.add_argument("--tab", dest="tabs", action="append",
                               choices=list(FIGURE_BUILDERS), metavar="TAB",
                               help="write only this tab's figures (repeat for several): "
                                    + ", ".join(FIGURE_BUILDERS) + ". Default: every tab.")
    add_settings_options(export_parser, EXPORT_OPTIONS)
    return parser


def settings_from_args(args: argparse.Namespace, names: Sequence[str]) -> Settings:
    base = DEFAULTS
    if args.preset:
        base = apply_preset(load_presets()[args.preset])
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    return base.replace(**overrides)


def _train(settings: Settings):
    return pipeline.train_for(settings.train_key())


def run_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    settings = _checked(lambda: settings_from_args(args, TRAIN_OPTIONS), parser)
    run = _train(settings)
    metrics = export.run_metrics(run)
    if args.json:
        print(json.dumps({"settings": export.settings_dict(settings), **metrics}, indent=2))
        return 0
    print(f"Trained {metrics['epochs_completed']} epochs"
          + (f" (diverged in epoch {metrics['diverged_at_epoch']})"
             if metrics["diverged_at_epoch"] else "") + ".")
    regression = metrics["task"] == "regression"
    if regression:
        print("Regression: the losses are mean squared errors (MSE) of the standardised y.")
    for name, value in metrics["final"].items():
        label = name.replace("_loss", "_mse") if regression else name
        print(f"  {label:<14} {value:.4f}")
    return 0


def run_export(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    settings = _checked(lambda: settings_from_args(args, EXPORT_OPTIONS), parser)
    run = _train(settings)
    report = export.write_export(run, settings, args.out, png=False if args.no_png else None,
                                 tabs=tuple(args.tabs) if args.tabs else None)
    for path in report.written:
        print(path)
    if not args.no_png and not report.png:
        print("PNG not written: no image export engine (install kaleido to get PNGs; the HTML "
              "files' camera button also saves a 2x PNG).", file=sys.stderr)
    return 0


def _checked(make, parser: argparse.ArgumentParser) -> Settings:
    try:
        return make()
    except ValueError as error:  # e.g. a combination Settings refuses
        parser.error(str(error))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        return run_train(args, parser)
    return run_export(args, parser)
