"""ui/live_chart.py: it finds the Plotly.js that Streamlit ships, sends the figure's own JSON
with its alt text and config, and without that module falls back to st.plotly_chart."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
from helpers import app, assert_clean, chart_alt, chart_by_key, chart_elements, chart_key

from dropout_viz.figures import PLOTLY_CONFIG
from dropout_viz.ui import action_tab, live_chart, p_scrub


def p_scrub_data(at) -> str:
    [element] = [e for e in at.get("bidi_component") if e.proto.component_name == p_scrub.NAME]
    return element.proto.json


def test_it_loads_the_plotly_module_streamlit_ships():
    module = live_chart.plotly_module()
    assert module is not None and module.startswith("static/js/PlotlyChart.")
    source = (Path(st.__file__).parent / "static" / module).read_text()
    assert "window.Plotly=" in source  # the module puts Plotly where the component looks
    assert "__PLOTLY_MODULE__" in live_chart.LIVE_CHART_JS


def test_the_payload_is_the_figure_json_with_its_alt_text_and_config():
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]), layout={"height": 300})
    for fill, shows in ((False, ""), (True, "0123abcd")):
        sent = json.loads(live_chart.payload(fig, "two points", fill, shows))
        assert sent == {"config": PLOTLY_CONFIG, "alt": "two points", "fill": fill,
                        "shows": shows, "figure": json.loads(pio.to_json(fig, validate=False))}


def test_the_first_tab_draws_live_charts_with_their_alt_text():
    at = app(epochs="12", width="8").run()
    assert_clean(at)
    charts = {chart_key(e): e for e in chart_elements(at)}
    assert {key: charts[key].type for key in ("animation", "history")} == \
        {"animation": "bidi_component", "history": "bidi_component"}
    assert all(chart_alt(charts[key]) for key in ("animation", "history"))
    # At its last frame the animation names its picture, the id p_scrub holds it under.
    shows = json.loads(charts["animation"].proto.bytes)["shows"]
    [(_, _, held)] = json.loads(p_scrub_data(at))["pictures"]
    assert shows and shows == held
    # Scrubbed back with the keyboard twin it shows another picture: no name.
    twin = at.select_slider(key=action_tab.EPOCH_KEY)
    twin.set_value(twin.options[0]).run()
    assert json.loads(chart_by_key(at, "animation").proto.bytes)["shows"] == ""


def test_without_the_module_it_falls_back_to_streamlits_chart(monkeypatch):
    monkeypatch.setattr(live_chart, "plotly_module", lambda: None)
    at = app(epochs="12", width="8").run()
    assert_clean(at)
    charts = {chart_key(e): e for e in at.get("plotly_chart")}
    assert {"animation", "history"} <= set(charts)
    assert all(charts[key].proto.alt for key in ("animation", "history"))
