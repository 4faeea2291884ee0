"""Moving p in the browser (ui/p_scrub.py): the page carries the last frame of every p the
server holds for the settings shown, each exactly the frame a p move to that value would show,
and nothing from other settings or other data. The browser side is
tests/browser/test_p_scrub_e2e.py.
"""

from __future__ import annotations

import json

from helpers import app, assert_clean

from dropout_viz import pipeline
from dropout_viz.settings import DEFAULTS
from dropout_viz.ui import action_tab, cache, classroom, p_scrub, prefetch, runs

SMALL = DEFAULTS.replace(epochs=12, width=8, n_samples=80)


def held_grid(settings):
    """The p grid of `settings` prepared, and its own run and animation as a page draws them."""
    key = cache.resolve(settings)
    run = runs.get_run(key)
    animation = action_tab.cached_animation(run, settings, key)
    assert prefetch.prepare_grid(settings, key, run.dataset, action_tab.VIEWS,
                                 should_stop=lambda: False)
    return key, run, animation


def test_the_pictures_are_the_last_frames_of_the_held_runs_in_the_sliders_order():
    key, run, animation = held_grid(SMALL)
    pictures = action_tab.p_pictures(run, SMALL, key)
    assert [p for p, _, _ in pictures] == list(prefetch.P_VALUES)
    for p, frame, picture in pictures:
        settings_p = SMALL.replace(p_hidden=p)
        key_p = cache.resolve(settings_p)
        run_p = cache.RUNS.peek(key_p)
        held = action_tab.ANIMATIONS.peek(action_tab.view_key(run_p, settings_p, key_p))
        assert frame is held.spec["frames"][-1]
        # The same traces change in every p's frames, so any of them fits the chart shown.
        assert frame["traces"] == animation.spec["frames"][-1]["traces"]
        assert frame["name"] == str(SMALL.epochs)
        # Its id names this run's last frame: the id the animation of p says it shows.
        assert picture == action_tab.picture_id(run_p, settings_p, key_p)
    assert {p: frame for p, frame, _ in pictures}[SMALL.p_hidden] is animation.spec["frames"][-1]
    assert len({picture for _, _, picture in pictures}) == len(pictures)


def test_the_pictures_hold_nothing_of_other_data_or_of_other_epochs():
    key, run, _ = held_grid(SMALL)
    other_data = SMALL.replace(data_seed=SMALL.data_seed + 1)
    other_key = cache.resolve(other_data)
    other_run = runs.get_run(other_key)
    action_tab.cached_animation(other_run, other_data, other_key)
    # Only its own run: the grid held is another data set's.
    assert [p for p, _, _ in action_tab.p_pictures(other_run, other_data, other_key)] == [
        SMALL.p_hidden]
    # A run stopped early has other epochs: none of the grid's last frames is its picture.
    stopped = pipeline.train_for(key, run.dataset, on_epoch=lambda epoch, _: epoch < 4)
    assert stopped.epochs_completed < run.epochs_completed
    assert action_tab.p_pictures(stopped, SMALL, key) == []


def p_scrub_elements(at) -> list:
    return [e for e in at.get("bidi_component") if e.proto.component_name == p_scrub.NAME]


def test_the_page_carries_the_pictures_it_holds(monkeypatch):
    at = app(epochs="12", width="8", n_samples="80")
    at.run()
    assert_clean(at)
    [element] = p_scrub_elements(at)
    data = json.loads(element.proto.json)
    assert data["chart"] == "animation" and data["lastEpoch"] == "12"
    assert data["slider"] == '.st-key-p_hidden input[type="range"]'
    # Only the run shown so far (AppTest pages prepare nothing by themselves) ...
    assert [p for p, _, _ in data["pictures"]] == [SMALL.p_hidden]
    # ... and every p once the grid is held: the next run of the page carries them.
    key = cache.resolve(SMALL)
    assert prefetch.prepare_grid(SMALL, key, cache.RUNS.peek(key).dataset, action_tab.VIEWS,
                                 should_stop=lambda: False)
    at.run()
    [element] = p_scrub_elements(at)
    data = json.loads(element.proto.json)
    assert [p for p, _, _ in data["pictures"]] == list(prefetch.P_VALUES)
    # Another run with the grid unchanged sends the same message, which the browser then gets
    # only once (Streamlit refers to a repeated large element by its hash).
    at.run()
    assert p_scrub_elements(at)[0].proto.json == element.proto.json


def test_the_page_keys_and_the_pictures_agree_on_the_event_that_asks_for_a_p():
    assert f'"{p_scrub.EVENT}"' in p_scrub.P_SCRUB_JS
    assert f'"{p_scrub.EVENT}"' in classroom.P_KEYS_JS
