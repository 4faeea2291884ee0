"""A sub-network built by hand: which units are dropped, what it predicts, which units matter.

Pure NumPy on top of the engine (no Streamlit, no Plotly). Units are named as the diagram and
the `drop=` link name them: (layer, unit) with the inputs as layer 0, the hidden layers from 1,
and units counted from 1, so "1.3" is the third unit of the first hidden layer.

* `parse_drop` / `known_units` / `format_drop`: the `drop=1.3,1.7,2.12` link value. Junk gets a
  warning naming it and is ignored; nothing raises.
* `keep_masks`: the hand-made 0/1 keep mask per dropout site. Its predictions are the engine's
  one forward pass, `MLP.predict_proba(X, keep_masks)` (a regression network's curve:
  `MLP.predict`): the thinned network exactly as it would run in training (standard dropout:
  kept units as they are; inverted: kept units × 1/q).
* `knockouts`: remove each hidden unit alone from the test-time network, then pairs of units,
  and measure the test accuracy and loss (for regression the loss is the test MSE, and there
  is no accuracy). A pair's interaction is what removing both costs minus the sum of what
  removing each costs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dropout_viz import pipeline
from dropout_viz.data import Dataset
from dropout_viz.engine import MLP, sample_keep_masks, thinned_predict
from dropout_viz.schema import clip

Unit = tuple[int, int]  # (layer, unit): layer 0 = inputs, hidden layers from 1; units from 1

DROP_PARAM = "drop"  # the URL parameter
MAX_DROP_TEXT = 4000  # longer link values are cut here (a 4 × 256 network needs ~6 chars a unit)
ITEM = re.compile(r"([0-9]{1,4})\.([0-9]{1,4})")
PAIR_UNITS = 16  # pairs are measured among this many units of each network (all pairs of 16)
MEASURES = ("accuracy", "loss")  # a regression network has only "loss": its test MSE


def measures(net: MLP) -> tuple[str, ...]:
    """What a knock-out can measure on this network."""
    return ("loss",) if net.loss == "mse" else MEASURES


def unit_name(unit: Unit) -> str:
    """"1.3", as in the link; the diagram's hover reads h1.3 (hidden) or x1 (inputs)."""
    return f"{unit[0]}.{unit[1]}"


def layer_name(layer: int) -> str:
    return "the inputs" if layer == 0 else f"hidden layer {layer}"


# ----------------------------------------------------------------------------- the drop= link


def parse_drop(text: str) -> tuple[tuple[Unit, ...], list[str]]:
    """The units a `drop=` value names (sorted, once each), and a warning per junk item."""
    text = str(text)
    warnings = []
    if len(text) > MAX_DROP_TEXT:
        warnings.append(f"Ignored the end of 'drop': it is longer than {MAX_DROP_TEXT} "
                        "characters.")
        text = text[:MAX_DROP_TEXT]
    units: set[Unit] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        match = ITEM.fullmatch(item)
        if match is None:
            warnings.append(f"Ignored 'drop' entry '{clip(item)}': write layer.unit, e.g. 1.3 "
                            "for unit 3 of hidden layer 1 (layer 0 is the inputs).")
            continue
        units.add((int(match[1]), int(match[2])))
    return tuple(sorted(units)), warnings


def known_units(units: Iterable[Unit], site_sizes: Sequence[int]) -> tuple[tuple[Unit, ...],
                                                                         list[str]]:
    """The units this network has (site_sizes: inputs, then each hidden layer), and a warning
    naming each one it has not."""
    kept, warnings = [], []
    last = len(site_sizes) - 1
    for layer, unit in sorted(set(units)):
        name = unit_name((layer, unit))
        if layer > last:
            warnings.append(f"Ignored 'drop' entry '{name}': the network has no layer {layer} "
                            f"(0 is the inputs, 1 to {last} the hidden layers).")
        elif not 1 <= unit <= site_sizes[layer]:
            has = "layer 0 (the inputs) has" if layer == 0 else f"hidden layer {layer} has"
            warnings.append(f"Ignored 'drop' entry '{name}': {has} units 1 to "
                            f"{site_sizes[layer]}.")
        else:
            kept.append((layer, unit))
    return tuple(kept), warnings


def format_drop(units: Iterable[Unit]) -> str:
    """The `drop=` value of a set of units: "1.3,1.7,2.12" (sorted; "" for none)."""
    return ",".join(unit_name(u) for u in sorted(set(units)))


# ----------------------------------------------------------------------------- masks


def keep_masks(site_sizes: Sequence[int], dropped: Iterable[Unit]) -> list[np.ndarray]:
    """One 0/1 keep vector per dropout site, with the `dropped` units at 0."""
    masks = [np.ones(n) for n in site_sizes]
    for layer, unit in dropped:
        masks[layer][unit - 1] = 0.0
    return masks


def dropped_units(masks: Sequence[np.ndarray]) -> tuple[Unit, ...]:
    """The units a keep mask (one (units,) vector per site) drops."""
    return tuple((layer, int(i) + 1) for layer, mask in enumerate(masks)
                 for i in np.flatnonzero(np.asarray(mask) < 0.5))


def random_dropped(net: MLP, seed: int) -> tuple[Unit, ...]:
    """A random sub-network at the network's own dropout rates, from the engine's mask rule
    (the same seed gives the same mask)."""
    stacked = sample_keep_masks(net.keep_probs, net.site_sizes, 1, seed)
    return dropped_units([m[0] for m in stacked])


def epoch_dropped(run, epoch: int) -> tuple[Unit, ...]:
    """The units dropped in the mask that trained epoch `epoch` (0-based): its first mini-batch
    (the first example's mask under per-example scope), as the Dropout-in-action tab shows."""
    return dropped_units(pipeline.view_mask(run.keep_masks(epoch, 0)))


def hand_made_proba(net: MLP, X: np.ndarray, dropped: Iterable[Unit]) -> np.ndarray:
    """Probabilities of the sub-network without the `dropped` units: the engine's forward."""
    return net.predict_proba(X, keep_masks(net.site_sizes, dropped))


def hand_made_curve(net: MLP, points: np.ndarray, dropped: Iterable[Unit]) -> np.ndarray:
    """A regression network's sub-network without the `dropped` units: its outputs (n,) at
    points (n, 1), from the engine's forward."""
    return net.predict(points, keep_masks(net.site_sizes, dropped))[:, 0]


def hand_made_score(net: MLP, dataset: Dataset, dropped: Iterable[Unit]) -> float:
    """The sub-network's test accuracy, or test MSE for regression (pipeline.score_on_test)."""
    return pipeline.score_on_test(net, dataset, keep_masks(net.site_sizes, dropped))


# ----------------------------------------------------------------------------- which units matter


def test_time_network(net: MLP) -> MLP:
    """The test-time network as a network without dropout rates, so that a 0/1 mask on it
    removes units from the network that predicts (standard dropout: weights × q)."""
    return MLP(net.test_time_weights(), net.biases, net.activation, loss=net.loss)


def hidden_units(net: MLP) -> tuple[Unit, ...]:
    return tuple((layer, unit) for layer, n in enumerate(net.site_sizes) if layer
                 for unit in range(1, n + 1))


def scores_without(net: MLP, X: np.ndarray, y: np.ndarray, removals: Sequence[Sequence[Unit]]
                   ) -> tuple[np.ndarray | None, np.ndarray]:
    """(accuracy, loss) of the test-time network with each group of units removed: all groups
    as one stack of masks through the engine's forward pass. For a regression network
    (None, MSE): it has no accuracy, and its loss is the MSE."""
    plain = test_time_network(net)
    masks = [keep_masks(net.site_sizes, group) for group in removals]
    stacked = [np.stack([m[site] for m in masks]) for site in range(len(net.site_sizes))]
    scored = [pipeline.scores(values, y) for values in thinned_predict(plain, X, stacked)]
    if net.loss == "mse":
        return None, np.array([s.mse for s in scored])
    return np.array([s.accuracy for s in scored]), np.array([s.log_loss for s in scored])


@dataclass(frozen=True)
class Knockouts:
    """Test scores of the test-time network without one hidden unit, and without two.

    A cost is how much worse removal makes it: accuracy lost, or loss gained (for regression
    the rise in test MSE; its accuracies are None).
    """

    units: tuple[Unit, ...]  # every hidden unit, in network order
    base_accuracy: float | None
    base_loss: float
    accuracy: np.ndarray | None  # (U,) with that one unit removed
    loss: np.ndarray
    pairs: tuple[tuple[int, int], ...]  # indices into `units`
    pair_accuracy: np.ndarray | None  # (P,) with both removed
    pair_loss: np.ndarray

    def cost(self, measure: str) -> np.ndarray:
        if measure == "accuracy":
            return self.base_accuracy - self.accuracy
        return self.loss - self.base_loss

    def pair_cost(self, measure: str) -> np.ndarray:
        if measure == "accuracy":
            return self.base_accuracy - self.pair_accuracy
        return self.pair_loss - self.base_loss

    def interaction(self, measure: str) -> np.ndarray:
        """Cost of removing both minus the sum of removing each (> 0: together they cost more)."""
        single = self.cost(measure)
        firsts = np.array([i for i, _ in self.pairs], dtype=int)
        seconds = np.array([j for _, j in self.pairs], dtype=int)
        return self.pair_cost(measure) - single[firsts] - single[seconds]

    def order(self, measure: str) -> np.ndarray:
        """Unit indices, costliest first (ties: by the other measure if any, then network
        order)."""
        keys = [np.arange(len(self.units))]
        if self.accuracy is not None:
            keys.append(-self.cost("loss" if measure == "accuracy" else "accuracy"))
        return np.lexsort((*keys, -self.cost(measure)))

    def strongest(self, measure: str, n: int) -> np.ndarray:
        """Indices into `pairs` of the n largest |interaction|, largest first."""
        strength = np.abs(self.interaction(measure))
        return np.lexsort((np.arange(len(self.pairs)), -strength))[:n]


def pair_candidates(single_loss: np.ndarray, limit: int = PAIR_UNITS) -> np.ndarray:
    """The units whose pairs are measured: all when there are at most `limit`, else the
    `limit` whose removal alone costs the most test loss (a finer measure than accuracy)."""
    if len(single_loss) <= limit:
        return np.arange(len(single_loss))
    return np.sort(np.lexsort((np.arange(len(single_loss)), -single_loss))[:limit])


def knockout_work(net: MLP, n_points: int, pair_units: int = PAIR_UNITS) -> int:
    """Multiply-adds `knockouts` costs: one pass over the points per removal."""
    n_units = sum(net.site_sizes[1:])
    candidates = min(n_units, pair_units)
    removals = 1 + n_units + candidates * (candidates - 1) // 2
    return removals * n_points * sum(W.size for W in net.weights)


def knockouts(net: MLP, X: np.ndarray, y: np.ndarray, pair_units: int = PAIR_UNITS) -> Knockouts:
    """Remove every hidden unit alone, then every pair of `pair_units` candidates."""
    units = hidden_units(net)
    # The whole network first, in the same stack, so a unit that changes nothing costs 0.
    acc, loss = scores_without(net, X, y, [()] + [(u,) for u in units])
    base_acc, acc = (None, None) if acc is None else (float(acc[0]), acc[1:])
    base_loss, loss = float(loss[0]), loss[1:]
    candidates = pair_candidates(loss - base_loss, pair_units)
    pairs = tuple(itertools.combinations(candidates.tolist(), 2))
    if pairs:
        pair_acc, pair_loss = scores_without(net, X, y, [(units[i], units[j]) for i, j in pairs])
    else:
        pair_acc = None if acc is None else np.zeros(0)
        pair_loss = np.zeros(0)
    return Knockouts(units, base_acc, base_loss, acc, loss, pairs, pair_acc, pair_loss)
