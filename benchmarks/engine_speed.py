"""Speed benchmarks of the NumPy engine against PyTorch (CPU) and scikit-learn.

Run `python benchmarks/engine_speed.py` (under a minute here), `--quick` for a short smoke run,
`--only B1,B3` to pick benchmarks and `--markdown` for a table to paste into the README.

* B1: one moons network (2-64-64-2 relu, p_hidden 0.5, per-example masks, Adam lr 0.01, batch 32,
  200 epochs, train/test loss and accuracy evaluated after every epoch), against the same loop in
  PyTorch and against scikit-learn's MLPClassifier (which has no dropout).
* B2: the notes' Keras model on digits (64-128-128-10 relu, dropout 0.5 after each hidden layer,
  Adam lr 1e-3, batch 32, 10 epochs) against PyTorch; prints the test accuracy each reached.
* B3: 30 B1 networks (p = 0, 0.1 .. 0.9 x 3 seeds) in one `train_many` call against 30 `train`
  calls one after another.

Every contender runs single-threaded (threadpoolctl limits NumPy's BLAS, torch.set_num_threads(1)
limits PyTorch), so the numbers compare implementations rather than core counts. Within a
benchmark the contenders run in turns (round robin) after a warm-up and each keeps its best time,
so that load from other processes hits them alike; the ratios are what to read.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from dropout_viz.data import Dataset, load_dataset  # noqa: E402
from dropout_viz.engine import TrainConfig, train, train_many  # noqa: E402

BENCHMARKS = ("B1", "B2", "B3")
TORCH_MISSING = "skipped: PyTorch is not installed (pip install torch to compare against it)"


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is; QUICK keeps the shapes but cuts epochs and repeats."""

    b1_epochs: int = 200
    b2_epochs: int = 10
    b3_epochs: int = 200
    b3_p_values: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(10))
    b3_seeds: tuple[int, ...] = (0, 1, 2)
    repeats: int = 3
    warmup_epochs: int = 2


FULL = Sizes()
QUICK = Sizes(b1_epochs=10, b2_epochs=1, b3_epochs=10, repeats=1, warmup_epochs=1)


# --------------------------------------------------------------------------- workloads


def moons() -> Dataset:
    return load_dataset("moons", n_samples=400, noise=0.3, test_fraction=0.3, seed=0)


def digits() -> Dataset:
    return load_dataset("digits", test_fraction=0.2, seed=0)


def b1_config(epochs: int) -> TrainConfig:
    return TrainConfig(hidden=(64, 64), activation="relu", p_input=0.0, p_hidden=0.5,
                       mask_scope="example", convention="inverted", optimizer="adam", lr=0.01,
                       batch_size=32, epochs=epochs, seed=0, precision="float32")


def b2_config(epochs: int) -> TrainConfig:
    return TrainConfig(hidden=(128, 128), activation="relu", p_input=0.0, p_hidden=0.5,
                       mask_scope="example", convention="inverted", optimizer="adam", lr=1e-3,
                       batch_size=32, epochs=epochs, seed=0, precision="float32", init="glorot")


def b3_configs(epochs: int, p_values: Sequence[float], seeds: Sequence[int]) -> list[TrainConfig]:
    base = b1_config(epochs)
    return [base.replace(p_hidden=p, seed=s) for p in p_values for s in seeds]


def engine_train(dataset: Dataset, config: TrainConfig) -> float:
    """Our engine, one network; returns the final test accuracy."""
    run = train(dataset, config, store_weights=False)
    return float(run.history["test_acc"][-1])


def engine_many(dataset: Dataset, configs: Sequence[TrainConfig]) -> list[float]:
    """All configurations in one `train_many` call; final test accuracy of each."""
    return [float(run.history["test_acc"][-1]) for run in train_many(dataset, configs)]


def engine_sequential(dataset: Dataset, configs: Sequence[TrainConfig]) -> list[float]:
    """The same configurations, one `train` call after another."""
    return [engine_train(dataset, config) for config in configs]


def import_torch():
    """PyTorch if it is installed, else None (it is only a benchmark opponent, not a dependency)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_train(dataset: Dataset, config: TrainConfig) -> float:
    """The loop a PyTorch user would write for `config` (float32, as PyTorch users train).

    nn.Sequential of Linear/ReLU/Dropout, Adam, CrossEntropyLoss, a randperm shuffle per epoch
    and, like our engine, an evaluation pass (loss and accuracy) on the train and test splits
    after every epoch. Returns the final test accuracy.
    """
    torch = import_torch()
    if torch is None:
        raise RuntimeError(TORCH_MISSING)
    nn = torch.nn
    torch.manual_seed(config.seed)
    X_train = torch.tensor(dataset.X_train, dtype=torch.float32)
    y_train = torch.tensor(dataset.y_train)
    X_test = torch.tensor(dataset.X_test, dtype=torch.float32)
    y_test = torch.tensor(dataset.y_test)
    layers: list = []
    fan_in = dataset.n_features
    if config.p_input > 0:
        layers.append(nn.Dropout(config.p_input))
    for width in config.hidden:
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        if config.p_hidden > 0:
            layers.append(nn.Dropout(config.p_hidden))
        fan_in = width
    model = nn.Sequential(*layers, nn.Linear(fan_in, dataset.n_classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = nn.CrossEntropyLoss()
    n_train, batch_size = len(y_train), config.batch_size
    history: dict[str, list[float]] = {"thinned_loss": [], "train_loss": [], "test_loss": [],
                                       "train_acc": [], "test_acc": []}
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(n_train)
        thinned_loss = 0.0
        for start in range(0, n_train, batch_size):
            rows = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(X_train[rows]), y_train[rows])
            loss.backward()
            optimizer.step()
            thinned_loss += loss.item() * len(rows)
        history["thinned_loss"].append(thinned_loss / n_train)
        model.eval()
        with torch.no_grad():
            for split, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
                logits = model(X)
                history[f"{split}_loss"].append(loss_fn(logits, y).item())
                history[f"{split}_acc"].append((logits.argmax(dim=1) == y).float().mean().item())
    return history["test_acc"][-1]


def sklearn_train(dataset: Dataset, config: TrainConfig) -> float:
    """scikit-learn's MLPClassifier with the same sizes, Adam, batch and epochs (no dropout)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=config.hidden, activation=config.activation, solver="adam", alpha=0.0,
        batch_size=config.batch_size, learning_rate_init=config.lr, max_iter=config.epochs,
        tol=0.0, n_iter_no_change=10**9, early_stopping=False, shuffle=True,
        random_state=config.seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the point here
        model.fit(dataset.X_train, dataset.y_train)
    return float(model.score(dataset.X_test, dataset.y_test))


# --------------------------------------------------------------------------- measuring


@dataclass
class Contender:
    """One implementation of a benchmark: run(epochs) trains and returns test accuracy(ies)."""

    label: str
    run: Callable[[int], float | list[float]]
    note: str = ""
    skip_reason: str | None = None


@dataclass
class Measurement:
    label: str
    note: str
    times: list[float] = field(default_factory=list)  # wall-clock seconds per repeat
    cpu_times: list[float] = field(default_factory=list)  # this process's CPU seconds
    test_acc: float | list[float] | None = None
    skip_reason: str | None = None

    @property
    def best(self) -> float | None:
        return min(self.times) if self.times else None

    @property
    def best_cpu(self) -> float | None:
        return min(self.cpu_times) if self.cpu_times else None


@dataclass
class BenchmarkResult:
    """One benchmark: our engine (the first measurement) and the contenders it is compared to."""

    key: str
    title: str
    measurements: list[Measurement]
    targets: dict[str, float]  # contender label -> minimum speed-up we aim for

    @property
    def ours(self) -> Measurement:
        return self.measurements[0]

    def ratio(self, label: str) -> float | None:
        """How many times faster our engine was than `label` (their best / our best)."""
        other = next(m for m in self.measurements if m.label == label)
        if other.best is None or self.ours.best is None:
            return None
        return other.best / self.ours.best


def measure(contenders: Sequence[Contender], epochs: int, repeats: int,
            warmup_epochs: int) -> list[Measurement]:
    """Warm every contender up, then time them in turns `repeats` times (best time counts)."""
    results = [Measurement(c.label, c.note, skip_reason=c.skip_reason) for c in contenders]
    live = [(c, m) for c, m in zip(contenders, results) if c.skip_reason is None]
    for contender, _ in live:
        contender.run(min(warmup_epochs, epochs))
    for _ in range(repeats):
        for contender, measurement in live:
            start, cpu_start = time.perf_counter(), time.process_time()
            measurement.test_acc = contender.run(epochs)
            measurement.times.append(time.perf_counter() - start)
            measurement.cpu_times.append(time.process_time() - cpu_start)
    return results


def _torch_contender(label: str, run: Callable[[int], float], note: str) -> Contender:
    missing = TORCH_MISSING if import_torch() is None else None
    return Contender(label, run, note, skip_reason=missing)


def bench_b1(sizes: Sizes) -> BenchmarkResult:
    data = moons()
    contenders = [
        Contender("dropout_viz train", lambda e: engine_train(data, b1_config(e)),
                  "NumPy float32 (as PyTorch), per-epoch train/test evaluation"),
        Contender("dropout_viz train, float64",
                  lambda e: engine_train(data, b1_config(e).replace(precision="float64")),
                  "the engine's default precision, for reference"),
        _torch_contender("PyTorch CPU", lambda e: torch_train(data, b1_config(e)),
                         "float32, same loop incl. per-epoch evaluation"),
        Contender("scikit-learn MLPClassifier", lambda e: sklearn_train(data, b1_config(e)),
                  "float64, NO dropout, no per-epoch test evaluation"),
    ]
    measurements = measure(contenders, sizes.b1_epochs, sizes.repeats, sizes.warmup_epochs)
    return BenchmarkResult("B1", f"moons n=400, 2-64-64-2, {sizes.b1_epochs} epochs",
                           measurements, {"PyTorch CPU": 6.0, "scikit-learn MLPClassifier": 3.0})


def bench_b2(sizes: Sizes) -> BenchmarkResult:
    data = digits()
    contenders = [
        Contender("dropout_viz train", lambda e: engine_train(data, b2_config(e)),
                  "NumPy float32 (as PyTorch), Glorot init (as Keras)"),
        Contender("dropout_viz train, float64",
                  lambda e: engine_train(data, b2_config(e).replace(precision="float64")),
                  "the engine's default precision, for reference"),
        _torch_contender("PyTorch CPU", lambda e: torch_train(data, b2_config(e)),
                         "float32, same loop incl. per-epoch evaluation"),
    ]
    measurements = measure(contenders, sizes.b2_epochs, sizes.repeats, sizes.warmup_epochs)
    return BenchmarkResult("B2", f"digits, 64-128-128-10 (Keras model), {sizes.b2_epochs} epochs",
                           measurements, {"PyTorch CPU": 3.0})


def bench_b3(sizes: Sizes) -> BenchmarkResult:
    data = moons()
    n_models = len(sizes.b3_p_values) * len(sizes.b3_seeds)

    def configs(epochs: int) -> list[TrainConfig]:
        return b3_configs(epochs, sizes.b3_p_values, sizes.b3_seeds)

    contenders = [
        Contender("dropout_viz train_many", lambda e: engine_many(data, configs(e)),
                  f"{n_models} models in one call"),
        Contender("train, one after another", lambda e: engine_sequential(data, configs(e)),
                  f"{n_models} calls"),
    ]
    measurements = measure(contenders, sizes.b3_epochs, sizes.repeats, sizes.warmup_epochs)
    return BenchmarkResult(
        "B3", f"{n_models} B1 models (p x seed), {sizes.b3_epochs} epochs", measurements,
        {"train, one after another": 2.0})


RUNNERS: dict[str, Callable[[Sizes], BenchmarkResult]] = {
    "B1": bench_b1, "B2": bench_b2, "B3": bench_b3}


# --------------------------------------------------------------------------- reporting


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info() -> dict[str, str]:
    import sklearn

    torch = import_torch()
    return {
        "CPU": f"{cpu_model()} ({_cpu_count()} logical cores)",
        "Python": platform.python_version(),
        "NumPy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "PyTorch": torch.__version__ if torch is not None else "not installed",
    }


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


def thread_settings() -> dict[str, str]:
    """The thread counts in force right now (call inside the threadpool limit)."""
    from threadpoolctl import threadpool_info

    settings = {}
    for pool in threadpool_info():
        name = f"{pool['internal_api']} ({pool['user_api']}, {pool.get('prefix', '')})"
        settings[name] = f"{pool['num_threads']} thread(s)"
    torch = import_torch()
    if torch is not None:
        settings["torch.get_num_threads()"] = str(torch.get_num_threads())
    return settings


def _format_acc(acc) -> str:
    if acc is None:
        return ""
    if isinstance(acc, list):
        return f"mean {np.mean(acc):.3f}"
    return f"{acc:.3f}"


def table_rows(results: Sequence[BenchmarkResult]) -> list[list[str]]:
    rows = []
    for result in results:
        for i, m in enumerate(result.measurements):
            if m.skip_reason is not None:
                rows.append([result.key, m.label, "-", "-", "-", "-", "", "", m.skip_reason])
                continue
            if i == 0:
                ratio, target, status = "1.00x", "", ""
            else:
                value = result.ratio(m.label)
                ratio = f"{value:.2f}x" if value is not None else "-"
                goal = result.targets.get(m.label)
                target = f">= {goal:g}x" if goal is not None else ""
                status = "" if goal is None or value is None else \
                    ("met" if value >= goal else "NOT met")
            rows.append([result.key, m.label, f"{m.best:.3f}", f"{m.best_cpu:.3f}", ratio,
                         target, status,
                         _format_acc(m.test_acc), m.note])
    return rows


HEADER = ["Bench", "Contender", "Best s", "CPU s", "Ours faster by", "Target", "Status",
          "Test acc", "Note"]


def load_note(results: Sequence[BenchmarkResult]) -> str:
    """Wall time far above CPU time means other processes took the cores: ratios are rough."""
    wall = sum(m.best for r in results for m in r.measurements if m.best is not None)
    cpu = sum(m.best_cpu for r in results for m in r.measurements if m.best_cpu is not None)
    if cpu <= 0:
        return ""
    note = f"Wall/CPU time = {wall / cpu:.2f}"
    if wall / cpu > 1.3:
        note += " (the machine was busy: compare the CPU-second columns; ratios are wall time)"
    return note


def format_text(results, info, threads, sizes: Sizes) -> str:
    rows = table_rows(results)
    widths = [max(len(str(r[c])) for r in [HEADER] + rows) for c in range(len(HEADER))]
    lines = ["Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()),
             "Threads: " + "; ".join(f"{k}: {v}" for k, v in threads.items()),
             f"Best of {sizes.repeats} round-robin repeat(s) after a warm-up. {load_note(results)}",
             ""]
    for result in results:
        lines.append(f"{result.key}: {result.title}")
    lines.append("")
    lines.append("  ".join(h.ljust(w) for h, w in zip(HEADER, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def format_markdown(results, info, threads, sizes: Sizes) -> str:
    lines = [f"- **{k}**: {v}" for k, v in info.items()]
    lines.append("- **Threads**: " + "; ".join(f"{k}: {v}" for k, v in threads.items()))
    lines.append(f"- Best of {sizes.repeats} round-robin repeat(s) after a warm-up. "
                 f"{load_note(results)}")
    lines += [f"- **{r.key}**: {r.title}" for r in results]
    lines += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table_rows(results)]
    return "\n".join(lines)


def run_benchmarks(keys: Sequence[str], sizes: Sizes,
                   progress: Callable[[str], None] | None = None) -> tuple[list, dict]:
    """Run the chosen benchmarks single-threaded; returns the results and the thread settings."""
    from threadpoolctl import threadpool_limits

    torch = import_torch()
    previous_torch_threads = torch.get_num_threads() if torch is not None else None
    results = []
    try:
        if torch is not None:
            torch.set_num_threads(1)
        with threadpool_limits(limits=1):
            threads = thread_settings()
            for key in keys:
                if progress is not None:
                    progress(f"running {key} ...")
                results.append(RUNNERS[key](sizes))
    finally:
        if torch is not None:
            torch.set_num_threads(previous_torch_threads)
    return results, threads


def parse_only(text: str | None) -> list[str]:
    if not text:
        return list(BENCHMARKS)
    keys = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [k for k in keys if k not in BENCHMARKS]
    if unknown or not keys:
        raise ValueError(f"--only takes a comma-separated subset of {', '.join(BENCHMARKS)}; "
                         f"got {text!r}")
    return list(dict.fromkeys(keys))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/engine_speed.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="short smoke run: few epochs, one repeat (ratios are indicative)")
    parser.add_argument("--only", help="comma-separated benchmarks to run, e.g. B1,B3")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args(argv)
    try:
        keys = parse_only(args.only)
    except ValueError as error:
        parser.error(str(error))
    sizes = QUICK if args.quick else FULL
    if import_torch() is None:
        print(f"PyTorch rows {TORCH_MISSING[len('skipped: '):]}.", file=sys.stderr)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results, threads = run_benchmarks(keys, sizes, progress)
    formatter = format_markdown if args.markdown else format_text
    print(formatter(results, machine_info(), threads, sizes))
    if args.quick:
        print("\n(--quick: tiny sizes, one repeat; targets are meant for the full run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
