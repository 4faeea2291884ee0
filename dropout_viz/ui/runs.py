"""Training runs on the page: from the shared cache, waited for, or trained now.

A run is trained once for the whole server (`cache.RUNS.get_or_build`), bounded by
SNAPSHOT_BUDGET_BYTES of stored weights per run, and only after a click when it would take
longer than LONG_RUN_S (`LongRun`, `ask_to_start`).

Long runs stay interruptible: while the progress bar shows, every update is a point where
Streamlit may end the script. With runner.fastReruns a newer rerun (a slider moved, a button
clicked) tells the running script to stop and starts a new one at once, in parallel; the old
one raises Streamlit's stop exception at its next Streamlit call. The reporter turns that into
a clean stop of the engine. A superseded run is dropped; a run the user stopped with "Stop
training" is handed over (`HANDOVER`: the old script can no longer touch session state) to the
new script, which keeps it for that session with the epochs it finished (`run.stopped_at`).
"""

from __future__ import annotations

import threading
import time
import uuid

import streamlit as st

from dropout_viz import pipeline
from dropout_viz.engine import TrainingRun
from dropout_viz.settings import TrainKey
from dropout_viz.ui import workers
from dropout_viz.ui.cache import RUNS, SCRIPTS, Flight, get_dataset

SNAPSHOT_BUDGET_BYTES = 48 * 2**20
SHOW_PROGRESS_AFTER_S = 0.6
MAX_STOPPED_RUNS = 2  # per session
SESSION_ID = "_session_id"  # session key: this session's id for the stop hand-over
STOPPED_RUNS = "_stopped_runs"  # session key: {TrainKey: stopped TrainingRun}
STOP_WAIT_S = 0.5  # an interrupted run waits this long for a Stop click to be registered
HANDOVER_WAIT_S = 15.0  # the new script waits at most this long for the stopped run
LONG_RUN_S = 20.0  # a run estimated to take longer starts only on a click
CONFIRMED_RUNS = "_confirmed_long_runs"  # session key: the long runs this session started


class LongRun(Exception):
    """The run for `key` would take about `seconds`: the page asks before training it."""

    def __init__(self, key: TrainKey, seconds: float):
        super().__init__(f"training would take about {seconds:.0f} s")
        self.key, self.seconds = key, seconds


def weight_bytes_per_epoch(key: TrainKey, n_features: int, n_outputs: int) -> int:
    """Bytes of one stored epoch of weights and biases (float64)."""
    sizes = (n_features,) + key.hidden + (n_outputs,)
    return 8 * sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def snapshot_stride(key: TrainKey, n_features: int, n_outputs: int) -> int:
    """Keep every k-th epoch's weights so one run stays within SNAPSHOT_BUDGET_BYTES."""
    per_epoch = weight_bytes_per_epoch(key, n_features, n_outputs)
    return max(1, -(-key.epochs * per_epoch // SNAPSHOT_BUDGET_BYTES))


class ProgressReporter:
    """Shows a progress bar only when training is slow, and gives Streamlit a chance to
    interrupt the run when a newer slider value arrives (every st call is such a point)."""

    def __init__(self, epochs: int, label: str = "Training", stop_key: str | None = None,
                 slot=None):
        """With `stop_key`, a "Stop training" button (that key) shows beside the bar, and an
        interruption stops the engine (returns False) and is kept in `interruption` for the
        caller to re-raise; without it, the interruption propagates through the engine.
        `slot` (an `st.empty()`) is where the bar goes; without one, it is made when needed."""
        self.epochs, self.label, self.stop_key = epochs, label, stop_key
        self.started = time.perf_counter()
        self.slot = slot
        self.box = None
        self.bar = None
        self.last_update = 0.0
        self.interruption: BaseException | None = None

    def __call__(self, epoch: int, metrics: dict) -> bool | None:
        if self.interruption is not None:
            return False
        now = time.perf_counter()
        if now - self.started < SHOW_PROGRESS_AFTER_S or now - self.last_update < 0.1:
            return None
        self.last_update = now
        text = f"{self.label}: epoch {epoch + 1} of {self.epochs}"
        try:
            if self.bar is None:
                # A placeholder, so that done() can clear the bar and the button again.
                self.box = st.empty() if self.slot is None else self.slot
                inner = self.box.container()
                self.bar = inner.progress(0.0, text=text)
                if self.stop_key is not None:
                    inner.button("Stop training", key=self.stop_key, on_click=_request_stop,
                                    help="Stop now and keep the epochs finished so far.")
            self.bar.progress((epoch + 1) / self.epochs, text=text)
        except BaseException as interruption:
            if self.stop_key is None or not is_interruption(interruption):
                raise
            self.interruption = interruption
            return False
        return None

    def done(self) -> None:
        if self.box is not None:
            self.box.empty()


class StopHandover:
    """Passes a run stopped by its session's Stop button from the old script thread (which
    trains, and is being stopped) to the new one (which the click started), per session id.
    Holds at most one run per session, and only for the moment of the hand-over."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._training: dict[str, TrainKey] = {}
        self._stop_requested: dict[str, TrainKey] = {}  # the run the click meant to stop
        self._stopped: dict[str, tuple[TrainKey, TrainingRun]] = {}

    def started(self, session_id: str, run_key: TrainKey) -> None:
        with self._changed:
            self._training[session_id] = run_key

    def request_stop(self, session_id: str) -> None:
        with self._changed:
            if session_id in self._training:
                self._stop_requested[session_id] = self._training[session_id]
            self._changed.notify_all()

    def finished(self, session_id: str, run_key: TrainKey, run: TrainingRun,
                 interrupted: bool, wait_s: float = STOP_WAIT_S) -> None:
        """The old script's training ended. Keep the run only if the Stop button caused the
        interruption (its click may register a moment after the interruption itself)."""
        with self._changed:
            if interrupted and self._changed.wait_for(
                    lambda: self._stop_requested.get(session_id) == run_key, timeout=wait_s):
                self._stopped[session_id] = (run_key, run)
            if self._training.get(session_id) == run_key:
                del self._training[session_id]
            self._changed.notify_all()

    def take_stopped(self, session_id: str, wait_s: float = HANDOVER_WAIT_S):
        """(run_key, run) stopped in this session, waiting for the old script if needed."""
        with self._changed:
            if session_id not in self._stop_requested:
                return None
            self._changed.wait_for(lambda: session_id in self._stopped
                                   or session_id not in self._training, timeout=wait_s)
            self._stop_requested.pop(session_id, None)
            return self._stopped.pop(session_id, None)


HANDOVER = StopHandover()


def is_interruption(error: BaseException) -> bool:
    """Whether Streamlit is ending this script: it raises, from the next st call, an exception
    that is neither an Exception nor one of Python's own BaseExceptions."""
    return not isinstance(error, (Exception, KeyboardInterrupt, SystemExit, GeneratorExit))


def _session_id() -> str:
    # An id of our own in the session's state: the old script of a session and the new one
    # its Stop click starts share it.
    return st.session_state.setdefault(SESSION_ID, uuid.uuid4().hex)


def _request_stop() -> None:
    # Runs in the new script the click starts, while the old one is being stopped.
    HANDOVER.request_stop(_session_id())


def _stopped_run(run_key: TrainKey, session, session_id: str) -> TrainingRun | None:
    """This session's stopped run for `run_key` (just handed over, or kept from before)."""
    stopped = session.setdefault(STOPPED_RUNS, {})
    handed = HANDOVER.take_stopped(session_id)
    if handed is not None:
        stopped_key, run = handed
        stopped.pop(stopped_key, None)
        stopped[stopped_key] = run
        while len(stopped) > MAX_STOPPED_RUNS:
            stopped.pop(next(iter(stopped)))
    return stopped.get(run_key)


def _stop_key(run_key: TrainKey) -> str:
    return f"_stop_training_{hash(run_key) & 0xFFFFFFFF:08x}"


def _train_fully(run_key: TrainKey) -> None:
    st.session_state.get(STOPPED_RUNS, {}).pop(run_key, None)


def _stopped_note(run_key: TrainKey, run: TrainingRun) -> None:
    finished = run.epochs_completed
    st.info(f"Training was stopped after epoch {finished} of {run_key.epochs}: everything "
            f"below shows the {finished} epoch{'s' if finished != 1 else ''} finished so far.")
    st.button(f"Train all {run_key.epochs} epochs", key=_stop_key(run_key) + "_resume",
              on_click=_train_fully, args=(run_key,))


def get_run(key: TrainKey, session=None, session_id: str | None = None) -> TrainingRun:
    """The trained run for `key` (from `resolve`): this session's stopped run, the shared
    cache, the run another session is training right now (waited for, not trained twice), or
    training now (interruptible; see the module docstring). `session` defaults to
    st.session_state and `session_id` to this script's session."""
    session = st.session_state if session is None else session
    session_id = _session_id() if session_id is None else session_id
    # The progress bar's place, made by every run whether it trains or not: a bar that came
    # and went must not shift what follows (the page would mount its charts afresh).
    slot = st.empty()
    stopped = _stopped_run(key, session, session_id)
    if stopped is not None:
        _stopped_note(key, stopped)
        return stopped
    run = RUNS.get(key)
    if run is not None:
        return run
    dataset = get_dataset(key.data)
    seconds = pipeline.estimated_training_s_on(key, dataset)
    if seconds > LONG_RUN_S and key not in session.get(CONFIRMED_RUNS, ()):
        raise LongRun(key, seconds)
    wait = lambda flight: _wait_for(flight, key.epochs, slot)  # noqa: E731
    # A worker's round trip (the run pickled there and back) costs a page alone more than it
    # saves; it pays when other pages compute meanwhile.
    if seconds <= workers.QUICK_RUN_S and workers.POOL.ready() and SCRIPTS.shared():
        run = RUNS.get_or_build(key, lambda _: _train_in_worker(key), wait=wait, gated=False)
        if run is not None:
            return run
    return RUNS.get_or_build(key, lambda flight: _train(key, session_id, flight, slot), wait=wait)


def _train_in_worker(key: TrainKey) -> TrainingRun | None:
    """The run from a worker process, or None (nothing is stored) when none can take it."""
    dataset = get_dataset(key.data)
    return workers.POOL.run(workers.train_quick_run, dataset, pipeline.config_for(key),
                            snapshot_stride(key, dataset.n_features, dataset.n_outputs))


def _wait_for(flight: Flight, epochs: int, slot) -> None:
    """Wait while another session trains this run, with its progress on a bar (in `slot`);
    every bar update is a point where a newer rerun of this session may stop the wait."""
    reporter = ProgressReporter(epochs, label="Training (started in another session)",
                                slot=slot)
    while not flight.landed.wait(0.1):
        if flight.done:  # a run in a worker (quick) reports no epochs
            reporter(flight.done - 1, {})
    reporter.done()


def _train(key: TrainKey, session_id: str, flight: Flight, slot) -> TrainingRun:
    dataset = get_dataset(key.data)
    reporter = ProgressReporter(key.epochs, stop_key=_stop_key(key), slot=slot)

    def on_epoch(epoch: int, metrics: dict) -> bool | None:
        flight.done = epoch + 1
        return reporter(epoch, metrics)

    stride = snapshot_stride(key, dataset.n_features, dataset.n_outputs)
    HANDOVER.started(session_id, key)
    interrupted = True
    run = None
    try:
        run = pipeline.train(dataset, pipeline.config_for(key), on_epoch=on_epoch,
                             store_weights=stride)
        interrupted = reporter.interruption is not None
    finally:
        if interrupted:  # also on an error: never leave this session marked as training
            HANDOVER.finished(session_id, key, run if reporter.interruption else None,
                              interrupted=reporter.interruption is not None)
    if reporter.interruption is not None:
        raise reporter.interruption
    HANDOVER.finished(session_id, key, run, interrupted=False)
    reporter.done()
    return run


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def _confirm(key: TrainKey) -> None:
    st.session_state.setdefault(CONFIRMED_RUNS, set()).add(key)


def ask_to_start(long_run: LongRun) -> None:
    """What a tab shows instead of a long run: how long it would take, and a button."""
    key = long_run.key
    st.warning(
        f"With these settings training would take about {duration_text(long_run.seconds)} "
        f"on this server ({key.epochs} epochs of {key.n_layers} × {key.width} units in "
        f"mini-batches of {key.batch_size}), so it does not start by itself. Fewer epochs, "
        "fewer or narrower layers or a larger batch make it quicker; or start it now: a "
        "progress bar and a Stop button keep the epochs finished so far.")
    st.button(f"Start training (about {duration_text(long_run.seconds)})", type="primary",
              key=f"_start_{_stop_key(key)}", on_click=_confirm, args=(key,))
