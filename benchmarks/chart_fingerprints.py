"""Fingerprints of every chart the app draws, to compare two checkouts' pictures exactly.

    python benchmarks/chart_fingerprints.py [--repo PATH] [--out FILE] [--no-sweep]
    python benchmarks/chart_fingerprints.py --compare A.json B.json

For the default settings and every lesson preset in assets/presets (URL `preset=<name>`), opens
each tab (URL `tab=<slug>`) in Streamlit's AppTest, starts training when the page asks first,
and on the Experiments tab also runs the p sweep. For every Plotly chart it records the SHA-256
of the spec's `data`, `frames` and `layout` as Streamlit received them (JSON with sorted keys),
a numeric summary of data + frames (how many numbers, their sum and absolute sum: a difference
there says how large a change is), and the chart's text alternative, which states the numbers
shown (accuracies, losses). The page's `st.metric` values are recorded per tab too.

`--repo PATH` runs the same script in a subprocess with PATH first on PYTHONPATH, so an older
checkout (without this file) can be fingerprinted: e.g. `git worktree add /tmp/base ceae5ef`.
`--compare` lists every entry that differs (or exists on one side only); exit status 1 then.
Training is heavy: run under `flock /tmp/cpu-heavy.lock`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
TABS = ("action", "ensemble", "experiments", "learn")
DEFAULT = "defaults"


def canonical_hash(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def numbers(value) -> list[np.ndarray]:
    """Every number in a spec part: Plotly's typed arrays decoded, plain lists and scalars."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return [array.astype(float).ravel()]
    if isinstance(value, dict):
        return [a for item in value.values() for a in numbers(item)]
    if isinstance(value, list):
        return [a for item in value for a in numbers(item)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [np.array([float(value)])]
    return []


def numeric_summary(spec: dict) -> dict:
    found = numbers([spec.get("data"), spec.get("frames")])
    values = np.concatenate(found) if found else np.zeros(0)
    finite = values[np.isfinite(values)]
    return {"count": int(values.size), "sum": float(finite.sum()),
            "abs_sum": float(np.abs(finite).sum())}


# The first tab's charts are live charts (ui/live_chart.py): a component whose data is the
# figure's JSON with its alt text. Read here by name, not through tests/helpers, so that an older
# checkout (`--repo`, without that module) is fingerprinted by the same code.
LIVE_CHART = "dropout_viz.live_chart"


def chart_elements(at) -> list:
    return at.get("plotly_chart") + [e for e in at.get("bidi_component")
                                     if e.proto.component_name == LIVE_CHART]


def chart_fingerprint(element) -> dict:
    if element.type == "plotly_chart":
        spec, alt = json.loads(element.proto.spec), element.proto.alt
    else:
        sent = json.loads(element.proto.bytes)
        spec, alt = sent["figure"], sent["alt"]
    return {"data": canonical_hash(spec.get("data")), "frames": canonical_hash(spec.get("frames")),
            "layout": canonical_hash(spec.get("layout")), "numbers": numeric_summary(spec),
            "alt": alt}


def chart_key(element) -> str:
    element_id = element.proto.id  # "$$ID-<hash>-<user key>"
    return element_id.split("-", 2)[-1] if element_id.startswith("$$ID-") else element_id


def start_asked_training(at) -> None:
    """Click "Start training" (shown instead of a run estimated to be long) until none is left."""
    for _ in range(5):
        buttons = [b for b in at.button if str(b.key or "").startswith("_start_")]
        if not buttons:
            return
        buttons[0].click().run()


def visit(query: dict[str, str], tab: str, sweep: bool) -> dict:
    """One tab of one settings: its charts and metrics."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path.cwd() / "app.py"), default_timeout=900)
    for key, value in {**query, "tab": tab}.items():
        at.query_params[key] = value
    at.run()
    start_asked_training(at)
    if sweep and tab == "experiments":
        buttons = [b for b in at.button if b.key == "run_sweep"]
        if buttons:
            buttons[0].click().run()
    if at.exception:
        return {"exception": [e.message for e in at.exception]}
    charts = {chart_key(c): chart_fingerprint(c) for c in chart_elements(at)}
    metrics = {m.label: m.value for m in at.metric}
    return {"charts": charts, "metrics": metrics}


def fingerprints(sweep: bool) -> dict:
    import dropout_viz
    from dropout_viz.presets import load_presets
    from dropout_viz.ui import cache

    package = Path(dropout_viz.__file__).resolve().parent
    assert package.is_relative_to(Path.cwd().resolve()), f"imported {package}, not this checkout"

    cases = {DEFAULT: {}} | {name: {"preset": name} for name in load_presets()}
    result = {"package": str(package), "settings": {}}
    for name, query in cases.items():
        cache.clear_all()  # each settings from scratch, as a fresh server would draw it
        result["settings"][name] = {tab: visit(query, tab, sweep) for tab in TABS}
        print(f"fingerprinted {name}", file=sys.stderr, flush=True)
    return result


def flatten(result: dict) -> dict[str, object]:
    """(settings, tab, chart, part) -> value, for comparing."""
    flat = {}
    for name, tabs in result["settings"].items():
        for tab, page in tabs.items():
            if "exception" in page:
                flat[f"{name} / {tab} / exception"] = page["exception"]
                continue
            for chart, parts in page["charts"].items():
                for part, value in parts.items():
                    flat[f"{name} / {tab} / {chart} / {part}"] = value
            for label, value in page["metrics"].items():
                flat[f"{name} / {tab} / metric {label}"] = value
    return flat


def compare(a_path: str, b_path: str) -> int:
    a, b = (flatten(json.loads(Path(p).read_text())) for p in (a_path, b_path))
    differ = [k for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
    for key in differ:
        print(f"{key}\n  A: {a.get(key, '(missing)')}\n  B: {b.get(key, '(missing)')}")
    print(f"{len(differ)} of {len(a.keys() | b.keys())} entries differ")
    return 1 if differ else 0


def run_in(repo: Path, args: argparse.Namespace) -> int:
    """This script again, importing the package from `repo` (its own copy of app.py)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH",
                                                                                   "")])}
    command = [sys.executable, str(HERE), "--here"] + (["--no-sweep"] if not args.sweep else [])
    command += ["--out", str(Path(args.out).resolve())] if args.out else []
    return subprocess.run(command, cwd=repo, env=env, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=HERE.parents[1],
                        help="checkout to fingerprint (default: this one)")
    parser.add_argument("--out", help="write the JSON here (default: standard output)")
    parser.add_argument("--no-sweep", dest="sweep", action="store_false",
                        help="skip the Experiments tab's p sweep (the slowest chart)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="list what differs")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    if not args.here:
        return run_in(args.repo.resolve(), args)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    text = json.dumps(fingerprints(args.sweep), indent=1, sort_keys=True)
    if args.out:
        Path(args.out).write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
