"""The NumPy dropout MLP. No UI imports.

dropout.py (the dropout site: keep rule, training and test-time multipliers) → masks.py (seeded
randomness) → network.py (the reference forward and backward, and MLP) → fast_path.py (the same
passes specialised for the training loop) → run.py, training.py (the loop) → inference.py
(stacks of K thinned sub-networks, Monte-Carlo averages).
"""

from dropout_viz.engine.inference import (
    accuracy,
    ensemble_mean,
    log_loss,
    mc_predict,
    predictive_entropy,
    thinned_predict,
)
from dropout_viz.engine.dropout import CONVENTIONS, MASK_SCOPES
from dropout_viz.engine.masks import sample_keep_masks
from dropout_viz.engine.network import ACTIVATIONS, MLP
from dropout_viz.engine.optimizers import OPTIMIZERS
from dropout_viz.engine.training import TrainConfig, TrainingRun, train, train_many

__all__ = [
    "ACTIVATIONS", "CONVENTIONS", "MASK_SCOPES", "MLP", "OPTIMIZERS", "TrainConfig",
    "TrainingRun", "accuracy", "ensemble_mean", "log_loss", "mc_predict", "predictive_entropy",
    "sample_keep_masks", "thinned_predict", "train", "train_many",
]
