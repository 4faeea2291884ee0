"""The "Dropout in action" tab: the thinned network of epoch e, its boundary beside the full
network's (for regression both networks' curves over the points), and the training curves.
Scrubbing and Play run in the browser (animation frames)."""

from __future__ import annotations

import dataclasses
import hashlib

import plotly.graph_objects as go
import streamlit as st

from dropout_viz import pipeline
from dropout_viz.engine import TrainingRun
from dropout_viz.figures import alt
from dropout_viz.figures.animation import PROJECTOR_HEIGHT
from dropout_viz.figures.spec import AnimatedFigure, at_frame
from dropout_viz.settings import Settings, TrainKey
from dropout_viz.tab_figures import animation_figure, history_view
from dropout_viz.ui import cache, classroom, downloads, live_chart, p_scrub, prefetch, runs

# The keyboard twin of the animation's Plotly slider (which the keyboard cannot reach): a
# Streamlit slider over the frames' epochs. Its value lives in session state only, not in the
# URL or the settings; EPOCH_SHOWN keeps it while the tab is closed (Streamlit forgets the
# value of a widget that a run does not draw).
EPOCH_KEY = "action_epoch"
EPOCH_SHOWN = "_action_epoch_shown"
EPOCH_LABEL = "Epoch shown"


def scope_caption(settings: Settings, run: TrainingRun) -> str:
    n_train, batches = len(run.dataset.y_train), run.n_batches
    if settings.mask_scope == "epoch":
        return (f"Per-epoch masks: the units crossed out were dropped for all of the epoch "
                f"shown, so that one thinned network is what the epoch trained. "
                f"{run.epochs_completed} epochs train at most that many sub-networks: closer "
                "to a fixed handful of sub-networks than to the per-example dropout of the "
                "paper and the frameworks.")
    if settings.mask_scope == "batch":
        return (f"Per-mini-batch masks: shown is the mask of mini-batch 1 of {batches} in each "
                "epoch; every mini-batch trains a different thinned network.")
    return (f"Per-example masks: shown is the sub-network of the first example of mini-batch 1 "
            f"in each epoch. Every one of the {n_train} training examples gets its own "
            f"mask at every step, so training touches up to {n_train * run.epochs_completed:,} "
            "sub-networks.")


# Built once per run and projector mode, shared by every session (about 0.35 MB each).
ANIMATIONS = cache.LRUCache(cache.MAX_RUNS, cache.MAX_PREPARED)
cache.register(ANIMATIONS.clear)


def view_key(run: TrainingRun, settings: Settings, key: TrainKey) -> tuple:
    """The key of a run's animation and curves; a run stopped early gets its own."""
    return key, settings.projector, run.epochs_completed


def cached_animation(run: TrainingRun, settings: Settings, key: TrainKey) -> go.Figure:
    return ANIMATIONS.get_or_build(view_key(run, settings, key),
                                   lambda _: animation_figure(run, settings))


def picture_id(run: TrainingRun, settings: Settings, key: TrainKey) -> str:
    """A name for the last frame of a run's animation, the same wherever it is drawn: the page
    holds it (p_scrub), and the animation says it shows it (live_chart's `shows`)."""
    return hashlib.sha256(repr(view_key(run, settings, key)).encode()).hexdigest()[:16]


def p_pictures(run: TrainingRun, settings: Settings,
               key: TrainKey) -> list[tuple[float, dict, str]]:
    """The last frame of each p on the slider whose run and animation the server holds, for
    these settings otherwise (the p grid shares the run's epochs), in the slider's order, with
    its picture id."""
    pictures = []
    for p in prefetch.P_VALUES:
        key_p = dataclasses.replace(key, p_hidden=p)
        run_p = cache.RUNS.peek(key_p)
        if run_p is None or run_p.epochs_completed != run.epochs_completed:
            continue
        animation = held_animation(run_p, settings, key_p)
        if animation is not None:
            pictures.append((p, animation.spec["frames"][-1], picture_id(run_p, settings, key_p)))
    return pictures


def shown_frame(labels: list[int]) -> int:
    """Index of the frame the keyboard twin asks for: its epoch if that is one of `labels`
    (kept over reruns, other settings and tab switches), else the last frame."""
    if st.session_state.get(EPOCH_KEY) not in labels:
        kept = st.session_state.get(EPOCH_SHOWN)
        st.session_state[EPOCH_KEY] = kept if kept in labels else labels[-1]
    return labels.index(st.session_state[EPOCH_KEY])


def animation_view(animation: AnimatedFigure, one_screen: bool = False, shows: str = "") -> None:
    """The animation at the frame the keyboard twin asks for, and the twin right below it.

    A fragment: moving the twin reruns only this, and the figure is the cached one moved to
    that frame (`at_frame`: a shallow copy, nothing recomputed). At the default, the last
    frame, the page is exactly what a mouse user gets; the Plotly slider and Play still work,
    and the chart is said to show picture `shows` (picture_id).
    `one_screen` (projector mode): the chart fills a box that the page's style sizes to the
    window (ui/classroom.py), so the room sees all of it without scrolling."""
    labels = list(animation.spec["layout"]["meta"]["epochs"])
    index = shown_frame(labels)
    at_end = index == len(labels) - 1
    shown = animation if at_end else at_frame(animation, index)
    shows = shows if at_end else ""
    text = alt.animation_alt(shown, index)
    if one_screen:
        with st.container(height=PROJECTOR_HEIGHT, border=False, key=classroom.ONE_SCREEN):
            live_chart.show(shown, "animation", text, fill=True, shows=shows)
    else:
        live_chart.show(shown, "animation", text, shows=shows)
    st.select_slider(
        EPOCH_LABEL, options=labels, key=EPOCH_KEY,
        help="The chart's own epoch slider and ▶ Play work with the mouse; this one works "
             "with the keyboard too: focus it (Tab) and press ← or → for the previous or next "
             "kept epoch, Home or End for the first or last. The chart above then shows that "
             "epoch's thinned network and its boundaries or curves.")
    st.session_state[EPOCH_SHOWN] = st.session_state[EPOCH_KEY]


def has_panel(dataset) -> bool:
    """The animation draws a panel beside the diagram: boundaries on a plane, or curves."""
    return pipeline.is_planar(dataset) or pipeline.is_curve(dataset)


def animation_caption(dataset, n_frames: int) -> str:
    """What the animation shows and how to step through it, for this kind of data."""
    steps = (f"Drag the epoch slider or press ▶ Play: {n_frames} of the kept epochs, stepped "
             "through in your browser. ")
    keyboard = f" With the keyboard, use the “{EPOCH_LABEL}” slider under the chart."
    if pipeline.is_curve(dataset):
        return (steps + "Filled points train, hollow points test; the panel's title gives "
                "each network's test MSE (y standardised). The thinned network's curve "
                "(solid) is one member of the ensemble; the full network's (dashed) is what "
                "dropout predicts with." + keyboard)
    if pipeline.is_planar(dataset):
        return (steps + "Filled points train, hollow points test; panel titles give test "
                "accuracy. The thinned network is one member of the ensemble; the full "
                "network is what dropout predicts with." + keyboard)
    return (f"Drag the epoch slider or press ▶ Play: {n_frames} of the kept epochs. "
            f"The {dataset.name} data have {dataset.n_features} inputs, so there is no plane "
            "to draw a decision boundary on; the curves below and the Experiments tab show "
            "how the network does." + keyboard)


def epoch_view(run: TrainingRun, settings: Settings, key: TrainKey) -> None:
    animation = cached_animation(run, settings, key)
    one_screen = settings.projector and has_panel(run.dataset)
    st.fragment(animation_view)(animation, one_screen, picture_id(run, settings, key))
    p_scrub.mount(p_pictures(run, settings, key), "animation",
                  animation.spec["layout"]["meta"]["epochs"][-1])
    st.caption(animation_caption(run.dataset, len(animation.spec["frames"])))
    st.caption(scope_caption(settings, run))
    history = history_base(run, settings, key)
    live_chart.show(history, "history", alt.history_alt(history))
    downloads.download_row({"animation": animation, "history": history}, run, settings, "action")


HISTORY_BASES = cache.LRUCache(cache.MAX_RUNS, cache.MAX_PREPARED)
cache.register(HISTORY_BASES.clear)


def history_base(run: TrainingRun, settings: Settings, key: TrainKey) -> go.Figure:
    """The run's curves, built once per run."""
    return HISTORY_BASES.get_or_build(view_key(run, settings, key),
                                      lambda _: history_view(run, settings))


def store_views(run: TrainingRun, settings: Settings, key: TrainKey,
                animation: AnimatedFigure) -> None:
    """Keep a run's animation drawn ahead of use, and its curves, as prepared entries
    (prefetch.py)."""
    entry = view_key(run, settings, key)
    if ANIMATIONS.peek(entry) is None:
        ANIMATIONS.put(entry, animation, prepared=True)
    if HISTORY_BASES.peek(entry) is None:
        HISTORY_BASES.put(entry, history_view(run, settings), prepared=True)


def held_animation(run: TrainingRun, settings: Settings, key: TrainKey) -> AnimatedFigure | None:
    """The run's animation if the server has drawn it, without counting it as used."""
    return ANIMATIONS.peek(view_key(run, settings, key))


def has_views(run: TrainingRun, settings: Settings, key: TrainKey) -> bool:
    return held_animation(run, settings, key) is not None


VIEWS = prefetch.Views(store=store_views, have=has_views)


def training_notes(run: TrainingRun, settings: Settings) -> None:
    """Messages about the run itself: divergence, a p that empties whole layers."""
    if run.diverged_at is not None:
        last = run.epochs_completed
        st.error(
            f"Training diverged in epoch {run.diverged_at + 1}: the loss became infinite or NaN "
            f"with learning rate {settings.lr:g}. Showing the last finite state"
            + (f" (epoch {last})." if last else " (the initial weights).")
            + f" Try a learning rate of {settings.lr / 10:g} or lower.")
    if settings.p_hidden > 0:
        chance = settings.p_hidden ** settings.width
        if chance > 0.01:
            st.warning(f"With p = {settings.p_hidden:g} and {settings.width} units a whole "
                       f"hidden layer is dropped {chance:.0%} of the time (pⁿ), so those "
                       "sub-networks output a constant.")


def render(settings: Settings, key: TrainKey) -> None:
    run = runs.get_run(key)
    training_notes(run, settings)
    if run.epochs_completed == 0:
        st.info("No epoch finished with finite weights, so there is nothing to show yet.")
        return
    epoch_view(run, settings, key)
    if cache.RUNS.peek(key) is run:  # a finished shared run (not one stopped by this session)
        prefetch.PREFETCHER.request(settings, key, run.dataset, VIEWS)
