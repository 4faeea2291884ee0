"""The "Build a sub-network" tab: drop units by hand (a click on the diagram, or the keyboard
twin below it), see that sub-network's boundary beside the full network's (for regression
both curves over the points), and measure which units matter. Computation lives in
dropout_viz.handmade; the dropped units live in the page's state (state.dropped), which the
URL mirrors as `drop=`."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dropout_viz import handmade as hm
from dropout_viz import pipeline
from dropout_viz.engine import MLP, TrainingRun
from dropout_viz.experiments import run_label
from dropout_viz.figures import PLOTLY_CONFIG, alt, boundary_panels, network_figure
from dropout_viz.figures import handmade as fh
from dropout_viz.figures.network import MAX_NODES
from dropout_viz.settings import Settings, TrainKey
from dropout_viz.tab_figures import input_names, net_title, output_names
from dropout_viz.ui import cache, runs, state
from dropout_viz.ui.experiments_tab import twin_key

NETWORK_KEY = "handmade_network"
SITES_KEY = "_handmade_site_sizes"  # the shown network's site sizes, for the click callback
SEED_KEY = "handmade_seed"
LAST_SEED_KEY = "_handmade_last_seed"
EPOCH_KEY = "handmade_epoch"
MEASURE_KEY = "handmade_measure"
MEASURE_LABELS = {"accuracy": "test accuracy lost", "loss": "test loss gained"}
MSE_LABEL = "test MSE increase"  # regression's one measure: its loss is the MSE
SHOWN_PAIRS = 8
# Knock-outs above this many multiply-adds (a few seconds here: 4 × 256 units on 800 test
# points) wait for a button instead of running on every first visit.
MAX_AUTOMATIC_WORK = 2e10
RUN_KNOCKOUTS_KEY = "_handmade_run_knockouts"  # the run keys whose knock-outs were asked for

# Knock-outs of a run and of its twin without dropout, shared by every session.
KNOCKOUTS = cache.LRUCache(cache.MAX_RUNS)
cache.register(KNOCKOUTS.clear)
# What a click does not change: the full network's grid probabilities (or curve) and test
# score, and the knock-out bars (per measure and projector mode).
VIEWS = cache.LRUCache(4 * cache.MAX_RUNS)
cache.register(VIEWS.clear)


def units_key(layer: int) -> str:
    return f"handmade_units_{layer}"


def unit_label(layer: int, unit: int, input_names) -> str:
    """As the diagram names a unit: x1 (or the input's name) and h1.3."""
    if layer == 0:
        return f"{input_names[unit - 1] if input_names else f'x{unit}'} (0.{unit})"
    return f"h{layer}.{unit}"


def measure_label(measure: str, regression: bool) -> str:
    return MSE_LABEL if regression else MEASURE_LABELS[measure]


# ----------------------------------------------------------------------------- callbacks


def toggle_clicked() -> None:
    """A click (or shift-click) on units of the diagram drops them or brings them back."""
    event = st.session_state.get(NETWORK_KEY)
    n_sites = len(st.session_state.get(SITES_KEY, ()))
    dropped = set(state.dropped())
    for point in (event or {}).get("selection", {}).get("points", []):
        data = point.get("customdata")
        if not data or int(data[0]) >= n_sites:  # output units are no dropout site
            continue
        dropped ^= {(int(data[0]), int(data[1]) + 1)}
    state.set_dropped(dropped)


def twin_changed(layer: int) -> None:
    """The keyboard twin of one layer now names that layer's dropped units."""
    chosen = {(layer, int(u)) for u in st.session_state.get(units_key(layer), [])}
    state.set_dropped({u for u in state.dropped() if u[0] != layer} | chosen)


def keep_all() -> None:
    state.set_dropped(())


def random_mask(net: MLP) -> None:
    seed = int(st.session_state.get(SEED_KEY, 0))
    state.set_dropped(hm.random_dropped(net, seed))
    st.session_state[LAST_SEED_KEY] = seed
    st.session_state[SEED_KEY] = min(seed + 1, 9999)  # the next press draws a new one


def epoch_mask(run: TrainingRun) -> None:
    epoch = int(st.session_state.get(EPOCH_KEY, run.epochs_completed)) - 1
    state.set_dropped(hm.epoch_dropped(run, min(max(epoch, 0), run.epochs_completed - 1)))


# ----------------------------------------------------------------------------- the view


def controls(run: TrainingRun, net: MLP, settings: Settings) -> None:
    buttons = st.columns([0.8, 1, 1.4, 1, 1.4], vertical_alignment="bottom")
    buttons[0].button("Keep all", key="handmade_keep_all", on_click=keep_all,
                      help="Bring every unit back.")
    buttons[1].number_input("Mask seed", 0, 9999, key=SEED_KEY, step=1,
                            help="The random mask is drawn from this seed (the engine's mask "
                                 "rule), so a seed always gives the same mask.")
    buttons[2].button(f"Random mask at p = {settings.p_hidden:g}", key="handmade_random",
                      on_click=random_mask, args=(net,),
                      help="Each hidden unit dropped with probability p (inputs with the "
                           "input rate), from the seed on the left; the seed then moves on.")
    if not 1 <= st.session_state.get(EPOCH_KEY, 0) <= run.epochs_completed:
        st.session_state[EPOCH_KEY] = run.epochs_completed  # first visit, or a shorter run
    buttons[3].number_input("Epoch", 1, run.epochs_completed, key=EPOCH_KEY, step=1)
    buttons[4].button("Mask of that epoch", key="handmade_epoch_mask", on_click=epoch_mask,
                      args=(run,),
                      help="The units the training run dropped in that epoch (its first "
                           "mini-batch, or first example), applied to the final weights.")
    if LAST_SEED_KEY in st.session_state:
        st.caption(f"The last random mask came from seed {st.session_state[LAST_SEED_KEY]}.")


def keyboard_twin(net: MLP, input_names) -> None:
    """A multiselect per layer: the same choice as clicking, for the keyboard and for units
    beyond those the diagram draws."""
    dropped = state.dropped()
    columns = st.columns(len(net.site_sizes))
    for layer, (column, n_units) in enumerate(zip(columns, net.site_sizes)):
        key = units_key(layer)
        wanted = [u for l, u in dropped if l == layer]
        if st.session_state.get(key) != wanted:
            st.session_state[key] = wanted
        column.multiselect(
            f"Dropped, {'inputs' if layer == 0 else f'hidden layer {layer}'}",
            list(range(1, n_units + 1)), key=key, on_change=twin_changed, args=(layer,),
            format_func=lambda u, layer=layer: unit_label(layer, u, input_names),
            placeholder="none")


def boundary_view(run: TrainingRun, run_key: tuple, net: MLP, dropped, settings: Settings,
                  hand_acc: float, full_acc: float) -> None:
    dataset = run.dataset
    if not pipeline.is_planar(dataset):
        left, right = st.columns(2)
        left.metric("Test accuracy, your sub-network", f"{hand_acc:.1%}",
                    delta=f"{hand_acc - full_acc:+.1%} vs the full network")
        right.metric(f"Test accuracy, {net_title(settings).lower()}", f"{full_acc:.1%}")
        st.caption(f"The {dataset.name} data have {dataset.n_features} inputs, so there is no "
                   "plane to draw a decision boundary on: test accuracy only.")
        return
    grid = pipeline.grid_for(dataset)
    full_probs = VIEWS.get_or_build(("grid", run_key), lambda _: net.predict_proba(grid.points))
    fig = boundary_panels(
        [{"grid_probs": hm.hand_made_proba(net, grid.points, dropped),
          "title": "Your sub-network", "accuracy": hand_acc},
         {"grid_probs": full_probs,
          "title": "Full network" if settings.projector else net_title(settings),
          "accuracy": full_acc}],
        grid.xs, grid.ys, dataset.X_train, dataset.y_train, dataset.X_test, dataset.y_test,
        # Projector text is large: one panel above the other, so their titles never collide.
        n_classes=dataset.n_classes, ncols=1 if settings.projector else 2,
        projector=settings.projector, panel_height=340 if settings.projector else 300)
    st.plotly_chart(fig, key="handmade_boundary", config=PLOTLY_CONFIG,
                    alt=alt.twin_boundaries_alt(fig, {"your sub-network": hand_acc,
                                                      "the full network": full_acc}))


def curve_view(run: TrainingRun, run_key: tuple, net: MLP, dropped, settings: Settings,
               hand_mse: float, full_mse: float) -> None:
    """Regression: the hand-made sub-network's curve and the full network's over the points,
    with both test MSEs."""
    dataset = run.dataset
    line = pipeline.grid_for(dataset)
    full = VIEWS.get_or_build(("curve", run_key), lambda _: net.predict(line.points)[:, 0])
    fig = fh.handmade_curve_figure(
        line.xs, hm.hand_made_curve(net, line.points, dropped), full, hand_mse, full_mse,
        dataset.X_train, dataset.y_train, dataset.X_test, dataset.y_test,
        full_name="Full network" if settings.projector else net_title(settings),
        projector=settings.projector)
    st.plotly_chart(fig, key="handmade_curve", config=PLOTLY_CONFIG,
                    alt=alt.curves_over_points_alt(fig))


def scaling_note(net: MLP, settings: Settings, shown: str = "panels") -> str:
    """Why "keep all" is not the full network, from this run's rates and convention; `shown`
    names what is compared ("panels", "curves")."""
    rates = [1.0 - q for q in net.keep_probs if q < 1.0]
    if not rates:
        return ("This network was trained without dropout, so keeping every unit gives the "
                "full network exactly.")
    if settings.convention == "standard":
        return ("Your sub-network runs as training ran it: kept units pass their values as "
                "they are. The full network instead multiplies each unit's outgoing weights by "
                f"q = 1 − p, so even with every unit kept the two {shown} differ.")
    return ("Your sub-network runs as training ran it: kept units are scaled by 1/q. The full "
            f"network uses the weights as they are, so even with every unit kept the two "
            f"{shown} differ.")


def hand_made_view(run: TrainingRun, run_key: tuple, net: MLP, settings: Settings) -> None:
    dataset = run.dataset
    curve = pipeline.is_curve(dataset)
    dropped = state.dropped()
    # Test accuracy, or test MSE for regression.
    hand_score = hm.hand_made_score(net, dataset, dropped)
    full_score = VIEWS.get_or_build(("score", run_key),
                                    lambda _: pipeline.score_on_test(net, dataset))
    controls(run, net, settings)
    left, right = st.columns([1, 1] if settings.projector else [2, 3])
    with left:
        fig = fh.clickable(network_figure(
            net.weights, hm.keep_masks(net.site_sizes, dropped),
            input_names=input_names(dataset), output_names=output_names(dataset),
            title="Click a unit to drop it" if settings.projector
            else "Click a unit to drop it or bring it back",
            projector=settings.projector))
        st.session_state[SITES_KEY] = net.site_sizes
        st.plotly_chart(fig, key=NETWORK_KEY, on_select=toggle_clicked,
                        selection_mode="points", config=PLOTLY_CONFIG,
                        alt=alt.network_alt(fig, mse=hand_score) if curve
                        else alt.network_alt(fig, hand_score))
    with right:
        if curve:
            curve_view(run, run_key, net, dropped, settings, hand_score, full_score)
        else:
            boundary_view(run, run_key, net, dropped, settings, hand_score, full_score)
    wide = [layer for layer, n in enumerate(net.site_sizes) if n > MAX_NODES]
    st.caption(
        f"{len(dropped)} unit{'s' if len(dropped) != 1 else ''} dropped, on the final weights "
        f"of the run. {scaling_note(net, settings, 'curves' if curve else 'panels')} "
        + (f"The diagram draws the first {MAX_NODES - 1} units of layers wider than "
           f"{MAX_NODES}. " if wide else "")
        + "The lists below are the diagram's keyboard twin, and reach every unit.")
    keyboard_twin(net, input_names(dataset))


# ----------------------------------------------------------------------------- which units matter


def get_knockouts(run: TrainingRun, twin: TrainingRun, key: TrainKey) -> dict:
    """Knock-outs of both networks on the test split: label → Knockouts (cached)."""
    def build(_):
        label = run_label(run.config.p_hidden, run.config.p_input)
        nets = {label: run.network(), "p = 0 (no dropout)": twin.network()}
        test = run.dataset
        return {name: hm.knockouts(net, test.X_test, test.y_test) for name, net in nets.items()}

    return KNOCKOUTS.get_or_build((key, run.epochs_completed, twin.epochs_completed), build)


def count_text(costs: np.ndarray) -> str:
    worse, better = int((costs > 1e-12).sum()), int((costs < -1e-12).sum())
    return (f"removing {worse} of the {len(costs)} units alone makes it worse, {better} "
            f"better, {len(costs) - worse - better} change nothing")


def pair_rows(result: hm.Knockouts, measure: str) -> list[dict]:
    interaction, single, together = (result.interaction(measure), result.cost(measure),
                                     result.pair_cost(measure))
    rows = []
    for p in result.strongest(measure, SHOWN_PAIRS):
        i, j = result.pairs[p]
        rows.append({"units": f"h{hm.unit_name(result.units[i])} + h"
                              f"{hm.unit_name(result.units[j])}",
                     "first alone": round(float(single[i]), 4),
                     "second alone": round(float(single[j]), 4),
                     "both": round(float(together[p]), 4),
                     "interaction": round(float(interaction[p]), 4)})
    return rows


def pairs_caption(results: dict, measure: str, regression: bool = False) -> str:
    means = {label: float(np.mean(np.abs(r.interaction(measure)))) if r.pairs else 0.0
             for label, r in results.items()}
    n_pairs = {label: len(r.pairs) for label, r in results.items()}
    text = ("Interaction = the cost of removing both units minus the two costs of removing "
            "each alone: positive when the pair together costs more than apart, negative "
            "when it costs less. ")
    costliest = "raises the test MSE the most" if regression else "costs the most test loss"
    text += (f"Measured among the {min(hm.PAIR_UNITS, len(next(iter(results.values())).units))}"
             f" units of each network whose removal alone {costliest} ("
             + ", ".join(f"{n} pairs" for n in set(n_pairs.values())) + " each). ")
    parts = [f"{means[label]:.4f} for {label}" for label in results]
    text += "Mean |interaction| on this run: " + ", ".join(parts) + "."
    if len(means) == 2:
        (a, va), (b, vb) = means.items()
        if va != vb:
            text += f" It is larger for {a if va > vb else b}."
    return text


def knockout_measure(net: MLP) -> str:
    """The measure the bars show: the user's choice for a classifier (accuracy or loss);
    regression has one, the test MSE."""
    options = hm.measures(net)
    if len(options) == 1:
        return options[0]
    st.session_state.setdefault(MEASURE_KEY, "accuracy")
    return st.radio("Measure", options, key=MEASURE_KEY, horizontal=True,
                    format_func=MEASURE_LABELS.get)


def bars_caption(costs: dict, measure: str, n_test: int, regression: bool) -> str:
    label = measure_label(measure, regression)
    text = (f"Each bar: the {label} when that one hidden unit is removed from the test-time "
            f"network, on the {n_test} test points")
    if regression:
        text += (" (y standardised). Above zero, the network fits the test points worse "
                 "without that unit (its MSE rises); below zero, better")
    elif measure == "accuracy":
        text += f" (one point is {1 / n_test:.1%})"
    return (text + ". " + "; ".join(f"{label}: {count_text(c)}"
                                    for label, (_, c) in costs.items()) + ".")


def knockout_section(run: TrainingRun, settings: Settings, key: TrainKey) -> None:
    st.subheader("Which units matter")
    twin = runs.get_run(twin_key(key))
    if twin.epochs_completed == 0:
        st.info("The twin without dropout did not finish an epoch with finite weights.")
        return
    work = 2 * hm.knockout_work(run.network(), len(run.dataset.y_test))
    asked = st.session_state.setdefault(RUN_KNOCKOUTS_KEY, set())
    if work > MAX_AUTOMATIC_WORK and key not in asked and KNOCKOUTS.peek(
            (key, run.epochs_completed, twin.epochs_completed)) is None:
        st.caption(f"Removing every hidden unit of both networks, and pairs of units, takes "
                   f"{work:.1e} multiply-adds for this network on its "
                   f"{len(run.dataset.y_test)} test points.")
        if not st.button("Measure which units matter", key="handmade_run_knockouts",
                         type="primary"):
            return
        asked.add(key)
    results = get_knockouts(run, twin, key)
    if settings.p_hidden == 0 and settings.p_input == 0:
        results = dict(list(results.items())[:1])
        st.info("Your dropout rate is p = 0, so the run and its twin without dropout are the "
                "same network: one set of bars.")
    regression = run.loss == "mse"
    measure = knockout_measure(run.network())
    costs = {}
    for label, result in results.items():
        order = result.order(measure)
        costs[label] = ([hm.unit_name(result.units[i]) for i in order],
                        result.cost(measure)[order])
    fig = VIEWS.get_or_build(
        ("bars", key, run.epochs_completed, twin.epochs_completed, len(results), measure,
         settings.projector),
        lambda _: fh.knockout_figure(costs, measure_label(measure, regression),
                                     settings.projector))
    st.plotly_chart(fig, key="handmade_knockouts", config=PLOTLY_CONFIG,
                    alt="Bars, costliest first: " + "; ".join(
                        f"{label}: {count_text(c)}" for label, (_, c) in costs.items()) + ".")
    st.caption(bars_caption(costs, measure, len(run.dataset.y_test), regression))
    columns = st.columns(len(results))
    for column, (label, result) in zip(columns, results.items()):
        column.markdown(f"**Strongest pairs, {label}**")
        column.dataframe(pair_rows(result, measure), hide_index=True)
    st.caption(pairs_caption(results, measure, regression))


def render(settings: Settings, key: TrainKey) -> None:
    run = runs.get_run(key)
    if run.epochs_completed == 0:
        st.info("No epoch finished with finite weights, so there is nothing to build on yet.")
        return
    net = run.network()
    units, warnings = hm.known_units(state.dropped(), net.site_sizes)
    for warning in warnings:
        st.warning(warning)
    if warnings:
        state.set_dropped(units)
    hand_made_view(run, (key, run.epochs_completed), net, settings)
    knockout_section(run, settings, key)
