"""The Experiments tab: with vs without dropout, sweeping p, inside the neurons, and the notes'
Keras model on real digits. Computation lives in dropout_viz.experiments, figures in
dropout_viz.figures.experiments; this module lays them out."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import streamlit as st

from dropout_viz import experiments as ex
from dropout_viz import neurons, pipeline
from dropout_viz.engine import TrainingRun
from dropout_viz.figures import PLOTLY_CONFIG, alt, network_figure
from dropout_viz.figures import experiments as fx
from dropout_viz.figures.network import MAX_NODES
from dropout_viz.presets import apply_preset, load_presets
from dropout_viz.settings import FIELD_SPECS, Settings, TrainKey
from dropout_viz.ui import cache, downloads, runs, sidebar, state

EPOCH_KEY = "experiments_epoch"
SWEEP_MODE_KEY = "sweep_mode"  # the Settings field, so the mode travels in the URL
KERAS_PRESET = "notes-keras-digits"
MAX_SWEEPS = 16
UNIT_MAP_RESOLUTION = 40
SWEEP_MODE_LABELS = {"width": "fixed width n", "active": "fixed active units (1 − p)·n"}

# (SweepResult, seconds it took), shared by every session like the training runs:
# st.cache_data would record the progress bar's messages and replay them on every later hit.
SWEEPS = cache.LRUCache(MAX_SWEEPS)
cache.register(SWEEPS.clear)
# (ExperimentResults, figures) of a run and its twin without dropout, per projector mode.
COMPARISONS = cache.LRUCache(MAX_SWEEPS)
cache.register(COMPARISONS.clear)


def twin_key(key: TrainKey) -> TrainKey:
    """The same training key without dropout."""
    return dataclasses.replace(key, p_hidden=0.0, p_input=0.0)


def sweep_key(key: TrainKey, mode: str) -> tuple[TrainKey, str]:
    # The sweep sets p_hidden itself, so moving the p slider only moves the marker.
    return dataclasses.replace(key, p_hidden=0.0), mode


class SweepProgress:
    """A progress bar fed by sweep_p's on_progress (updated at most ten times a second)."""

    def __init__(self, n_models: int):
        self.n_models = n_models
        self.bar = st.progress(0.0, text=f"Training {n_models} networks…")
        self.last = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.perf_counter()
        if now - self.last < 0.1 and fraction < 1.0:
            return
        self.last = now
        self.bar.progress(min(1.0, fraction),
                          text=f"Training {self.n_models} networks… {fraction:.0%}")

    def done(self) -> None:
        self.bar.empty()


def get_sweep(settings: Settings, key: TrainKey,
              run_now: bool) -> tuple[ex.SweepResult, float] | None:
    """(sweep, seconds) for these settings: cached, trained now if run_now, else None."""
    key = sweep_key(key, settings.sweep_mode)
    entry = SWEEPS.get(key)
    if entry is not None or not run_now:
        return entry
    dataset = cache.get_dataset(key[0].data)
    progress = SweepProgress(len(ex.SWEEP_PS) * ex.SWEEP_SEEDS)
    started = time.perf_counter()
    result = ex.sweep_p(dataset, pipeline.config_for(key[0]), mode=settings.sweep_mode,
                        on_progress=progress)
    progress.done()
    entry = (result, time.perf_counter() - started)
    SWEEPS.put(key, entry)
    return entry


def _apply_keras_preset() -> None:
    preset = load_presets()[KERAS_PRESET]
    state.end_lesson()
    state.load_into_session(apply_preset(preset))
    st.session_state[sidebar.PRESET_KEY] = KERAS_PRESET
    state.open_tab(preset.tab)


def loss_word(run: TrainingRun) -> str:
    """What the run's loss is called on the page: "MSE" for a regression, else "loss"."""
    return "MSE" if run.task == "regression" else "loss"


def _gap_line(label: str, run: TrainingRun) -> str:
    h, loss = run.history, loss_word(run)
    text = (f"**{label}**: train {loss} {h['train_loss'][-1]:.3f}, test {loss} "
            f"{h['test_loss'][-1]:.3f}, so the gap is **{ex.generalisation_gap(run):.3f}**")
    if run.task == "regression":
        return text + " (y standardised)."
    return text + f"; test accuracy {h['test_acc'][-1]:.1%}."


def fits_caption(run: TrainingRun, twin: TrainingRun, labels: tuple[str, str]) -> str:
    """Under the two regression curves: which one fits the test points better, in numbers."""
    mse, twin_mse = run.history["test_loss"][-1], twin.history["test_loss"][-1]
    label, twin_label = labels
    if mse == twin_mse:
        verdict = "the same test MSE"
    else:
        better = label if mse < twin_mse else twin_label
        verdict = f"{abs(mse - twin_mse):.3f} lower with {better}"
    return ("Both test-time networks' curves over the points: filled points train, hollow "
            f"points test. Test MSE (y standardised) {mse:.3f} with {label} and {twin_mse:.3f} "
            f"with {twin_label}: {verdict}.")


def history_caption(run: TrainingRun, twin: TrainingRun) -> str:
    """Under the training curves: whether the training loss fell further without dropout here."""
    loss = loss_word(run)
    train, twin_train = run.history["train_loss"][-1], twin.history["train_loss"][-1]
    if twin_train < train:
        said = f"The {loss} on the training points falls further without dropout"
    else:
        said = f"Here the {loss} on the training points does not fall further without dropout"
    return f"Dashed: training split, solid: test split. {said}; what matters is the test curve."


def with_and_without(run: TrainingRun, twin: TrainingRun, results: ex.ExperimentResults,
                     figures: dict, settings: Settings) -> None:
    st.subheader("With and without dropout")
    label, twin_label = results.labels
    st.caption(f"Your settings trained twice, identical except that the twin drops nothing "
               f"(p = 0): same data, same seed, same initial weights, same batch order. Both "
               f"are shown as the deterministic test-time network after "
               f"{run.epochs_completed} epochs.")
    if settings.p_hidden == 0 and settings.p_input == 0:
        st.info("Your dropout rate is p = 0, so both runs are the same network. Raise p in "
                "the sidebar to see what dropout changes.")
    gap, twin_gap = ex.generalisation_gap(run), ex.generalisation_gap(twin)
    loss = loss_word(run)
    left, right = st.columns(2)
    left.metric(f"Gap (test − train {loss}), {label}", f"{gap:.3f}",
                delta=f"{gap - twin_gap:+.3f} vs p = 0", delta_color="inverse",
                help=f"Test {loss} minus training {loss} of the test-time network after the last "
                     "epoch. A large gap means the network learned its training points rather "
                     "than the pattern: over-fitting.")
    right.metric(f"Gap (test − train {loss}), {twin_label}", f"{twin_gap:.3f}")
    st.markdown(_gap_line(label, run) + "  \n" + _gap_line(twin_label, twin))
    if "boundaries" in figures:
        accuracies = {label: float(run.history["test_acc"][-1]),
                      twin_label: float(twin.history["test_acc"][-1])}
        st.plotly_chart(figures["boundaries"], key="twin_boundaries", config=PLOTLY_CONFIG,
                        alt=alt.twin_boundaries_alt(figures["boundaries"], accuracies))
        st.caption("One colour scale for both: deeper colour is a more confident network. "
                   "Filled points train, hollow points test.")
    elif "fits" in figures:
        st.plotly_chart(figures["fits"], key="twin_fits", config=PLOTLY_CONFIG,
                        alt=alt.curves_over_points_alt(figures["fits"]))
        st.caption(fits_caption(run, twin, results.labels))
    else:
        st.info(f"The {run.dataset.name} data have {run.dataset.n_features} inputs, so there "
                "is no plane to draw a decision boundary on. The confusion matrices and "
                "misclassified examples below show what each network gets wrong.")
    st.plotly_chart(figures["curves"], key="twin_curves", config=PLOTLY_CONFIG,
                    alt=alt.curves_alt(figures["curves"]))
    st.caption(history_caption(run, twin))
    if "confusion" in figures:
        st.plotly_chart(figures["confusion"], key="twin_confusion", config=PLOTLY_CONFIG,
                        alt=alt.confusion_alt(figures["confusion"]))
        st.caption("Rows are the true digit, columns the predicted one; the diagonal counts "
                   "correct answers. Off-diagonal cells are coloured on their own scale so a "
                   "few mistakes still show.")
        for name in ("mistakes-dropout", "mistakes-no-dropout"):
            if name in figures:
                st.plotly_chart(figures[name], key=name.replace("-", "_"),
                                config=PLOTLY_CONFIG, alt=alt.images_alt(figures[name]))
        st.caption("The test digits each network got wrong most confidently, drawn from their "
                   "8×8 pixel values (0 = white, 16 = black).")


def active_sweep_caption(width: int) -> str:
    """The fixed-active-units sweep: the widths it trains, and where the engine's cap on a
    layer's width breaks (1 − p)·n = width."""
    widths = [ex.active_width(width, p) for p in ex.SWEEP_PS]
    listed = ", ".join(str(n) for n in widths)
    # Rounding moves (1 − p)·n by less than half a unit; the cap can move it much further.
    capped = [(p, n) for p, n in zip(ex.SWEEP_PS, widths) if (1.0 - p) * n < width - 0.5]
    text = (f"Srivastava et al. (2014, §7.3) also kept the expected number of active units "
            f"fixed: each hidden layer has n = {width} / (1 − p) units, rounded to a whole unit "
            f"(widths {listed})")
    if not capped:
        text += f", so (1 − p)·n ≈ {width} at every p."
    else:
        last_ok = max(p for p in ex.SWEEP_PS if (p, ex.active_width(width, p)) not in capped)
        at = ", ".join(f"{round((1.0 - p) * n, 1):g} at p = {p:g}" for p, n in capped)
        text += (f", so (1 − p)·n ≈ {width} up to p = {last_ok:g}. Beyond, the width is capped "
                 f"at the engine's limit of {ex.MAX_SWEEP_WIDTH} units, and (1 − p)·n is only "
                 f"{at}.")
    return text + " Wider layers take longer to train."


def shown_units_note(layer_sizes, max_nodes: int = MAX_NODES) -> str:
    """Which layers of the diagram are cut short, from the network's own sizes."""
    last = len(layer_sizes) - 1
    wide = [("the input layer" if l == 0 else "the output layer" if l == last
             else f"hidden layer {l}") + f" ({n} units)"
            for l, n in enumerate(layer_sizes) if n > max_nodes]
    if not wide:
        return "Every unit is drawn. "
    names = wide[0] if len(wide) == 1 else ", ".join(wide[:-1]) + " and " + wide[-1]
    return (f"Layers wider than {max_nodes} units show only their first {max_nodes - 1}, the "
            f"rest summarised below them: here {names}. ")


def sweep_section(settings: Settings, key: TrainKey) -> None:
    st.subheader("Sweeping p")
    spec = FIELD_SPECS["sweep_mode"]
    if "sweep_mode" not in settings.hidden_controls:  # the teacher's view may hide it
        st.radio(spec.label, spec.choices, key=SWEEP_MODE_KEY, horizontal=True,
                 format_func=SWEEP_MODE_LABELS.get, help=spec.help)
    n_models = len(ex.SWEEP_PS) * ex.SWEEP_SEEDS
    if settings.sweep_mode == "width":
        ps = ex.SWEEP_PS
        st.caption(f"p from {ps[0]:g} to {ps[-1]:g} in steps of {round(ps[1] - ps[0], 3):g}, "
                   f"each with {ex.SWEEP_SEEDS} training seeds "
                   f"({n_models} networks of {settings.n_layers} × {settings.width} units); "
                   "everything else as in the sidebar. Only the hidden layers' p changes.")
    else:
        st.caption(active_sweep_caption(settings.width))
    entry = get_sweep(settings, key, run_now=False)
    if entry is None:
        slot = st.empty()  # the button gives way to the progress bar and the results
        if not slot.button(f"Run the sweep ({n_models} networks)", key="run_sweep",
                           type="primary"):
            st.caption("The networks of one width train together in one vectorised pass.")
            return
        slot.empty()
        entry = get_sweep(settings, key, run_now=True)
    result, seconds = entry
    fig = fx.sweep_figure(result.ps, result.metrics, settings.p_hidden, result.mode,
                          result.widths, settings.projector)
    st.plotly_chart(fig, key="sweep", config=PLOTLY_CONFIG, alt=alt.sweep_alt(fig))
    best = int(np.nanargmin(result.mean("test_loss")))
    loss = "MSE (y standardised)" if "test_acc" not in result.metrics else "loss"
    lowest = (f"Lowest mean test {loss} at p = {result.ps[best]:g} "
              f"({result.mean('test_loss')[best]:.3f} ± {result.std('test_loss')[best]:.3f})")
    text = lowest + (", without dropout." if best == 0 else
                     f"; at p = 0 it is {result.mean('test_loss')[0]:.3f}.")
    text += (f" Error bars: ± 1 standard deviation over {len(result.seeds)} training seeds on "
             "the same data split.")
    text += f" Trained in {seconds:.1f} s."
    if result.diverged.any():
        text += f" {int(result.diverged.sum())} runs diverged (shown at their last finite epoch)."
    st.caption(text)


def neurons_section(results: ex.ExperimentResults, figures: dict, run: TrainingRun,
                    settings: Settings) -> None:
    st.subheader("Inside the neurons")
    label, twin_label = results.labels
    pooled = {name: neurons.pooled_stats(stats) for name, stats in results.activations.items()}
    columns = st.columns(2)
    for column, name in zip(columns, (label, twin_label)):
        column.metric(f"Mean activation, {name}", f"{pooled[name]['mean']:.3f}")
        column.metric(f"Near zero (|a| < {neurons.NEAR_ZERO:g}), {name}",
                      f"{pooled[name]['near_zero']:.1%}")
    st.plotly_chart(figures["activations"], key="activations", config=PLOTLY_CONFIG,
                    alt=alt.activations_alt(figures["activations"]))
    st.caption("Every hidden unit's output on every training point, in the test-time network. "
               "Srivastava et al. (2014, Fig. 8) found dropout makes ReLU units sparser: a "
               "lower mean activation and more outputs at zero. Expect the direction on toy "
               "data, not their numbers. Dashed lines mark each network's mean."
               + (" For sigmoid units 'near zero' means saturated low, not switched off."
                  if settings.activation == "sigmoid" else ""))
    if pipeline.is_curve(run.dataset):
        st.info("Unit maps draw each hidden unit's output over a 2-D input plane. With one "
                "input x, each unit's output is a curve over x instead; this tab does not draw "
                "them (the Thinned sub-networks tab shows whole networks' curves).")
        return
    if not pipeline.is_planar(run.dataset):
        st.info(f"Unit maps need a 2-D input plane; the {run.dataset.name} data have "
                f"{run.dataset.n_features} inputs.")
        return
    st.fragment(unit_maps_view)(run, settings)


def unit_maps_view(run: TrainingRun, settings: Settings) -> None:
    labels = [int(e) + 1 for e in run.snapshot_epochs]
    if st.session_state.get(EPOCH_KEY) not in labels:
        st.session_state[EPOCH_KEY] = labels[-1]
    st.select_slider("Epoch of the unit maps", options=labels, key=EPOCH_KEY,
                     help="The maps show each unit of the network after this epoch; units "
                          "marked ✕ were dropped in that epoch's mask.")
    epoch = st.session_state[EPOCH_KEY] - 1
    net = run.network(epoch)
    grid = pipeline.grid_for(run.dataset, UNIT_MAP_RESOLUTION)
    xs, ys = grid.xs, grid.ys
    units = neurons.unit_maps(net, xs, ys, ex.shown_mask(run, epoch))
    accuracy = float(run.history["test_acc"][epoch])
    for layer, (maps, dropped) in enumerate(zip(units.maps, units.dropped), start=1):
        fig = fx.unit_maps_figure(xs, ys, maps, dropped, layer, projector=settings.projector)
        st.plotly_chart(fig, key=f"unit_maps_{layer}", config=PLOTLY_CONFIG,
                        alt=alt.unit_maps_alt(fig, epoch + 1, accuracy))
    scope = {"epoch": "that epoch", "batch": "mini-batch 1 of that epoch",
             "example": "the first example of mini-batch 1 in that epoch"}[settings.mask_scope]
    st.caption(f"Each small map is one hidden unit's output over the input plane (blue "
               f"positive, orange negative, white zero; each map on its own scale). ✕ and "
               f"faded: dropped in the mask of {scope}. Units deeper in the network combine "
               "the shapes of the layer before.")


def keras_section(settings: Settings, run: TrainingRun) -> None:
    st.subheader("The notes' Keras model on real digits")
    is_keras = settings.preset == KERAS_PRESET and settings.dataset == "digits"
    st.markdown(
        "The notes train `Dense(128, relu) → Dropout(0.5) → Dense(128, relu) → Dropout(0.5) → "
        "Dense(10, softmax)` with Adam and categorical cross-entropy, 10 epochs, batch 32, "
        "20% held out. Here the same model runs on scikit-learn's 8×8 digits (64 inputs "
        "instead of MNIST's 784, which needs a download). Keras draws a fresh mask for every "
        "example and scales kept units by 1/(1 − p) during training (inverted dropout), so "
        "nothing is rescaled at test time.")
    if not is_keras:
        st.button("Load the notes' Keras model on digits", key="keras_preset",
                  on_click=_apply_keras_preset,
                  help="Sets every control to the notes' model (the preset in the sidebar); "
                       "change any of them afterwards.")
        return
    net = run.network()
    masks = ex.shown_mask(run, run.epochs_completed - 1)
    sizes = " → ".join(str(n) for n in net.layer_sizes)
    diagram = network_figure(
        net.weights, masks, output_names=[f"digit {c}" for c in run.dataset.class_names],
        title=f"The notes' model ({sizes}): one thinned sub-network of the last epoch",
        projector=settings.projector)
    st.plotly_chart(diagram, key="keras_network", config=PLOTLY_CONFIG,
                    alt=alt.network_alt(diagram, float(run.history["test_acc"][-1])))
    st.caption(shown_units_note(net.layer_sizes)
               + ("Initial weights are Glorot uniform, as Keras' Dense layer draws them. "
                  if settings.init == "glorot" else
                  "Initial weights: He for ReLU layers (Keras' Dense default is Glorot). ")
               + "Differences from Keras: the held-out 20% is a stratified random "
               "split (Keras' validation_split takes the last 20% of the rows), and there is "
               "no early stopping or learning-rate schedule in either. The curves, confusion "
               "matrices and misclassified digits are in the first section above.")


def render(settings: Settings, key: TrainKey) -> None:
    run = runs.get_run(key)
    twin = runs.get_run(twin_key(key))
    if run.epochs_completed == 0 or twin.epochs_completed == 0:
        st.info("No epoch finished with finite weights, so there is nothing to compare yet. "
                "Try a smaller learning rate.")
        return
    def build(_):
        results = ex.experiment_results(run, twin, with_units=False)
        return results, fx.experiments_figures(results, settings.projector)

    results, figures = COMPARISONS.get_or_build(
        (key, settings.projector, run.epochs_completed, twin.epochs_completed), build)
    with_and_without(run, twin, results, figures, settings)
    sweep_section(settings, key)
    neurons_section(results, figures, run, settings)
    keras_section(settings, run)
    downloads.download_row(figures, run, settings, "experiments")
