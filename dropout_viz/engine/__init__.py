"""The NumPy dropout MLP. No UI imports.

dropout.py   the dropout site: keep rule, training and test-time multipliers
masks.py     seeded randomness: shuffles, mask levels, which masks each mini-batch uses
network.py   the reference forward and backward passes, and MLP
fast_path.py the same passes specialised for the training loop (checked against network.py)
run.py       what a run remembers; training.py: TrainConfig and the loop
inference.py stacks of K thinned sub-networks, Monte-Carlo averages
"""

from dropout_viz.engine.dropout import CONVENTIONS
from dropout_viz.engine.inference import (
    accuracy,
    ensemble_mean,
    log_loss,
    mc_mean_and_sd,
    mc_predict,
    predictive_entropy,
    thinned_predict,
)
from dropout_viz.engine.masks import MASK_SCOPES, sample_keep_masks
from dropout_viz.engine.network import ACTIVATIONS, LOSSES, MLP
from dropout_viz.engine.optimizers import OPTIMIZERS
from dropout_viz.engine.training import TrainConfig, TrainingRun, train, train_many

__all__ = [
    "ACTIVATIONS", "CONVENTIONS", "LOSSES", "MASK_SCOPES", "MLP", "OPTIMIZERS", "TrainConfig",
    "TrainingRun", "accuracy", "ensemble_mean", "log_loss", "mc_mean_and_sd", "mc_predict",
    "predictive_entropy",
    "sample_keep_masks", "thinned_predict", "train", "train_many",
]
