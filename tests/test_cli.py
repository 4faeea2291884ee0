"""The command line and the export it shares with the app's download buttons."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs

from dropout_viz import cli, export, pipeline
from dropout_viz.presets import apply_preset, load_presets
from dropout_viz.settings import FIELD_SPECS, Settings

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--epochs", "3", "--width", "8", "--n-samples", "60"]


def test_train_json_prints_the_run_metrics(capsys):
    assert cli.main(["train", "--preset", "over-fitting-rescue", *SMALL, "--p-hidden", "0.3",
                     "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["settings"]["p_hidden"] == 0.3  # explicit option beats the preset
    assert printed["settings"]["noise"] == 0.5  # from the preset
    assert printed["settings"]["preset"] == "over-fitting-rescue"
    assert printed["epochs_completed"] == 3
    assert printed["diverged_at_epoch"] is None
    # Same numbers as training the same settings directly.
    settings = apply_preset(load_presets()["over-fitting-rescue"]).replace(
        epochs=3, width=8, n_samples=60, p_hidden=0.3)
    run = pipeline.train_for(settings.train_key())
    assert printed["final"]["test_acc"] == pytest.approx(run.history["test_acc"][-1])
    assert set(printed["final"]) == set(run.history)


def test_train_without_json_prints_a_table(capsys):
    assert cli.main(["train", *SMALL]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Trained 3 epochs.")
    assert "test_acc" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--p-hidden", "0.95"], "the dropout rate must be a number in [0, 0.9]"),
    (["--p-hidden", "abc"], "'abc': the dropout rate"),
    (["--mask-scope", "weekly"], "invalid choice: 'weekly'"),
    (["--preset", "no-such-lesson"], "invalid choice: 'no-such-lesson'"),
])
def test_bad_options_are_refused_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def help_text(command: str, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_help_documents_every_option(capsys):
    train_help, export_help = help_text("train", capsys), help_text("export", capsys)
    flat_train, flat_export = " ".join(train_help.split()), " ".join(export_help.split())
    for name in cli.TRAIN_OPTIONS:
        assert cli.option_name(name) in train_help
        spec = FIELD_SPECS[name]
        assert spec.allowed(spec.command_line_choices) in flat_train
    for name in cli.EXPORT_OPTIONS:
        assert cli.option_name(name) in export_help
        assert FIELD_SPECS[name].help.split(".")[0] in flat_export
    assert "--projector" in export_help and "--no-projector" in export_help
    for preset in load_presets():  # argparse may wrap a name at a hyphen
        assert preset in "".join(train_help.split())
    assert "--out DIR" in export_help


def test_help_is_written_for_a_command_line(capsys):
    flat = " ".join(help_text("export", capsys).split())
    # A switch is a flag pair, not "1 or 0"; the data sets are the ones this command offers.
    assert "--projector turns it on, --no-projector off. Default: off." in flat
    assert "1 or 0" not in flat
    assert "Allowed: one of moons, circles, blobs, xor, spiral, linear, digits, sine, gap, " \
           "growing-noise. Only in the app: upload." in flat
    assert "chosen below" not in flat and "a link cannot carry" not in flat
    assert "Allowed: 0 (off) or a number in [0.5, 10]." in flat


def test_an_upload_is_refused_on_the_command_line(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--dataset", "upload"])
    assert "invalid choice: 'upload'" in capsys.readouterr().err


def test_every_settings_field_is_an_option_somewhere():
    page_only = {name for name, spec in FIELD_SPECS.items() if spec.page_only}
    assert page_only == {"hidden_controls", "preset"}
    assert set(cli.EXPORT_OPTIONS) | page_only == set(FIELD_SPECS)
    assert set(cli.TRAIN_OPTIONS) <= set(cli.EXPORT_OPTIONS)


def test_export_writes_the_promised_files(tmp_path, capsys):
    out = tmp_path / "lesson"
    assert cli.main(["export", "--preset", "over-fitting-rescue", *SMALL, "--out",
                     str(out)]) == 0
    captured = capsys.readouterr()
    names = {path.name for path in out.iterdir()}
    assert {"history.csv", "weights.npz", "settings.json", "action-network.html",
            "action-boundary.html", "action-history.html", "ensemble-gallery.html",
            "ensemble-comparison.html", "experiments-boundaries.html", "experiments-curves.html",
            "experiments-sweep.html", "learn-unit-input.html"} <= names
    assert "No figures for" not in captured.err  # every tab contributed
    assert str(out / "history.csv") in captured.out
    if not export.png_engine_available():  # kaleido is optional, and says so
        assert "PNG not written" in captured.err
        assert not any(name.endswith(".png") for name in names)

    # plotly.js is written once, beside the charts; every chart loads it from there (offline).
    assert [path.name for path in out.rglob("*.js")] == ["plotly.min.js"]
    assert (out / "plotly.min.js").read_text(encoding="utf-8") == get_plotlyjs()
    charts = sorted(out.glob("*.html"))
    assert len(charts) >= 9
    for chart in charts:
        html = chart.read_text(encoding="utf-8")
        assert "Plotly.newPlot" in html and '<script charset="utf-8" src="plotly.min.js">' in html
        assert "http" not in "".join(re.findall(r"<script[^>]*\bsrc=[^>]*>", html))
        assert len(html) < 1_000_000, chart.name  # the library is not embedded again

    rows = list(csv.reader(io.StringIO((out / "history.csv").read_text())))
    assert rows[0][0] == "epoch" and "test_acc" in rows[0]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]

    with np.load(out / "weights.npz") as weights:
        assert weights["W0"].shape == (2, 8) and weights["W2"].shape == (8, 2)
        assert str(weights["convention"]) == "standard"
        saved = json.loads(str(weights["settings_json"]))
    assert saved["preset"] == "over-fitting-rescue" and saved["width"] == 8
    assert json.loads((out / "settings.json").read_text()) == saved


def test_export_rewrites_a_stale_plotly_bundle(tmp_path):
    (tmp_path / "plotly.min.js").write_text("/* plotly.js of another version */")
    settings = Settings(epochs=2, width=6, n_samples=40)
    report = export.write_export(pipeline.train_for(settings.train_key()), settings, tmp_path,
                                 png=False)
    assert tmp_path / "plotly.min.js" in report.written
    assert (tmp_path / "plotly.min.js").read_text(encoding="utf-8") == get_plotlyjs()


def test_download_html_stays_one_self_contained_file():
    """The download buttons' file (export.figure_html's default) embeds plotly.js."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    html = export.figure_html(fig, "a chart")
    assert get_plotlyjs() in html and "Plotly.newPlot" in html
    assert not re.findall(r"<script[^>]*\bsrc=", html)  # nothing to fetch, works offline


def test_exported_weights_reproduce_the_run(tmp_path):
    settings = Settings(epochs=2, width=6, n_samples=40)
    run = pipeline.train_for(settings.train_key())
    with np.load(io.BytesIO(export.weights_npz(run, settings))) as saved:
        net = run.network()
        for layer, W in enumerate(net.weights):
            np.testing.assert_array_equal(saved[f"W{layer}"], W)
            np.testing.assert_array_equal(saved[f"b{layer}"], net.biases[layer])
        np.testing.assert_array_equal(saved["keep_probs"], net.keep_probs)


def test_history_csv_round_trips_the_numbers():
    history = {"train_loss": np.array([0.7, 0.123456789012345]), "test_acc": np.array([0.5, 1])}
    rows = list(csv.DictReader(io.StringIO(export.history_csv(history))))
    assert [float(r["train_loss"]) for r in rows] == [0.7, 0.123456789012345]
    assert [r["epoch"] for r in rows] == ["1", "2"]


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "dropout_viz", "--help"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert "train" in result.stdout and "export" in result.stdout


def test_export_of_a_regression_run_writes_the_action_tabs_curves(tmp_path, capsys):
    out = tmp_path / "sine"
    args = ["--dataset", "sine", "--epochs", "3", "--width", "8"]
    assert cli.main(["export", *args, "--tab", "action", "--out", str(out), "--no-png"]) == 0
    names = {path.name for path in out.iterdir()}
    assert {"action-network.html", "action-curves.html", "action-history.html", "history.csv",
            "weights.npz", "settings.json"} <= names
    assert not any(name.startswith(("ensemble-", "experiments-", "learn-")) for name in names)
    # The curves chart states the final epoch's test MSEs, as training the settings gives them.
    settings = Settings(dataset="sine", epochs=3, width=8)
    run = pipeline.train_for(settings.train_key())
    full_mse = pipeline.scores(run.network().predict(run.dataset.X_test), run.dataset.y_test).mse
    html = (out / "action-curves.html").read_text(encoding="utf-8")
    assert f"Full network, weights × q: test MSE {full_mse:.3f}" in html
    rows = list(csv.reader(io.StringIO((out / "history.csv").read_text())))
    assert rows[0] == ["epoch", *run.history] and "test_acc" not in rows[0]
    with np.load(out / "weights.npz") as weights:
        assert weights["W0"].shape == (1, 8) and weights["W2"].shape == (8, 1)
    assert cli.main(["train", *args]) == 0
    assert f"  test_mse       {run.history['test_loss'][-1]:.4f}\n" in capsys.readouterr().out
