"""Text alternatives of the charts: what each one shows, with the numbers it shows.

Streamlit passes them to `st.plotly_chart(alt=...)` as the chart's accessible name, so a screen
reader (or anyone who cannot see the chart) gets its content. Each is read from the data the
figure itself draws (its `layout.meta` and traces), or from the same numbers its builder took,
so it cannot drift from the picture. Pure: figures in, strings out (no Streamlit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

MEASURE_WORDS = {"entropy": "mutual information (in nats)",
                 "std": "standard deviation of the probability of the predicted class"}
KIND_WORDS = {"arithmetic": "mean", "geometric": "normalised geometric mean"}
MSE_UNITS = "y standardised"
CURVE_WORDS = {"train": "training data", "test": "test data",
               "thinned": "training data through the thinned networks"}


def _plain(text: str | None) -> str:
    """Chart text without its HTML tags (line breaks become spaces)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text or "")).strip()


def _meta(fig: go.Figure) -> dict[str, Any]:
    # An AnimatedFigure's to_dict() is its spec (no copy); other figures keep meta on layout.
    spec = getattr(fig, "spec", None)
    meta = spec["layout"].get("meta") if spec is not None else fig.layout.meta
    return dict(meta or {})


def _traces(fig: go.Figure, **wanted: Any) -> list[Any]:
    """Traces whose meta holds all of `wanted` (role="curve", ...)."""
    found = []
    for trace in fig.data:
        meta = trace.meta if isinstance(trace.meta, dict) else {}
        if all(meta.get(key) == value for key, value in wanted.items()):
            found.append(trace)
    return found


def _join(parts: Sequence[str]) -> str:
    return ", ".join(parts)


def dropped_text(layer_sizes: Sequence[int], n_dropped: Sequence[int]) -> str:
    """"hidden 1 drops 31 of 64 units, hidden 2 drops 34 of 64" (the inputs only when some
    are dropped)."""
    parts = []
    for site, (n, total) in enumerate(zip(n_dropped, layer_sizes, strict=False)):
        name = "the input layer" if site == 0 else f"hidden {site}"
        if site == 0 and not n:
            continue
        parts.append(f"{name} drops {n} of {total}" + ("" if parts else " units"))
    return _join(parts)


# --------------------------------------------------------------------------- Dropout in action


def animation_alt(fig: go.Figure, index: int = -1) -> str:
    """The epoch animation at frame `index`: the thinned network's dropped units and, with a
    plane, both networks' test accuracy."""
    meta = _meta(fig)
    epochs = list(meta["epochs"])
    frame = meta["frames"][index]
    text = (f"Thinned network of epoch {frame['epoch']}: "
            f"{dropped_text(meta['layer_sizes'], frame['n_dropped'])}")
    if frame.get("thinned_acc") is not None:
        text += (f"; thinned network test accuracy {frame['thinned_acc']:.0%}, full network "
                 f"{frame['full_acc']:.0%}. Beside the diagram, both networks' decision "
                 "boundaries over the input plane")
    if frame.get("thinned_mse") is not None:
        text += (f"; thinned network test MSE {frame['thinned_mse']:.3f}, full network "
                 f"{frame['full_mse']:.3f} ({MSE_UNITS}). Beside the diagram, both networks' "
                 "curves over the data points")
    position = range(len(epochs))[index] + 1
    return (text + f". Frame {position} of {len(epochs)}, epochs {epochs[0]} to {epochs[-1]}: "
            "step through them with the chart's slider or the Epoch shown slider below it.")


def _final_values(traces: Sequence[Any]) -> dict[str, float]:
    return {trace.meta["key"]: float(np.asarray(trace.y, dtype=float)[-1]) for trace in traces
            if trace.y is not None and len(trace.y)}


def _curve_words(values: Mapping[str, float], metric: str, fmt: str) -> str:
    return _join([f"{CURVE_WORDS[split]} {values[f'{split}_{metric}']:{fmt}}"
                  for split in CURVE_WORDS if f"{split}_{metric}" in values])


def history_alt(fig: go.Figure) -> str:
    """Loss and accuracy over the epochs: the values after the last one (regression: MSE)."""
    meta = _meta(fig)
    values = _final_values(_traces(fig, role="curve"))
    if meta.get("loss") == "mse":
        return (f"Training curves over {meta['n_epochs']} epochs, mean squared error "
                f"({MSE_UNITS}). After the last epoch, MSE on the "
                f"{_curve_words(values, 'loss', '.3f')}.")
    return (f"Training curves over {meta['n_epochs']} epochs, loss (left) and accuracy (right). "
            f"After the last epoch, loss on the {_curve_words(values, 'loss', '.3f')}; "
            f"accuracy on the {_curve_words(values, 'acc', '.1%')}.")


def curves_alt(fig: go.Figure) -> str:
    """Several runs' curves (with and without dropout): each run's last values."""
    meta = _meta(fig)
    mse = meta.get("loss") == "mse"
    parts = []
    for run in meta["runs"]:
        v = _final_values(_traces(fig, role="curve", run=run))
        loss = "MSE" if mse else "loss"
        part = f"{run}: test {loss} {v['test_loss']:.3f} (training {v['train_loss']:.3f})"
        if not mse:
            part += f", test accuracy {v['test_acc']:.1%} (training {v['train_acc']:.1%})"
        parts.append(part)
    shown = f"mean squared error ({MSE_UNITS})" if mse else "loss (left) and accuracy (right)"
    return (f"Training curves over {meta['n_epochs']} epochs, {shown}, "
            f"one colour per run. After the last epoch, {'; '.join(parts)}.")


# --------------------------------------------------------------------------- sub-networks


def gallery_alt(fig: go.Figure) -> str:
    meta = _meta(fig)
    k = meta["k"]
    if meta["source"] == "trained":
        names = [f"epoch {int(e) + 1}" for e in meta["epochs"]]
        source = "as trained, each with its epoch's weights"
    else:
        names = [f"#{i + 1}" for i in range(k)]
        source = "sampled on the final weights"
    shown = "each diagram above its decision boundary" if meta["planar"] else "their diagrams"
    drops = [sum(len(units) for units in dropped) for dropped in meta["dropped"]]
    return (f"{k} thinned sub-networks {source}, {shown}, dropped units crossed out. "
            "Test accuracy (units dropped): "
            + _join(f"{name} {acc:.0%} ({n})"
                    for name, acc, n in zip(names, meta["accuracy"], drops, strict=True))
            + ".")


def comparison_alt(fig: go.Figure) -> str:
    meta = _meta(fig)
    kind = KIND_WORDS[meta["kind"]]
    return (f"Decision boundaries of the {kind} of {meta['k']} sub-networks (test accuracy "
            f"{meta['average_accuracy']:.0%}, log-loss {meta['average_log_loss']:.3f}) and of "
            f"the test-time network ({meta['test_time_accuracy']:.0%}, log-loss "
            f"{meta['test_time_log_loss']:.3f}), then their |difference| over the plane: "
            f"{meta['mean_difference']:.3f} on average over the test points, same class on "
            f"{meta['agreement']:.0%} of them.")


def convergence_alt(fig: go.Figure) -> str:
    m = _meta(fig)
    ks, gap = m["ks"], m["gap"]
    head = (f"Monte-Carlo {KIND_WORDS[m['kind']]} of K sub-networks against K from {ks[0]} to "
            f"{ks[-1]}: test ")
    tail = (f"mean |difference| to the test-time network {gap[0]:.3f} at K = {ks[0]} and "
            f"{gap[-1]:.4f} at K = {ks[-1]}, {m['pooled_gap']:.4f} with all {m['pooled_k']:,} "
            "pooled.")
    if "mse" in m:  # regression
        mse = m["mse"]
        return head + (f"MSE ({MSE_UNITS}) {mse[0]:.3f} at K = {ks[0]} and {mse[-1]:.3f} at K = "
                       f"{ks[-1]} (test-time network {m['test_time_mse']:.3f}, one sub-network "
                       f"{m['single_mse']:.3f} on average); ") + tail
    acc, loss = m["accuracy"], m["log_loss"]
    return head + (f"accuracy {acc[0]:.1%} at K = {ks[0]} and {acc[-1]:.1%} at K = {ks[-1]} "
                   f"(test-time network {m['test_time_accuracy']:.1%}, one sub-network "
                   f"{m['single_accuracy']:.1%} on average); log-loss {loss[0]:.3f} and "
                   f"{loss[-1]:.3f}; ") + tail


def uncertainty_alt(fig: go.Figure) -> str:
    m = _meta(fig)
    return (f"Map of the {MEASURE_WORDS[m['measure']]} of {m['k']} sampled sub-networks over "
            f"the input plane, with the training and test points: from 0 (white) to "
            f"{m['max']:.3f} here, {m['mean']:.3f} on average; the colour scale runs from 0 to "
            f"{m['upper']:.3f}.")


def subnetworks_alt(fig: go.Figure) -> str:
    """Regression's sub-networks over the points: the curves, the band and both MSEs."""
    m = _meta(fig)
    mean, test_time = m["curves"]
    return (f"Curves of {m['k']} thinned sub-networks over x (thin lines), their mean (test MSE "
            f"{mean['mse']:.3f}) inside the band mean ± 2 standard deviations, and the "
            f"{test_time['name'][0].lower() + test_time['name'][1:]} (dashed, test MSE "
            f"{test_time['mse']:.3f}; {MSE_UNITS}), over {_points_words(m)}. The band's 2 sd is "
            f"{2 * m['mean_sd']:.3f} on average and widest at x = {m['widest_x']:.2f} "
            f"({2 * m['widest_sd']:.3f}).")


# --------------------------------------------------------------------------- Experiments


def curves_over_points_alt(fig: go.Figure) -> str:
    """Any regression "curves over points" chart: each curve with its test MSE."""
    m = _meta(fig)
    curves = "; ".join(f"{c['name']}" + ("" if c["mse"] is None else f", test MSE {c['mse']:.3f}")
                       for c in m["curves"])
    return f"Curves over x (x and y standardised): {curves}; over {_points_words(m)}."


def _points_words(meta: Mapping[str, Any]) -> str:
    return f"{meta['n_train']} training points (filled) and {meta['n_test']} test points (hollow)"


def twin_boundaries_alt(fig: go.Figure, accuracies: Mapping[str, float]) -> str:
    m = _meta(fig)
    nets = "; ".join(f"{label}: test accuracy {acc:.0%}" for label, acc in accuracies.items())
    return (f"Decision boundaries over the input plane on one colour scale, with "
            f"{sum(m['n_train'])} training points (filled) and {sum(m['n_test'])} test points "
            f"(hollow). {nets}.")


def confusion_alt(fig: go.Figure) -> str:
    parts = []
    for trace in _traces(fig, role="confusion"):
        counts = np.asarray(trace.meta["counts"])
        correct, total = int(np.trace(counts)), int(counts.sum())
        off = counts - np.diag(np.diag(counts))
        t, p = np.unravel_index(int(np.argmax(off)), off.shape)
        worst = (f", most often true {trace.x[t]} taken for {trace.x[p]} ({int(off[t, p])} "
                 "times)" if off.any() else "")
        parts.append(f"{trace.meta['run']}: {correct} of {total} correct "
                     f"({correct / max(total, 1):.1%}){worst}")
    return "Confusion matrices on the test split (rows true, columns predicted). " + \
        "; ".join(parts) + "."


def images_alt(fig: go.Figure) -> str:
    title = _plain(fig.layout.title.text)
    images = _traces(fig, role="image")
    if not images:
        return f"{title}: none, 0 mistakes on the test split."
    return (f"{title}: {len(images)} digits, "
            + _join(f"{t.meta['true']} → {t.meta['predicted']}" for t in images) + ".")


def sweep_alt(fig: go.Figure) -> str:
    m = _meta(fig)
    ps = [float(p) for p in m["ps"]]
    [loss] = _traces(fig, role="sweep_mean", key="test_loss")
    acc = _traces(fig, role="sweep_mean", key="test_acc")  # none for regression
    [seeds] = _traces(fig, role="seed_points", key="test_loss")
    n_seeds = len(seeds.x) // max(len(ps), 1)
    mode = "fixed width n" if m["mode"] == "width" else "fixed expected active units (1 − p)·n"
    losses = np.asarray(loss.y, dtype=float)
    best = int(np.nanargmin(losses))
    text = (f"Sweep over the dropout rate p, {mode}, mean of {n_seeds} training seeds. Test "
            + ("loss: " if acc else f"MSE ({MSE_UNITS}): ")
            + _join(f"{l:.3f} at p = {p:g}" for p, l in zip(ps, losses, strict=True))
            + f" (lowest at p = {ps[best]:g}).")
    if acc:
        text += " Test accuracy: " + _join(f"{a:.0%} at p = {p:g}"
                                           for p, a in zip(ps, acc[0].y, strict=True)) + "."
    if m.get("current_p") is not None:
        text += f" Your p = {m['current_p']:g} is marked."
    return text


def activations_alt(fig: go.Figure) -> str:
    parts = []
    for run in _meta(fig)["runs"]:
        layers = _join(f"hidden {t.meta['layer']} mean {t.meta['mean']:.3f}, "
                       f"{t.meta['near_zero']:.0%} near zero"
                       for t in _traces(fig, role="activations", run=run))
        parts.append(f"{run}: {layers}")
    return ("Histograms of what the hidden units output on the training data, all outputs and "
            "each unit's mean, per hidden layer. " + "; ".join(parts) + ".")


def unit_maps_alt(fig: go.Figure, epoch: int, accuracy: float) -> str:
    m = _meta(fig)
    layer, shown = m["layer"], m["shown"]
    dropped = [f"h{layer}.{i + 1}" for i in m["dropped"] if i < shown]
    return (f"Hidden layer {layer} after epoch {epoch} (test accuracy {accuracy:.0%}): the "
            f"output of each of {shown} of its {m['units']} units over the input plane, one small "
            f"map each, blue positive and orange negative. {len(dropped)} of them dropped in "
            f"that epoch's mask" + (f": {_join(dropped)}." if dropped else "."))


def network_alt(fig: go.Figure, accuracy: float | None = None, mse: float | None = None) -> str:
    """A diagram: its dropped units, and the test accuracy (or MSE) of the network drawn."""
    m = _meta(fig)
    title = _plain(fig.layout.title.text) or "Network " + " → ".join(
        str(n) for n in m["layer_sizes"])
    text = f"{title}: {dropped_text(m['layer_sizes'], m['n_dropped'])}"
    if accuracy is not None:
        text += f"; test accuracy {accuracy:.1%}"
    if mse is not None:
        text += f"; test MSE {mse:.3f} ({MSE_UNITS})"
    return text + "."
