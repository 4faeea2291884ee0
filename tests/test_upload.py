"""Uploading a custom 2-D data set in the sidebar: every bad file gets dataset_from_csv's own
message (verbatim), the data set in use and the other settings are kept; a good file is trained
on under a key naming its content; a link cannot carry the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from helpers import app, assert_clean, chart_elements, charts_by_key, traces
from streamlit.testing.v1 import AppTest

from dropout_viz import pipeline
from dropout_viz.csv_data import dataset_from_csv
from dropout_viz.ui import cache, upload

ROOT = Path(__file__).resolve().parents[1]








def points_csv(n: int = 40, labels=("a", "b"), seed: int = 0) -> bytes:
    rows = [f"{(i * 7 + seed) % 11 / 3:.3f},{(i * 5) % 13 / 4:.3f},{labels[i % len(labels)]}"
            for i in range(n)]
    return ("x1,x2,label\n" + "\n".join(rows) + "\n").encode()


def send(at: AppTest, name: str, content: bytes | None) -> AppTest:
    widget = at.file_uploader(key=upload.FILE_WIDGET)
    widget.set_value(None if content is None else (name, content, "text/csv"))
    return at.run()


def csv_error(content: bytes) -> str:
    with pytest.raises(ValueError) as error:
        dataset_from_csv(content, max_bytes=upload.MAX_UPLOAD_BYTES)
    return str(error.value)


BAD_FILES = {
    "empty": b"",
    "not UTF-8": b"x1,x2,label\n1,2,\xe9t\xe9\n3,4,b\n5,6,a\n7,8,b\n",
    "no header": b"1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,1,0\n",
    "non-numeric cell": b"x1,x2,label\n1,2,a\n3,four,b\n5,6,a\n7,8,b\n",
    "NaN": b"x1,x2,label\n1,2,a\nnan,4,b\n5,6,a\n7,8,b\n",
    "inf": b"x1,x2,label\n1,2,a\n3,inf,b\n5,6,a\n7,8,b\n",
    "one class": points_csv(labels=("a",)),
    "eleven classes": points_csv(n=44, labels=tuple("abcdefghijk")),
    "extra column": b"x1,x2,x3,label\n1,2,3,a\n3,4,5,b\n5,6,7,a\n7,8,9,b\n",
    "missing column": b"x1,label\n1,a\n3,b\n5,a\n7,b\n",
    "all identical points": b"x1,x2,label\n1,2,a\n1,2,b\n1,2,a\n1,2,b\n",
    "larger than the limit": b"x1,x2,label\n" + b"1,2,a\n" * 1_000_000,
}
EXPECTED_START = {
    "empty": "The file is empty.",
    "not UTF-8": "The file is not UTF-8 text: row 2 contains the byte 0xe9",
    "no header": "Row 1 ('1,2,0') looks like data, not a header.",
    "non-numeric cell": "Row 3, column 'x2': 'four' is not a number.",
    "NaN": "Row 3, column 'x1': 'nan' is not a finite number",
    "inf": "Row 3, column 'x2': 'inf' is not a finite number",
    "one class": "Column 'label' has only one class ('a').",
    "eleven classes": "Column 'label' has 11 different labels",
    "extra column": "Row 1 (the header) has extra column 'x3'.",
    "missing column": "Row 1 (the header) has missing column 'x2'.",
    "all identical points": "All points are identical (x1=1, x2=2).",
    "larger than the limit": "The file is 6 MB; the limit is 5 MB.",
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_refused_with_its_message_and_everything_kept(case):
    content = BAD_FILES[case]
    message = csv_error(content)
    assert message.startswith(EXPECTED_START[case])
    at = app(dataset="circles", width="16", epochs="5").run()
    send(at, f"{case}.csv", content)
    assert_clean(at)
    assert [e.value for e in at.error] == [
        f"{case}.csv was not used: {message} (The data set in use is kept.)"]
    assert at.session_state["dataset"] == "circles"
    assert at.session_state["width"] == 16 and at.session_state["epochs"] == 5
    assert upload.UPLOADED not in at.session_state
    assert len(chart_elements(at)) == 2  # the page still shows the circles run


def test_good_file_is_trained_on_under_a_key_naming_its_content():
    content = points_csv()
    at = app(epochs="5").run()
    send(at, "points.csv", content)
    assert_clean(at)
    assert at.session_state["dataset"] == "upload"
    assert at.query_params["dataset"] == "upload"
    assert "Using: points.csv, 40 points, 2 classes." in [c.value for c in at.caption]
    assert not at.error
    [key] = [k for k in cache.RUNS._items if k.data.dataset == "upload"]
    assert key.data.content == upload.content_digest(content)
    run = cache.RUNS.get(key)
    expected = dataset_from_csv(content, test_fraction=0.4, seed=0)
    assert run.dataset.class_names == ("a", "b")
    assert (run.dataset.X_train == expected.X_train).all()
    assert run.epochs_completed == 5
    # Points and noise do not apply to a file.
    assert at.slider(key="n_samples").disabled and at.slider(key="noise").disabled


def curve_csv(n: int = 40) -> bytes:
    rows = [f"{i / 4:.3f},{(i * 7) % 11 / 5 - 1:.3f}" for i in range(n)]
    return ("x,y\n" + "\n".join(rows) + "\n").encode()


def test_an_x_y_file_trains_a_regression_and_draws_its_curves():
    content = curve_csv()
    at = app(epochs="5", width="8").run()
    send(at, "curve.csv", content)
    assert_clean(at)
    assert not at.error
    assert at.session_state["dataset"] == "upload"
    assert "Using: curve.csv, 40 points, regression." in [c.value for c in at.caption]
    # The picker names the regression sets, and this file, as such.
    assert {"upload (regression)", "sine (regression)", "moons"} <= set(
        at.selectbox(key="dataset").options)
    [key] = [k for k in cache.RUNS._items if k.data.dataset == "upload"]
    run = cache.RUNS.get(key)
    expected = dataset_from_csv(content, test_fraction=0.4, seed=0)
    assert run.task == "regression" and (run.dataset.X_train == expected.X_train).all()
    charts = charts_by_key(at)
    assert set(charts) == {"animation", "history"}
    animation = charts["animation"]
    assert animation["layout"]["meta"]["layer_sizes"] == [1, 8, 8, 1]
    net = run.network()
    full_mse = pipeline.scores(net.predict(run.dataset.X_test), run.dataset.y_test).mse
    assert animation["layout"]["meta"]["frames"][-1]["full_mse"] == pytest.approx(full_mse)
    assert traces(animation, role="thinned") and traces(animation, role="test_time")


def test_a_bad_file_after_a_good_one_keeps_the_good_one():
    at = app(epochs="5").run()
    send(at, "good.csv", points_csv())
    send(at, "bad.csv", BAD_FILES["one class"])
    assert_clean(at)
    assert at.session_state["dataset"] == "upload"
    assert at.session_state[upload.UPLOADED].name == "good.csv"
    assert at.error[0].value.startswith("bad.csv was not used: Column 'label' has only one")


def test_different_files_get_different_runs_and_equal_files_share_one():
    first = app(epochs="5").run()
    send(first, "a.csv", points_csv(seed=0))
    second = app(epochs="5").run()  # another session, another file with the same name
    send(second, "a.csv", points_csv(seed=3))
    third = app(epochs="5").run()  # a third session uploads the first file again
    send(third, "copy.csv", points_csv(seed=0))
    for at in (first, second, third):
        assert_clean(at)
    keys = [k for k in cache.RUNS._items if k.data.dataset == "upload"]
    assert len(keys) == 2
    assert {k.data.content for k in keys} == {
        upload.content_digest(points_csv(seed=s)) for s in (0, 3)}


def test_removing_the_file_returns_to_the_previous_data_set():
    at = app(dataset="xor", epochs="5").run()
    send(at, "points.csv", points_csv())
    assert at.session_state["dataset"] == "upload"
    send(at, "points.csv", None)
    assert_clean(at)
    assert at.session_state["dataset"] == "xor"
    assert "upload" not in at.selectbox(key="dataset").options


def test_a_link_with_dataset_upload_falls_back_with_a_message():
    at = app(dataset="upload", width="16", epochs="5").run()
    assert_clean(at)
    assert [w.value for w in at.warning] == [
        "dataset=upload needs a CSV file, and a link cannot carry one: showing moons instead. "
        "Upload the file in the sidebar's Data group."]
    assert at.session_state["dataset"] == "moons" and at.session_state["width"] == 16
    assert "dataset" not in at.query_params
    assert len(chart_elements(at)) == 2


def test_upload_is_offered_as_a_dataset_only_with_a_file():
    at = app(epochs="5").run()
    assert "upload" not in at.selectbox(key="dataset").options
    send(at, "points.csv", points_csv())
    assert "upload" in at.selectbox(key="dataset").options


def test_server_config_limits_uploads_and_keeps_protections():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == 5  # MB; the page itself checks 5,000,000 bytes
    assert upload.MAX_UPLOAD_BYTES == 5_000_000
    assert config["server"]["enableXsrfProtection"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert config["runner"]["fastReruns"] is True
