"""The benchmark harness on tiny sizes: well-formed results, tables and flags (no timings)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import engine_speed as bench  # noqa: E402

TINY = bench.Sizes(b1_epochs=2, b2_epochs=1, b3_epochs=2, b3_p_values=(0.0, 0.5),
                   b3_seeds=(0, 1), repeats=2, warmup_epochs=1)


def _check_measurement(m: bench.Measurement, repeats: int) -> None:
    assert m.skip_reason is None
    assert len(m.times) == repeats
    assert all(t > 0 and math.isfinite(t) for t in m.times)
    assert m.best == min(m.times)
    assert len(m.cpu_times) == repeats and m.best_cpu == min(m.cpu_times) >= 0
    accs = m.test_acc if isinstance(m.test_acc, list) else [m.test_acc]
    assert all(0.0 <= a <= 1.0 for a in accs)


def test_b1_and_b3_measure_every_contender_and_sequential_matches_train_many():
    results, threads = bench.run_benchmarks(["B1", "B3"], TINY)
    assert [r.key for r in results] == ["B1", "B3"]
    b1, b3 = results
    labels = [m.label for m in b1.measurements]
    assert labels == ["dropout_viz train", "dropout_viz train, float64", "PyTorch CPU",
                      "scikit-learn MLPClassifier"]
    for m in b1.measurements:
        if m.label == "PyTorch CPU" and bench.import_torch() is None:
            assert m.skip_reason == bench.TORCH_MISSING and m.times == []
        else:
            _check_measurement(m, TINY.repeats)
    assert b1.ratio("scikit-learn MLPClassifier") == pytest.approx(
        b1.measurements[3].best / b1.measurements[0].best)

    many, sequential = b3.measurements
    _check_measurement(many, TINY.repeats)
    _check_measurement(sequential, TINY.repeats)
    assert len(many.test_acc) == 4  # 2 values of p x 2 seeds
    assert many.test_acc == sequential.test_acc  # train_many trains each exactly like train
    # Every pool was limited to one thread while measuring.
    assert threads and all(v in ("1 thread(s)", "1") for v in threads.values())


def test_torch_rows_are_skipped_with_a_message_when_torch_is_missing(monkeypatch):
    monkeypatch.setattr(bench, "import_torch", lambda: None)
    (b2,), threads = bench.run_benchmarks(["B2"], TINY)
    ours, _float64_row, torch_row = b2.measurements
    _check_measurement(ours, TINY.repeats)
    assert torch_row.skip_reason == bench.TORCH_MISSING and torch_row.times == []
    assert b2.ratio("PyTorch CPU") is None
    row = bench.table_rows([b2])[2]
    assert row[:4] == ["B2", "PyTorch CPU", "-", "-"] and row[-1] == bench.TORCH_MISSING
    assert "torch.get_num_threads()" not in threads
    assert bench.machine_info()["PyTorch"] == "not installed"


def test_torch_train_returns_an_accuracy_or_explains_it_is_missing():
    data = bench.moons()
    if bench.import_torch() is None:
        with pytest.raises(RuntimeError, match="PyTorch is not installed"):
            bench.torch_train(data, bench.b1_config(1))
    else:
        assert 0.0 <= bench.torch_train(data, bench.b1_config(1)) <= 1.0


def test_workloads_match_the_brief():
    moons, digits = bench.moons(), bench.digits()
    assert (len(moons.y_train), len(moons.y_test)) == (280, 120)
    assert digits.n_features == 64 and digits.n_classes == 10
    assert len(digits.y_test) == round(1797 * 0.2)
    b1 = bench.b1_config(200)
    assert (b1.hidden, b1.p_hidden, b1.mask_scope, b1.convention, b1.lr, b1.batch_size) == \
        ((64, 64), 0.5, "example", "inverted", 0.01, 32)
    b2 = bench.b2_config(10)
    assert (b2.hidden, b2.p_input, b2.p_hidden, b2.lr, b2.epochs) == \
        ((128, 128), 0.0, 0.5, 1e-3, 10)
    configs = bench.b3_configs(200, bench.FULL.b3_p_values, bench.FULL.b3_seeds)
    assert len(configs) == 30
    assert sorted({c.p_hidden for c in configs}) == pytest.approx(np.arange(10) / 10)
    assert {c.seed for c in configs} == {0, 1, 2}


def _fake_result(our_time: float, their_time: float, target: float) -> bench.BenchmarkResult:
    ours = bench.Measurement("ours", "n", times=[our_time, our_time * 2], cpu_times=[our_time],
                             test_acc=0.9)
    theirs = bench.Measurement("theirs", "n", times=[their_time], cpu_times=[their_time / 2],
                               test_acc=[0.5, 0.7])
    return bench.BenchmarkResult("B9", "fake", [ours, theirs], {"theirs": target})


def test_table_reports_ratio_against_target():
    met, missed = _fake_result(1.0, 4.0, 3.0), _fake_result(1.0, 2.0, 3.0)
    rows = bench.table_rows([met, missed])
    assert rows[0][:5] == ["B9", "ours", "1.000", "1.000", "1.00x"]
    assert rows[1][3:8] == ["2.000", "4.00x", ">= 3x", "met", "mean 0.600"]
    assert rows[3][4:7] == ["2.00x", ">= 3x", "NOT met"]
    # wall 1 + 4 against CPU 1 + 2: flagged as a busy machine
    assert bench.load_note([met]).startswith("Wall/CPU time = 1.67 (the machine was busy")


def test_markdown_table_has_one_row_per_measurement():
    text = bench.format_markdown([_fake_result(1.0, 4.0, 3.0)], {"CPU": "x"}, {"blas": "1"},
                                 TINY)
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2  # header, separator, two measurements
    assert table[0].count("|") == len(bench.HEADER) + 1
    assert "| B9 | theirs | 4.000 | 2.000 | 4.00x | >= 3x | met |" in text
    assert "- **CPU**: x" in text


def test_parse_only():
    assert bench.parse_only(None) == ["B1", "B2", "B3"]
    assert bench.parse_only("b3, B1,B3") == ["B3", "B1"]
    with pytest.raises(ValueError, match="subset of B1, B2, B3"):
        bench.parse_only("B1,B4")


def test_main_quick_only_prints_the_requested_table(monkeypatch, capsys):
    monkeypatch.setattr(bench, "QUICK", TINY)
    assert bench.main(["--quick", "--only", "B3", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| B3 | dropout_viz train_many |" in out
    assert "| B3 | train, one after another |" in out
    assert "B1" not in out.split("|", 1)[1]
    assert "--quick" in out
    with pytest.raises(SystemExit):
        bench.main(["--only", "B7"])
