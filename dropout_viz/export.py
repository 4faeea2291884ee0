"""Everything a run can be saved as: standalone HTML charts, PNGs, history CSV, weights NPZ.

Shared by the download buttons on every tab and by `python -m dropout_viz export`. Each tab's
figures come from its builder in `tab_figures.FIGURE_BUILDERS`.

A download button gives one HTML file, so it embeds plotly.js (about 4.8 MB). An export folder
holds many charts, so it writes plotly.js once, as plotly.min.js beside them, and each HTML file
loads it from there (Plotly's include_plotlyjs="directory"); both open offline.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from dropout_viz.engine import TrainingRun
from dropout_viz.figures.style import PLOTLY_CONFIG
from dropout_viz.settings import FIELD_SPECS, Settings
from dropout_viz.tab_figures import tab_figures

PLOTLYJS_FILE = "plotly.min.js"  # the name Plotly's include_plotlyjs="directory" loads


def figure_html(fig: go.Figure, title: str = "dropout_viz", embed_plotlyjs: bool = True) -> str:
    """A full HTML page. embed_plotlyjs=True (downloads): plotly.js is inside, so the one file
    opens offline. False (export folders): it loads plotly.min.js from its own folder."""
    return fig.to_html(include_plotlyjs=True if embed_plotlyjs else "directory",
                       full_html=True, config=PLOTLY_CONFIG, div_id=_slug(title))


def png_engine_available() -> bool:
    """Plotly writes PNG through kaleido, which is optional (not in requirements)."""
    try:
        importlib.import_module("kaleido")
    except ImportError:
        return False
    return True


def figure_png(fig: go.Figure, scale: float = 2.0) -> bytes:
    """PNG at `scale`× (2× for slides, like the chart toolbar's camera button). Needs kaleido."""
    return fig.to_image(format="png", scale=scale)


def history_csv(history: Mapping[str, np.ndarray]) -> str:
    """One row per epoch: epoch (1-based), then every recorded metric."""
    names = list(history)
    n_epochs = max((len(history[name]) for name in names), default=0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *names])
    for epoch in range(n_epochs):
        row = [epoch + 1]
        for name in names:
            values = history[name]
            row.append(repr(float(values[epoch])) if epoch < len(values) else "")
        writer.writerow(row)
    return buffer.getvalue()


def weights_npz(run: TrainingRun, settings: Settings | None = None) -> bytes:
    """The final network: W0, b0, W1, b1, … (W as (fan_in, fan_out)), the keep probabilities,
    the convention, the activation and the settings as JSON (load with np.load, no pickle)."""
    net = run.network()
    arrays: dict[str, np.ndarray] = {}
    for layer, (W, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"W{layer}"], arrays[f"b{layer}"] = W, b
    arrays["keep_probs"] = np.asarray(net.keep_probs)
    arrays["convention"] = np.asarray(net.convention)
    arrays["activation"] = np.asarray(net.activation)
    if settings is not None:
        arrays["settings_json"] = np.asarray(json.dumps(settings_dict(settings)))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def settings_dict(settings: Settings) -> dict:
    """Every field as plain JSON values."""
    return {name: list(value) if isinstance(value := getattr(settings, name), tuple) else value
            for name in FIELD_SPECS}


def run_metrics(run: TrainingRun) -> dict:
    """The run's final metrics (last completed epoch) and how training went. For a regression
    run ("task": "regression") the losses are mean squared errors of the standardised y."""
    last = {name: float(values[-1]) for name, values in run.history.items() if len(values)}
    return {"task": run.task, "epochs_completed": run.epochs_completed, "diverged_at_epoch":
            None if run.diverged_at is None else run.diverged_at + 1, "final": last}


@dataclass
class ExportReport:
    written: list[Path]
    png: bool  # whether PNGs were written


def write_export(run: TrainingRun, settings: Settings, out_dir: Path | str,
                 png: bool | None = None, tabs: tuple[str, ...] | None = None) -> ExportReport:
    """Write every tab's figures (or those of `tabs`; HTML, and PNG when possible),
    history.csv and weights.npz.

    plotly.js is written once, as plotly.min.js, and every HTML file loads it from beside itself
    (always rewritten, so a copy left by an older Plotly version cannot stay behind)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = png_engine_available() if png is None else png
    written: list[Path] = []
    for tab, figures in tab_figures(run, settings, tabs).items():
        for name, fig in figures.items():
            stem = f"{tab}-{_slug(name)}"
            path = out / f"{stem}.html"
            path.write_text(figure_html(fig, stem, embed_plotlyjs=False), encoding="utf-8")
            written.append(path)
            if png:
                path = out / f"{stem}.png"
                path.write_bytes(figure_png(fig))
                written.append(path)
    data_files = {PLOTLYJS_FILE: get_plotlyjs().encode(),
                  "history.csv": history_csv(run.history).encode(),
                  "weights.npz": weights_npz(run, settings),
                  "settings.json": json.dumps(settings_dict(settings), indent=2).encode()}
    for name, content in data_files.items():
        path = out / name
        path.write_bytes(content)
        written.append(path)
    return ExportReport(written, png)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "figure"
