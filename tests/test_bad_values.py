"""Bad values: refused with the reason through the API, reported and survived on the page.

API cases go through TrainConfig / Settings / load_dataset / train; page cases through AppTest:
the page shows a message naming what was wrong and what is allowed, and keeps the other settings.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from helpers import app, assert_clean, chart_by_key, chart_elements, chart_json

from dropout_viz import pipeline
from dropout_viz.data import Dataset, load_dataset
from dropout_viz.engine import TrainConfig, train
from dropout_viz.settings import DEFAULTS, FIELD_SPECS, Settings
from dropout_viz.ui import cache, runs

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
    assert len(chart_elements(at)) == 2  # the epoch animation and the curves
    animation = chart_by_key(at, "animation")
    assert animation.proto.id.endswith("-animation")
    assert chart_json(animation)["frames"][-1]["name"] == str(run.epochs_completed)
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
    assert len(chart_elements(at)) == 2


def test_an_unexpected_error_in_a_tab_is_a_message_not_a_traceback(monkeypatch):
    def broken(key, session=None):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(runs, "get_run", broken)
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


