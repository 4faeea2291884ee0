"""Classroom features in the running app (AppTest): presets, links, projector mode, the
teacher's view and the share link."""

from __future__ import annotations

import pytest
from helpers import app, chart_by_key, chart_json
from streamlit.testing.v1 import AppTest

from dropout_viz.presets import apply_preset, load_presets
from dropout_viz.settings import DEFAULTS, FIELD_SPECS, Settings
from dropout_viz.ui import action_tab, cache, classroom, state
from dropout_viz.ui.sidebar import PRESET_KEY

PRESETS = load_presets()






def url(at: AppTest) -> dict[str, str]:
    return {key: value[-1] if isinstance(value, list) else str(value)
            for key, value in at.query_params.items()}


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    problems = [e.value for e in at.error]
    assert not problems, problems


def slider_keys(at: AppTest) -> set[str]:
    return {s.key for s in at.slider} | {s.key for s in at.select_slider}


def blocks(at: AppTest) -> list:
    """Every layout block (container) of the page, depth first."""
    found, todo = [], [at._tree]
    while todo:
        node = todo.pop()
        children = list(getattr(node, "children", {}).values())
        found += [c for c in children if type(c).__name__ == "Block"]
        todo += children
    return found


def link_text(at: AppTest) -> str:
    codes = [c.value for c in at.code if "?" in c.value]
    assert len(codes) == 1, codes
    return codes[0]


# ---- presets -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_loads_sets_every_control_and_runs(name):
    preset = PRESETS[name]
    at = app()
    at.run()
    at.selectbox(key=PRESET_KEY).select(name).run()
    assert_clean(at)
    expected = apply_preset(preset)
    for field in FIELD_SPECS:
        value = at.session_state[field]
        value = tuple(value) if FIELD_SPECS[field].kind == "names" else value
        assert value == getattr(expected, field), field
    # The preset opens its tab.
    assert at.session_state[state.TAB_WIDGET] == state.TAB_LABELS[preset.tab]
    assert url(at).get("preset") == name
    assert url(at).get("tab", "action") == preset.tab
    # The run behind the preset was trained (its tab or the action tab needs it).
    if preset.tab != "action":
        at.session_state[state.TAB_WIDGET] = state.TAB_LABELS["action"]
        at.run()
        assert_clean(at)
    assert cache.RUNS.get(expected.train_key()) is not None


def test_editing_a_control_after_a_preset_works_as_usual():
    at = app()
    at.run()
    at.selectbox(key=PRESET_KEY).select("over-fitting-rescue").run()
    at.session_state[state.TAB_WIDGET] = state.TAB_LABELS["learn"]  # cheap to draw
    at.slider(key="epochs").set_value(20).run()
    at.slider(key="p_hidden").set_value(0.3).run()
    assert_clean(at)
    assert at.session_state["p_hidden"] == 0.3
    assert at.session_state["width"] == 128  # the rest of the preset stays
    query = url(at)
    assert query["p_hidden"] == "0.3" and query["width"] == "128" and query["epochs"] == "20"


# ---- links ---------------------------------------------------------------------------------

def test_a_link_reopens_the_same_settings_and_tab():
    at = app(p_hidden="0.3", width="16", epochs="10", mask_scope="example", tab="learn")
    at.run()
    assert_clean(at)
    assert at.session_state["p_hidden"] == 0.3
    assert at.session_state["mask_scope"] == "example"
    assert at.session_state[state.TAB_WIDGET] == state.TAB_LABELS["learn"]
    assert not at.warning
    assert url(at) == {"p_hidden": "0.3", "width": "16", "epochs": "10",
                       "mask_scope": "example", "tab": "learn"}


@pytest.mark.parametrize(("params", "named"), [
    ({"p_hidden": "abc"}, ["p_hidden=abc"]),
    ({"p_hidden": "0.95", "width": "-3"}, ["p_hidden=0.95", "width=-3"]),
    ({"bogus": "1", "p_hiden": "0.2"}, ["bogus", "p_hiden", "p_hidden"]),  # did you mean
    ({"mask_scope": "weekly", "tab": "nowhere"}, ["mask_scope=weekly", "tab=nowhere"]),
    ({"hidden_controls": "p_hidden,nonsense"}, ["nonsense"]),
])
def test_junk_query_strings_give_defaults_and_a_warning(params, named):
    at = app(epochs="5", **params)
    at.run()
    assert_clean(at)
    warnings = " ".join(w.value for w in at.warning)
    for text in named:
        assert text in warnings
    for key in params:
        if key in FIELD_SPECS and key != "hidden_controls":
            assert at.session_state[key] == getattr(DEFAULTS, key)
    if "hidden_controls" in params:
        assert list(at.session_state["hidden_controls"]) == ["p_hidden"]
    assert at.session_state["epochs"] == 5  # the good parameter is kept
    # The warning is shown once, not on every rerun.
    at.run()
    assert not [w for w in at.warning if any(text in w.value for text in named)]


def test_share_link_shows_the_settings_as_a_query_string():
    at = app(epochs="5", tab="learn")
    at.run()
    at.slider(key="p_hidden").set_value(0.3).run()
    link = link_text(at)
    # AppTest has no browser, so the page address is unknown: the query string, with a note.
    assert link.startswith("?")
    assert dict(part.split("=") for part in link[1:].split("&")) == {
        "p_hidden": "0.3", "epochs": "5", "tab": "learn"}
    assert any("add this query string" in c.value for c in at.caption)


def test_share_link_with_a_known_page_address():
    settings = Settings(p_hidden=0.3, hidden_controls=("width", "epochs"))
    assert classroom.share_link(settings, "learn", "http://host:8501/") == (
        "http://host:8501/?p_hidden=0.3&hidden_controls=width,epochs&tab=learn")
    assert classroom.share_link(Settings(), "action", "http://host:8501/") == "http://host:8501/"
    assert classroom.share_link(Settings(), "action", None) == "?"


# ---- projector mode ------------------------------------------------------------------------

def test_projector_mode_enlarges_text_and_chart_fonts():
    at = app(epochs="5")
    at.run()
    assert not [h for h in at.get("html") if "font-size" in h.proto.body]
    at.toggle(key="projector").set_value(True).run()
    assert_clean(at)
    assert url(at)["projector"] == "1"
    assert [h for h in at.get("html") if "html { font-size: 20px; }" in h.proto.body]
    layout = chart_json(chart_by_key(at, "history"))["layout"]
    assert layout["font"]["size"] == 22  # style.PROJECTOR_FONT_SIZE


def test_projector_mode_puts_the_first_tab_in_one_window_sized_box():
    at = app(epochs="5", projector="1")
    at.run()
    assert_clean(at)
    # The chart sits in the container that the projector style stretches to the window.
    assert any(block.proto.id.endswith("-" + classroom.ONE_SCREEN) for block in blocks(at))
    spec = chart_json(chart_by_key(at, "animation"))
    layout = spec["layout"]
    # The diagram beside the two maps, not above them.
    assert layout["xaxis"]["domain"][1] < layout["xaxis2"]["domain"][0]
    assert layout["xaxis2"]["domain"][1] < layout["xaxis3"]["domain"][0]
    assert layout["yaxis"]["domain"] == [0, 1]
    at.toggle(key="projector").set_value(False).run()  # a laptop: the page as it was
    assert not any(block.proto.id.endswith("-" + classroom.ONE_SCREEN) for block in blocks(at))


# ---- present mode --------------------------------------------------------------------------

def test_present_mode_is_in_the_url_and_puts_p_on_the_page():
    at = app(epochs="5", present="1")
    at.run()
    assert_clean(at)
    assert at.session_state[state.PRESENT_WIDGET] is True
    assert url(at)["present"] == "1"
    # p on the page in large type, not in the sidebar; the keyboard's help beside it.
    assert [s.key for s in at.main.slider if s.key == "p_hidden"] == ["p_hidden"]
    assert "p_hidden" not in {s.key for s in at.sidebar.slider}
    assert any("← or →" in c.value for c in at.main.caption)
    assert [h for h in at.get("html") if "present_bar" in h.proto.body]
    # Every group of the sidebar open: each control one click (») away.
    assert all(e.proto.expanded for e in at.sidebar.expander if e.label in
               ("Data", "Network", "Dropout", "Training"))
    # Moving p on the page is an ordinary setting: in the URL beside present=1.
    at.slider(key="p_hidden").set_value(0.3).run()
    assert_clean(at)
    assert url(at)["p_hidden"] == "0.3" and url(at)["present"] == "1"
    # The link to share with the class leaves present mode out.
    assert "present" not in link_text(at)
    # Turning it off drops it from the URL and gives p back to the sidebar.
    at.toggle(key=state.PRESENT_WIDGET).set_value(False).run()
    assert_clean(at)
    assert "present" not in url(at)
    assert "p_hidden" in {s.key for s in at.sidebar.slider}


def test_without_present_mode_p_stays_in_the_sidebar():
    at = app(epochs="5")
    at.run()
    assert at.session_state[state.PRESENT_WIDGET] is False
    assert "present" not in url(at)
    assert "p_hidden" in {s.key for s in at.sidebar.slider}
    assert not [s for s in at.main.slider if s.key == "p_hidden"]


@pytest.mark.parametrize(("asked", "expected"), [
    (0.55, 0.55), (0.45, 0.45), (0.35000000000000003, 0.35), (0.97, 0.9), (-0.05, 0.0),
    (0.52, 0.5)])
def test_the_keyboard_sets_p_on_the_sliders_grid_within_its_range(asked, expected):
    assert classroom.snap_p(asked) == expected


# ---- teacher's view ------------------------------------------------------------------------

def test_a_link_can_hide_controls_and_students_are_told():
    at = app(hidden_controls="width,n_layers,epochs", width="16", epochs="5")
    at.run()
    assert_clean(at)
    shown = slider_keys(at)
    assert not {"width", "n_layers", "epochs"} & shown
    assert {"p_hidden", "noise"} <= shown
    notice = [c.value for c in at.caption if "Teacher's view" in c.value]
    assert notice and "3 controls are hidden" in notice[0]
    assert "Units per layer" in notice[0] and "Epochs" in notice[0]
    for _ in range(2):  # hidden controls keep the link's values over reruns
        at.run()
        assert at.session_state["width"] == 16 and at.session_state["epochs"] == 5


def test_hiding_a_control_keeps_its_value_and_showing_it_restores_it():
    at = app(epochs="5")
    at.run()
    at.slider(key="p_hidden").set_value(0.3).run()
    at.multiselect(key="hidden_controls").set_value(["p_hidden"]).run()
    assert "p_hidden" not in slider_keys(at)
    at.run()
    assert at.session_state["p_hidden"] == 0.3
    assert url(at)["p_hidden"] == "0.3" and url(at)["hidden_controls"] == "p_hidden"
    at.multiselect(key="hidden_controls").set_value([]).run()
    assert at.slider(key="p_hidden").value == 0.3
    assert "hidden_controls" not in url(at)


def test_only_p_button_hides_everything_but_the_dropout_rate():
    at = app(epochs="5")
    at.run()
    at.button(key="_hide_all_but_p").click().run()
    assert_clean(at)
    # The animation's epoch slider is its own (Plotly); its keyboard twin is a view control,
    # not a setting, and stays: hiding it would leave the epoch view without a keyboard.
    assert slider_keys(at) == {"p_hidden", action_tab.EPOCH_KEY}
    assert PRESET_KEY not in {s.key for s in at.selectbox}
    assert "projector" not in {t.key for t in at.toggle}
    # The teacher's view hid itself too: the link now locks the page for a class.
    assert "hidden_controls" not in {m.key for m in at.multiselect}
    assert "hidden_controls" in link_text(at)


def test_hiding_the_teachers_view_keeps_the_list():
    at = app(hidden_controls="hidden_controls,width", epochs="5")
    at.run()
    at.run()
    assert tuple(at.session_state["hidden_controls"]) == ("hidden_controls", "width")
    assert "width" not in slider_keys(at)
