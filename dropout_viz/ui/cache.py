"""Caches for the page: data sets and derived results, keyed by one resolved identity.

`resolve(settings)` is the training key with the data's content in it (an upload's SHA-256), and
every cache of the page derives its key from it, so two sessions' uploads never share an entry.
Results live in small LRUs shared by every session of the server (`LRUCache`), which build each
entry once (`get_or_build`: a class of thirty opening the same preset trains it once; the others
wait for it). Training runs are one of them (`RUNS`; runs.py trains them). It is not
`st.cache_data` on purpose: training reports progress to a bar on the page, and `st.cache_data`
records every element message sent during a miss and replays it on later hits. Entries are
returned without copying, so callers treat them as read-only.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections import OrderedDict

import streamlit as st

from dropout_viz import pipeline
from dropout_viz.data import Dataset
from dropout_viz.settings import UPLOAD, DataKey, Settings, TrainKey
from dropout_viz.ui import upload

MAX_RUNS = 24
MAX_DATASETS = 16


# How many sessions build cache entries (train, draw figures) at the same time; the others
# queue. That work holds Python's GIL nearly all the time, so twenty threads at once only take
# turns more slowly than two (each waits for the GIL and evicts the others' data from the
# processor's caches), and the first student in the queue is served first.
COMPUTE_SLOTS = 2
_COMPUTE = threading.BoundedSemaphore(COMPUTE_SLOTS)


class Flight:
    """An entry being built by one thread; others asking for the same key wait for it."""

    def __init__(self) -> None:
        self.done = 0  # how far the build is (training: epochs finished), for waiters to show
        self.landed = threading.Event()  # set when the build ended, finished or not


class LRUCache:
    """A thread-safe, bounded, least-recently-used mapping shared by every session, which
    builds each missing entry once: sessions asking for a key that another one is building wait
    for it (`get_or_build`) instead of building it again.

    Entries put ahead of use (`put(prepared=True)`, see prefetch.py) sit beside the others, at
    most `max_prepared` of them: they only ever displace each other, oldest first, and the
    first `get` makes one an ordinary entry."""

    def __init__(self, max_entries: int, max_prepared: int = 0):
        self.max_entries, self.max_prepared = max_entries, max_prepared
        self._items: OrderedDict = OrderedDict()
        self._prepared: OrderedDict = OrderedDict()
        self._flights: dict = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._prepared:
                self._insert(key, self._prepared.pop(key))
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def peek(self, key):
        """The entry, ordinary or prepared, without counting it as used."""
        with self._lock:
            return self._items.get(key, self._prepared.get(key))

    def put(self, key, value, prepared: bool = False) -> None:
        with self._lock:
            if not prepared:
                self._prepared.pop(key, None)
                self._insert(key, value)
            elif key not in self._items and self.max_prepared > 0:
                self._prepared[key] = value
                self._prepared.move_to_end(key)
                while len(self._prepared) > self.max_prepared:
                    self._prepared.popitem(last=False)

    def _insert(self, key, value) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def get_or_build(self, key, build, wait=None, gated=True):
        """The entry for `key`, or `build(flight)`'s result stored under it. While another
        thread builds the key, `wait(flight)` (default: until it lands) and look again: the
        entry is there, or that build was stopped and this thread builds it. A build may
        return None (then nothing is stored); `gated=False` for a build that waits for
        another process (workers.py) without holding a compute slot."""
        while True:
            value = self.get(key)
            if value is not None:
                return value
            with self._lock:
                flight = self._flights.get(key)
                building_here = flight is None
                if building_here:
                    flight = self._flights[key] = Flight()
            if not building_here:
                (wait or _wait_until_landed)(flight)
                continue
            try:
                with _COMPUTE if gated else contextlib.nullcontext():
                    value = build(flight)
                if value is not None:  # None: nothing built (workers.py had no worker)
                    self.put(key, value)
                return value
            finally:
                with self._lock:
                    del self._flights[key]
                flight.landed.set()

    def in_flight(self) -> list:
        with self._lock:
            return list(self._flights)

    def __len__(self) -> int:
        return len(self._items) + len(self._prepared)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._prepared.clear()


def _wait_until_landed(flight: Flight) -> None:
    flight.landed.wait()


# Room for one p grid of prepared runs (prefetch.py) beside the MAX_RUNS that sessions asked for.
MAX_PREPARED = 19
RUNS = LRUCache(MAX_RUNS, MAX_PREPARED)


class ScriptCount:
    """How many page scripts run right now, and since when none has: background work
    (prefetch.py) starts only after the server has been idle for a moment."""

    def __init__(self) -> None:
        self._count = 0
        self._last_end = 0.0  # time.monotonic() when the last script ended
        self._lock = threading.Lock()
        self._inside = threading.local()  # whether this thread's script is counted already

    @contextlib.contextmanager
    def running(self):
        with self._lock:
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                self._last_end = time.monotonic()

    def counted(self, script):
        """Decorate the page's main function, and the view it reruns alone (page.py), so that
        each run of either is counted, once: the view inside its page's run is not counted
        again."""
        @functools.wraps(script)
        def counted_script(*args, **kwargs):
            if getattr(self._inside, "script", False):
                return script(*args, **kwargs)
            self._inside.script = True
            try:
                with self.running():
                    return script(*args, **kwargs)
            finally:
                self._inside.script = False
        return counted_script

    def idle_for(self) -> float:
        """Seconds since the last script ended, 0 while one runs."""
        with self._lock:
            return 0.0 if self._count else time.monotonic() - self._last_end

    def __bool__(self) -> bool:
        return self._count > 0

    def shared(self) -> bool:
        """Another page script runs beside the caller's (the GIL is contended)."""
        with self._lock:
            return self._count > 1


SCRIPTS = ScriptCount()


@st.cache_data(max_entries=MAX_DATASETS, show_spinner=False)
def _generated_dataset(key: DataKey) -> Dataset:
    return pipeline.dataset_for(key)


@st.cache_data(max_entries=MAX_DATASETS, show_spinner=False)
def _uploaded_dataset(digest: str, test_fraction: float, seed: int, _raw: bytes) -> Dataset:
    # Keyed by the content's digest; the bytes themselves (leading _) are not hashed again.
    return upload.read(_raw, test_fraction, seed)


def resolve(settings: Settings) -> TrainKey:
    """The one identity of everything cached for these settings: the training key with the
    data's content in it (an upload's SHA-256). Every cache of the page derives its key from
    this one: runs, animations, curves, galleries, sweeps, Learn probes."""
    if settings.dataset != UPLOAD:
        return settings.train_key()
    uploaded = upload.current()
    if uploaded is None:
        raise ValueError("The dataset is 'upload' but no file was uploaded in this session.")
    return settings.train_key(content=uploaded.digest)


def get_dataset(key: DataKey) -> Dataset:
    if not key.content:
        return _generated_dataset(key)
    uploaded = upload.current()
    if uploaded is None or uploaded.digest != key.content:
        raise ValueError("This session no longer holds the uploaded file these settings "
                         "name: upload it again.")
    return _uploaded_dataset(key.content, key.test_fraction, key.data_seed, uploaded.raw)

_OTHER_CACHES: list = []


def register(clear) -> None:
    """Let clear_all() also empty a tab's own cache (pass its `clear` function)."""
    _OTHER_CACHES.append(clear)


def clear_all() -> None:
    """Forget every cached data set, run and derived result (tests call this between runs)."""
    RUNS.clear()
    _generated_dataset.clear()
    _uploaded_dataset.clear()
    for clear in _OTHER_CACHES:
        clear()
