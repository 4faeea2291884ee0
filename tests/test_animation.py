"""figures/animation.py: the epoch animation as Plotly frames (pure, no Streamlit), and the
fixed trace slots of network_figure that its frames rely on."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import decode

from dropout_viz import pipeline
from dropout_viz.figures.animation import BoundaryFrames, epoch_animation_figure
from dropout_viz.figures.network import N_WIDTH_BUCKETS, network_figure, network_spec
from dropout_viz.figures.spec import at_frame
from dropout_viz.settings import DEFAULTS
from dropout_viz.tab_figures import MAX_FRAMES, animation_figure


def weights(seed: int, sizes=(2, 5, 5, 2)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]


def masks(dropped_hidden: list[int]) -> list[np.ndarray]:
    keep = np.ones(5)
    keep[dropped_hidden] = 0
    return [np.ones(2), keep, np.ones(5)]


def test_fixed_slots_give_the_same_traces_whatever_the_mask():
    all_dropped = network_figure(weights(0), masks([0, 1, 2, 3, 4]), fixed_slots=True)
    none_dropped = network_figure(weights(1), masks([]), fixed_slots=True)
    roles = [(t.meta["role"], t.meta.get("positive"), t.meta.get("bucket"))
             for t in all_dropped.data]
    assert roles == [(t.meta["role"], t.meta.get("positive"), t.meta.get("bucket"))
                     for t in none_dropped.data]
    assert len(roles) == 2 * N_WIDTH_BUCKETS + 4  # links, kept, dropped, dropped x, names
    # With hidden layer 1 all dropped, only hidden 2 → output is linked (3 points a link).
    assert sum(len(t.x) for t in all_dropped.data if t.meta["role"] == "links") == 3 * 5 * 2
    assert any(len(t.x) == 0 for t in all_dropped.data if t.meta["role"] == "links")
    [crosses] = [t for t in none_dropped.data if t.meta["role"] == "dropped_x"]
    assert len(crosses.x) == 0  # no crosses to draw
    # Without fixed slots only non-empty traces are drawn.
    assert len(network_figure(weights(1), masks([])).data) < len(roles)


def test_network_spec_is_the_figure_as_plain_dicts():
    spec = network_spec(weights(2), masks([1]), title="t")
    fig = network_figure(weights(2), masks([1]), title="t")
    assert [t["meta"] for t in spec["data"]] == [t.meta for t in fig.data]
    assert spec["layout"]["meta"]["dropped"] == fig.layout.meta["dropped"] == [[], [1], []]
    assert spec["layout"]["title"]["text"] == "t"


def boundary_frames(n_frames: int, resolution: int = 4) -> BoundaryFrames:
    rng = np.random.default_rng(0)
    p1 = rng.uniform(size=(n_frames, resolution ** 2))
    thinned = np.stack([1 - p1, p1], axis=-1)
    X = rng.normal(size=(6, 2))
    return BoundaryFrames(np.linspace(-1, 1, resolution), np.linspace(-1, 1, resolution),
                          thinned, thinned[:, :, ::-1], [0.5, 0.75, 1.0][:n_frames],
                          [0.25, 0.5, 0.625][:n_frames], X, np.array([0, 1, 0, 1, 0, 1]),
                          X[:2], np.array([0, 1]), n_classes=2, full_title="Full")


def spec_of(fig) -> dict:
    """The figure as the browser gets it: validated by Plotly whole (frames and layout too,
    which the animation builds as plain dicts), then JSON-decoded with arrays as NumPy."""
    import json

    import plotly.graph_objects as go
    return decode(json.loads(go.Figure(fig.to_dict()).to_json()))


def test_each_frame_carries_its_epochs_network_maps_and_titles():
    dropped = [[0], [1, 2], []]
    boundary = boundary_frames(3)
    fig = epoch_animation_figure([1, 5, 9], [weights(s) for s in range(3)],
                                 [masks(d) for d in dropped], boundary=boundary)
    spec = spec_of(fig)
    frames, layout = spec["frames"], spec["layout"]
    assert [f["name"] for f in frames] == ["1", "5", "9"]
    meta = layout["meta"]
    assert [f["dropped"][1] for f in meta["frames"]] == dropped
    assert [f["thinned_acc"] for f in meta["frames"]] == [0.5, 0.75, 1.0]
    for f, frame in enumerate(frames):
        # Every frame updates the same traces: links, units and crosses, then the two maps.
        assert frame["traces"] == frames[0]["traces"]
        assert len(frame["data"]) == len(frame["traces"])
        maps = [t for t in frame["data"] if t["type"] == "contour"]
        assert len(maps) == 2  # one grid per panel: colours and the 50% line
        assert maps[0]["z"].dtype == np.uint8
        np.testing.assert_array_equal(maps[0]["z"].ravel(),
                                      np.rint(boundary.thinned[f][:, 1] * 100))
        np.testing.assert_array_equal(maps[1]["z"].ravel(),
                                      np.rint(boundary.full[f][:, 1] * 100))
        texts = [a["text"] for a in frame["layout"]["annotations"]]
        assert f"{len(dropped[f])} dropped" in texts[1]
        assert texts[-2:] == [f"Thinned network<br>epoch {frame['name']}<br>acc "
                              f"{boundary.thinned_acc[f]:.0%}",
                              f"Full<br>acc {boundary.full_acc[f]:.0%}"]
        assert frame["layout"]["title"]["text"] == f"Thinned network of epoch {frame['name']}"
    # The figure itself shows the last frame; the slider starts there.
    assert layout["title"]["text"] == "Thinned network of epoch 9"
    assert layout["sliders"][0]["active"] == 2
    assert [s["label"] for s in layout["sliders"][0]["steps"]] == ["1", "5", "9"]
    # Training and test points are static traces on both panels, outside the frames.
    points = [t for t in spec["data"] if t["meta"]["role"] in ("train", "test")]
    assert {(t["meta"]["panel"], t["xaxis"]) for t in points} == {(0, "x2"), (1, "x3")}
    assert max(frames[0]["traces"]) < min(i for i, t in enumerate(spec["data"])
                                          if t["meta"]["role"] in ("train", "test"))
    # A frame restates only what changes: no styles, no static axes or colour scales.
    assert all(set(t) <= {"type", "x", "y", "text", "textposition", "hovertext", "marker",
                          "z"} for frame in frames for t in frame["data"])


def test_at_frame_shows_a_frame_from_the_ready_spec():
    dropped = [[0], [1, 2], []]
    boundary = boundary_frames(3)
    fig = epoch_animation_figure([1, 5, 9], [weights(s) for s in range(3)],
                                 [masks(d) for d in dropped], boundary=boundary)
    before = fig.to_json()
    # At the last frame it is the figure itself, to the byte (the page's default).
    assert at_frame(fig, 2).to_dict() == fig.to_dict() == at_frame(fig, -1).to_dict()
    assert at_frame(fig, 2).to_json() == before

    first = at_frame(fig, 0)
    spec, frame = first.to_dict(), fig.spec["frames"][0]
    assert fig.to_json() == before  # the cached figure is not touched
    assert spec["frames"] is fig.spec["frames"]  # nothing copied but the changed parts
    assert spec["layout"]["title"]["text"] == "Thinned network of epoch 1"
    assert spec["layout"]["title"]["y"] == fig.spec["layout"]["title"]["y"]  # merged
    assert spec["layout"]["annotations"] == frame["layout"]["annotations"]
    assert spec["layout"]["sliders"][0]["active"] == 0
    assert fig.spec["layout"]["sliders"][0]["active"] == 2
    assert spec["layout"]["sliders"][0]["steps"] is fig.spec["layout"]["sliders"][0]["steps"]
    for slot, update in zip(frame["traces"], frame["data"], strict=True):
        trace, base = spec["data"][slot], fig.spec["data"][slot]
        assert {key: trace[key] for key in update if key != "marker"} == {
            key: value for key, value in update.items() if key != "marker"}
        if "marker" in update:  # the frame's colours, the trace's sizes and outlines
            assert trace["marker"] == {**base["marker"], **update["marker"]}
        assert set(trace) == set(base)  # the style stays
    untouched = set(range(len(spec["data"]))) - set(frame["traces"])
    assert untouched and all(spec["data"][i] is fig.spec["data"][i] for i in untouched)
    # What the browser draws: frame 0's crossed-out units and maps, validated by Plotly whole.
    shown = spec_of(first)
    [crossed] = [t for t in shown["data"] if t["meta"]["role"] == "nodes_dropped"]
    assert len(crossed["x"]) == 1  # frame 0 drops hidden unit 0 only
    maps = [t for t in shown["data"] if t["meta"]["role"] == "probability"]
    np.testing.assert_array_equal(maps[0]["z"].ravel(), np.rint(boundary.thinned[0][:, 1] * 100))
    np.testing.assert_array_equal(maps[1]["z"].ravel(), np.rint(boundary.full[0][:, 1] * 100))
    texts = [a["text"] for a in shown["layout"]["annotations"]]
    assert "1 dropped" in texts[1] and texts[-2] == "Thinned network<br>epoch 1<br>acc 50%"
    with pytest.raises(IndexError):
        at_frame(fig, 3)


def test_without_a_plane_the_frames_hold_only_the_network():
    fig = epoch_animation_figure([1, 2], [weights(0), weights(1)], [masks([0]), masks([])])
    spec = spec_of(fig)
    assert all(t["type"] == "scatter" for t in spec["data"])
    assert [f["full_acc"] for f in spec["layout"]["meta"]["frames"]] == [None, None]


def test_inputs_must_line_up():
    with pytest.raises(ValueError, match="one weights and keep_masks entry per epoch"):
        epoch_animation_figure([1, 2], [weights(0)], [masks([])])


# What one rerun of the first tab ships for its animation at the default settings (it was
# 1.4 MB with a heatmap and a contour grid per panel in float32).
ANIMATION_BUDGET_BYTES = 350_000


def test_default_settings_fit_the_size_budget():
    run = pipeline.train_for(DEFAULTS.train_key())
    fig = animation_figure(run, DEFAULTS)
    assert len(fig.to_dict()["frames"]) == MAX_FRAMES
    assert len(fig.to_json()) <= ANIMATION_BUDGET_BYTES
