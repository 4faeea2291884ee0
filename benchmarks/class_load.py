"""A class at once, without browsers: N sessions drive one Streamlit server over its websocket.

    flock /tmp/cpu-heavy.lock python benchmarks/class_load.py [--sessions 20] [--markdown]
    python benchmarks/class_load.py --quick      # smoke run: 3 sessions, 2 moves (use flock too)

A session speaks the browser's protocol (`streamlit.proto`) on ws://127.0.0.1:PORT/_stcore/stream
(subprotocol "streamlit", Origin = the server). Connecting runs nothing: the browser first sends
a `BackMsg.rerun_script` with the URL's query string and no widget states, and reads
`ForwardMsg`s (`new_session`, `delta`s whose widget elements carry their `id`,
`page_info_changed` with the new query string) until `script_finished`. Like the browser, a
session keeps a state for each widget drawn in the last run (the value the server set, else the
default) and sends them all with every rerun (one left out would keep its old value on the
server), with the hashes of the large messages it still holds (the server then sends only a
reference). A widget drawn inside a fragment (its delta names the fragment) reruns only that
fragment, as in the browser: the rerun names it, and only that fragment's widgets not drawn again
are forgotten. Times run from sending a rerun to its `script_finished`: on loopback, server time.

1. Reference: a trivial page (page_latency.TRIVIAL_PAGE: a chart, a p slider), one session moving
   the slider. The app's times and bytes are also given as ratios to it.
2. One session under a new seed: p moved to values not trained yet, then back to values trained
   before (medians of --moves), with the bytes received per move.
2b. One session under another new seed, left idle until the server has prepared the p grid
   (ui/prefetch.py; "idle": the CPU time of the server and its workers stops growing), then p
   moved to values no session asked for.
3. N sessions opening one link (a new seed, shared) at once.
4. N sessions, each opened under a new seed of its own, moving p at once to a grid value
   right away (nothing prepared).
5. N sessions opening one link (a new seed), the grid prepared while idle, then all moving p
   at once, each to another value.

A move is verified when the URL then shows the new p and otherwise what the link held.
Exception elements are counted; the server's RSS is read from /proc. Targets are printed, never
asserted. Every wait is bounded (RERUN_TIMEOUT_S, MAX_MESSAGES).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import DoubleArray
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "browser"), str(REPO / "benchmarks")]

from harness import APP, StreamlitServer  # noqa: E402
from page_latency import TRIVIAL_PAGE  # noqa: E402

from dropout_viz.settings import DEFAULTS  # noqa: E402
from dropout_viz.ui.prefetch import IDLE_GRACE_S  # noqa: E402

P_KEY = "p_hidden"
GRID = [round(0.05 * k, 2) for k in range(19) if k != 10]  # the slider's values except 0.5
TARGETS = {"move_one_s": 0.15, "open_all_s": 5.0, "move_all_s": 3.0}
RERUN_TIMEOUT_S = 300.0  # bounds every rerun
MAX_MESSAGES = 20_000  # bounds the messages read for one rerun
REFERENCE_PAGE = TRIVIAL_PAGE  # one chart and the app's p slider, mirrored in the URL


@dataclass
class Rerun:
    seconds: float
    bytes: int
    exceptions: int  # exception elements received
    verified: bool | None  # a move: the URL shows the new p and otherwise what the link held


def element_state(kind: str, w) -> tuple[WidgetState | None, bool]:
    """The state a browser holds for a widget just drawn, and whether the server set it (then
    it replaces the browser's value; else it is the default). Buttons, downloads and uploads
    hold nothing until used."""
    state = WidgetState(id=getattr(w, "id", ""))
    if kind == "slider" and w.type == w.SELECT_SLIDER:
        state.string_array_value.data[:] = (w.raw_value if w.set_value
                                            else [w.options[int(i)] for i in w.default])
    elif kind == "slider":
        state.double_array_value.data[:] = w.value if w.set_value else w.default
    elif kind in ("selectbox", "radio") and (w.set_value or w.HasField("default")):
        state.string_value = w.raw_value if w.set_value else w.options[w.default]
    elif kind == "checkbox":
        state.bool_value = w.value if w.set_value else w.default
    elif kind == "multiselect":
        state.string_array_value.data[:] = (w.raw_values if w.set_value
                                            else [w.options[int(i)] for i in w.default])
    else:
        return None, False
    return state, w.set_value


class Session:
    """One browser tab: a websocket, its widgets' states, its message cache, its URL."""

    log: list[Rerun] = []  # every rerun of every session, for the totals

    def __init__(self, port: int, query: str = ""):
        self.port, self.query, self.link = port, query, parse_qs(query)
        self.states: dict[str, WidgetState] = {}  # widget id -> state, as the browser holds
        self.ids: dict[str, str] = {}  # user key -> widget id ("$$ID-<hash>-<key>")
        self.fragments: dict[str, str] = {}  # widget id -> the fragment that drew it ("": none)
        self.cache: dict[str, int] = {}  # hash of a large message -> run it was last used in
        self.runs, self.max_age = 0, 2  # the browser drops messages unused for max_age runs
        self.page_hash = ""  # "" until new_session names the page
        self.ws = None

    async def connect(self) -> Session:
        self.ws = await websockets.connect(
            f"ws://127.0.0.1:{self.port}/_stcore/stream", subprotocols=["streamlit"],
            origin=f"http://127.0.0.1:{self.port}", max_size=None, ping_interval=None,
            open_timeout=30)
        return self

    async def rerun(self, p: float | None = None) -> Rerun:
        """Send every widget's state (the p slider moved to `p`, if given) and read the
        messages until the run's script_finished."""
        fragment = ""
        if p is not None:
            wid = self.ids[P_KEY]
            self.states[wid] = WidgetState(id=wid, double_array_value=DoubleArray(data=[p]))
            fragment = self.fragments.get(wid, "")
        back = BackMsg()
        back.rerun_script.fragment_id = fragment
        back.rerun_script.query_string = self.query
        back.rerun_script.page_script_hash = self.page_hash
        back.rerun_script.widget_states.widgets.extend(self.states.values())
        back.rerun_script.cached_message_hashes.extend(self.cache)
        started = time.perf_counter()
        await self.ws.send(back.SerializeToString())
        received = exceptions = 0
        drawn: set[str] = set()
        tabs: list = []  # the last tab container: its id, open index, then its tabs' labels
        async with asyncio.timeout(RERUN_TIMEOUT_S):
            for _ in range(MAX_MESSAGES):
                data = await self.ws.recv()
                received += len(data)
                msg = ForwardMsg.FromString(data)
                kind = msg.WhichOneof("type")
                if msg.metadata.cacheable or kind == "ref_hash":
                    self.cache[msg.ref_hash or msg.hash] = self.runs
                if kind == "new_session":
                    self.page_hash = msg.new_session.page_script_hash
                    self.max_age = msg.new_session.config.max_cached_message_age
                elif kind == "page_info_changed":
                    self.query = msg.page_info_changed.query_string
                elif kind == "delta" and msg.delta.HasField("new_element"):
                    element = msg.delta.new_element
                    element_kind = element.WhichOneof("type")
                    exceptions += element_kind == "exception"
                    state, server_set = element_state(element_kind, getattr(element, element_kind))
                    if state is not None:
                        self.fragments[state.id] = msg.delta.fragment_id
                    self._drawn(drawn, state, server_set)
                elif kind == "delta" and msg.delta.HasField("add_block"):
                    block = msg.delta.add_block
                    if block.tab_container.id:
                        tabs = [block.tab_container.id, block.tab_container.default_tab_index]
                    elif block.HasField("tab") and tabs:
                        tabs.append(block.tab.label)
                        if len(tabs) == tabs[1] + 3:  # the open tab: the server's choice
                            self._drawn(drawn, WidgetState(id=tabs[0], string_value=tabs[-1]), True)
                elif (kind == "script_finished"
                      and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN):
                    # The browser forgets widgets this run did not draw (of a fragment's run,
                    # that fragment's) and old messages.
                    self.states = {wid: s for wid, s in self.states.items() if wid in drawn
                                   or (fragment and self.fragments.get(wid) != fragment)}
                    self.runs += 1
                    self.cache = {h: run for h, run in self.cache.items()
                                  if self.runs - run <= self.max_age}
                    seconds = time.perf_counter() - started
                    self.log.append(Rerun(seconds, received, exceptions, self.moved_to(p)))
                    return self.log[-1]
        raise RuntimeError(f"no script_finished within {MAX_MESSAGES} messages")

    def moved_to(self, p: float | None) -> bool | None:
        if p is None:
            return None
        params = parse_qs(self.query)
        return (abs(float(params.pop(P_KEY, [DEFAULTS.p_hidden])[-1]) - p) < 1e-9
                and params == self.link)

    def _drawn(self, drawn: set[str], state: WidgetState | None, server_set: bool) -> None:
        """A widget was drawn: a new one, or one the server set, takes the element's value;
        one the browser holds already keeps the browser's value."""
        if state is not None:
            drawn.add(state.id)
            self.ids[state.id.split("-", 2)[-1]] = state.id
            if server_set or state.id not in self.states:
                self.states[state.id] = state


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its worker processes."""
    total = 0
    for path in Path("/proc").glob("[0-9]*/status"):
        try:
            status = path.read_text()
        except OSError:
            continue
        if path.parent.name == str(pid) or re.search(rf"PPid:\s+{pid}\n", status):
            found = re.search(r"VmRSS:\s+(\d+) kB", status)
            total += int(found.group(1)) if found else 0
    return total / 1024


async def open_all(port: int, queries: list[str]) -> tuple[list[Session], list[Rerun]]:
    """Connect every session, then send all their first runs at once."""
    sessions = await asyncio.gather(*(Session(port, q).connect() for q in queries))
    return sessions, await asyncio.gather(*(s.rerun() for s in sessions))


async def alone(port: int, query: str, moves: int) -> dict[str, float]:
    """Scenario 1 or 2: open, move p down the grid to new values, then back to seen ones."""
    [session], _ = await open_all(port, [query])
    new = [round(DEFAULTS.p_hidden - 0.05 * (k + 1), 2) for k in range(moves)]
    seen = new[-2::-1] + [DEFAULTS.p_hidden]
    runs = {"new": [await session.rerun(p) for p in new],
            "seen": [await session.rerun(p) for p in seen]}
    await session.ws.close()
    return {f"{name}_{what}": statistics.median(getattr(r, what) for r in rs)
            for name, rs in runs.items() for what in ("seconds", "bytes")}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and of its child processes (the server's
    workers, ui/workers.py), from /proc/PID/stat."""
    def stat(path: Path) -> list[str]:
        return path.read_text().rsplit(")", 1)[1].split()

    total = 0
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat(path)
        except OSError:  # ended meanwhile
            continue
        if path.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: parent's pid
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def worker_count(pid: int) -> int:
    """The server's worker processes (ui/workers.py) running so far."""
    count = 0
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = path.read_text().rsplit(")", 1)[1].split()[1]
            command = (path.parent / "cmdline").read_bytes()
        except OSError:
            continue
        count += parent == str(pid) and b"spawn_main" in command
    return count


async def until_idle(pid: int, quiet_s: float = 0.5, timeout_s: float = 300.0) -> float:
    """Seconds until the server's CPU time (its workers' included) stops growing: its
    background work is done. Counted after its workers have started and the pause before that
    work starts (prefetch.IDLE_GRACE_S)."""
    started = time.perf_counter()
    while worker_count(pid) < 2:  # a fresh server starts its workers after a quiet moment
        if time.perf_counter() - started > timeout_s:
            raise RuntimeError(f"the server had no workers after {timeout_s:.0f} s")
        await asyncio.sleep(0.1)
    await asyncio.sleep(IDLE_GRACE_S + quiet_s)
    last = cpu_seconds(pid)
    while time.perf_counter() - started < timeout_s:
        await asyncio.sleep(quiet_s)
        now = cpu_seconds(pid)
        if now - last < 0.05 * quiet_s:
            return time.perf_counter() - started - quiet_s
        last = now
    raise RuntimeError(f"the server was still busy after {timeout_s:.0f} s")


async def prepared(port: int, pid: int, query: str, moves: int) -> dict[str, float]:
    """Scenario 2b: open under a new seed, leave the server idle until it has prepared the p
    grid (prefetch.py), then move p to values no session has asked for."""
    [session], _ = await open_all(port, [query])
    ready_s = await until_idle(pid)
    new = [round(DEFAULTS.p_hidden + 0.05 * (k + 1), 2) for k in range(moves)]
    runs = [await session.rerun(p) for p in new]
    await session.ws.close()
    return {"grid_ready_s": ready_s,
            "prepared_seconds": statistics.median(r.seconds for r in runs),
            "prepared_bytes": statistics.median(r.bytes for r in runs)}


async def class_of(port: int, pid: int, n: int, seed: int) -> dict[str, float]:
    """Scenario 3 (one link, a new seed, for all), 4 (a new seed each, all move p at once
    right away: nothing prepared) and 5 (one link, a new seed; all move p at once, each to
    another value, after the server prepared the grid while idle)."""
    sessions, shared = await open_all(port, [f"seed={seed}"] * n)
    await asyncio.gather(*(s.ws.close() for s in sessions))
    sessions, own = await open_all(port, [f"seed={seed + 1 + i}" for i in range(n)])
    moved = await asyncio.gather(*(s.rerun(GRID[i % len(GRID)]) for i, s in enumerate(sessions)))
    await asyncio.gather(*(s.ws.close() for s in sessions))
    sessions, _ = await open_all(port, [f"seed={seed + n + 1}"] * n)
    ready_s = await until_idle(pid)
    linked = await asyncio.gather(*(s.rerun(GRID[i % len(GRID)])
                                    for i, s in enumerate(sessions)))
    await asyncio.gather(*(s.ws.close() for s in sessions))
    return {"class_grid_ready_s": ready_s} | {
        f"{name}_{stat.__name__}": stat(r.seconds for r in runs)
        for name, runs in (("open", shared), ("open_own", own), ("move", moved),
                           ("move_linked", linked))
        for stat in (max, statistics.median)}


def measure(sessions: int, moves: int) -> tuple[dict, dict]:
    """The reference page's server, then the app's (seeds from 7000 are new to it)."""
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "reference_page.py"
        page.write_text(REFERENCE_PAGE)
        with StreamlitServer(page) as plain:
            reference = asyncio.run(alone(plain.port, "", moves))
    with StreamlitServer(APP) as server:
        app = {"rss_before": rss_mb(server.process.pid)}
        pid = server.process.pid
        app.update(asyncio.run(alone(server.port, "seed=7000", moves)))
        app.update(asyncio.run(prepared(server.port, pid, "seed=7001", moves)))
        app.update(asyncio.run(class_of(server.port, pid, sessions, 7100)))
        app["rss_after"] = rss_mb(server.process.pid)
    return reference, app


def table(ref: dict, app: dict, n: int) -> list[tuple[str, ...]]:
    """Rows of (measurement, value, ratio to the reference page's move, target)."""
    def row(label: str, key: str, target: float | None = None, at: dict = app):
        if key.endswith("ready_s"):
            return label, f"{at[key]:.1f} s", "", ""
        unit = "bytes" if key.endswith("bytes") else "seconds"
        value, base = at[key], ref[f"new_{unit}"]
        shown = f"{value / 1024:,.0f} KB" if unit == "bytes" else f"{value:.3f} s"
        return label, shown, f"{value / base:.1f}", f"≤ {target:g} s" if target else ""

    moves = [run.verified for run in Session.log if run.verified is not None]
    return [
        row("1. reference page: one slider move (median)", "new_seconds", at=ref),
        row("1. reference page: bytes per move", "new_bytes", at=ref),
        row("2. one session: p to a new value (median)", "new_seconds", TARGETS["move_one_s"]),
        row("2. bytes per move to a new value (median)", "new_bytes"),
        row("2. one session: p back to a seen value (median)", "seen_seconds",
            TARGETS["move_one_s"]),
        row("2. bytes per move to a seen value (median)", "seen_bytes"),
        row("2b. one session: the p grid prepared after opening, in", "grid_ready_s"),
        row("2b. then p to a value no session asked for (median)", "prepared_seconds",
            TARGETS["move_one_s"]),
        row("2b. bytes per move to a prepared value (median)", "prepared_bytes"),
        row(f"3. {n} open one link at once: slowest", "open_max", TARGETS["open_all_s"]),
        row(f"3. {n} open one link at once: median", "open_median"),
        row(f"4. {n} open, each a new seed: slowest", "open_own_max"),
        row(f"4. {n} move p at once, new seeds: slowest", "move_max", TARGETS["move_all_s"]),
        row(f"4. {n} move p at once, new seeds: median", "move_median"),
        row(f"5. {n} open one link, its p grid prepared in", "class_grid_ready_s"),
        row("5. then all move p at once, each to another value: slowest", "move_linked_max",
            TARGETS["move_all_s"]),
        row("5. then all move p at once: median", "move_linked_median"),
        ("exception elements received", str(sum(r.exceptions for r in Session.log)), "", "0"),
        ("moves verified in the URL", f"{sum(moves)}/{len(moves)}", "", "all"),
        ("app server RSS before → after", f"{app['rss_before']:.0f} → {app['rss_after']:.0f} MB",
         "", ""),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="sessions in scenarios 3, 4")
    parser.add_argument("--moves", type=int, default=5, help="moves per median in scenario 2")
    parser.add_argument("--quick", action="store_true", help="3 sessions, 2 moves")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    sessions, moves = (3, 2) if args.quick else (args.sessions, args.moves)
    if not 1 <= sessions <= 100 or not 1 <= moves <= 9:
        parser.error("--sessions must be 1..100 and --moves 1..9")
    started = time.perf_counter()
    rows = table(*measure(sessions, moves), sessions)
    header = ("measurement", "value", "× reference", "target")
    if args.markdown:
        lines = ["| " + " | ".join(row) + " |" for row in (header, ("---",) * 4, *rows)]
    else:
        widths = [max(len(row[i]) for row in (header, *rows)) for i in range(4)]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                 for row in (header, *rows)]
    print("\n".join(lines))
    took = time.perf_counter() - started
    print(f"\n{sessions} sessions, medians of {moves} moves; took {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
