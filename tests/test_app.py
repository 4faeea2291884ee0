"""The app under streamlit.testing.v1.AppTest: defaults, p, every control's extremes, the epoch
animation's frames, scope captions, the URL; plus the action tab's pure `action_figures`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import (
    app,
    arrays_differ,
    assert_clean,
    chart_elements,
    chart_json,
    chart_key,
    charts_by_key,
    traces,
)
from streamlit.testing.v1 import AppTest

from dropout_viz import pipeline
from dropout_viz.settings import DEFAULTS, FIELD_SPECS, GROUP_FIELDS, format_value
from dropout_viz.tab_figures import FRAME_GRID, MAX_FRAMES, action_figures, frame_epochs
from dropout_viz.ui import action_tab, cache, page

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


def as_percent(probabilities: np.ndarray) -> np.ndarray:
    """What a two-class map draws: P(class 1) in whole percent."""
    return np.rint(np.asarray(probabilities) * 100)


def probability_maps(animation: dict) -> list[np.ndarray]:
    """The heatmaps the animation shows before any scrubbing (its last frame), by panel."""
    return [t["z"] for t in sorted(traces(animation, role="probability"),
                                   key=lambda t: t["meta"]["panel"])]


def panel_titles(layout: dict) -> list[str]:
    """The two boundary panels' titles (thinned, full) among a layout's annotations."""
    return [a["text"] for a in layout["annotations"] if a.get("xref") in ("x2 domain",
                                                                         "x3 domain")]


def shown(animation: dict) -> dict:
    """Per-frame meta of the frame the figure shows before any scrubbing (the last)."""
    return animation["layout"]["meta"]["frames"][-1]


# --- the page on its defaults -------------------------------------------------------------


def test_defaults_run_and_draw_the_three_action_charts():
    at = app().run()
    assert_clean(at)
    charts = charts_by_key(at)
    assert set(charts) == {"animation", "history"}
    last = DEFAULTS.epochs
    animation = charts["animation"]
    assert animation["layout"]["title"]["text"] == f"Thinned network of epoch {last}"
    assert animation["layout"]["meta"]["layer_sizes"] == [2, 64, 64, 2]
    assert charts["history"]["layout"]["meta"] == {"n_epochs": last, "epoch_marker": None}
    # 150 kept epochs, thinned evenly to MAX_FRAMES frames from epoch 1 to the last.
    names = [frame["name"] for frame in animation["frames"]]
    assert len(names) == MAX_FRAMES and names[0] == "1" and names[-1] == str(last)
    steps = animation["layout"]["sliders"][0]["steps"]
    assert [step["args"][0] for step in steps] == [[name] for name in names]
    # Two panels on the frames' grid, titled with their accuracy.
    maps = probability_maps(animation)
    assert [m.shape for m in maps] == [(FRAME_GRID, FRAME_GRID)] * 2
    titles = panel_titles(animation["layout"])
    assert titles[0].startswith(f"Thinned network<br>epoch {last}<br>acc ")
    assert titles[1].startswith("Full network<br>weights × q<br>acc ")
    assert any(c.value.startswith(f"Drag the epoch slider or press ▶ Play: {MAX_FRAMES} of the "
                                  "kept epochs") for c in at.caption)
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
    for old, new in zip(probability_maps(before["animation"]),
                        probability_maps(after["animation"])):
        assert arrays_differ(old, new)
    old_dropped = shown(before["animation"])["n_dropped"]
    new_dropped = shown(after["animation"])["n_dropped"]
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
    frames = charts["animation"]["layout"]["meta"]["frames"]
    assert [frame["n_dropped"] for frame in frames] == [[0, 0, 0]] * len(frames)
    thinned, full = probability_maps(charts["animation"])
    np.testing.assert_allclose(thinned, full)
    for frame in charts["animation"]["frames"]:  # one map per panel
        z = [t["z"] for t in frame["data"] if "z" in t]
        np.testing.assert_array_equal(z[0], z[1])
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
    expected_sizes = [dataset.n_features, *settings.hidden, dataset.n_outputs]
    assert charts["animation"]["layout"]["meta"]["layer_sizes"] == expected_sizes
    if run.diverged_at is None:
        assert charts["history"]["layout"]["meta"]["n_epochs"] == settings.epochs
    else:
        assert any("diverged" in e.value for e in at.error)
    if pipeline.is_planar(dataset):
        maps = traces(charts["animation"], role="probability")
        assert {t["meta"]["panel"] for t in maps} == {0, 1}  # thinned and full network
        for t in maps:  # one map per panel (in percent), or one per class region (3+ classes)
            z = np.asarray(t["z"], dtype=float)
            assert z.shape == (FRAME_GRID, FRAME_GRID)
            top = 100 if dataset.n_classes == 2 else 1
            assert np.all((z[~np.isnan(z)] >= 0) & (z[~np.isnan(z)] <= top))
    elif pipeline.is_curve(dataset):  # regression: both networks' curves over the points
        for role in ("thinned", "test_time", "train", "test"):
            assert len(traces(charts["animation"], role=role)) == 1, role
        assert not traces(charts["animation"], role="probability")
        assert any("test MSE" in c.value for c in at.caption)
    else:
        assert not traces(charts["animation"], role="probability")
        assert any("no plane to draw" in c.value for c in at.caption)


# --- the epoch animation (scrubbed in the browser) -----------------------------------------


@pytest.mark.parametrize("scope", ["epoch", "batch", "example"])
def test_each_frame_shows_the_masks_and_boundaries_of_its_epoch(scope):
    at = app(epochs=str(MAX_FRAMES), mask_scope=scope).run()  # one frame per epoch
    assert_clean(at)
    settings = DEFAULTS.replace(epochs=MAX_FRAMES, mask_scope=scope)
    run = cached_run(settings)
    animation = charts_by_key(at)["animation"]
    frames = animation["frames"]
    assert [f["name"] for f in frames] == [str(e + 1) for e in run.snapshot_epochs]
    grid = pipeline.grid_for(run.dataset, resolution=FRAME_GRID)
    for frame, meta in zip(frames, animation["layout"]["meta"]["frames"], strict=True):
        epoch = int(frame["name"]) - 1
        assert meta["epoch"] == epoch + 1
        # Batch 0's mask; for per-example scope, the first example of that batch.
        mask = pipeline.view_mask(run.keep_masks(epoch, 0))
        assert meta["dropped"] == [dropped_units(m) for m in mask]
        # The frame's crossed-out units are those units (drawn ones: the first 15 per layer).
        # (A frame's traces are animation["data"][i] for i in frame["traces"], in order.)
        nodes = [t for i, t in zip(frame["traces"], frame["data"], strict=True)
                 if animation["data"][i]["meta"]["role"] == "nodes_dropped"]
        drawn = sum(sum(i < 15 for i in d) if len(m) > 16 else len(d)
                    for d, m in zip(meta["dropped"], mask, strict=True))
        assert len(nodes[0]["x"]) == drawn
        layout = frame["layout"]
        assert layout["title"]["text"] == f"Thinned network of epoch {epoch + 1}"
        assert f"{len(meta['dropped'][1])} dropped" in layout["annotations"][1]["text"]
        titles = panel_titles(layout)
        assert titles[0] == f"Thinned network<br>epoch {epoch + 1}<br>acc {meta['thinned_acc']:.0%}"
        if epoch in (0, MAX_FRAMES // 2, MAX_FRAMES - 1):  # that epoch's two networks
            thinned, full = pipeline.thinned_and_full(run.network(epoch), mask, grid.points)
            z = [t["z"] for t in frame["data"] if "z" in t]
            np.testing.assert_array_equal(z[0].ravel(), as_percent(thinned[:, 1]))
            np.testing.assert_array_equal(z[1].ravel(), as_percent(full[:, 1]))
    # Scrubbing is client-side: one frame per epoch, each step animates to its frame at once.
    slider = animation["layout"]["sliders"][0]
    assert slider["active"] == len(frames) - 1
    for step, frame in zip(slider["steps"], frames, strict=True):
        assert step["method"] == "animate" and step["label"] == frame["name"]
        assert step["args"][1]["mode"] == "immediate"
        assert step["args"][1]["frame"]["redraw"] is True
    assert [b["label"] for b in animation["layout"]["updatemenus"][0]["buttons"]] == [
        "▶ Play", "❚❚ Pause"]
    assert cache.RUNS.get(settings.train_key()) is run


def crossed_out(animation: dict) -> int:
    """How many dropped units the figure draws before any scrubbing."""
    [nodes] = traces(animation, role="nodes_dropped")
    return len(nodes["x"])


def raw_specs(at: AppTest) -> dict[str, str]:
    """Every chart's JSON spec as sent, by key (to compare without decoding)."""
    return {chart_key(c): json.dumps(chart_json(c)) for c in chart_elements(at)}


def test_keyboard_twin_moves_the_animation_to_its_epoch():
    at = app(epochs="30").run()
    assert_clean(at)
    twin = at.select_slider(key=action_tab.EPOCH_KEY)
    before, sent = charts_by_key(at), raw_specs(at)
    labels = before["animation"]["layout"]["meta"]["epochs"]
    assert twin.label == "Epoch shown" and "keyboard" in twin.help
    # Its steps are the frames' epochs; it starts at the last, so the chart is the cached one.
    assert [int(o) for o in twin.options] == labels and twin.value == labels[-1] == 30
    assert before["animation"]["layout"]["title"]["text"] == "Thinned network of epoch 30"
    run = cached_run(DEFAULTS.replace(epochs=30))
    cached = action_tab.ANIMATIONS.get((DEFAULTS.replace(epochs=30).train_key(), False, 30))
    assert cached is not None

    for epoch in (labels[0], labels[len(labels) // 2]):
        at.select_slider(key=action_tab.EPOCH_KEY).set_value(epoch).run()
        assert_clean(at)
        charts = charts_by_key(at)
        animation = charts["animation"]
        f = labels.index(epoch)
        meta = animation["layout"]["meta"]["frames"][f]
        assert animation["layout"]["title"]["text"] == f"Thinned network of epoch {epoch}"
        assert animation["layout"]["sliders"][0]["active"] == f
        assert panel_titles(animation["layout"])[0].startswith(
            f"Thinned network<br>epoch {epoch}<br>")
        # The crossed-out units drawn are that epoch's (the first 15 of each 64-unit layer).
        mask = pipeline.view_mask(run.keep_masks(epoch - 1, 0))
        assert meta["dropped"] == [dropped_units(m) for m in mask]
        assert crossed_out(animation) == sum(sum(i < 15 for i in d) for d in meta["dropped"])
        # Its maps are that frame's, and the frames are all still there for the browser.
        frame_z = [t["z"] for t in animation["frames"][f]["data"] if "z" in t]
        for shown, z in zip(probability_maps(animation), frame_z, strict=True):
            np.testing.assert_array_equal(shown, z)
        assert [fr["name"] for fr in animation["frames"]] == [str(e) for e in labels]
        # Nothing retrained or rebuilt, nothing else changed, and the URL stays as it was.
        assert cached_run(DEFAULTS.replace(epochs=30)) is run
        assert action_tab.ANIMATIONS.get(
            (DEFAULTS.replace(epochs=30).train_key(), False, 30)) is cached
        assert raw_specs(at)["history"] == sent["history"]
        assert url(at) == {"epochs": "30"}

    # The choice survives a visit to another tab; back at the last epoch, the cached figure.
    at.session_state["_tab_label"] = "Learn"
    at.run()
    at.session_state["_tab_label"] = "Dropout in action"
    at.run()
    assert at.select_slider(key=action_tab.EPOCH_KEY).value == labels[len(labels) // 2]
    at.select_slider(key=action_tab.EPOCH_KEY).set_value(labels[-1]).run()
    assert raw_specs(at)["animation"] == sent["animation"]


def test_frames_thin_long_runs_evenly_and_keep_the_first_and_last_epoch():
    settings = DEFAULTS.replace(epochs=100, width=6)
    run = pipeline.train_for(settings.train_key())
    epochs = frame_epochs(run)
    assert len(epochs) == MAX_FRAMES and epochs[0] == 0 and epochs[-1] == 99
    gap = 99 / (MAX_FRAMES - 1)
    assert np.all(np.diff(epochs) >= np.floor(gap)) and np.all(np.diff(epochs) <= np.ceil(gap))
    assert list(frame_epochs(run, max_frames=200)) == list(run.snapshot_epochs)


# --- captions per mask scope --------------------------------------------------------------


def scope_caption_text(at: AppTest) -> str:
    found = [c.value for c in at.caption if "masks:" in c.value]
    assert len(found) == 1, [c.value for c in at.caption]
    return found[0]


def test_per_epoch_caption_explains_the_epoch_masks():
    at = app(epochs="12").run()
    text = scope_caption_text(at)
    assert text.startswith("Per-epoch masks: the units crossed out were dropped for all of "
                           "the epoch shown,")
    assert "12 epochs train at most that many sub-networks" in text


def test_per_batch_caption_says_which_mini_batch_is_shown():
    at = app(epochs="12").run()
    at.radio(key="mask_scope").set_value("batch").run()
    assert_clean(at)
    n_train = len(cached_run(DEFAULTS.replace(epochs=12, mask_scope="batch")).dataset.y_train)
    batches = -(-n_train // DEFAULTS.batch_size)
    assert scope_caption_text(at) == (
        f"Per-mini-batch masks: shown is the mask of mini-batch 1 of {batches} in each epoch; "
        "every mini-batch trains a different thinned network.")


def test_per_example_caption_says_which_example_is_shown():
    at = app(epochs="12").run()
    at.radio(key="mask_scope").set_value("example").run()
    assert_clean(at)
    n_train = len(cached_run(DEFAULTS.replace(epochs=12, mask_scope="example")).dataset.y_train)
    text = scope_caption_text(at)
    assert text.startswith("Per-example masks: shown is the sub-network of the first example "
                           "of mini-batch 1 in each epoch.")
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
    animation = charts_by_key(again)["animation"]
    assert animation["layout"]["meta"]["layer_sizes"] == [2, 8, 8, 2]
    titles = panel_titles(animation["layout"])
    assert titles[1].startswith("Full network<br>weights × q<br>")


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
    maps = [t for t in figures["boundary"].data if t.type == "contour"]
    np.testing.assert_array_equal(np.asarray(maps[0].z).ravel(), as_percent(thinned[:, 1]))
    np.testing.assert_array_equal(np.asarray(maps[1].z).ravel(), as_percent(full[:, 1]))


@pytest.mark.parametrize("convention", ["standard", "inverted"])
def test_the_maps_networks_are_the_thinned_network_as_trained_and_the_test_time_one(convention):
    """pipeline.thinned_and_full (folded sub-network, float32) against the reference
    multiplier form in float64, with input dropout too."""
    settings = DEFAULTS.replace(epochs=6, width=12, n_samples=80, p_input=0.2,
                                convention=convention)
    run = pipeline.train_for(settings.train_key())
    net = run.network(3)
    mask = pipeline.view_mask(run.keep_masks(3, 0))
    assert all(0 < m.sum() < m.size for m in mask)  # units dropped at every site
    points = pipeline.grid_for(run.dataset, resolution=20).points
    thinned, full = pipeline.thinned_and_full(net, mask, points)
    np.testing.assert_allclose(thinned, net.predict_proba(points, mask), atol=2e-6)
    np.testing.assert_allclose(full, net.predict_proba(points), atol=2e-6)
    assert arrays_differ(thinned, full)


def test_action_figures_without_a_plane_have_no_boundary():
    settings = DEFAULTS.replace(dataset="digits", epochs=2, width=8)
    run = pipeline.train_for(settings.train_key())
    figures = action_figures(run, settings, 1)
    assert set(figures) == {"network", "history"}
    assert figures["network"].layout.meta["layer_sizes"] == [64, 8, 8, 10]


def test_the_view_reruns_alone_only_on_the_first_tab_with_quick_runs():
    """A p move reruns the page's view alone (page.py, a fragment) where its work is quick; a
    fragment's rerun cannot be interrupted, so a long run (which a Stop click or a newer p
    must be able to end) and the other tabs keep whole-page reruns."""
    at = app().run()
    assert_clean(at)
    assert at.session_state[page.VIEW_DRAWN_FOR][0] is True
    assert at.slider(key="p_hidden").value == DEFAULTS.p_hidden  # drawn by the view
    long = app(n_layers="4", width="256", n_samples="2000", batch_size="1", epochs="1000").run()
    assert_clean(long)
    assert long.session_state[page.VIEW_DRAWN_FOR][0] is False
    assert any("does not start by itself" in w.value for w in long.warning)
    other_tab = app(tab="learn").run()
    assert_clean(other_tab)
    assert other_tab.session_state[page.VIEW_DRAWN_FOR][0] is False
