"""benchmarks/chart_fingerprints.py: what it records of a chart, and that --compare finds a
changed number, a missing chart and an exception, and nothing when two results agree."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "chart_fingerprints.py"
spec = importlib.util.spec_from_file_location("chart_fingerprints", SCRIPT)
fingerprints = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fingerprints)


class FakeChart:
    """What the script reads of an AppTest plotly_chart element."""

    type = "plotly_chart"

    def __init__(self, spec: dict, key: str, alt: str = "a chart"):
        self.proto = type("Proto", (), {"spec": json.dumps(spec), "id": f"$$ID-abc-{key}",
                                        "alt": alt})()


class FakeLiveChart:
    """What the script reads of a live chart (ui/live_chart.py): a component's bytes."""

    type = "bidi_component"

    def __init__(self, spec: dict, key: str, alt: str = "a chart"):
        sent = {"config": {}, "alt": alt, "fill": False, "shows": "", "figure": spec}
        self.proto = type("Proto", (), {"bytes": json.dumps(sent).encode(),
                                        "id": f"$$ID-abc-{key}",
                                        "component_name": fingerprints.LIVE_CHART})()


def test_a_live_chart_is_fingerprinted_as_the_same_figure_in_a_plotly_chart():
    spec = {"data": [{"y": typed(np.arange(4.0))}], "layout": {"title": "t"}}
    assert fingerprints.chart_fingerprint(FakeLiveChart(spec, "animation")) == \
        fingerprints.chart_fingerprint(FakeChart(spec, "animation"))


def typed(values) -> dict:
    array = np.asarray(values, dtype="f8")
    return {"dtype": "f8", "bdata": base64.b64encode(array.tobytes()).decode()}


def page(z) -> dict:
    chart = FakeChart({"data": [{"z": typed(z), "x": [0, 1]}], "layout": {"title": "t"}}, "map")
    return {"charts": {fingerprints.chart_key(chart):
                       fingerprints.chart_fingerprint(chart)}, "metrics": {"Accuracy": "90%"}}


def result(*pages) -> dict:
    return {"package": "/somewhere", "settings": {"defaults": dict(pages)}}


def test_a_chart_is_recorded_by_its_key_with_hashes_and_a_numeric_summary():
    recorded = page([1.5, -2.0])["charts"]
    assert set(recorded) == {"map"}
    numbers = recorded["map"]["numbers"]
    assert numbers == {"count": 4, "sum": 0.5, "abs_sum": 4.5}  # z decoded, plus x = [0, 1]
    assert len(recorded["map"]["data"]) == 64 and recorded["map"]["alt"] == "a chart"


def test_compare_lists_what_differs_and_nothing_else(tmp_path, capsys):
    same_a, same_b = tmp_path / "a.json", tmp_path / "b.json"
    same_a.write_text(json.dumps(result(("action", page([1.0, 2.0])))))
    same_b.write_text(json.dumps(result(("action", page([1.0, 2.0])))
                                 | {"package": "/elsewhere"}))
    assert fingerprints.compare(str(same_a), str(same_b)) == 0
    assert "0 of" in capsys.readouterr().out

    changed = tmp_path / "c.json"
    changed.write_text(json.dumps(result(("action", page([1.0, 2.0 + 1e-12])),
                                         ("learn", {"exception": ["boom"]}))))
    assert fingerprints.compare(str(same_a), str(changed)) == 1
    out = capsys.readouterr().out
    assert "defaults / action / map / data" in out and "defaults / action / map / numbers" in out
    assert "defaults / learn / exception" in out and "(missing)" in out
    assert "defaults / action / map / layout" not in out
