"""A figure shipped as a ready spec, and the frame of an animation it shows.

Plotly would validate a 24-frame animation and its slider steps and copy them on every send,
which costs more than building them; `AnimatedFigure` holds the plain dicts instead (arrays
already in Plotly's typed-array form, `typed_arrays`) behind the go.Figure interface.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from dropout_viz.figures import style


class AnimatedFigure(go.Figure):
    """A ready figure spec (data, layout and animation frames as plain dicts, arrays already
    in Plotly's typed-array form) behind the go.Figure interface: `to_dict()` returns it, so
    the page, the HTML export and the tests all see it. Plotly would validate the 24 frames
    and their slider steps and copy them on every send, which costs more than building them;
    a test checks that Plotly accepts the whole spec."""

    def __init__(self, spec: dict[str, Any]):
        super().__init__()
        self._spec = spec

    @property
    def spec(self) -> dict[str, Any]:
        return self._spec

    def to_dict(self) -> dict[str, Any]:
        return self._spec

    def __reduce__(self):
        # Pickled as the spec itself (it crosses to and from worker processes): go.Figure's
        # own way would add its grid fields to the spec.
        return AnimatedFigure, (self._spec,)


def typed(value: Any) -> Any:
    return style.typed_array(value) if isinstance(value, np.ndarray) else value


def typed_arrays(trace: dict[str, Any]) -> dict[str, Any]:
    """A trace dict with its NumPy arrays (top level and in marker / line) in typed-array
    form, as Plotly would encode them."""
    return {key: ({k: typed(v) for k, v in value.items()} if isinstance(value, dict)
                  else typed(value)) for key, value in trace.items()}


def at_frame(fig: AnimatedFigure, index: int) -> AnimatedFigure:
    """The animated figure showing frame `index` (negative counts from the end) before any
    scrubbing, as Plotly would draw it after animating there: a shallow copy of the spec whose
    traces are the figure's own merged with the frame's (`frame["traces"]` names which ones;
    dict keys merged one level deep, so a frame's marker colours keep the trace's sizes), whose
    layout takes the frame's title and annotations, and whose slider starts at that step.
    Nothing is recomputed or deep-copied; at the last frame it equals the figure itself. The
    frames, Play and the slider stay as they are, so the browser can still scrub from there."""
    spec = fig.spec
    frames = spec["frames"]
    index = range(len(frames))[index]  # IndexError outside the frames
    frame = frames[index]
    data = list(spec["data"])
    for slot, update in zip(frame["traces"], frame["data"], strict=True):
        data[slot] = _merged(data[slot], update)
    layout = _merged(spec["layout"], frame.get("layout", {}))
    sliders = layout.get("sliders")
    if sliders:
        layout["sliders"] = [{**sliders[0], "active": index}, *sliders[1:]]
    return AnimatedFigure({**spec, "data": data, "layout": layout})


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`base` updated with `update`; a dict value in both is merged, anything else replaced."""
    merged = dict(base)
    for key, value in update.items():
        old = merged.get(key)
        merged[key] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) \
            else value
    return merged
