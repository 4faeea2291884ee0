"""Base figure builders: boundary heatmaps, network graph, training curves, shared style."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dropout_viz.data import make_grid
from dropout_viz.figures import (
    PLOTLY_CONFIG,
    base_layout,
    boundary_figure,
    boundary_panels,
    history_figure,
    network_figure,
    overlay_history_figure,
    style,
)

# ---------------------------------------------------------------- helpers


def two_class_data(n_train=30, n_test=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_train + n_test, 2))
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def logistic_probs(grid, shift=0.0):
    p1 = 1.0 / (1.0 + np.exp(-2.0 * (grid[:, 0] + shift)))
    return np.column_stack([1.0 - p1, p1])


def traces_with(fig, role, **meta):
    return [
        t for t in fig.data
        if isinstance(t.meta, dict) and t.meta.get("role") == role
        and all(t.meta.get(k) == v for k, v in meta.items())
    ]


def random_net(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]


def link_segments(fig):
    """All drawn links as (x0, y0, x1, y1) with their trace's meta."""
    segments = []
    for t in traces_with(fig, "links"):
        x = np.asarray(t.x, dtype=float).reshape(-1, 3)
        y = np.asarray(t.y, dtype=float).reshape(-1, 3)
        assert np.isnan(x[:, 2]).all() and np.isnan(y[:, 2]).all()  # gap after every link
        for (x0, x1, _), (y0, y1, _) in zip(x, y, strict=True):
            segments.append(((x0, y0, x1, y1), t.meta))
    return segments


# ---------------------------------------------------------------- style


def test_style_palette_fonts_and_config():
    assert len(set(style.CLASS_COLORS)) == 10
    assert style.DROPPED_FILL not in style.CLASS_COLORS
    assert style.POSITIVE_WEIGHT_COLOR != style.NEGATIVE_WEIGHT_COLOR
    assert base_layout("t")["font"]["size"] == 15
    assert base_layout("t", projector=True)["font"]["size"] == 22
    assert base_layout("t")["uirevision"] == base_layout("other")["uirevision"]
    assert style.line_scale(True) > style.line_scale(False)
    assert style.tint("#0072B2", 0.0) == "rgb(255,255,255)"
    assert style.tint("#0072B2", 1.0) == "rgb(0,114,178)"
    assert PLOTLY_CONFIG["displaylogo"] is False
    assert PLOTLY_CONFIG["toImageButtonOptions"]["format"] == "png"
    assert PLOTLY_CONFIG["toImageButtonOptions"]["scale"] == 2


# ---------------------------------------------------------------- grid


def test_make_grid_covers_bounds_plus_margin_in_heatmap_order():
    X = np.array([[0.0, -1.0], [2.0, 3.0], [1.0, 0.0]])
    xs, ys, grid = make_grid(X, resolution=11, margin=0.5)
    assert xs.shape == (11,) and ys.shape == (11,) and grid.shape == (121, 2)
    assert (xs[0], xs[-1], ys[0], ys[-1]) == pytest.approx((-0.5, 2.5, -1.5, 3.5))
    cells = grid.reshape(11, 11, 2)  # row i = ys[i], column j = xs[j]
    assert np.array_equal(cells[3, 7], [xs[7], ys[3]])
    xs2, ys2, grid2 = make_grid(X, resolution=11, margin=0.5)
    assert np.array_equal(grid, grid2)


def test_make_grid_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        make_grid(np.zeros((5, 1)))
    with pytest.raises(ValueError, match="resolution"):
        make_grid(np.zeros((5, 2)), resolution=1)


# ---------------------------------------------------------------- boundary


def test_two_class_boundary_heatmap_contour_and_points():
    X_tr, y_tr, X_te, y_te = two_class_data()
    xs, ys, grid = make_grid(np.vstack([X_tr, X_te]), resolution=40)
    probs = logistic_probs(grid)
    fig = boundary_figure(xs, ys, probs, X_tr, y_tr, X_te, y_te, title="p = 0.5")

    # One grid draws the colours and the 50% line: P(class 1) in whole percent, one byte each.
    (heat,) = traces_with(fig, "probability")
    assert heat.type == "contour" and heat.meta["boundary"] == 50
    assert heat.z.shape == (40, 40) and heat.z.dtype == np.uint8
    np.testing.assert_array_equal(heat.z.ravel(), np.rint(probs[:, 1] * 100))
    assert (heat.zmin, heat.zmax) == (0, 100)
    assert heat.colorscale[1][1] == "rgb(255,255,255)"  # white exactly at P = 0.5
    assert heat.contours.start == heat.contours.end == 50
    assert heat.contours.coloring == "heatmap" and heat.contours.showlines

    for k in (0, 1):
        (train,) = traces_with(fig, "train", **{"class": k})
        (test,) = traces_with(fig, "test", **{"class": k})
        assert len(train.x) == int((y_tr == k).sum()) and len(test.x) == int((y_te == k).sum())
        assert (train.name, test.name) == ("train", "test")
        assert train.marker.symbol == "circle" and test.marker.symbol == "circle-open"
        assert train.marker.color == test.marker.color == style.class_color(k)
        assert train.legendgroup == test.legendgroup == f"class {k}"
    assert fig.layout.meta["n_train"] == np.bincount(y_tr, minlength=2).tolist()
    assert fig.layout.meta["n_test"] == np.bincount(y_te, minlength=2).tolist()

    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.xaxis.showgrid is False and fig.layout.yaxis.showgrid is False
    assert tuple(fig.layout.xaxis.range) == pytest.approx((xs[0], xs[-1]))
    assert tuple(fig.layout.yaxis.range) == pytest.approx((ys[0], ys[-1]))
    assert fig.layout.uirevision == style.UIREVISION
    assert fig.layout.title.text == "p = 0.5"
    # The payload really carries one byte ("u1") per grid cell.
    assert json.loads(fig.to_json())["data"][0]["z"]["dtype"] == "u1"


def test_boundary_without_test_points_and_with_1d_probabilities():
    X_tr, y_tr, _, _ = two_class_data()
    xs, ys, grid = make_grid(X_tr, resolution=20)
    fig = boundary_figure(xs, ys, logistic_probs(grid)[:, 1], X_tr, y_tr)
    assert traces_with(fig, "test") == []
    assert fig.layout.meta["n_test"] == [0, 0]
    (heat,) = traces_with(fig, "probability")
    assert heat.z.shape == (20, 20)


def test_boundary_rejects_probabilities_for_another_grid():
    X_tr, y_tr, _, _ = two_class_data()
    xs, ys, grid = make_grid(X_tr, resolution=20)
    with pytest.raises(ValueError, match=r"grid_probs must have shape \(400, n_classes\)"):
        boundary_figure(xs, ys, np.full((399, 2), 0.5), X_tr, y_tr)


def test_multiclass_boundary_colours_the_argmax_class_by_confidence():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    y = rng.integers(0, 3, size=60)
    xs, ys, grid = make_grid(X, resolution=25)
    logits = np.column_stack([grid[:, 0], grid[:, 1], -grid[:, 0] - grid[:, 1]])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    fig = boundary_figure(xs, ys, probs, X, y)

    heats = traces_with(fig, "probability")
    assert len(heats) == 3
    z = np.stack([h.z.ravel() for h in heats])  # (3, R*R), NaN where another class wins
    painted = ~np.isnan(z)
    assert (painted.sum(axis=0) == 1).all()  # every cell coloured by exactly one class
    assert np.array_equal(painted.argmax(axis=0), probs.argmax(axis=1))
    np.testing.assert_allclose(np.nanmax(z, axis=0), probs.max(axis=1), atol=1e-6)
    assert all((h.zmin, h.zmax) == pytest.approx((1 / 3, 1.0)) for h in heats)
    assert [len(traces_with(fig, "train", **{"class": k})[0].x) for k in range(3)] == (
        np.bincount(y, minlength=3).tolist()
    )


def test_boundary_panels_share_one_scale_and_wrap_rows():
    X_tr, y_tr, X_te, y_te = two_class_data()
    xs, ys, grid = make_grid(np.vstack([X_tr, X_te]), resolution=15)
    panels = [
        {"grid_probs": logistic_probs(grid, shift=s), "title": f"net {i}", "accuracy": 0.9}
        for i, s in enumerate(np.linspace(-1, 1, 16))
    ]
    fig = boundary_panels(panels, xs, ys, X_tr, y_tr, X_te, y_te, ncols=4, contour=False)

    heats = traces_with(fig, "probability")
    assert len(heats) == 16
    assert {(h.type, h.zmin, h.zmax) for h in heats} == {("heatmap", 0, 100)}
    assert len({json.dumps(h.colorscale) for h in heats}) == 1
    assert [h.xaxis for h in heats] == ["x"] + [f"x{i}" for i in range(2, 17)]
    assert fig.layout.meta["nrows"] == 4 and fig.layout.meta["ncols"] == 4
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:2] == ["net 0 · acc 90%", "net 1 · acc 90%"]
    for i in range(2, 17):
        assert fig.layout[f"yaxis{i}"].scaleanchor == f"x{i}"
    # Shared axes (zoom one, zoom all): every other x axis matches one common axis.
    x_names = ["xaxis"] + [f"xaxis{i}" for i in range(2, 17)]
    targets = {fig.layout[name].matches for name in x_names}
    (anchor,) = targets - {None}
    assert sum(fig.layout[name].matches is None for name in x_names) == 1
    assert fig.layout["xaxis" + anchor[1:]].matches is None
    # Points in every panel, but each legend entry only once.
    assert len(traces_with(fig, "train")) == 16 * 2
    assert sum(bool(t.showlegend) for t in traces_with(fig, "train")) == 2


def test_maps_keep_their_frame_on_their_edge_and_the_legend_below_it():
    """Streamlit's chart theme pads axes 8 px off the plot area: the mirrored frame then left
    the map and ran under the legend below it (Experiments) and into the panel beside it.
    Maps set the padding to 0 and start the legend below the frame."""
    from dropout_viz.figures.boundary import LEGEND_GAP

    X_tr, y_tr, X_te, y_te = two_class_data()
    xs, ys, grid = make_grid(np.vstack([X_tr, X_te]), resolution=12)
    probs = logistic_probs(grid, 0.0)
    panels = boundary_panels([{"grid_probs": probs, "title": "a"},
                              {"grid_probs": probs, "title": "b"}], xs, ys, X_tr, y_tr)
    single = boundary_figure(xs, ys, probs, X_tr, y_tr)
    for fig in (panels, single):
        assert fig.layout.margin.pad == 0
        assert fig.layout.xaxis.mirror is True and fig.layout.xaxis.showline is True
        assert fig.layout.legend.yanchor == "top" and fig.layout.legend.y <= -LEGEND_GAP / 2
    assert panels.layout.legend.y == -LEGEND_GAP


def test_boundary_panels_difference_panel_has_own_scale():
    X_tr, y_tr, _, _ = two_class_data()
    xs, ys, grid = make_grid(X_tr, resolution=12)
    a, b = logistic_probs(grid, -0.5), logistic_probs(grid, 0.5)
    fig = boundary_panels(
        [{"grid_probs": a, "title": "p = 0"}, {"grid_probs": b, "title": "p = 0.5"},
         {"kind": "diff", "a": a, "b": b, "title": "|difference|"}],
        xs, ys, X_tr, y_tr, show_colorbar=True,
    )
    (diff,) = traces_with(fig, "diff")
    np.testing.assert_allclose(diff.z.ravel(), np.abs(a[:, 1] - b[:, 1]), atol=1e-6)
    assert (diff.zmin, diff.zmax) == (0.0, 1.0) and diff.showscale is True
    assert diff.colorscale != traces_with(fig, "probability")[0].colorscale
    assert diff.xaxis == "x3"
    assert sum(bool(h.showscale) for h in traces_with(fig, "probability")) == 1


# ---------------------------------------------------------------- network


def node_coords(fig):
    kept = {(n["x"], n["y"]) for n in fig.layout.meta["nodes"] if not n["dropped"]}
    dropped = {(n["x"], n["y"]) for n in fig.layout.meta["nodes"] if n["dropped"]}
    return kept, dropped


def test_network_nodes_dropped_units_and_links():
    sizes = [2, 8, 8, 3]
    weights = random_net(sizes)
    masks = [np.array([1.0, 0.0]), np.array([1, 0, 1, 1, 0, 0, 1, 1.0]),
             np.array([0, 1, 1, 1, 1, 1, 1, 0.0])]
    fig = network_figure(weights, masks, title="one sub-network")

    kept_nodes = traces_with(fig, "nodes_kept")[0]
    dropped_nodes = traces_with(fig, "nodes_dropped")[0]
    assert len(kept_nodes.x) + len(dropped_nodes.x) == sum(sizes)
    n_zeros = sum(int((m == 0).sum()) for m in masks)
    assert len(dropped_nodes.x) == n_zeros == 6
    assert fig.layout.meta["dropped"] == [[1], [1, 4, 5], [0, 7]]
    assert fig.layout.meta["n_dropped"] == [1, 3, 2]

    # The "x" overlay sits exactly on the dropped units, and only there.
    (cross,) = traces_with(fig, "dropped_x")
    assert cross.marker.symbol == "x-thin-open"
    kept, dropped = node_coords(fig)
    assert set(zip(cross.x, cross.y, strict=True)) == dropped
    assert set(zip(dropped_nodes.x, dropped_nodes.y, strict=True)) == dropped
    assert set(dropped_nodes.marker.color) == {style.DROPPED_FILL}

    # Every link joins two kept units; none touches a dropped one.
    segments = link_segments(fig)
    for (x0, y0, x1, y1), _ in segments:
        assert (x0, y0) in kept and (x1, y1) in kept
        assert x1 == x0 + 1
    kept_per_layer = [1, 5, 6, 3]
    expected = sum(a * b for a, b in zip(kept_per_layer[:-1], kept_per_layer[1:], strict=True))
    assert len(segments) == fig.layout.meta["n_links"] == expected


def test_network_link_colour_is_weight_sign_and_width_grows_with_magnitude():
    sizes = [3, 4, 2]
    weights = random_net(sizes, seed=3)
    fig = network_figure(weights, None)
    by_pos = {(n["x"], n["y"]): (n["layer"], n["index"]) for n in fig.layout.meta["nodes"]}
    widths = {}
    for (x0, y0, x1, y1), meta in link_segments(fig):
        layer, i = by_pos[(x0, y0)]
        _, j = by_pos[(x1, y1)]
        w = weights[layer][i, j]
        assert meta["positive"] == (w >= 0)
        widths[(layer, i, j)] = meta["bucket"]
    assert len(widths) == 3 * 4 + 4 * 2  # nothing dropped: every link drawn
    for layer, w in enumerate(weights):
        biggest = np.unravel_index(np.abs(w).argmax(), w.shape)
        assert widths[(layer, *biggest)] == 5  # the layer's largest |w| gets the widest bucket
    link_traces = traces_with(fig, "links")
    colors = {t.meta["positive"]: t.line.color for t in link_traces}
    assert colors == {True: style.POSITIVE_WEIGHT_COLOR, False: style.NEGATIVE_WEIGHT_COLOR}
    assert min(t.line.width for t in link_traces) >= 0.5
    assert max(t.line.width for t in link_traces) <= 6.0
    assert traces_with(fig, "nodes_dropped") == [] and fig.layout.meta["dropped"] == [[], []]


def test_wide_network_uses_ellipsis_nodes_and_few_traces():
    sizes = [64, 128, 128, 10]
    weights = random_net(sizes, seed=2)
    rng = np.random.default_rng(5)
    masks = [(rng.random(n) > 0.3).astype(float) for n in sizes[:-1]]
    fig = network_figure(weights, masks, max_nodes=16)

    assert len(fig.data) < 20
    assert fig.layout.meta["shown_nodes"] == [list(range(15))] * 3 + [list(range(10))]
    assert fig.layout.meta["n_hidden"] == [49, 113, 113, 0]
    (ellipsis,) = traces_with(fig, "ellipsis")
    assert list(ellipsis.text) == ["⋮<br>+49", "⋮<br>+113", "⋮<br>+113"]
    assert list(ellipsis.hovertext)[0].startswith("49 more units not drawn")
    node_traces = traces_with(fig, "nodes_kept") + traces_with(fig, "nodes_dropped")
    n_drawn = sum(len(t.x) for t in node_traces)
    assert n_drawn == 15 * 3 + 10
    # Dropped counts cover every unit, not only the drawn ones.
    assert fig.layout.meta["dropped"] == [np.flatnonzero(m == 0).tolist() for m in masks]
    notes = " ".join(a.text for a in fig.layout.annotations)
    for m, n in zip(masks, sizes, strict=False):
        assert f"{n} units<br>{int((m == 0).sum())} dropped" in notes
    kept, _ = node_coords(fig)
    ellipsis_xy = set(zip(ellipsis.x, ellipsis.y, strict=True))
    for (x0, y0, x1, y1), _ in link_segments(fig):
        assert (x0, y0) in kept and (x1, y1) in kept
        assert (x0, y0) not in ellipsis_xy and (x1, y1) not in ellipsis_xy


def test_network_names_hover_and_layout():
    weights = random_net([2, 3, 2])
    masks = [None, np.array([1, 0, 1])]
    fig = network_figure(weights, masks, input_names=["width", "height"],
                         output_names=["cat", "dog"])
    names = [n["name"] for n in fig.layout.meta["nodes"]]
    assert names == ["width", "height", "h1.1", "h1.2", "h1.3", "cat", "dog"]
    hover = list(traces_with(fig, "nodes_kept")[0].hovertext)
    assert "width: kept" in hover and "h1.1: kept" in hover
    assert list(traces_with(fig, "nodes_dropped")[0].hovertext) == ["h1.2: dropped"]
    assert fig.layout.meta["dropped"] == [[], [1]]
    notes = [a.text for a in fig.layout.annotations]
    assert "3 units<br>1 dropped" in notes[1] and "dropped" not in notes[0]  # input site unmasked
    assert fig.layout.xaxis.visible is False and fig.layout.xaxis.fixedrange is True
    assert fig.layout.uirevision == style.UIREVISION

    default = network_figure(weights, None)
    assert [n["name"] for n in default.layout.meta["nodes"]][:2] == ["x1", "x2"]
    assert [n["name"] for n in default.layout.meta["nodes"]][-2:] == ["class 0", "class 1"]


def test_layer_labels_alternate_between_two_rows_so_neighbours_never_share_a_line():
    """"31 dropped34 dropped": labels of neighbouring layers ran together in narrow columns.
    Every other layer's label is lifted by a whole label's height (three lines), so two labels
    on one line are two layers apart; the top margin makes room for both rows."""
    sizes = [2, 64, 64, 64, 2]
    weights = random_net(sizes)
    masks = [None] + [np.r_[np.zeros(31), np.ones(33)]] * 3
    for projector in (False, True):
        fig = network_figure(weights, masks, title="t", projector=projector)
        notes = fig.layout.annotations
        assert [a.text.count("<br>") for a in notes] == [1, 2, 2, 2, 1]  # at most three lines
        line = 1.35 * style.font_size(projector)
        lift = notes[1].yshift
        assert lift >= 3 * line  # a whole label higher: the rows cannot overlap
        assert [a.yshift or 0 for a in notes] == [0, lift, 0, lift, 0]
        assert fig.layout.margin.t >= 3 * line + lift  # both rows fit above the plot
        assert fig.layout.height >= network_figure(weights, masks).layout.margin.t
    # Nothing to stagger without hidden layers.
    plain = network_figure(random_net([2, 2]), None)
    assert [a.yshift or 0 for a in plain.layout.annotations] == [0, 0]


def _links_by_width(fig) -> dict[tuple[bool, float], int]:
    """(positive, line width) → number of links drawn that way (segments split by NaN)."""
    counts: dict[tuple[bool, float], int] = {}
    for trace in traces_with(fig, "links"):
        n = int(np.isnan(np.asarray(trace.x, dtype=float)).sum())
        if n:
            key = (trace.meta["positive"], round(trace.line.width, 6))
            counts[key] = counts.get(key, 0) + n
    return counts


@pytest.mark.parametrize("projector", [False, True])
def test_a_weight_gets_one_width_in_the_main_diagram_and_the_gallery(projector):
    """The gallery once bucketed |w| in four floored steps, the main diagram in six rounded
    ones: the same weight was drawn at two widths. Both now share one rule."""
    from dropout_viz.ensemble import Gallery, PlotData
    from dropout_viz.figures.gallery import gallery_figure

    weights = random_net([2, 6, 5, 2], seed=3)
    masks = [np.ones(2), np.array([1, 0, 1, 1, 0, 1.0]), np.array([1, 1, 0, 1, 1.0])]
    main = network_figure(weights, masks, projector=projector)
    gallery = Gallery(source="sampled", mask_scope="epoch", epochs=np.array([0]),
                      keep_masks=tuple(m[None, :] for m in masks),
                      weights=(tuple(weights),), xs=None, ys=None, grid_probs=None,
                      test_accuracy=np.array([1.0]), test_log_loss=np.array([0.0]))
    empty = np.zeros((0, 2))
    data = PlotData(empty, np.zeros(0, int), empty, np.zeros(0, int), 2, ("x1", "x2"),
                    ("0", "1"), planar=False, xs=None, ys=None)
    thumbnail = gallery_figure(gallery, data, projector=projector)
    drawn = _links_by_width(main)
    assert sum(drawn.values()) == main.layout.meta["n_links"] == 2 * 4 + 4 * 4 + 4 * 2
    assert len(drawn) > 2  # several widths: the comparison says something
    assert _links_by_width(thumbnail) == drawn


def test_network_rejects_mismatched_masks_and_weights():
    weights = random_net([2, 4, 2])
    with pytest.raises(ValueError, match="one keep mask per dropout site"):
        network_figure(weights, [np.ones(2)])
    with pytest.raises(ValueError, match=r"keep mask 1 must have shape \(4,\)"):
        network_figure(weights, [np.ones(2), np.ones(5)])
    with pytest.raises(ValueError, match=r"weights\[1\] has shape \(3, 2\)"):
        network_figure([np.ones((2, 4)), np.ones((3, 2))], None)


def test_projector_mode_enlarges_text_and_lines():
    weights = random_net([2, 4, 2])
    normal, big = network_figure(weights, None), network_figure(weights, None, projector=True)
    assert (normal.layout.font.size, big.layout.font.size) == (15, 22)
    assert max(t.line.width for t in traces_with(big, "links")) > max(
        t.line.width for t in traces_with(normal, "links")
    )


# ---------------------------------------------------------------- curves


def make_history(n_epochs=25):
    e = np.arange(1, n_epochs + 1)
    return {
        "train_loss": 1 / np.sqrt(e), "test_loss": 1.1 / np.sqrt(e), "thinned_loss": 1.3 / e**0.4,
        "train_acc": 1 - 0.5 / e, "test_acc": 1 - 0.6 / e,
    }


def test_history_figure_curves_and_epoch_marker():
    fig = history_figure(make_history(25), epoch_marker=7, title="run")
    curves = {t.meta["key"]: t for t in traces_with(fig, "curve")}
    assert set(curves) == {"train_loss", "test_loss", "thinned_loss", "train_acc", "test_acc"}
    for key, t in curves.items():
        assert list(t.x) == list(range(1, 26)) and len(t.y) == 25
        assert t.xaxis == ("x" if key.endswith("loss") else "x2")
    assert curves["thinned_loss"].line.dash == "dash"
    assert curves["train_loss"].line.dash == "solid"
    markers = [s for s in fig.layout.shapes if s.type == "line"]
    assert {s.xref for s in markers} == {"x", "x2"}
    assert all(s.x0 == s.x1 == 7 for s in markers)
    assert any(a.text.strip() == "epoch 7" for a in fig.layout.annotations)
    assert fig.layout.meta == {"n_epochs": 25, "epoch_marker": 7}
    assert [t.name for t in fig.data if t.showlegend is not False] == [
        "train", "test", "train, thinned nets"
    ]


def test_history_figure_without_marker_and_with_bad_marker():
    fig = history_figure({"train_loss": np.ones(5), "test_loss": np.ones(5)}, None)
    assert len(fig.layout.shapes) == 0 and len(fig.data) == 2
    with pytest.raises(ValueError, match=r"epoch_marker must be in \[1, 5\]"):
        history_figure({"train_loss": np.ones(5)}, 6)


def test_overlay_history_one_colour_per_run_train_dashed_test_solid():
    runs = {"p = 0.5": make_history(10), "p = 0": make_history(10)}
    fig = overlay_history_figure(runs, epoch_marker=3)
    curves = traces_with(fig, "curve")
    assert len(curves) == 2 * 2 * 2  # runs × (train, test) × (loss, accuracy)
    for r, run in enumerate(runs):
        mine = [t for t in curves if t.meta["run"] == run]
        assert {t.line.color for t in mine} == {style.class_color(r)}
        assert {t.line.dash for t in mine if t.meta["key"].startswith("train")} == {"dash"}
        assert {t.line.dash for t in mine if t.meta["key"].startswith("test")} == {"solid"}
        assert all(len(t.y) == 10 for t in mine)
    assert sum(t.showlegend is not False for t in curves) == 4
    assert {s.x0 for s in fig.layout.shapes} == {3}
    assert fig.layout.meta["runs"] == ["p = 0.5", "p = 0"]


def test_axis_text_is_dark_enough_for_wcag_aa_in_every_chart_with_ticks():
    """Streamlit's chart theme draws tick labels in #808495 (3.7:1 on white); the figures set
    their axes' text colour in the layout, where the theme cannot replace it."""
    from dropout_viz.figures.experiments import sweep_figure

    def contrast(color: str) -> float:
        def channel(c: int) -> float:
            c /= 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        r, g, b = style.hex_to_rgb(color)
        lum = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
        return 1.05 / (lum + 0.05)

    assert contrast(style.AXIS_TEXT_COLOR) >= 4.5
    ps = np.round(np.linspace(0, 0.8, 9), 1)
    metrics = {k: np.full((9, 2), 0.5) for k in ("test_acc", "test_loss", "train_loss")}
    for fig in (history_figure(make_history(5)),
                overlay_history_figure({"a": make_history(5), "b": make_history(5)}),
                sweep_figure(ps, metrics, 0.5)):
        axes = [fig.layout[name] for name in fig.layout if name.startswith(("xaxis", "yaxis"))]
        assert len(axes) >= 2
        for axis in axes:
            assert axis.tickfont.color == style.AXIS_TEXT_COLOR
            assert axis.title.font.color == style.AXIS_TEXT_COLOR


def test_the_difference_bar_and_the_probability_bar_do_not_overlap():
    rng = np.random.default_rng(0)
    xs = ys = np.linspace(-1, 1, 10)
    probs = [rng.dirichlet([1, 1], 100) for _ in range(2)]
    X, y = rng.normal(size=(20, 2)), rng.integers(0, 2, 20)
    fig = boundary_panels(
        [{"grid_probs": probs[0], "title": "a"}, {"grid_probs": probs[1], "title": "b"},
         {"kind": "diff", "a": probs[0], "b": probs[1], "title": "|difference|"}],
        xs, ys, X, y, n_classes=2, ncols=3, show_colorbar=True)
    bars = [t for t in fig.data if getattr(t, "showscale", None)]
    diff = [t for t in bars if t.meta["role"] == "diff"]
    probability = [t for t in bars if t.meta["role"] != "diff"]
    assert len(diff) == 1 and len(probability) == 1
    # The |Δ| bar and its title sit right of the last panel; the probability bar after them.
    assert probability[0].colorbar.x >= diff[0].colorbar.x + 0.08
