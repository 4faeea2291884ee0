"""Build a sub-network in a real browser: clicking a unit of the diagram drops it, the page
reruns, the diagram and the boundary change, the URL carries drop=, and the sub-network's test
accuracy is the one the engine's forward pass gives for that mask."""

from __future__ import annotations

import json
import re

import pytest
from harness import EXCEPTION, fingerprints, wait_until_changed, wait_until_loaded

from dropout_viz import handmade as hm
from dropout_viz import pipeline
from dropout_viz.engine import accuracy
from dropout_viz.settings import DEFAULTS

pytestmark = pytest.mark.browser

CHARTS = ("handmade_network", "handmade_boundary")
SMALL = DEFAULTS.replace(width=8, epochs=20)

# JavaScript: the page position of one unit's marker, from the diagram's own axes.
UNIT_POSITION_JS = """
([layer, index]) => {
  const gd = document.querySelector('.st-key-handmade_network .js-plotly-plot');
  const node = gd.layout.meta.nodes.find(n => n.layer === layer && n.index === index);
  const size = gd._fullLayout._size, box = gd.getBoundingClientRect();
  return [box.left + size.l + gd._fullLayout.xaxis.l2p(node.x),
          box.top + size.t + gd._fullLayout.yaxis.l2p(node.y)];
}
"""


def chart_layout(charts: dict, key: str) -> dict:
    return json.loads(charts[key])


def test_clicking_a_unit_drops_it_and_redraws_the_boundary(server, page):
    page.goto(f"{server.url}?tab=handmade&width=8&epochs=20")
    wait_until_loaded(page, CHARTS, timeout_ms=120_000)
    before = fingerprints(page)
    assert chart_layout(before, "handmade_network")["meta"]["dropped"] == [[], [], []]

    x, y = page.evaluate(UNIT_POSITION_JS, [1, 2])  # h1.3
    page.mouse.click(x, y)
    wait_until_changed(page, {key: before[key] for key in CHARTS})
    assert page.locator(EXCEPTION).count() == 0
    after = fingerprints(page)
    assert chart_layout(after, "handmade_network")["meta"]["dropped"] == [[], [2], []]
    assert re.search(r"[?&]drop=1\.3(&|$)", page.url)

    run = pipeline.train_for(SMALL.train_key())  # the same seed trains the same network
    net, data = run.network(), run.dataset
    expected = accuracy(hm.hand_made_proba(net, data.X_test, [(1, 3)]), data.y_test)
    titles = [re.sub(r"<[^>]+>", "", t) for t in chart_layout(after, "handmade_boundary")
              ["annotations"]]
    assert any(t.startswith("Your sub-network") and f"acc {expected:.0%}" in t for t in titles)
