"""Every chart of every tab, at default settings, ships within its payload budget.

The budgets live in benchmarks/payload.py (BUDGETS), which also prints the sizes:
`python benchmarks/payload.py --markdown`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import payload  # noqa: E402

PAGES = [(tab, None) for tab in payload.TABS] + [
    (tab, payload.REGRESSION_DATASET) for tab in payload.REGRESSION_TABS]


@pytest.mark.parametrize("projector", [False, True], ids=["normal", "projector"])
@pytest.mark.parametrize(("tab", "dataset"), PAGES,
                         ids=[tab + (f"-{dataset}" if dataset else "") for tab, dataset in PAGES])
def test_every_chart_has_a_budget_and_stays_within_it(tab, dataset, projector):
    sizes = payload.measure(tab, projector=projector, dataset=dataset)
    assert sizes, f"no chart drawn on the {tab} tab"
    missing = [key for key in sizes if (tab, key) not in payload.BUDGETS]
    assert not missing, (
        f"charts without a payload budget on the {tab} tab: {missing} ({sizes}); add "
        f"(tab, key) entries to BUDGETS in benchmarks/payload.py (a chart needs a key=)")
    over = {key: f"{size:,} > {payload.BUDGETS[tab, key]:,} bytes"
            for key, size in sizes.items() if size > payload.BUDGETS[tab, key]}
    assert not over, f"charts over their payload budget on the {tab} tab: {over}"
