"""The NumPy dropout MLP: network, masks, optimizers, training and inference. No UI imports."""

from dropout_viz.engine.inference import (
    accuracy,
    ensemble_mean,
    log_loss,
    mc_predict,
    predictive_entropy,
    thinned_predict,
)
from dropout_viz.engine.masks import MASK_SCOPES, sample_keep_masks
from dropout_viz.engine.network import ACTIVATIONS, CONVENTIONS, MLP
from dropout_viz.engine.optimizers import OPTIMIZERS
from dropout_viz.engine.training import TrainConfig, TrainingRun, train, train_many

__all__ = [
    "ACTIVATIONS", "CONVENTIONS", "MASK_SCOPES", "MLP", "OPTIMIZERS", "TrainConfig",
    "TrainingRun", "accuracy", "ensemble_mean", "log_loss", "mc_predict", "predictive_entropy",
    "sample_keep_masks", "thinned_predict", "train", "train_many",
]
