"""Payload of every chart: the bytes of each Plotly spec the app ships, against its budget.

    python benchmarks/payload.py [--markdown]

Opens each tab (URL `tab=<slug>`) at default settings in Streamlit's AppTest, normally and in
projector mode (`projector=1`), with empty caches, and reads the bytes Streamlit sends for
every chart (tests/helpers.chart_bytes: a plotly_chart's JSON spec, or a live chart's figure
JSON with its alt text and config, ui/live_chart.py); the tabs that draw regression
also with `dataset=sine`. Prints each chart's bytes, its budget and the share used, and the
total per tab. tests/test_payload.py asserts BUDGETS and REGRESSION_BUDGETS.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers import app, chart_bytes, chart_elements, chart_key  # noqa: E402

TABS = ("action", "ensemble", "experiments", "learn", "handmade")
MODES = {"normal": {}, "projector": {"projector": "1"}}

# Bytes per chart, the same in both modes (projector specs are ~0.1% larger, well inside).
# The animation's is the target; every other one is 1.25 × its size when set (in brackets, the
# larger mode's) rounded up to a round number (two digits, the second 0 or 5): a chart that
# doubles fails, noise does not.
BUDGETS = {
    ("action", "animation"): 350_000,  # target (344,349)
    ("action", "history"): 20_000,  # (15,430)
    ("ensemble", "ensemble_gallery"): 100_000,  # (76,495)
    ("ensemble", "ensemble_comparison"): 150_000,  # (108,011)
    ("ensemble", "ensemble_convergence"): 12_500,  # (6,619)
    ("ensemble", "ensemble_uncertainty"): 85_000,  # (64,125)
    ("experiments", "twin_boundaries"): 55_000,  # (43,488)
    ("experiments", "twin_curves"): 35_000,  # (24,212)
    ("experiments", "activations"): 20_000,  # (15,090)
    ("experiments", "unit_maps_1"): 250_000,  # (181,245)
    ("experiments", "unit_maps_2"): 250_000,  # (175,889)
    ("learn", "learn_unit_input"): 20_000,  # (14,749)
    ("handmade", "handmade_network"): 30_000,  # (22,127)
    ("handmade", "handmade_boundary"): 55_000,  # (43,648)
    ("handmade", "handmade_knockouts"): 15_000,  # (8,083)
}
# The same with a regression set (REGRESSION_DATASET): curves over x instead of maps.
REGRESSION_DATASET = "sine"
REGRESSION_TABS = TABS
REGRESSION_BUDGETS = {
    ("action", "animation"): 325_000,  # (257,940): the diagram's frames, and 24 × 2 curves
    ("action", "history"): 12_500,  # (9,821)
    ("ensemble", "ensemble_subnetworks"): 50_000,  # (39,083)
    ("ensemble", "ensemble_convergence"): 10_000,  # (6,768)
    ("experiments", "twin_fits"): 15_000,  # (10,970)
    ("experiments", "twin_curves"): 17_500,  # (12,952)
    ("experiments", "activations"): 20_000,  # (15,644)
    ("learn", "learn_unit_input"): 20_000,  # (16,069)
    ("handmade", "handmade_network"): 25_000,  # (19,928)
    ("handmade", "handmade_curve"): 14_000,  # (10,991)
    ("handmade", "handmade_knockouts"): 11_000,  # (8,126)
}


def measure(tab: str, projector: bool = False, dataset: str | None = None) -> dict[str, int]:
    """Bytes of every chart's spec on `tab` at default settings (but `dataset` if given), by
    chart key, in page order."""
    from dropout_viz.ui import cache

    cache.clear_all()  # as tests/conftest.py does between AppTests: train from scratch
    url = {"tab": tab, **MODES["projector" if projector else "normal"],
           **({"dataset": dataset} if dataset else {})}
    at = app(**url).run()
    if at.exception:
        raise RuntimeError(f"{tab}: " + "; ".join(e.message for e in at.exception))
    return {chart_key(e): chart_bytes(e) for e in chart_elements(at)}


def rows() -> list[tuple[str, ...]]:
    cases = [(mode, tab, None, BUDGETS) for mode in MODES for tab in TABS]
    cases += [(mode, tab, REGRESSION_DATASET, REGRESSION_BUDGETS) for mode in MODES
              for tab in REGRESSION_TABS]
    table = []
    for mode, tab, dataset, budgets in cases:
        sizes = measure(tab, projector=mode == "projector", dataset=dataset)
        mode_name = f"{mode}, {dataset}" if dataset else mode
        for key, size in sizes.items():
            budget = budgets.get((tab, key))
            table.append((mode_name, tab, key, f"{size:,}", f"{budget:,}" if budget else "none",
                          f"{size / budget:.0%}" if budget else "-"))
        total, budget = sum(sizes.values()), sum(budgets.get((tab, k), 0) for k in sizes)
        table.append((mode_name, tab, "total", f"{total:,}", f"{budget:,}",
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
