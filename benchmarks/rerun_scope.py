"""What the page's other controls cost a slider move, and what an `st.fragment` would save.

    flock /tmp/cpu-heavy.lock python benchmarks/rerun_scope.py [--rounds 8] [--markdown]

Three synthetic pages in headless Chromium, each with page_latency.py's trivial page (a p slider
mirrored in the URL and a 200-point Plotly chart): the page alone; the page with a sidebar of
about the app's controls (14 more sliders, 5 select boxes, 2 radios, 2 check boxes, a
multiselect, a file uploader, 2 buttons, 6 notes); and the same with the slider and its chart
in a fragment, so a move reruns only them. Times a slider move (key press until the page is
idle with the chart changed) and a rerun that changes nothing (the R key), in alternating
rounds, medians against the page alone. A design probe for moving p into a fragment, not a
test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests" / "browser"),
                str(Path(__file__).resolve().parent)]

from harness import StreamlitServer, chromium, record_script_states, wait_until_loaded  # noqa: E402
from page_latency import TRIVIAL_PAGE, move_ms, rerun_ms  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

CONTROLS = '''
with st.sidebar:
    for i in range(14):
        st.slider(f"setting {i}", 0.0, 1.0, 0.5, key=f"setting_{i}")
    for i in range(5):
        st.selectbox(f"choice {i}", ["a", "b", "c"], key=f"choice_{i}")
    for i in range(2):
        st.radio(f"radio {i}", ["x", "y"], key=f"radio_{i}", horizontal=True)
        st.checkbox(f"box {i}", key=f"box_{i}")
        st.button(f"button {i}", key=f"button_{i}")
    st.multiselect("several", ["a", "b"], key="several")
    st.file_uploader("a file", key="file")
    for i in range(6):
        st.markdown(f"**note {i}**: a line of text")
'''
SLIDER_LINE = "p = st.slider("


def pages() -> dict[str, str]:
    head, _, tail = TRIVIAL_PAGE.partition(SLIDER_LINE)
    tail = SLIDER_LINE + tail
    in_fragment = "@st.fragment\ndef p_and_chart():\n" + "".join(
        f"    {line}\n" for line in tail.splitlines()) + "\n\np_and_chart()\n"
    return {"trivial page": TRIVIAL_PAGE,
            "with the controls": head + CONTROLS + tail,
            "with the controls, p in a fragment": head + CONTROLS + in_fragment}


def measure(rounds: int) -> dict[str, dict[str, list[float]]]:
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw, chromium(pw) as browser:
        servers, open_pages = [], {}
        try:
            for i, (name, source) in enumerate(pages().items()):
                path = Path(tmp) / f"page_{i}.py"
                path.write_text(source)
                servers.append(StreamlitServer(path).__enter__())
                page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
                page.goto(servers[-1].url)
                wait_until_loaded(page, ("chart",))
                record_script_states(page)
                open_pages[name] = page
            times = {name: {"move": [], "rerun": []} for name in open_pages}
            for r in range(rounds):
                for name, page in open_pages.items():
                    key = "ArrowLeft" if r % 2 else "ArrowRight"
                    times[name]["move"].append(move_ms(page, "Dropout rate p", key, ("chart",)))
                    time.sleep(0.3)
                    times[name]["rerun"].append(rerun_ms(page))
                    time.sleep(0.3)
            return times
        finally:
            for server in servers:
                server.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    times = measure(args.rounds)
    reference = {what: statistics.median(times["trivial page"][what]) for what in ("move", "rerun")}
    sep = " | " if args.markdown else "  "
    print(sep.join(("page", "slider move", "× trivial", "R (no change)", "× trivial")))
    if args.markdown:
        print("|".join(["---"] * 5))
    for name, by_kind in times.items():
        move, rerun = (statistics.median(by_kind[w]) for w in ("move", "rerun"))
        print(sep.join((name, f"{move:.0f} ms", f"{move / reference['move']:.2f}",
                        f"{rerun:.0f} ms", f"{rerun / reference['rerun']:.2f}")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
