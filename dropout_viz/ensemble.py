"""The ensemble behind dropout, computed: thinned sub-networks, their average, the test-time
network, Monte-Carlo convergence and the sub-networks' disagreement over the plane; for a
regression network (`compute_curve_ensemble`) their curves over x, mean and spread.

Pure NumPy (no Streamlit, no Plotly). Every stack of sub-networks runs through the engine's
one stacked pass (`engine.inference.stacked_predict`); sub-networks with their own weights
("as trained") stack their weight matrices along a leading axis. The measures and the
convergence curve are in ensemble_measures.py. Results are compact dataclasses of float32
arrays so that a cache can hold and copy them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout_viz import pipeline
from dropout_viz.engine import TrainingRun, ensemble_mean, mc_mean_and_sd
from dropout_viz.engine.inference import stacked_predict
from dropout_viz.ensemble_measures import (  # noqa: F401 (also the ensemble's public names)
    CONVERGENCE_KS,
    KINDS,
    MEASURES,
    Convergence,
    Scores,
    agreement,
    convergence_curve,
    curve_convergence,
    disagreement,
    distance,
    measure_upper,
    per_network_log_loss,
    prefix_means,
    sampled_keep_masks,
    scores,
    shared_predict,
    squared_errors,
    unanimous,
    weight_scaling_is_exact,
)

SOURCES = ("sampled", "trained")
GALLERY_RESOLUTION = 50


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PlotData:
    """What every panel draws on top: the data (float32) and the planes' coordinates."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    planar: bool
    xs: np.ndarray | None  # the full grid (R,), None when the data are not 2-D
    ys: np.ndarray | None


@dataclass(frozen=True)
class Gallery:
    """K thinned sub-networks exactly as shown: masks, weights, boundaries and test scores."""

    source: str  # "sampled" (fresh masks on the final weights) or "trained"
    mask_scope: str
    epochs: np.ndarray  # (K,) 0-based epoch whose weights each sub-network uses
    keep_masks: tuple[np.ndarray, ...]  # one (K, units) 0/1 float32 array per dropout site
    weights: tuple[tuple[np.ndarray, ...], ...]  # per sub-network, per layer (fan_in, fan_out)
    xs: np.ndarray | None  # the gallery's coarser grid (about 50 x 50)
    ys: np.ndarray | None
    grid_probs: np.ndarray | None  # (K, len(ys) * len(xs), C) float32
    test_accuracy: np.ndarray  # (K,)
    test_log_loss: np.ndarray  # (K,)

    @property
    def k(self) -> int:
        return len(self.epochs)


@dataclass(frozen=True)
class Comparison:
    """The average of the gallery's sub-networks beside the deterministic test-time network."""

    kind: str  # "arithmetic" or "geometric"
    average: np.ndarray | None  # (R*R, C) float32 on the full grid
    test_time: np.ndarray | None  # (R*R, C) float32
    average_scores: Scores
    test_time_scores: Scores
    agreement: float  # share of test points where both predict the same class
    n_test: int
    # Mean over the test points of the |difference| panel's measure (total variation distance
    # ½·Σ|P_average − P_test-time|): Monte-Carlo noise of the K sub-networks included.
    gap: float


@dataclass(frozen=True)
class Uncertainty:
    """How much K sampled sub-networks (on the final weights) disagree, over the plane."""

    measure: str  # "entropy" (mutual information) or "std"
    values: np.ndarray  # (R*R,) float32, zero only where the K probabilities are identical
    k: int
    upper: float  # the measure's largest possible value (colour-scale end)
    # Largest value where all K sub-networks pick the same class (they may still differ in
    # confidence, so it need not be zero); 0.0 when they split everywhere.
    unanimous_max: float
    unanimous_share: float  # share of the plane where all K pick the same class


@dataclass(frozen=True)
class EnsembleResults:
    data: PlotData
    gallery: Gallery
    comparison: Comparison
    uncertainty: Uncertainty | None  # None when the data are not 2-D
    convergence: Convergence
    convention: str
    activation: str
    keep_probs: tuple[float, ...]


# ----------------------------------------------------------------------------- predictions


def trained_epochs(run: TrainingRun, k: int) -> np.ndarray:
    """The last K epochs whose weights the run kept (every epoch unless it stored a stride)."""
    return np.asarray(run.snapshot_epochs[-k:], dtype=int)


def trained_sub_networks(run: TrainingRun, k: int):
    """The sub-networks training used in the last K kept epochs, each with that epoch's weights.

    Epoch scope: the epoch's one mask. Batch scope: the mask of the epoch's first mini-batch.
    Example scope: the mask of the first example of the first mini-batch. The weights are those
    at the end of the epoch. Returns (epochs, keep_masks per site (K, units), weights, biases),
    weights[l] stacked (K, fan_in, fan_out).
    """
    epochs = trained_epochs(run, k)
    masks_by_epoch = [pipeline.view_mask(run.keep_masks(int(e), 0)) for e in epochs]
    keep_masks = [np.stack([m[s] for m in masks_by_epoch]).astype(np.float32)
                  for s in range(len(masks_by_epoch[0]))]
    nets = [run.network(int(e)) for e in epochs]
    weights = [np.stack([net.weights[l] for net in nets]) for l in range(len(nets[0].weights))]
    biases = [np.stack([net.biases[l] for net in nets]) for l in range(len(nets[0].biases))]
    return epochs, keep_masks, weights, biases


# ----------------------------------------------------------------------------- everything


def gallery_indices(resolution: int, target: int = GALLERY_RESOLUTION) -> np.ndarray:
    """Indices picking about `target` evenly spread rows/columns of a resolution-wide grid."""
    return np.unique(np.round(np.linspace(0, resolution - 1, min(target, resolution)))
                     .astype(int))


def plot_data(dataset, grid: pipeline.Grid | None) -> PlotData:
    target = np.float32 if dataset.task == "regression" else int  # y values or class labels
    return PlotData(
        X_train=np.asarray(dataset.X_train, dtype=np.float32),
        y_train=np.asarray(dataset.y_train, dtype=target),
        X_test=np.asarray(dataset.X_test, dtype=np.float32),
        y_test=np.asarray(dataset.y_test, dtype=target),
        n_classes=int(dataset.n_classes),
        feature_names=tuple(str(n) for n in dataset.feature_names),
        class_names=tuple(str(n) for n in dataset.class_names),
        planar=grid is not None,
        xs=None if grid is None else grid.xs, ys=None if grid is None else grid.ys)


def _comparison(probs: np.ndarray, full: np.ndarray, kind: str, y_test: np.ndarray,
                n_grid: int) -> Comparison:
    """The K sub-networks' average beside the test-time network: the first n_grid points are
    the plane's grid (none when the data are not 2-D), the rest the test points."""
    average = ensemble_mean(probs, kind)
    return Comparison(
        kind=kind,
        average=None if not n_grid else average[:n_grid].astype(np.float32),
        test_time=None if not n_grid else full[:n_grid].astype(np.float32),
        average_scores=scores(average[n_grid:], y_test),
        test_time_scores=scores(full[n_grid:], y_test),
        agreement=agreement(average[n_grid:], full[n_grid:]), n_test=len(y_test),
        gap=float(distance(average[n_grid:], full[n_grid:]).mean()))


def _uncertainty(grid_probs: np.ndarray, measure: str, n_classes: int) -> Uncertainty:
    """How much the K sampled sub-networks (K, grid points, C) disagree over the plane."""
    values = disagreement(grid_probs, measure)
    same = unanimous(grid_probs)
    return Uncertainty(
        measure=measure, values=values.astype(np.float32), k=len(grid_probs),
        upper=measure_upper(measure, n_classes),
        unanimous_max=float(values[same].max()) if same.any() else 0.0,
        unanimous_share=float(same.mean()))


def compute_ensemble(run: TrainingRun, k: int, source: str = "sampled",
                     kind: str = "arithmetic", measure: str = "entropy", seed: int = 0,
                     resolution: int = pipeline.GRID_RESOLUTION,
                     gallery_resolution: int = GALLERY_RESOLUTION,
                     convergence: Convergence | None = None) -> EnsembleResults:
    """Everything the "Thinned sub-networks" tab shows for K sub-networks from `source`.

    `seed` draws the sampled masks (the page passes the training seed, so a link reproduces the
    gallery). Pass a precomputed `convergence` to reuse it (it depends on neither K nor source).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    dataset = run.dataset
    net = run.network()
    grid = pipeline.grid_for(dataset, resolution) if pipeline.is_planar(dataset) else None
    data = plot_data(dataset, grid)
    X_test, y_test = dataset.X_test, np.asarray(dataset.y_test, dtype=int)
    n_test = len(y_test)
    # Grid points and test points go through the sub-networks together, in one pass.
    points = X_test if grid is None else np.vstack([grid.points, X_test])

    sampled_masks = sampled_keep_masks(net, k, seed)
    sampled_probs = shared_predict(net, sampled_masks, points)
    if source == "sampled":
        epochs = np.full(k, run.epochs_completed - 1)
        keep_masks = [m.astype(np.float32) for m in sampled_masks]
        shared = tuple(W.astype(np.float32) for W in net.weights)
        weights = (shared,) * k  # one set of weights, referenced K times
        probs = sampled_probs
    else:
        epochs, keep_masks, stacked_w, stacked_b = trained_sub_networks(run, k)
        weights = tuple(tuple(W[i].astype(np.float32) for W in stacked_w)
                        for i in range(len(epochs)))
        probs = stacked_predict(stacked_w, stacked_b, net.activation, net.keep_probs,
                                net.convention, keep_masks, points, np.float32)
    test_probs = probs[:, -n_test:]
    full = net.predict_proba(points)

    gallery_xs = gallery_ys = gallery_grid = None
    if grid is not None:
        pick = gallery_indices(len(grid.xs), gallery_resolution)
        gallery_xs, gallery_ys = grid.xs[pick], grid.ys[pick]
        flat = (pick[:, None] * len(grid.xs) + pick[None, :]).ravel()  # rows along y
        gallery_grid = probs[:, flat].astype(np.float32)
    gallery = Gallery(
        source=source, mask_scope=run.config.mask_scope, epochs=np.asarray(epochs, dtype=int),
        keep_masks=tuple(keep_masks), weights=weights, xs=gallery_xs, ys=gallery_ys,
        grid_probs=gallery_grid,
        test_accuracy=(test_probs.argmax(axis=-1) == y_test).mean(axis=-1),
        test_log_loss=per_network_log_loss(test_probs, y_test))

    n_grid = 0 if grid is None else len(grid.points)
    comparison = _comparison(probs, full, kind, y_test, n_grid)
    uncertainty = None if grid is None else _uncertainty(sampled_probs[:, :n_grid], measure,
                                                         dataset.n_classes)

    if convergence is None or convergence.kind != kind:
        convergence = convergence_curve(net, X_test, y_test, kind, seed)
    return EnsembleResults(data=data, gallery=gallery, comparison=comparison,
                           uncertainty=uncertainty, convergence=convergence,
                           convention=net.convention, activation=net.activation,
                           keep_probs=net.keep_probs)


# ----------------------------------------------------------------------------- regression

@dataclass(frozen=True)
class CurveEnsemble:
    """K thinned sub-networks of a regression run as curves over x, beside the test-time
    network, and how their Monte-Carlo mean converges (y standardised, MSE as torch's)."""

    data: PlotData
    source: str  # "sampled" or "trained", as for the classification gallery
    epochs: np.ndarray  # (K,) 0-based epoch whose weights each sub-network uses
    keep_masks: tuple[np.ndarray, ...]  # one (K, units) 0/1 float32 array per dropout site
    xs: np.ndarray  # (R,) where the curves are drawn
    curves: np.ndarray  # (K, R) float32: each sub-network's prediction over xs
    mean: np.ndarray  # (R,) their Monte-Carlo mean
    sd: np.ndarray  # (R,) their spread (ddof 0): model uncertainty only, no observation noise
    test_time: np.ndarray  # (R,) the deterministic test-time network
    test_mse: np.ndarray  # (K,) each sub-network's test MSE
    mean_mse: float  # test MSE of the mean of these K
    test_time_mse: float
    band_share: float  # share of the test points inside mean ± 2 sd
    convergence: Convergence
    convention: str
    keep_probs: tuple[float, ...]

    @property
    def k(self) -> int:
        return len(self.epochs)


def compute_curve_ensemble(run: TrainingRun, k: int, source: str = "sampled", seed: int = 0,
                           resolution: int = pipeline.CURVE_RESOLUTION,
                           convergence: Convergence | None = None) -> CurveEnsemble:
    """What the "Thinned sub-networks" tab shows for a regression run: K sub-networks from
    `source` ("sampled": fresh masks on the final weights, seeded by `seed`; "trained": the
    masks and weights of the last K kept epochs) as curves, their mean and band."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    dataset, net = run.dataset, run.network()
    line = pipeline.grid_for(dataset, resolution)
    xs = line.xs
    points = np.vstack([line.points, dataset.X_test])  # the line and the test points: one pass
    if source == "sampled":
        epochs = np.full(k, run.epochs_completed - 1)
        keep_masks = [m.astype(np.float32) for m in sampled_keep_masks(net, k, seed)]
        outputs = shared_predict(net, keep_masks, points)
    else:
        epochs, keep_masks, stacked_w, stacked_b = trained_sub_networks(run, k)
        outputs = stacked_predict(stacked_w, stacked_b, net.activation, net.keep_probs,
                                  net.convention, keep_masks, points, np.float32, net.loss)
    mean, sd = mc_mean_and_sd(outputs)
    full = net.predict(points)
    n_line, y_test = len(xs), dataset.y_test
    inside = np.abs(y_test - mean[n_line:, 0]) <= 2 * sd[n_line:, 0]
    if convergence is None:
        convergence = curve_convergence(net, dataset.X_test, y_test, seed)
    return CurveEnsemble(
        data=plot_data(dataset, None), source=source, epochs=np.asarray(epochs, dtype=int),
        keep_masks=tuple(keep_masks), xs=xs, curves=outputs[:, :n_line, 0].astype(np.float32),
        mean=mean[:n_line, 0], sd=sd[:n_line, 0], test_time=full[:n_line, 0],
        test_mse=squared_errors(outputs[:, n_line:], y_test),
        mean_mse=float(squared_errors(mean[n_line:], y_test)),
        test_time_mse=float(squared_errors(full[n_line:], y_test)),
        band_share=float(inside.mean()), convergence=convergence,
        convention=net.convention, keep_probs=net.keep_probs)


# A stretch of x inside the training range with no training point is called empty when it is
# wider than this many median spacings of the training points (random points leave gaps of a
# few spacings; the `gap` data set leaves one of about thirty).
EMPTY_STRETCH_SPACINGS = 10


@dataclass(frozen=True)
class BandPlaces:
    """Where the band of a CurveEnsemble is wide, relative to the training points (x
    standardised). Half-widths are 2 sd (the band is mean ± 2 sd)."""

    widest_x: float
    widest_half_width: float
    widest_where: str  # "beyond" the training points, in the "stretch" without any, or "among"
    train_range: tuple[float, float]  # smallest and largest training x
    # The widest stretch inside the training range with no training point, when it is wider
    # than EMPTY_STRETCH_SPACINGS median spacings (else None), and the mean half-width there.
    stretch: tuple[float, float] | None
    stretch_half_width: float | None
    among_half_width: float  # mean half-width over the xs among the training points
    beyond_half_width: float | None  # mean half-width outside the training range (None: none)


def band_places(curves: CurveEnsemble) -> BandPlaces:
    """Where the band is widest, and its mean half-width among, between and beyond the training
    points: what a caption may say about this run's band."""
    xs, half = np.asarray(curves.xs, float), 2.0 * np.asarray(curves.sd, float)
    train = np.sort(np.asarray(curves.data.X_train, float)[:, 0])
    low, high = float(train[0]), float(train[-1])
    spacing = np.diff(train)
    stretch = None
    if len(spacing) and spacing.max() > EMPTY_STRETCH_SPACINGS * np.median(spacing):
        i = int(np.argmax(spacing))
        stretch = (float(train[i]), float(train[i + 1]))
    beyond = (xs < low) | (xs > high)
    in_stretch = np.zeros(len(xs), bool) if stretch is None else \
        (xs > stretch[0]) & (xs < stretch[1])
    among = ~beyond & ~in_stretch
    widest = int(np.argmax(half))
    where = "beyond" if beyond[widest] else "stretch" if in_stretch[widest] else "among"

    def mean_over(where_: np.ndarray) -> float | None:
        return float(half[where_].mean()) if where_.any() else None

    return BandPlaces(
        widest_x=float(xs[widest]), widest_half_width=float(half[widest]), widest_where=where,
        train_range=(low, high), stretch=stretch, stretch_half_width=mean_over(in_stretch),
        among_half_width=float(half[among].mean()), beyond_half_width=mean_over(beyond))
