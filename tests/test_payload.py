"""Every chart of every tab, at default settings (and with a regression set on the tabs that
draw one), ships within its payload budget.

The budgets live in benchmarks/payload.py (BUDGETS, REGRESSION_BUDGETS), which also prints the
sizes:
`python benchmarks/payload.py --markdown`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import payload  # noqa: E402


def check_budgets(tab: str, sizes: dict[str, int], budgets: dict, what: str) -> None:
    assert sizes, f"no chart drawn on the {tab} tab{what}"
    missing = [key for key in sizes if (tab, key) not in budgets]
    assert not missing, (
        f"charts without a payload budget on the {tab} tab{what}: {missing} ({sizes}); add "
        f"(tab, key) entries to benchmarks/payload.py (a chart needs a key=)")
    over = {key: f"{size:,} > {budgets[tab, key]:,} bytes"
            for key, size in sizes.items() if size > budgets[tab, key]}
    assert not over, f"charts over their payload budget on the {tab} tab{what}: {over}"


@pytest.mark.parametrize("projector", [False, True], ids=["normal", "projector"])
@pytest.mark.parametrize("tab", payload.TABS)
def test_every_chart_has_a_budget_and_stays_within_it(tab, projector):
    check_budgets(tab, payload.measure(tab, projector=projector), payload.BUDGETS, "")


@pytest.mark.parametrize("projector", [False, True], ids=["normal", "projector"])
@pytest.mark.parametrize("tab", payload.REGRESSION_TABS)
def test_regression_charts_have_a_budget_and_stay_within_it(tab, projector):
    sizes = payload.measure(tab, projector=projector, dataset=payload.REGRESSION_DATASET)
    check_budgets(tab, sizes, payload.REGRESSION_BUDGETS,
                  f" with dataset={payload.REGRESSION_DATASET}")
