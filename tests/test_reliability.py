"""Interruptible runs, determinism across sessions, and no accidental long runs.

(Bad values through the API and on the page are in test_bad_values.py.)
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from helpers import app, assert_clean, chart_elements, chart_json, chart_key
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.testing.v1 import AppTest

from dropout_viz import pipeline
from dropout_viz.engine import train
from dropout_viz.settings import DEFAULTS
from dropout_viz.ui import cache, runs


def texts(elements) -> list[str]:
    return [e.value for e in elements]


# --- long runs: stop and supersede ------------------------------------------------------------


class FakeStreamlit:
    """Stands in for `st` in cache.py: at the given progress update (0 draws the bar) it raises
    what Streamlit raises in the old script when a newer run starts (runner.fastReruns), after
    calling `on_interrupt` (e.g. the Stop button's callback in the new script)."""

    def __init__(self, interrupt_at_update: int | None = 1):
        self.interrupt_at_update = interrupt_at_update
        self.on_interrupt = lambda: None
        self.updates = 0
        self.buttons: list[tuple[str, str]] = []
        self.infos: list[str] = []
        self.session_state: dict = {}

    def container(self):
        return SimpleNamespace(progress=self._progress, button=self._button, empty=lambda: None)

    def empty(self):
        self.cleared = False
        return SimpleNamespace(container=self.container, empty=self._clear)

    def _clear(self):
        self.cleared = True

    def _progress(self, fraction, text=""):
        if self.interrupt_at_update is not None and self.updates == self.interrupt_at_update:
            self.updates += 1
            self.on_interrupt()
            raise StopException()
        self.updates += 1
        return SimpleNamespace(progress=self._progress)

    def _button(self, label, key=None, **kwargs):
        self.buttons.append((label, key))
        return False

    def button(self, label, key=None, **kwargs):
        return self._button(label, key)

    def info(self, text):
        self.infos.append(text)


@pytest.fixture
def fake_st(monkeypatch):
    fake = FakeStreamlit()
    monkeypatch.setattr(runs, "st", fake)
    monkeypatch.setattr(runs, "SHOW_PROGRESS_AFTER_S", 0.0)
    return fake


SLOW = DEFAULTS.replace(epochs=40, width=16)


def test_an_interrupted_run_stops_the_engine_cleanly(fake_st):
    dataset = pipeline.dataset_for(SLOW.data_key())
    reporter = runs.ProgressReporter(40, stop_key="stop")
    run = train(dataset, pipeline.config_for(SLOW.train_key()), on_epoch=reporter)
    assert isinstance(reporter.interruption, StopException)
    assert run.stopped_at == 0 and run.epochs_completed == 1
    assert fake_st.buttons == [("Stop training", "stop")]


def test_without_a_stop_key_the_interruption_propagates(fake_st):
    dataset = pipeline.dataset_for(SLOW.data_key())
    with pytest.raises(StopException):
        train(dataset, pipeline.config_for(SLOW.train_key()),
              on_epoch=runs.ProgressReporter(40))


def test_stop_button_keeps_the_epochs_finished_so_far(fake_st):
    session: dict = {}
    key = SLOW.train_key()
    fake_st.on_interrupt = lambda: runs.HANDOVER.request_stop("s1")  # the click
    with pytest.raises(StopException):  # the old script is stopped...
        runs.get_run(key, session, session_id="s1")
    assert [label for label, _ in fake_st.buttons] == ["Stop training"]
    fake_st.interrupt_at_update = None
    run = runs.get_run(key, session, session_id="s1")  # ...and the new one shows its epochs
    assert run.stopped_at == 0 and run.epochs_completed == 1
    assert cache.RUNS.get(key) is None  # a stopped run is this session's, not shared
    assert fake_st.infos == ["Training was stopped after epoch 1 of 40: everything below "
                             "shows the 1 epoch finished so far."]
    assert fake_st.buttons[-1][0] == "Train all 40 epochs"
    # Later reruns (scrubbing, other widgets) keep showing the stopped run...
    assert runs.get_run(key, session, session_id="s1") is run
    # ...another session with the same settings trains its own full run...
    other = runs.get_run(key, {}, session_id="s2")
    assert other.stopped_at is None and other.epochs_completed == 40
    # ...and "Train all" forgets the stopped run, so this session gets every epoch too.
    session[runs.STOPPED_RUNS].pop(key)
    assert runs.get_run(key, session, session_id="s1") is other


def test_a_newer_setting_supersedes_an_interrupted_run(fake_st):
    session: dict = {}
    with pytest.raises(StopException):  # a slider moved while this trained
        runs.get_run(SLOW.train_key(), session, session_id="s3")
    fake_st.interrupt_at_update = None
    newer = SLOW.replace(p_hidden=0.2).train_key()
    run = runs.get_run(newer, session, session_id="s3")
    assert run.config.p_hidden == 0.2 and run.epochs_completed == 40
    assert session[runs.STOPPED_RUNS] == {}
    assert cache.RUNS.get(SLOW.train_key()) is None  # the old run was dropped, not finished


def test_handover_waits_for_the_old_script_to_finish_its_epoch():
    handover = runs.StopHandover()
    key, run = SLOW.train_key(), object()
    handover.started("s", key)
    handover.request_stop("s")  # the click's callback runs before the old script notices
    old_script = threading.Thread(
        target=lambda: handover.finished("s", key, run, interrupted=True, wait_s=5.0))
    threading.Timer(0.2, old_script.start).start()
    assert handover.take_stopped("s", wait_s=30.0) == (key, run)
    old_script.join()
    assert handover.take_stopped("s") is None  # handed over once, nothing left behind
    assert handover._stopped == {} and handover._training == {}


def test_a_stop_click_after_training_finished_keeps_nothing():
    handover = runs.StopHandover()
    key = SLOW.train_key()
    handover.started("s", key)
    handover.finished("s", key, object(), interrupted=False)
    handover.request_stop("s")  # a stale button clicked after the run completed
    assert handover.take_stopped("s") is None
    assert handover._stop_requested == {}


# --- determinism ------------------------------------------------------------------------------


def chart_specs(at: AppTest) -> list[dict]:
    return [chart_json(chart) for chart in chart_elements(at)]


def test_two_sessions_with_the_same_settings_see_identical_pictures():
    link = dict(dataset="spiral", p_hidden="0.3", mask_scope="example", epochs="25", seed="7")
    first = chart_specs(app(**link).run())
    cache.clear_all()  # the second session trains again rather than reusing the first's run
    second_at = app(**link).run()
    assert_clean(second_at)
    second = chart_specs(second_at)
    assert len(first) == 2 and first == second
    other_seed = chart_specs(app(**{**link, "seed": "8"}).run())
    assert other_seed != first  # the comparison can tell different runs apart


def test_sessions_asking_for_a_run_in_training_wait_for_it_instead_of_training_it_again(
        monkeypatch):
    key = DEFAULTS.replace(epochs=60, width=16, seed=4242).train_key()
    trained, started = [], threading.Event()
    real_train = pipeline.train

    def counting_train(*args, **kwargs):
        trained.append(threading.current_thread().name)
        started.set()
        time.sleep(0.5)  # long enough for the other sessions to ask while this trains
        return real_train(*args, **kwargs)

    monkeypatch.setattr(pipeline, "train", counting_train)
    got: dict[str, object] = {}

    def session(name: str) -> None:
        if name != "first":
            started.wait(30)  # ask while the first session's training is under way
        got[name] = runs.get_run(key, {}, session_id=name)

    threads = [threading.Thread(target=session, args=(name,), name=name)
               for name in ("first", "second", "third")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert trained == ["first"]  # one training for three sessions
    assert got["second"] is got["first"] is got["third"] is cache.RUNS.get(key)
    assert got["first"].epochs_completed == 60
    assert cache.RUNS.in_flight() == []  # nothing left in flight


def test_a_waiting_session_trains_the_run_itself_when_the_first_one_is_superseded(fake_st):
    key = SLOW.replace(seed=4243).train_key()
    flight = cache.Flight()
    cache.RUNS._flights[key] = flight  # another session is training this key...
    threading.Timer(0.3, lambda: (cache.RUNS._flights.pop(key), flight.landed.set())).start()
    fake_st.interrupt_at_update = None  # ...and is superseded before it finishes
    run = runs.get_run(key, {}, session_id="waiter")
    assert run.epochs_completed == 40 and cache.RUNS.get(key) is run


# --- no accidental 40-minute runs --------------------------------------------------------------


LARGEST = {"n_layers": "4", "width": "256", "n_samples": "2000", "batch_size": "1",
           "epochs": "1000"}


def test_the_largest_settings_say_how_long_they_would_take_and_wait_for_a_click():
    at = app(**LARGEST).run()
    assert_clean(at)
    [warning] = [w for w in texts(at.warning) if "would take about" in w]
    assert "minutes" in warning or "hours" in warning
    assert any(b.label.startswith("Start training (about") for b in at.button)
    assert len(cache.RUNS) == 0 and cache.RUNS.in_flight() == []  # nothing trains meanwhile
    assert at.session_state["width"] == 256  # the settings stay as chosen


def test_estimates_follow_the_work_and_the_default_run_is_quick():
    def estimate(**changes):
        key = DEFAULTS.replace(**changes).train_key()
        return pipeline.estimated_training_s(key, 90, 60, 2, 2)

    assert estimate() < 1.0
    assert estimate(batch_size=1) > estimate() and estimate(width=256) > estimate()
    assert estimate(epochs=300) == pytest.approx(2 * estimate())
    largest = DEFAULTS.replace(**{k: int(v) for k, v in LARGEST.items()}).train_key()
    assert pipeline.estimated_training_s(largest, 1200, 800, 2, 2) > 20 * 60


def test_a_click_starts_a_long_run_and_it_trains_as_usual(monkeypatch):
    monkeypatch.setattr(runs, "LONG_RUN_S", 0.0)  # every run counts as long
    at = app(epochs="5", width="8").run()
    assert_clean(at)
    [start] = [b for b in at.button if b.label.startswith("Start training")]
    assert not chart_elements(at)
    start.click().run()
    assert_clean(at)
    assert not [w for w in texts(at.warning) if "would take about" in w]
    assert {chart_key(c) for c in chart_elements(at)} >= {"animation"}


def test_the_progress_bar_and_stop_button_go_away_when_training_finishes(fake_st):
    fake_st.interrupt_at_update = None  # a slow run (the bar shows at once here) that finishes
    run = runs.get_run(SLOW.replace(seed=4244).train_key(), {}, session_id="s5")
    assert run.epochs_completed == 40
    assert fake_st.buttons == [("Stop training", fake_st.buttons[0][1])]  # it was shown...
    assert fake_st.cleared  # ...and the placeholder holding it was emptied


def test_the_progress_bar_of_a_real_page_is_gone_once_the_run_is_drawn(monkeypatch):
    monkeypatch.setattr(runs, "SHOW_PROGRESS_AFTER_S", 0.0)  # every run shows its bar
    at = app(epochs="30", width="8").run()
    assert_clean(at)
    assert chart_elements(at)
    assert not at.get("progress") and not [b for b in at.button if b.label == "Stop training"]


def element_paths(at) -> dict[str, tuple[int, ...]]:
    """Where each chart sits in the page's element tree (block indices from the root)."""
    charts = {id(element): chart_key(element) for element in chart_elements(at)}
    paths: dict[str, tuple[int, ...]] = {}

    def walk(node, path):
        if id(node) in charts:
            paths[charts[id(node)]] = path
        for index, child in getattr(node, "children", {}).items():
            walk(child, path + (index,))

    walk(at._tree, ())
    return paths


def test_a_run_that_showed_its_progress_bar_lays_out_the_page_as_one_that_did_not(monkeypatch):
    # The browser keeps a chart's graph only while the chart stays in its place: a bar that
    # came and went before it would have the page mount every chart after it afresh.
    monkeypatch.setattr(runs, "SHOW_PROGRESS_AFTER_S", 0.0)  # the training run shows its bar
    at = app(epochs="30", width="8", seed="4247").run()
    assert_clean(at)
    trained = element_paths(at)
    assert {"animation", "history"} <= set(trained)
    at.run()  # the same run, from the cache: no bar
    assert_clean(at)
    assert element_paths(at) == trained
