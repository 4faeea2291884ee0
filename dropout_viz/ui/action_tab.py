"""The "Dropout in action" tab: the thinned network of epoch e, its boundary beside the full
network's, and the training curves. Scrubbing and Play rerun only the epoch fragment."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dropout_viz import pipeline
from dropout_viz.engine import TrainingRun, accuracy
from dropout_viz.figures import PLOTLY_CONFIG, boundary_panels, history_figure, network_figure
from dropout_viz.figures.curves import with_epoch_marker
from dropout_viz.settings import Settings
from dropout_viz.ui import cache, downloads

EPOCH_KEY = "action_epoch"
PLAYING_KEY = "_playing"
PLAY_FRAMES = 30  # Play steps through about this many epochs
PLAY_INTERVAL_S = 0.7


def output_names(dataset) -> list[str]:
    return [f"class {name}" for name in dataset.class_names]


def scope_caption(settings: Settings, run: TrainingRun, epoch: int) -> str:
    n_train, batches = len(run.dataset.y_train), run.n_batches
    if settings.mask_scope == "epoch":
        return (f"Per-epoch masks: the units crossed out were dropped for all of epoch "
                f"{epoch + 1}, so this one thinned network is what that epoch trained. "
                f"{run.epochs_completed} epochs train at most that many sub-networks: closer "
                "to a fixed handful of sub-networks than to the per-example dropout of the "
                "paper and the frameworks.")
    if settings.mask_scope == "batch":
        return (f"Per-mini-batch masks: shown is the mask of mini-batch 1 of {batches} in epoch "
                f"{epoch + 1}; every mini-batch trains a different thinned network.")
    return (f"Per-example masks: shown is the sub-network of the first example of mini-batch 1 "
            f"in epoch {epoch + 1}. Every one of the {n_train} training examples gets its own "
            f"mask at every step, so training touches up to {n_train * run.epochs_completed:,} "
            "sub-networks.")


def net_title(settings: Settings) -> str:
    if settings.convention == "standard":
        return "Full network, weights × q"
    return "Full network, weights as trained"


def _play_step(epochs: np.ndarray) -> int:
    return max(1, len(epochs) // PLAY_FRAMES)


def epoch_view(run: TrainingRun, settings: Settings) -> None:
    epochs = run.snapshot_epochs
    labels = [int(e) + 1 for e in epochs]
    if st.session_state.get(EPOCH_KEY) not in labels:
        st.session_state[EPOCH_KEY] = labels[-1]
    playing = st.session_state.get(PLAYING_KEY, False)
    if playing:
        position = labels.index(st.session_state[EPOCH_KEY]) + _play_step(epochs)
        if position >= len(labels):
            position, playing = len(labels) - 1, False
            st.session_state[PLAYING_KEY] = False
        st.session_state[EPOCH_KEY] = labels[position]

    slider_col, button_col = st.columns([6, 1], vertical_alignment="bottom")
    with slider_col:
        st.select_slider("Epoch", options=labels, key=EPOCH_KEY,
                         help="Scrub through training: the diagram shows that epoch's mask.")
    with button_col:
        if st.button("⏸ Pause" if playing else "▶ Play", key="play", width="stretch"):
            st.session_state[PLAYING_KEY] = not playing
            if not playing and st.session_state[EPOCH_KEY] == labels[-1]:
                st.session_state[EPOCH_KEY] = labels[0]
            st.rerun(scope="app")  # the fragment's timer changes with the play state

    epoch = st.session_state[EPOCH_KEY] - 1
    figures = action_figures(run, settings, epoch, history_base(run, settings))
    if "boundary" in figures:
        # Side by side on a laptop; stacked in projector mode, where the fonts need the width.
        diagram_col, boundary_col = (st.container(), st.container()) if settings.projector \
            else st.columns([2, 3])
        with diagram_col:
            st.plotly_chart(figures["network"], key="network", config=PLOTLY_CONFIG)
        with boundary_col:
            st.plotly_chart(figures["boundary"], key="boundary", config=PLOTLY_CONFIG)
            st.caption("Filled points train, hollow points test; titles give test accuracy. "
                       "The thinned network is one member of the ensemble; the full network "
                       "is what dropout predicts with.")
    else:
        st.plotly_chart(figures["network"], key="network", config=PLOTLY_CONFIG)
        st.caption("Digits have 64 inputs, so there is no plane to draw a decision boundary "
                   "on; the curves below and the Experiments tab show how the network does.")
    st.caption(scope_caption(settings, run, epoch))
    st.plotly_chart(figures["history"], key="history", config=PLOTLY_CONFIG)
    downloads.download_row(figures, run, settings, "action")


HISTORY_BASES = cache.LRUCache(8)
cache.register(HISTORY_BASES.clear)


def history_base(run: TrainingRun, settings: Settings) -> go.Figure:
    """The run's curves without the epoch marker, built once per run (the slider only moves
    the marker)."""
    key = (settings.train_key(), settings.projector)
    base = HISTORY_BASES.get(key)
    if base is None or base.layout.meta["n_epochs"] != run.epochs_completed:
        base = history_figure(run.history, projector=settings.projector)
        HISTORY_BASES.put(key, base)
    return base


def action_figures(run: TrainingRun, settings: Settings, epoch: int,
                   history_without_marker: go.Figure | None = None) -> dict[str, go.Figure]:
    """The tab's figures at one epoch (also what the command-line export writes)."""
    dataset = run.dataset
    net = run.network(epoch)
    keep_mask = pipeline.view_mask(run.keep_masks(epoch, 0))
    projector = settings.projector
    planar = pipeline.is_planar(dataset)
    figures = {"network": network_figure(
        net.weights, keep_mask, input_names=list(dataset.feature_names) if planar else None,
        output_names=output_names(dataset), title=f"Thinned network of epoch {epoch + 1}",
        projector=projector)}
    if planar:
        grid = pipeline.grid_for(dataset)
        thinned, full = pipeline.thinned_and_full(net, keep_mask, grid.points)
        thinned_acc = accuracy(net.predict_proba(dataset.X_test, keep_mask), dataset.y_test)
        full_acc = accuracy(net.predict_proba(dataset.X_test), dataset.y_test)
        figures["boundary"] = boundary_panels(
            [{"grid_probs": thinned, "title": f"Thinned network, epoch {epoch + 1}",
              "accuracy": thinned_acc},
             {"grid_probs": full, "title": net_title(settings), "accuracy": full_acc}],
            grid.xs, grid.ys, dataset.X_train, dataset.y_train, dataset.X_test,
            dataset.y_test, n_classes=dataset.n_classes, ncols=2, projector=projector,
            panel_height=520 if projector else 420)
    if history_without_marker is None:
        figures["history"] = history_figure(run.history, epoch_marker=epoch + 1,
                                            projector=projector)
    else:
        figures["history"] = with_epoch_marker(history_without_marker, epoch + 1, projector)
    return figures


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


def render(settings: Settings) -> None:
    run = cache.get_run(settings.train_key())
    training_notes(run, settings)
    if run.epochs_completed == 0:
        st.info("No epoch finished with finite weights, so there is nothing to show yet.")
        return
    every = PLAY_INTERVAL_S if st.session_state.get(PLAYING_KEY) else None
    st.fragment(epoch_view, run_every=every)(run, settings)
