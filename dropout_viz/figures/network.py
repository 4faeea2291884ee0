"""The network as a graph: one thinned sub-network, its dropped units greyed out and unlinked.

Links are batched into a handful of traces (one per weight sign and width bucket, segments
separated by NaN gaps) so that a 128-wide layer costs no more traces than a 4-wide one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dropout_viz.figures import style

N_WIDTH_BUCKETS = 6
MIN_LINK_WIDTH, MAX_LINK_WIDTH = 0.5, 6.0
MAX_NODES = 16  # layers wider than this show their first MAX_NODES - 1 units and an ellipsis
LABEL_LINES = 3  # lines of each layer's header label: name, units, dropped


def link_buckets(values: np.ndarray, w_max: float) -> np.ndarray:
    """Width bucket (0 .. N_WIDTH_BUCKETS - 1) of each weight: |w| / max |w| of its layer,
    rounded. Every diagram (the main one, the animation, the gallery) buckets links by this
    rule, so one weight is drawn at one width everywhere."""
    values = np.asarray(values, dtype=float)
    rel = np.abs(values) / w_max if w_max > 0 else np.zeros_like(values)
    return np.rint(rel * (N_WIDTH_BUCKETS - 1)).astype(int)


def link_width(bucket: int, scale: float = 1.0) -> float:
    """Line width of a bucket's links (`scale`: the projector's thicker lines)."""
    frac = bucket / (N_WIDTH_BUCKETS - 1)
    return (MIN_LINK_WIDTH + (MAX_LINK_WIDTH - MIN_LINK_WIDTH) * frac) * scale


def link_opacity(bucket: int) -> float:
    """Faint thin links keep wide layers readable."""
    return 0.35 + 0.55 * bucket / (N_WIDTH_BUCKETS - 1)


def _layer_sizes(weights: Sequence[np.ndarray]) -> list[int]:
    if not weights:
        raise ValueError("weights must hold at least one (fan_in, fan_out) matrix")
    sizes = [int(np.shape(weights[0])[0])]
    for l, w in enumerate(weights):
        if np.ndim(w) != 2 or np.shape(w)[0] != sizes[-1]:
            raise ValueError(
                f"weights[{l}] has shape {np.shape(w)}; expected ({sizes[-1]}, fan_out)"
            )
        sizes.append(int(np.shape(w)[1]))
    return sizes


def _keep_vectors(keep_masks, sizes: list[int]) -> list[np.ndarray]:
    """One boolean keep vector per layer; the output layer (no dropout site) is all kept."""
    n_sites = len(sizes) - 1
    if keep_masks is None:
        keep_masks = [None] * n_sites
    if len(keep_masks) != n_sites:
        raise ValueError(
            f"need one keep mask per dropout site ({n_sites}: inputs, then each hidden layer), "
            f"got {len(keep_masks)}"
        )
    keep = []
    for site, (mask, units) in enumerate(zip(keep_masks, sizes[:-1], strict=True)):
        if mask is None:
            keep.append(np.ones(units, dtype=bool))
            continue
        mask = np.asarray(mask)
        if mask.ndim == 2 and mask.shape[0] == 1:  # a (1, units) epoch mask
            mask = mask[0]
        if mask.shape != (units,):
            raise ValueError(f"keep mask {site} must have shape ({units},), got {mask.shape}")
        keep.append(mask > 0.5)
    keep.append(np.ones(sizes[-1], dtype=bool))
    return keep


def _layer_title(layer: int, n_layers: int) -> str:
    if layer == 0:
        return "input"
    if layer == n_layers - 1:
        return "output"
    return f"hidden {layer}"


def _node_name(layer: int, index: int, n_layers: int, input_names, output_names) -> str:
    if layer == 0:
        return str(input_names[index]) if input_names is not None else f"x{index + 1}"
    if layer == n_layers - 1:
        return str(output_names[index]) if output_names is not None else f"class {index}"
    # Hidden units count from 1 like the inputs x1, x2, ...: h{hidden layer}.{unit}.
    return f"h{layer}.{index + 1}"


def network_figure(
    weights: Sequence[np.ndarray],
    keep_masks: Sequence[np.ndarray | None] | None = None,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    max_nodes: int = MAX_NODES,
    title: str = "",
    projector: bool = False,
    height: int | None = None,
    fixed_slots: bool = False,
) -> go.Figure:
    """Draw the (thinned) network given by `weights` and `keep_masks`.

    weights[l] has shape (fan_in, fan_out). keep_masks holds one 0/1 vector per dropout site
    (inputs, then each hidden layer) or None for "nothing dropped" (a site may also be None).
    Layers wider than max_nodes show their first max_nodes - 1 units and an ellipsis node.
    Link colour = sign of the weight, width ∝ |w| / max |w| of that layer.
    `fixed_slots=True` always emits the same traces in the same order (every sign × width
    bucket, kept and dropped units, empty ones with x=[] y=[]), whatever the masks: animation
    frames of one network must match trace for trace.

    The layer labels above the diagram alternate between two rows (every other layer one
    label higher), so neighbouring labels never share a line however narrow the figure is
    drawn: a label may be as wide as two layers' spacing.

    layout.meta: layer_sizes, dropped (unit indices per site), n_dropped, shown_nodes (indices
    drawn per layer), n_hidden (units behind each ellipsis), nodes (name, layer, index, x, y,
    dropped) and n_links.
    """
    return go.Figure(network_spec(weights, keep_masks, input_names, output_names, max_nodes,
                                  title, projector, height, fixed_slots))


def network_spec(
    weights: Sequence[np.ndarray],
    keep_masks: Sequence[np.ndarray | None] | None = None,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    max_nodes: int = MAX_NODES,
    title: str = "",
    projector: bool = False,
    height: int | None = None,
    fixed_slots: bool = False,
) -> dict[str, Any]:
    """`network_figure` as a plain {"data": [...], "layout": {...}} dict, not validated by
    Plotly (~2 ms instead of ~20 ms: the epoch animation builds one per frame)."""
    if max_nodes < 2:
        raise ValueError(f"max_nodes must be at least 2, got {max_nodes}")
    sizes = _layer_sizes(weights)
    n_layers = len(sizes)
    keep = _keep_vectors(keep_masks, sizes)
    for names, n, what in ((input_names, sizes[0], "input"), (output_names, sizes[-1], "output")):
        if names is not None and len(names) != n:
            raise ValueError(f"{what}_names has {len(names)} entries for {n} {what} units")

    scale = style.line_scale(projector)
    shown = [list(range(n)) if n <= max_nodes else list(range(max_nodes - 1)) for n in sizes]
    n_hidden = [n - len(s) for n, s in zip(sizes, shown, strict=True)]
    n_slots = [len(s) + (1 if h else 0) for s, h in zip(shown, n_hidden, strict=True)]
    tallest = max(n_slots)
    traces, n_links = _link_traces(weights, keep, shown, n_slots, scale, fixed_slots)
    nodes = [{"name": _node_name(l, i, n_layers, input_names, output_names),
              "layer": l, "index": i, "x": float(l), "y": float(_slot_y(n_slots[l], slot)),
              "dropped": not bool(keep[l][i])}
             for l in range(n_layers) for slot, i in enumerate(shown[l])]
    sizing = _sizing(n_layers, tallest, bool(title), projector, height)
    traces += _node_traces(nodes, sizes, sizing["node_size"], scale, fixed_slots)
    ellipses = [l for l in range(n_layers) if n_hidden[l]]
    if ellipses:
        traces.append(_ellipsis_trace(ellipses, keep, shown, n_hidden, n_slots,
                                      sizing["node_size"]))

    dropped = [np.flatnonzero(~k).tolist() for k in keep[:-1]]
    masked = [keep_masks is not None and keep_masks[s] is not None for s in range(n_layers - 1)]
    half = (tallest - 1) / 2 + PAD
    side = 0.9  # room for input / output labels
    axis = {"visible": False, "fixedrange": True, "showgrid": False, "zeroline": False}
    base = style.base_layout(title, projector)
    layout = dict(
        base,
        xaxis={**axis, "range": [-side, n_layers - 1 + side]},
        yaxis={**axis, "range": [-half, half]},
        annotations=_layer_annotations(sizes, dropped, masked, sizing["stagger_px"]),
        # Pin the title to the top edge so it never sits on the layer labels below it.
        title={**base["title"], "yref": "container", "y": 1.0, "yanchor": "top",
               "pad": {"t": 8}},
        height=sizing["height"],
        margin={"l": 6, "r": 6, "t": sizing["top"], "b": sizing["bottom"]},
        showlegend=False,
        hovermode="closest",
        meta={
            "layer_sizes": sizes,
            "dropped": dropped,
            "n_dropped": [len(d) for d in dropped],
            "shown_nodes": shown,
            "n_hidden": n_hidden,
            "nodes": nodes,
            "n_links": n_links,
        },
    )
    return {"data": traces, "layout": layout}


PAD = 0.8  # room above the top unit and below the bottom one, in slots


def _slot_y(n_slots: int, slot: int) -> float:
    return (n_slots - 1) / 2 - slot  # centred, first unit on top


def _link_traces(weights, keep: list[np.ndarray], shown: list[list[int]], n_slots: list[int],
                 scale: float, fixed_slots: bool) -> tuple[list[dict[str, Any]], int]:
    """The links between kept shown units, one trace per (sign, width bucket); and their
    number. fixed_slots: every bucket's trace, empty or not, in one fixed order."""
    segments, slots = [], []  # per layer: each link's segment, and its (sign, bucket) slot
    for l, w in enumerate(weights):
        w = np.asarray(w, dtype=float)
        src = np.array([i for i in shown[l] if keep[l][i]], dtype=int)
        dst = np.array([j for j in shown[l + 1] if keep[l + 1][j]], dtype=int)
        if src.size == 0 or dst.size == 0:
            continue
        ii, jj = np.meshgrid(src, dst, indexing="ij")
        ii, jj = ii.ravel(), jj.ravel()
        values = w[ii, jj]
        # Slots 0 .. N-1: positive weights by width bucket; N .. 2N-1: negative ones.
        slots.append(link_buckets(values, float(np.abs(w).max()))
                     + N_WIDTH_BUCKETS * (values < 0))
        # Shown units occupy slots 0..len-1 in index order, so slot == index here.
        segments.append(np.column_stack([
            np.full(ii.size, l, dtype=float), np.full(ii.size, l + 1, dtype=float),
            np.full(ii.size, np.nan),
            (n_slots[l] - 1) / 2 - ii, (n_slots[l + 1] - 1) / 2 - jj, np.full(ii.size, np.nan),
        ]))
    slot = np.concatenate(slots) if slots else np.empty(0, dtype=int)
    seg = np.concatenate(segments) if segments else np.empty((0, 6))
    # One stable sort groups the links by slot, each slot's in layer order.
    order = np.argsort(slot, kind="stable")
    seg, counts = seg[order], np.bincount(slot, minlength=2 * N_WIDTH_BUCKETS)
    starts = np.concatenate([[0], np.cumsum(counts)])

    traces: list[dict[str, Any]] = []
    for s in range(2 * N_WIDTH_BUCKETS):
        if not (counts[s] or fixed_slots):
            continue
        positive, k = s < N_WIDTH_BUCKETS, s % N_WIDTH_BUCKETS
        part = seg[starts[s]:starts[s + 1]]
        color = style.POSITIVE_WEIGHT_COLOR if positive else style.NEGATIVE_WEIGHT_COLOR
        traces.append(dict(
            type="scatter",
            x=part[:, 0:3].ravel().astype(np.float32),
            y=part[:, 3:6].ravel().astype(np.float32),
            mode="lines", hoverinfo="skip", showlegend=False, connectgaps=False,
            line={"color": color, "width": link_width(k, scale)},
            opacity=link_opacity(k),
            name=f"{'positive' if positive else 'negative'} weights",
            meta={"role": "links", "positive": positive, "bucket": k,
                  "n_links": int(part.shape[0])},
        ))
    return traces, int(slot.size)


def _sizing(n_layers: int, tallest: int, titled: bool, projector: bool,
            height: int | None) -> dict[str, Any]:
    """Figure height, margins, the labels' stagger and the node size (from the pixel spacing
    of the tallest layer)."""
    line = 1.35 * style.font_size(projector)
    staggered = n_layers >= 3
    # Every other layer's label sits this much higher, above its neighbours' labels.
    stagger_px = int(LABEL_LINES * line + 4) if staggered else 0
    if height is None:
        per_slot = 40 if projector else 30
        height = int(min(max(per_slot * tallest + 130, 320), 900)) + stagger_px
    # The layer labels (two rows of three lines when staggered), plus the title's line.
    top = int(LABEL_LINES * line + 16 + stagger_px + (1.6 * line if titled else 0))
    bottom = 20
    slot_px = (height - top - bottom) / (tallest - 1 + 2 * PAD)
    return {"height": height, "top": top, "bottom": bottom, "stagger_px": stagger_px,
            "node_size": max(5.0, min(0.7 * slot_px, 34))}


def _node_traces(nodes: list[dict[str, Any]], sizes: list[int], node_size: float, scale: float,
                 fixed_slots: bool) -> list[dict[str, Any]]:
    """Kept units, dropped units (greyed and crossed out), and the input and output names."""
    n_layers = len(sizes)

    def fill(node: dict[str, Any]) -> str:
        if node["dropped"]:
            return style.DROPPED_FILL
        if node["layer"] == n_layers - 1 and sizes[-1] <= style.MAX_CLASSES:
            return style.class_color(node["index"])
        return style.KEPT_FILL

    traces = []
    for dropped in (False, True):
        group = [n for n in nodes if n["dropped"] == dropped]
        if not group and not fixed_slots:
            continue
        state = "dropped" if dropped else "kept"
        traces.append(dict(
            type="scatter",
            x=[n["x"] for n in group], y=[n["y"] for n in group], mode="markers",
            hovertext=[f"{n['name']}: {state}" for n in group], hoverinfo="text",
            marker={"size": node_size, "color": [fill(n) for n in group],
                    "line": {"color": style.DROPPED_MARK if dropped else style.NODE_OUTLINE,
                             "width": 1.5 * scale}},
            showlegend=False, name=f"{state} units",
            meta={"role": f"nodes_{state}"},
        ))
        if dropped:
            traces.append(dict(
                type="scatter",
                x=[n["x"] for n in group], y=[n["y"] for n in group], mode="markers",
                marker={"symbol": "x-thin-open", "size": 0.75 * node_size,
                        "color": style.DROPPED_MARK,
                        "line": {"color": style.DROPPED_MARK, "width": 2.0 * scale}},
                hoverinfo="skip", showlegend=False, name="dropped mark",
                meta={"role": "dropped_x"},
            ))
    traces.append(_labels_trace(nodes, n_layers, node_size))
    return traces


def _labels_trace(nodes: list[dict[str, Any]], n_layers: int,
                  node_size: float) -> dict[str, Any]:
    """The input and output names. They never move (a unit keeps its slot), so they are one
    static trace: the animation's frames need not restate them."""
    def text_position(node: dict[str, Any]) -> str:
        if node["layer"] == 0:
            return "middle left"
        return "middle right" if node["layer"] == n_layers - 1 else "middle center"

    def node_text(node: dict[str, Any]) -> str:
        return "" if 0 < node["layer"] < n_layers - 1 else node["name"]

    labelled = [n for n in nodes if node_text(n)]
    return dict(
        type="scatter", x=[n["x"] for n in labelled], y=[n["y"] for n in labelled],
        # Invisible markers the size of the units: Plotly sets text off by the marker's
        # radius, so a name starts beside its unit instead of on it.
        mode="markers+text", marker={"size": node_size, "color": "rgba(0,0,0,0)"},
        text=[node_text(n) for n in labelled],
        textposition=[text_position(n) for n in labelled], hoverinfo="skip",
        showlegend=False, name="unit names", meta={"role": "labels"},
    )


def _ellipsis_trace(ellipses: list[int], keep: list[np.ndarray], shown: list[list[int]],
                    n_hidden: list[int], n_slots: list[int], node_size: float) -> dict[str, Any]:
    """The "⋮ +n" mark below each layer too wide to draw whole."""
    return dict(
        type="scatter",
        x=[float(l) for l in ellipses],
        y=[_slot_y(n_slots[l], n_slots[l] - 1) for l in ellipses],
        mode="text",
        # Two short lines, about as narrow as a node, so neighbouring layers' marks
        # never collide (the hover text says "... more units not drawn").
        text=[f"⋮<br>+{n_hidden[l]}" for l in ellipses],
        marker={"symbol": "line-ns-open", "size": node_size, "color": style.DROPPED_MARK},
        hovertext=[
            f"{n_hidden[l]} more units not drawn "
            f"({int((~keep[l][len(shown[l]):]).sum())} of them dropped)"
            for l in ellipses
        ],
        hoverinfo="text", showlegend=False, name="more units",
        meta={"role": "ellipsis"},
    )


def _layer_annotations(sizes: list[int], dropped: list[list[int]], masked: list[bool],
                       stagger_px: int) -> list[dict[str, Any]]:
    """Each layer's label above it: name, units, and how many the mask dropped."""
    n_layers = len(sizes)
    annotations = []
    for l in range(n_layers):
        # Short stacked lines, so four layers fit side by side in a narrow column.
        units = "1 unit" if sizes[l] == 1 else f"{sizes[l]} units"
        text = f"<b>{_layer_title(l, n_layers)}</b><br>{units}"
        if l < n_layers - 1 and masked[l]:
            text += f"<br>{len(dropped[l])} dropped"
        annotations.append({"x": l, "y": 1.0, "xref": "x", "yref": "paper",
                            "yanchor": "bottom", "showarrow": False, "text": text,
                            "yshift": stagger_px if l % 2 else 0})
    return annotations
