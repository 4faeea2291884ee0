"""Every chart has a text alternative: `st.plotly_chart(alt=...)`, the chart's accessible name,
stating the numbers the chart shows. On every tab, on a plane and on digits; spot checks against
the data the charts are drawn from."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from helpers import APP, app, assert_clean, chart_alt, chart_elements, chart_key, charts_by_key
from streamlit.testing.v1 import AppTest

from dropout_viz import experiments as ex
from dropout_viz import pipeline
from dropout_viz.engine import accuracy
from dropout_viz.settings import DEFAULTS
from dropout_viz.ui import action_tab, cache, state

QUICK = {"epochs": "12", "width": "16"}
UI = Path(__file__).resolve().parents[1] / "dropout_viz" / "ui"


def alts(at: AppTest) -> dict[str, str]:
    """Each chart's text alternative, by the chart's key."""
    return {chart_key(c): chart_alt(c) for c in chart_elements(at)}


def described(at: AppTest, charts: set[str]) -> dict[str, str]:
    """The page's charts (at least `charts`), each with a text alternative holding a number."""
    assert_clean(at)
    found = alts(at)
    assert charts <= set(found), (charts, set(found))
    for key, text in found.items():
        assert text.strip() and re.search(r"\d", text), (key, text)
    return found


def open_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state[state.TAB_WIDGET] = state.TAB_LABELS[tab]
    return at.run()


def test_every_plotly_chart_call_of_the_ui_passes_alt():
    calls = []
    for path in sorted(UI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "plotly_chart"):
                calls.append((path.name, node.lineno, {k.arg for k in node.keywords}))
    assert len(calls) >= 14
    assert [(name, line) for name, line, keywords in calls if "alt" not in keywords] == []


def test_every_chart_on_every_tab_has_a_text_alternative_with_its_numbers():
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in QUICK.items():
        at.query_params[key] = value
    at.run()
    described(at, {"animation", "history"})
    described(open_tab(at, "ensemble"), {"ensemble_gallery", "ensemble_comparison",
                                         "ensemble_convergence", "ensemble_uncertainty"})
    open_tab(at, "experiments").button(key="run_sweep").click().run()
    found = described(at, {"twin_boundaries", "twin_curves", "sweep", "activations",
                           "unit_maps_1", "unit_maps_2"})
    # Spot check: the sweep's test loss per p, as the sweep computes it.
    settings = DEFAULTS.replace(epochs=12, width=16)
    sweep = ex.sweep_p(cache.get_dataset(settings.data_key()),
                       pipeline.config_for(settings.train_key()))
    for p, loss in zip(sweep.ps, sweep.mean("test_loss"), strict=True):
        assert f"{loss:.3f} at p = {p:g}" in found["sweep"]
    described(open_tab(at, "learn"), {"learn_unit_input"})

    # Digits: no plane, so other charts (confusion matrices, digits, the notes' model).
    open_tab(at, "experiments").button(key="keras_preset").click().run()
    described(at, {"twin_curves", "twin_confusion", "mistakes_dropout", "mistakes_no_dropout",
                   "activations", "keras_network"})
    described(open_tab(at, "action"), {"animation", "history"})
    described(open_tab(at, "ensemble"), {"ensemble_gallery", "ensemble_convergence"})
    described(open_tab(at, "learn"), {"learn_unit_input"})


def test_animation_alt_states_the_shown_frames_dropped_units_and_accuracies():
    at = app(**QUICK).run()
    settings = DEFAULTS.replace(epochs=12, width=16)
    run = cache.RUNS.get(settings.train_key())
    data = run.dataset
    for epoch in (12, 1, 6):
        if epoch != 12:
            at.select_slider(key=action_tab.EPOCH_KEY).set_value(epoch).run()
        found = described(at, {"animation"})
        # From the run itself, not from the figure: the epoch's mask, its two networks' scores.
        net = run.network(epoch - 1)
        mask = pipeline.view_mask(run.keep_masks(epoch - 1, 0))
        n1, n2 = (int((m < 0.5).sum()) for m in mask[1:])
        thinned = accuracy(net.predict_proba(data.X_test, mask), data.y_test)
        full = accuracy(net.predict_proba(data.X_test), data.y_test)
        assert found["animation"].startswith(
            f"Thinned network of epoch {epoch}: hidden 1 drops {n1} of 16 units, hidden 2 "
            f"drops {n2} of 16; thinned network test accuracy {thinned:.0%}, full network "
            f"{full:.0%}.")
        # The history chart's: the curves' last values.
        history = run.history
        assert (f"loss on the training data {history['train_loss'][-1]:.3f}, test data "
                f"{history['test_loss'][-1]:.3f}") in found["history"]
        assert f"test data {history['test_acc'][-1]:.1%}" in found["history"]


def test_ensemble_alts_follow_the_charts_meta():
    at = open_tab(app(**QUICK).run(), "ensemble")
    found = described(at, {"ensemble_gallery", "ensemble_convergence"})
    charts = charts_by_key(at)
    gallery = charts["ensemble_gallery"]["layout"]["meta"]
    for i, acc in enumerate(gallery["accuracy"]):
        assert f"#{i + 1} {acc:.0%} (" in found["ensemble_gallery"]
    convergence = charts["ensemble_convergence"]["layout"]["meta"]
    ks, gap = convergence["ks"], convergence["gap"]
    assert (f"{gap[0]:.3f} at K = {ks[0]} and {gap[-1]:.4f} at K = {ks[-1]}"
            in found["ensemble_convergence"])
