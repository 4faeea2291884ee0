"""Payload of every chart: the bytes of each Plotly spec the app ships, against its budget.

    python benchmarks/payload.py [--markdown]

Opens each tab (URL `tab=<slug>`) at default settings in Streamlit's AppTest, normally and in
projector mode (`projector=1`), with empty caches, and reads `len(element.proto.spec)` of every
plotly_chart: the JSON Streamlit sends to the browser for it. Prints each chart's bytes, its
budget and the share used, and the total per tab. tests/test_payload.py asserts BUDGETS.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers import app  # noqa: E402

TABS = ("action", "ensemble", "experiments", "learn", "handmade")
MODES = {"normal": {}, "projector": {"projector": "1"}}
# The tabs also measured on a regression set (curves over x; keys of their own where the
# charts differ). The other tabs follow when they draw regression.
REGRESSION_DATASET = "sine"
REGRESSION_TABS = ("ensemble", "experiments", "learn")

# Bytes per chart, the same in both modes (projector specs are ~0.1% larger, well inside).
# The animation's is the target; every other one is 1.25 × its size when set (in brackets, the
# larger mode's) rounded up to a round number (two digits, the second 0 or 5): a chart that
# doubles fails, noise does not. Charts a regression set draws under the same key as a 2-D set
# (convergence, training curves, activations, the unit input) share its budget; they are
# smaller there (sine: 6,768, 12,952, 15,644 and 16,069).
BUDGETS = {
    ("action", "animation"): 350_000,  # target (344,349)
    ("action", "history"): 20_000,  # (15,430)
    ("ensemble", "ensemble_gallery"): 100_000,  # (76,495)
    ("ensemble", "ensemble_comparison"): 150_000,  # (108,011)
    ("ensemble", "ensemble_convergence"): 12_500,  # (6,619)
    ("ensemble", "ensemble_uncertainty"): 85_000,  # (64,125)
    ("ensemble", "ensemble_subnetworks"): 50_000,  # sine (39,083)
    ("experiments", "twin_boundaries"): 55_000,  # (43,488)
    ("experiments", "twin_fits"): 15_000,  # sine (10,970)
    ("experiments", "twin_curves"): 35_000,  # (24,212)
    ("experiments", "activations"): 20_000,  # (15,090)
    ("experiments", "unit_maps_1"): 250_000,  # (181,245)
    ("experiments", "unit_maps_2"): 250_000,  # (175,889)
    ("learn", "learn_unit_input"): 20_000,  # (14,749)
    ("handmade", "handmade_network"): 30_000,  # (22,127)
    ("handmade", "handmade_boundary"): 55_000,  # (43,648)
    ("handmade", "handmade_knockouts"): 15_000,  # (8,083)
}


def chart_key(element) -> str:
    """The user key of an AppTest plotly_chart, as tests/helpers.charts_by_key reads it: the
    suffix of "$$ID-<hash>-<key>" (a chart drawn without a key reads "None")."""
    element_id = element.proto.id
    return element_id.split("-", 2)[-1] if element_id.startswith("$$ID-") else element_id


def measure(tab: str, projector: bool = False, dataset: str | None = None) -> dict[str, int]:
    """Bytes of every chart's spec on `tab` at default settings (on `dataset` if given), by
    chart key, in page order."""
    from dropout_viz.ui import cache

    cache.clear_all()  # as tests/conftest.py does between AppTests: train from scratch
    url = {**MODES["projector" if projector else "normal"],
           **({"dataset": dataset} if dataset else {})}
    at = app(tab=tab, **url).run()
    if at.exception:
        raise RuntimeError(f"{tab}: " + "; ".join(e.message for e in at.exception))
    return {chart_key(e): len(e.proto.spec) for e in at.get("plotly_chart")}


def rows() -> list[tuple[str, ...]]:
    table = []
    pages = [(tab, None) for tab in TABS] + [(tab, REGRESSION_DATASET) for tab in REGRESSION_TABS]
    for mode in MODES:
        for tab, dataset in pages:
            sizes = measure(tab, projector=mode == "projector", dataset=dataset)
            if dataset:
                tab = f"{tab} ({dataset})"
            for key, size in sizes.items():
                budget = BUDGETS.get((tab, key))
                table.append((mode, tab, key, f"{size:,}", f"{budget:,}" if budget else "none",
                              f"{size / budget:.0%}" if budget else "-"))
            total, budget = sum(sizes.values()), sum(BUDGETS.get((tab, k), 0) for k in sizes)
            table.append((mode, tab, "total", f"{total:,}", f"{budget:,}",
                          f"{total / budget:.0%}" if budget else "-"))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # AppTest warns that there is no runtime, on every run
    header = ("mode", "tab", "chart", "bytes", "budget", "used")
    body = rows()
    if args.markdown:
        lines = ["| " + " | ".join(row) + " |" for row in (header, ("---",) * 6, *body)]
    else:
        widths = [max(len(row[i]) for row in (header, *body)) for i in range(6)]
        lines = ["  ".join(cell.rjust(w) if i >= 3 else cell.ljust(w)
                           for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
                 for row in (header, *body)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
