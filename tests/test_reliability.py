"""Bad input, diverging training, unexpected errors, interruptible runs and determinism.

API cases go through TrainConfig / Settings / load_dataset / train; page cases through AppTest:
the page shows a message naming what was wrong and what is allowed, and keeps the other settings.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import app, assert_clean
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.testing.v1 import AppTest

from dropout_viz import pipeline
from dropout_viz.data import Dataset, load_dataset
from dropout_viz.engine import TrainConfig, train
from dropout_viz.settings import DEFAULTS, FIELD_SPECS, Settings
from dropout_viz.ui import cache

# Plain SGD at the slider's top rate blows up a deep relu net within a few epochs.
DIVERGING = dict(optimizer="sgd", lr="1", n_layers="4", p_hidden="0", epochs="30")






def texts(elements) -> list[str]:
    return [e.value for e in elements]




def tiny_dataset(X, y, n_classes: int) -> Dataset:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    return Dataset(X_train=X, y_train=y, X_test=X[:2], y_test=y[:2], n_classes=n_classes,
                   name="tiny", feature_names=("x1", "x2"), mean=np.zeros(2), scale=np.ones(2))


# --- bad values through the API ------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 1.0])
def test_p_of_one_is_refused_with_the_reason(p):
    with pytest.raises(ValueError) as error:
        TrainConfig(p_hidden=p)
    message = str(error.value)
    assert "p_hidden = " in message and "drops every unit" in message
    assert "[0, 0.9]" in message  # the table's range, as on the page


@pytest.mark.parametrize("name", ["p_hidden", "p_input"])
@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan, math.inf, "0.5", None])
def test_p_outside_zero_one_is_refused(name, p):
    bounds = re.escape(FIELD_SPECS[name].range_text())  # the table's range, as on the page
    problem = "(is not allowed|is out of range)"
    with pytest.raises(ValueError, match=rf"{name} = .* {problem}: .*{bounds}"):
        TrainConfig(**{name: p})


def test_settings_refuse_p_of_one_and_say_the_range():
    with pytest.raises(ValueError, match=r"p_hidden = 1\.0 is out of range: the dropout rate "
                                         r"must be in \[0, 0\.9\]"):
        Settings(p_hidden=1.0)
    with pytest.raises(ValueError, match=r"width = 1 is out of range: the layer width must be "
                                         r"in \[2, 256\]"):
        Settings(width=1)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(name="mnist"), "name must be one of: moons, circles"),
    (dict(name="moons", n_samples=3), "n_samples must be a whole number from 4 to 20000; got 3"),
    (dict(name="moons", noise=-0.1), "noise must be a number from 0 to 2; got -0.1"),
    (dict(name="moons", noise=math.nan), "noise must be a number from 0 to 2; got nan"),
    (dict(name="moons", test_fraction=1.0), "test_fraction must be a number from 0.1 to 0.9"),
])
def test_load_dataset_names_the_bad_argument(kwargs, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        load_dataset(**kwargs)


def test_four_points_with_batch_64_train_full_batch():
    dataset = load_dataset("moons", n_samples=4, test_fraction=0.5)
    assert len(dataset.y_train) == 2
    run = train(dataset, TrainConfig(hidden=(8,), batch_size=64, epochs=5))
    assert run.config.batch_size == 64
    assert run.n_batches == 1
    assert sorted(run.batch_indices(0, 0).tolist()) == [0, 1]  # the whole training split
    assert run.epochs_completed == 5 and np.isfinite(run.history["train_loss"]).all()


def test_one_class_is_refused_by_the_engine():
    one_class = tiny_dataset([[0, 0], [1, 0], [0, 1], [1, 1]], [0, 0, 0, 0], n_classes=1)
    with pytest.raises(ValueError, match="need at least 2 classes"):
        train(one_class, TrainConfig(epochs=2))


def test_width_one_trains_and_stays_finite():
    dataset = load_dataset("moons", n_samples=40)
    run = train(dataset, TrainConfig(hidden=(1,), p_hidden=0.5, epochs=10))
    assert run.layout.layer_sizes == (2, 1, 2)
    assert run.diverged_at is None and run.epochs_completed == 10
    assert np.isfinite(run.history["train_loss"]).all()
    # With one unit and p = 0.5, a sub-network that dropped it outputs a constant.
    net = run.network()
    dropped = net.predict_proba(dataset.X_test, [np.ones(2), np.zeros(1)])
    np.testing.assert_allclose(dropped, dropped[:1].repeat(len(dropped), axis=0))


def test_identical_points_train_to_one_constant_prediction():
    same = tiny_dataset(np.zeros((6, 2)), [0, 1, 0, 1, 0, 0], n_classes=2)
    run = train(same, TrainConfig(hidden=(4,), epochs=20))
    assert run.diverged_at is None and np.isfinite(run.history["train_loss"]).all()
    probs = run.network().predict_proba(same.X_train)
    np.testing.assert_allclose(probs, probs[:1].repeat(6, axis=0))
    # The best constant guess is the class share: 4 of 6 points are class 0.
    assert abs(probs[0, 0] - 4 / 6) < 0.1


def test_diverging_learning_rate_keeps_the_last_finite_state():
    settings = DEFAULTS.replace(optimizer="sgd", lr=1.0, n_layers=4, p_hidden=0.0, epochs=30)
    run = pipeline.train_for(settings.train_key())
    assert run.diverged_at is not None and run.diverged_at < 30
    assert run.epochs_completed == run.diverged_at
    assert np.isfinite(run.final_params).all()
    assert np.isfinite(run.history["train_loss"]).all()


# --- bad values on the page -----------------------------------------------------------------


def test_page_says_where_training_diverged_and_still_draws():
    at = app(**DIVERGING).run()
    assert_clean(at)
    settings = Settings(optimizer="sgd", lr=1.0, n_layers=4, p_hidden=0.0, epochs=30)
    run = cache.RUNS.get(settings.train_key())
    assert run is not None and run.diverged_at is not None
    [error] = texts(at.error)
    assert error.startswith(f"Training diverged in epoch {run.diverged_at + 1}: ")
    assert f"(epoch {run.epochs_completed})" in error
    assert "Try a learning rate of 0.1 or lower." in error
    # The last finite state is drawn: charts up to the last good epoch.
    assert len(at.get("plotly_chart")) == 2  # the epoch animation and the curves
    animation = at.get("plotly_chart")[0]
    assert animation.proto.id.endswith("-animation")
    assert json.loads(animation.proto.spec)["frames"][-1]["name"] == str(run.epochs_completed)
    assert at.session_state["optimizer"] == "sgd" and at.session_state["n_layers"] == 4


def test_page_says_when_the_batch_is_larger_than_the_training_set():
    at = app(n_samples="20", batch_size="64", epochs="5").run()
    assert_clean(at)
    assert ("Batch size 64 is larger than the 12 training points, so every step uses all 12 "
            "(full-batch training).") in texts(at.info)
    assert at.session_state["batch_size"] == 64  # the setting itself is kept


def test_width_one_in_a_link_is_reported_and_the_rest_kept():
    at = app(width="1", p_hidden="0.3", epochs="5").run()
    assert_clean(at)
    assert "Ignored 'width=1': must be a whole number in [2, 256]; using 64." in texts(at.warning)
    assert at.session_state["width"] == 64
    assert at.session_state["p_hidden"] == 0.3 and at.session_state["epochs"] == 5


def test_p_of_one_in_a_link_is_reported_and_the_rest_kept():
    at = app(p_hidden="1", dataset="circles", epochs="5").run()
    assert_clean(at)
    assert "Ignored 'p_hidden=1': must be a number in [0, 0.9]; using 0.5." in texts(at.warning)
    assert at.session_state["dataset"] == "circles" and at.session_state["epochs"] == 5


def test_junk_in_every_query_parameter_gives_warnings_not_errors():
    junk = "%%junk<script>"
    at = app(**{name: junk for name in FIELD_SPECS}, tab=junk, unknown=junk).run()
    assert_clean(at)
    warnings = texts(at.warning)
    for name in FIELD_SPECS:
        assert any(f"'{name}" in w for w in warnings), name
    assert "Ignored unknown setting 'unknown'." in warnings
    assert any(w.startswith("Ignored 'tab=%%junk") for w in warnings)
    # Every setting fell back to its default and the page drew the default run.
    for name in FIELD_SPECS:
        default = getattr(DEFAULTS, name)
        expected = list(default) if FIELD_SPECS[name].kind == "names" else default
        assert at.session_state[name] == expected, name
    assert len(at.get("plotly_chart")) == 2


def test_an_unexpected_error_in_a_tab_is_a_message_not_a_traceback(monkeypatch):
    def broken(key, session=None):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(cache, "get_run", broken)
    at = app(width="16", p_hidden="0.3").run()
    assert_clean(at)
    [error] = texts(at.error)
    assert error.startswith('Something went wrong while drawing "Dropout in action": '
                            "RuntimeError: simulated failure.")
    assert "Your settings are kept" in error
    assert at.session_state["width"] == 16 and at.session_state["p_hidden"] == 0.3
    assert at.query_params["width"] == "16"
    # The sidebar is still there to change a setting.
    assert at.slider(key="width").value == 16


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
    monkeypatch.setattr(cache, "st", fake)
    monkeypatch.setattr(cache, "SHOW_PROGRESS_AFTER_S", 0.0)
    return fake


SLOW = DEFAULTS.replace(epochs=40, width=16)


def test_an_interrupted_run_stops_the_engine_cleanly(fake_st):
    dataset = pipeline.dataset_for(SLOW.data_key())
    reporter = cache.ProgressReporter(40, stop_key="stop")
    run = train(dataset, pipeline.config_for(SLOW.train_key()), on_epoch=reporter)
    assert isinstance(reporter.interruption, StopException)
    assert run.stopped_at == 0 and run.epochs_completed == 1
    assert fake_st.buttons == [("Stop training", "stop")]


def test_without_a_stop_key_the_interruption_propagates(fake_st):
    dataset = pipeline.dataset_for(SLOW.data_key())
    with pytest.raises(StopException):
        train(dataset, pipeline.config_for(SLOW.train_key()),
              on_epoch=cache.ProgressReporter(40))


def test_stop_button_keeps_the_epochs_finished_so_far(fake_st):
    session: dict = {}
    key = SLOW.train_key()
    fake_st.on_interrupt = lambda: cache.HANDOVER.request_stop("s1")  # the click
    with pytest.raises(StopException):  # the old script is stopped...
        cache.get_run(key, session, session_id="s1")
    assert [label for label, _ in fake_st.buttons] == ["Stop training"]
    fake_st.interrupt_at_update = None
    run = cache.get_run(key, session, session_id="s1")  # ...and the new one shows its epochs
    assert run.stopped_at == 0 and run.epochs_completed == 1
    assert cache.RUNS.get(key) is None  # a stopped run is this session's, not shared
    assert fake_st.infos == ["Training was stopped after epoch 1 of 40: everything below "
                             "shows the 1 epoch finished so far."]
    assert fake_st.buttons[-1][0] == "Train all 40 epochs"
    # Later reruns (scrubbing, other widgets) keep showing the stopped run...
    assert cache.get_run(key, session, session_id="s1") is run
    # ...another session with the same settings trains its own full run...
    other = cache.get_run(key, {}, session_id="s2")
    assert other.stopped_at is None and other.epochs_completed == 40
    # ...and "Train all" forgets the stopped run, so this session gets every epoch too.
    session[cache.STOPPED_RUNS].pop(key)
    assert cache.get_run(key, session, session_id="s1") is other


def test_a_newer_setting_supersedes_an_interrupted_run(fake_st):
    session: dict = {}
    with pytest.raises(StopException):  # a slider moved while this trained
        cache.get_run(SLOW.train_key(), session, session_id="s3")
    fake_st.interrupt_at_update = None
    newer = SLOW.replace(p_hidden=0.2).train_key()
    run = cache.get_run(newer, session, session_id="s3")
    assert run.config.p_hidden == 0.2 and run.epochs_completed == 40
    assert session[cache.STOPPED_RUNS] == {}
    assert cache.RUNS.get(SLOW.train_key()) is None  # the old run was dropped, not finished


def test_handover_waits_for_the_old_script_to_finish_its_epoch():
    handover = cache.StopHandover()
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
    handover = cache.StopHandover()
    key = SLOW.train_key()
    handover.started("s", key)
    handover.finished("s", key, object(), interrupted=False)
    handover.request_stop("s")  # a stale button clicked after the run completed
    assert handover.take_stopped("s") is None
    assert handover._stop_requested == {}


# --- determinism ------------------------------------------------------------------------------


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


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
    runs: dict[str, object] = {}

    def session(name: str) -> None:
        if name != "first":
            started.wait(30)  # ask while the first session's training is under way
        runs[name] = cache.get_run(key, {}, session_id=name)

    threads = [threading.Thread(target=session, args=(name,), name=name)
               for name in ("first", "second", "third")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert trained == ["first"]  # one training for three sessions
    assert runs["second"] is runs["first"] is runs["third"] is cache.RUNS.get(key)
    assert runs["first"].epochs_completed == 60
    assert cache.RUNS.in_flight() == []  # nothing left in flight


def test_a_waiting_session_trains_the_run_itself_when_the_first_one_is_superseded(fake_st):
    key = SLOW.replace(seed=4243).train_key()
    flight = cache.Flight()
    cache.RUNS._flights[key] = flight  # another session is training this key...
    threading.Timer(0.3, lambda: (cache.RUNS._flights.pop(key), flight.landed.set())).start()
    fake_st.interrupt_at_update = None  # ...and is superseded before it finishes
    run = cache.get_run(key, {}, session_id="waiter")
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
    monkeypatch.setattr(cache, "LONG_RUN_S", 0.0)  # every run counts as long
    at = app(epochs="5", width="8").run()
    assert_clean(at)
    [start] = [b for b in at.button if b.label.startswith("Start training")]
    assert not at.get("plotly_chart")
    start.click().run()
    assert_clean(at)
    assert not [w for w in texts(at.warning) if "would take about" in w]
    assert {c.proto.id.split("-")[-1] for c in at.get("plotly_chart")} >= {"animation"}


def test_the_progress_bar_and_stop_button_go_away_when_training_finishes(fake_st):
    fake_st.interrupt_at_update = None  # a slow run (the bar shows at once here) that finishes
    run = cache.get_run(SLOW.replace(seed=4244).train_key(), {}, session_id="s5")
    assert run.epochs_completed == 40
    assert fake_st.buttons == [("Stop training", fake_st.buttons[0][1])]  # it was shown...
    assert fake_st.cleared  # ...and the placeholder holding it was emptied


def test_the_progress_bar_of_a_real_page_is_gone_once_the_run_is_drawn(monkeypatch):
    monkeypatch.setattr(cache, "SHOW_PROGRESS_AFTER_S", 0.0)  # every run shows its bar
    at = app(epochs="30", width="8").run()
    assert_clean(at)
    assert at.get("plotly_chart")
    assert not at.get("progress") and not [b for b in at.button if b.label == "Stop training"]
