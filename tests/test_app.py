"""The app under streamlit.testing.v1.AppTest: defaults, p, every control's extremes, the epoch
slider, scope captions, the URL; plus the action tab's pure `action_figures`."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import app, arrays_differ, assert_clean, charts_by_key, traces
from streamlit.testing.v1 import AppTest

from dropout_viz import pipeline
from dropout_viz.settings import DEFAULTS, FIELD_SPECS, GROUP_FIELDS, format_value
from dropout_viz.ui import cache
from dropout_viz.ui.action_tab import EPOCH_KEY, action_figures

SMALL_EPOCHS = 5  # keeps the extreme-value runs quick; epochs itself is tested at its extremes








def url(at: AppTest) -> dict[str, str]:
    """The page's query string as {name: last value}."""
    return {key: value[-1] if isinstance(value, list) else str(value)
            for key, value in at.query_params.items()}


def cached_run(settings):
    run = cache.RUNS.get(settings.train_key())
    assert run is not None, "the page should have trained and cached this run"
    return run


def current_settings(at: AppTest):
    return DEFAULTS.replace(**{name: at.session_state[name] for name in FIELD_SPECS
                               if name not in ("hidden_controls",)})


def dropped_units(keep_mask: np.ndarray) -> list[int]:
    return np.flatnonzero(np.asarray(keep_mask) < 0.5).tolist()


def probability_maps(boundary: dict) -> list[np.ndarray]:
    return [t["z"] for t in sorted(traces(boundary, role="probability"),
                                   key=lambda t: t["meta"]["panel"])]


# --- the page on its defaults -------------------------------------------------------------


def test_defaults_run_and_draw_the_three_action_charts():
    at = app().run()
    assert_clean(at)
    charts = charts_by_key(at)
    assert set(charts) == {"network", "boundary", "history"}
    last = DEFAULTS.epochs
    assert charts["network"]["layout"]["title"]["text"] == f"Thinned network of epoch {last}"
    assert charts["network"]["layout"]["meta"]["layer_sizes"] == [2, 64, 64, 2]
    assert charts["history"]["layout"]["meta"] == {"n_epochs": last, "epoch_marker": last}
    # Two panels on a 100×100 grid, titled with their accuracy.
    maps = probability_maps(charts["boundary"])
    assert [m.shape for m in maps] == [(100, 100), (100, 100)]
    titles = [a["text"] for a in charts["boundary"]["layout"]["annotations"]]
    assert titles[0].startswith(f"Thinned network, epoch {last} · acc ")
    assert titles[1].startswith("Full network, weights × q · acc ")
    # Defaults leave the URL empty: only what differs from them is written.
    assert url(at) == {}


def test_moving_p_retrains_and_changes_the_figures():
    at = app().run()
    before = charts_by_key(at)
    at.slider(key="p_hidden").set_value(0.2).run()
    assert_clean(at)
    after = charts_by_key(at)

    assert url(at)["p_hidden"] == "0.2"
    run = cached_run(DEFAULTS.replace(p_hidden=0.2))
    assert run.config.p_hidden == 0.2
    for old, new in zip(probability_maps(before["boundary"]), probability_maps(after["boundary"])):
        assert arrays_differ(old, new)
    old_dropped = before["network"]["layout"]["meta"]["n_dropped"]
    new_dropped = after["network"]["layout"]["meta"]["n_dropped"]
    assert new_dropped != old_dropped
    # p = 0.2 drops roughly a fifth of each 64-unit hidden layer in the epoch shown.
    assert all(n < 32 for n in new_dropped[1:])
    assert arrays_differ(traces(before["history"], key="test_loss")[0]["y"],
                         traces(after["history"], key="test_loss")[0]["y"])


def test_p_zero_drops_nothing_and_the_thinned_net_is_the_full_net():
    at = app(epochs="20").run()
    at.slider(key="p_hidden").set_value(0.0).run()
    assert_clean(at)
    charts = charts_by_key(at)
    assert charts["network"]["layout"]["meta"]["n_dropped"] == [0, 0, 0]
    thinned, full = probability_maps(charts["boundary"])
    np.testing.assert_allclose(thinned, full)
    assert not at.warning


# --- every control at its extremes --------------------------------------------------------


def extreme_cases() -> list[tuple[str, object]]:
    cases = []
    for group in ("data", "network", "dropout", "training"):
        for name in GROUP_FIELDS[group]:
            spec = FIELD_SPECS[name]
            if spec.kind == "choice":
                # "upload" is only offered once a file is uploaded (tested with the upload).
                values = [choice for choice in spec.choices if choice != "upload"]
            else:
                cast = int if spec.kind == "int" else float
                values = [cast(v) for v in (spec.off, spec.min, spec.max) if v is not None]
            # The default is what every other case starts from.
            cases += [(name, v) for v in values if v != getattr(DEFAULTS, name)]
    return cases


def set_widget(at: AppTest, name: str, value) -> None:
    spec = FIELD_SPECS[name]
    if name == "lr":
        at.select_slider(key=name).set_value(value)
    elif name in ("mask_scope", "convention"):
        at.radio(key=name).set_value(value)
    elif spec.kind == "choice":
        at.selectbox(key=name).set_value(value)
    else:
        at.slider(key=name).set_value(value)


@pytest.mark.parametrize(("name", "value"), extreme_cases(),
                         ids=lambda v: str(v))
def test_every_control_runs_at_its_extremes(name, value):
    # Start from a quick run (few epochs), then move the widget as a user would.
    at = app(epochs=str(SMALL_EPOCHS)).run()
    assert_clean(at)
    set_widget(at, name, value)
    at.run()
    assert_clean(at)

    settings = DEFAULTS.replace(**{"epochs": SMALL_EPOCHS, name: value})
    assert getattr(current_settings(at), name) == value
    # The URL carries every non-default value, in the settings' own text form.
    assert url(at)[name] == format_value(value)

    run = cached_run(settings)
    charts = charts_by_key(at)
    dataset = run.dataset
    expected_sizes = [dataset.n_features, *settings.hidden, dataset.n_classes]
    assert charts["network"]["layout"]["meta"]["layer_sizes"] == expected_sizes
    if run.diverged_at is None:
        assert charts["history"]["layout"]["meta"]["n_epochs"] == settings.epochs
    else:
        assert any("diverged" in e.value for e in at.error)
    if pipeline.is_planar(dataset):
        maps = traces(charts["boundary"], role="probability")
        assert {t["meta"]["panel"] for t in maps} == {0, 1}  # thinned and full network
        for t in maps:  # one map per panel, or one per class region with 3+ classes
            z = np.asarray(t["z"], dtype=float)
            assert z.shape == (100, 100)
            assert np.all((z[~np.isnan(z)] >= 0) & (z[~np.isnan(z)] <= 1))
    else:
        assert "boundary" not in charts
        assert any("no plane to draw" in c.value for c in at.caption)


# --- the epoch slider ---------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["epoch", "batch", "example"])
def test_epoch_slider_shows_the_masks_of_that_epoch(scope):
    at = app(epochs="40", mask_scope=scope).run()
    assert_clean(at)
    run = cached_run(DEFAULTS.replace(epochs=40, mask_scope=scope))
    shown_before = charts_by_key(at)["network"]["layout"]["meta"]["dropped"]

    for label in (1, 17, 40):
        at.select_slider(key=EPOCH_KEY).set_value(label).run()
        assert_clean(at)
        charts = charts_by_key(at)
        epoch = label - 1
        # Batch 0's mask; for per-example scope, the first example of that batch.
        expected = [dropped_units(m) for m in pipeline.view_mask(run.keep_masks(epoch, 0))]
        assert charts["network"]["layout"]["meta"]["dropped"] == expected
        assert charts["network"]["layout"]["title"]["text"] == f"Thinned network of epoch {label}"
        assert charts["history"]["layout"]["meta"]["epoch_marker"] == label
        titles = [a["text"] for a in charts["boundary"]["layout"]["annotations"]]
        assert titles[0].startswith(f"Thinned network, epoch {label} ")
    assert shown_before == [dropped_units(m) for m in
                            pipeline.view_mask(run.keep_masks(39, 0))]
    # Scrubbing reuses the cached run: nothing retrained.
    assert cache.RUNS.get(DEFAULTS.replace(epochs=40, mask_scope=scope).train_key()) is run


def test_epoch_slider_offers_every_kept_epoch():
    at = app(epochs="30").run()
    run = cached_run(DEFAULTS.replace(epochs=30))
    slider = at.select_slider(key=EPOCH_KEY)
    assert list(slider.options) == [str(e + 1) for e in run.snapshot_epochs]
    assert slider.value == 30


# --- captions per mask scope --------------------------------------------------------------


def scope_caption_text(at: AppTest) -> str:
    found = [c.value for c in at.caption if "masks:" in c.value]
    assert len(found) == 1, [c.value for c in at.caption]
    return found[0]


def test_per_epoch_caption_names_the_epoch():
    at = app(epochs="12").run()
    at.select_slider(key=EPOCH_KEY).set_value(7).run()
    text = scope_caption_text(at)
    assert text.startswith("Per-epoch masks: the units crossed out were dropped for all of "
                           "epoch 7,")
    assert "12 epochs train at most that many sub-networks" in text


def test_per_batch_caption_says_which_mini_batch_is_shown():
    at = app(epochs="12").run()
    at.radio(key="mask_scope").set_value("batch").run()
    assert_clean(at)
    n_train = len(cached_run(DEFAULTS.replace(epochs=12, mask_scope="batch")).dataset.y_train)
    batches = -(-n_train // DEFAULTS.batch_size)
    assert scope_caption_text(at) == (
        f"Per-mini-batch masks: shown is the mask of mini-batch 1 of {batches} in epoch 12; "
        "every mini-batch trains a different thinned network.")


def test_per_example_caption_says_which_example_is_shown():
    at = app(epochs="12").run()
    at.radio(key="mask_scope").set_value("example").run()
    assert_clean(at)
    n_train = len(cached_run(DEFAULTS.replace(epochs=12, mask_scope="example")).dataset.y_train)
    text = scope_caption_text(at)
    assert text.startswith("Per-example masks: shown is the sub-network of the first example "
                           "of mini-batch 1 in epoch 12.")
    assert f"Every one of the {n_train} training examples gets its own mask" in text
    assert f"up to {n_train * 12:,} sub-networks" in text


# --- the URL ------------------------------------------------------------------------------


def test_url_reflects_the_settings_and_seeds_a_new_session():
    at = app(epochs="10").run()
    at.slider(key="width").set_value(8)
    at.radio(key="convention").set_value("inverted")
    at.select_slider(key="lr").set_value(0.05)
    at.run()
    assert_clean(at)
    assert url(at) == {"epochs": "10", "width": "8", "convention": "inverted", "lr": "0.05"}
    # Going back to a default removes it from the URL.
    at.radio(key="convention").set_value("standard").run()
    assert "convention" not in url(at)

    # A link with those parameters opens the same settings.
    again = app(epochs="10", width="8", lr="0.05").run()
    assert_clean(again)
    assert again.slider(key="width").value == 8
    assert again.select_slider(key="lr").value == 0.05
    assert charts_by_key(again)["network"]["layout"]["meta"]["layer_sizes"] == [2, 8, 8, 2]
    titles = [a["text"] for a in charts_by_key(again)["boundary"]["layout"]["annotations"]]
    assert titles[1].startswith("Full network, weights × q")


def test_bad_url_values_fall_back_with_a_warning():
    at = app(epochs="10", p_hidden="0.95").run()
    assert_clean(at)
    assert at.slider(key="p_hidden").value == DEFAULTS.p_hidden
    assert any("p_hidden" in w.value and "0.95" in w.value for w in at.warning)


# --- action_figures, without Streamlit ----------------------------------------------------


@pytest.fixture(scope="module")
def small_run():
    settings = DEFAULTS.replace(epochs=8, width=6)
    return settings, pipeline.train_for(settings.train_key())


def test_action_figures_mark_the_epochs_mask(small_run):
    settings, run = small_run
    for epoch in (0, 3, 7):
        figures = action_figures(run, settings, epoch)
        assert set(figures) == {"network", "boundary", "history"}
        meta = figures["network"].layout.meta
        assert meta["dropped"] == [dropped_units(m) for m in run.keep_masks(epoch, 0)]
        assert figures["history"].layout.meta["epoch_marker"] == epoch + 1


def test_action_figures_boundary_is_the_thinned_and_the_full_network(small_run):
    settings, run = small_run
    epoch = 4
    figures = action_figures(run, settings, epoch)
    net = run.network(epoch)
    grid = pipeline.grid_for(run.dataset)
    thinned, full = pipeline.thinned_and_full(net, run.keep_masks(epoch, 0), grid.points)
    heatmaps = [t for t in figures["boundary"].data if t.type == "heatmap"]
    np.testing.assert_allclose(np.asarray(heatmaps[0].z).ravel(), thinned[:, 1], atol=1e-6)
    np.testing.assert_allclose(np.asarray(heatmaps[1].z).ravel(), full[:, 1], atol=1e-6)


def test_action_figures_without_a_plane_have_no_boundary():
    settings = DEFAULTS.replace(dataset="digits", epochs=2, width=8)
    run = pipeline.train_for(settings.train_key())
    figures = action_figures(run, settings, 1)
    assert set(figures) == {"network", "history"}
    assert figures["network"].layout.meta["layer_sizes"] == [64, 8, 8, 10]
