"""Reading the charts an AppTest run produced.

Streamlit ships a Plotly chart as its JSON spec. Plotly ≥ 6 encodes NumPy arrays in that spec as
{"dtype": "f8", "bdata": <base64>, "shape": "r, c"}; `decode` turns those back into arrays so
tests can compare numbers.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
from streamlit.testing.v1 import AppTest

from dropout_viz.ui import live_chart

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def app(timeout: float = 180, **url: str) -> AppTest:
    """A fresh app (not yet run) whose first run reads `url` as the query string."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in url.items():
        at.query_params[key] = value
    return at


def assert_clean(at: AppTest) -> None:
    """No exception box on the page."""
    assert not at.exception, [e.message for e in at.exception]


def is_typed_array(value: Any) -> bool:
    return isinstance(value, dict) and "bdata" in value and "dtype" in value


def decode_typed_array(value: dict) -> np.ndarray:
    """One {"dtype", "bdata", "shape"?} object as a NumPy array (shape "r, c" is row-major)."""
    array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    shape = value.get("shape")
    if shape:
        dims = shape if isinstance(shape, list) else str(shape).split(",")
        array = array.reshape(tuple(int(d) for d in dims))
    return array


def decode(value: Any) -> Any:
    """A spec with every typed array replaced by a NumPy array (dicts and lists walked)."""
    if is_typed_array(value):
        return decode_typed_array(value)
    if isinstance(value, dict):
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


def chart_elements(at) -> list:
    """Every Plotly chart on the page: `st.plotly_chart` elements, then live charts
    (ui/live_chart.py, a component whose data is the figure's JSON with its alt text)."""
    return at.get("plotly_chart") + [
        element for element in at.get("bidi_component")
        if element.proto.component_name == live_chart.NAME]


def chart_key(element) -> str:
    """A chart's user key: Streamlit stores it inside the element id, "$$ID-<hash>-<key>"."""
    element_id = element.proto.id
    return element_id.split("-", 2)[-1] if element_id.startswith("$$ID-") else element_id


def chart_json(element) -> dict:
    """The {data, layout, ...} spec of a chart element as sent (arrays still encoded)."""
    if element.type == "plotly_chart":
        return json.loads(element.proto.spec)
    return json.loads(element.proto.bytes)["figure"]


def chart_alt(element) -> str:
    if element.type == "plotly_chart":
        return element.proto.alt
    return json.loads(element.proto.bytes)["alt"]


def chart_bytes(element) -> int:
    """What the browser receives for a chart: its JSON spec (a live chart's with its alt text
    and Plotly config)."""
    return len(element.proto.spec if element.type == "plotly_chart" else element.proto.bytes)


def chart_spec(element) -> dict:
    """The decoded {data, layout, ...} spec of a chart element."""
    return decode(chart_json(element))


def chart_by_key(at, key: str):
    (element,) = [e for e in chart_elements(at) if chart_key(e) == key]
    return element


def charts_by_key(at) -> dict[str, dict]:
    """Every Plotly chart on the page, decoded, by its user key ("network", "boundary", ...)."""
    return {chart_key(element): chart_spec(element) for element in chart_elements(at)}


def traces(spec: dict, **meta: Any) -> list[dict]:
    """Traces whose `meta` contains all of the given items (e.g. role="probability")."""
    found = []
    for trace in spec["data"]:
        trace_meta = trace.get("meta") or {}
        if isinstance(trace_meta, dict) and all(trace_meta.get(k) == v for k, v in meta.items()):
            found.append(trace)
    return found


def arrays_differ(a: Any, b: Any) -> bool:
    """True when two decoded values (arrays, lists, scalars) are not numerically equal."""
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a_arr.shape != b_arr.shape or not np.allclose(a_arr, b_arr, equal_nan=True)


def random_dataset(n_train=40, n_test=20, n_features=5, n_classes=3, seed=0):
    """Gaussian inputs with random labels: a small, seeded Dataset for engine tests."""
    from dropout_viz.data import Dataset

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_train + n_test, n_features))
    y = rng.integers(0, n_classes, size=n_train + n_test)
    return Dataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:], n_classes, "synthetic",
                   tuple(f"x{i}" for i in range(n_features)), np.zeros(n_features),
                   np.ones(n_features))
