"""Optimizers acting on one flat parameter buffer of shape (models, parameters).

Because every network's parameters live in one array (the layers are views into it), an update
is a handful of in-place array operations whatever the depth, and many networks with different
learning rates train in the same operations (lr has shape (models, 1)).
"""

from __future__ import annotations

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "adam")


class SGD:
    def __init__(self, params: np.ndarray, lr: np.ndarray):
        self.lr = lr

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        grads *= self.lr
        params -= grads


class Momentum:
    """Classical momentum (velocity = mu * velocity - lr * grad), mu = 0.9."""

    def __init__(self, params: np.ndarray, lr: np.ndarray, mu: float = 0.9):
        self.lr, self.mu = lr, mu
        self.velocity = np.zeros_like(params)

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.velocity *= self.mu
        grads *= self.lr
        self.velocity -= grads
        params += self.velocity


class Adam:
    """Kingma & Ba 2015, with the bias correction folded into the step size."""

    def __init__(self, params: np.ndarray, lr: np.ndarray, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.first = np.zeros_like(params)
        self.second = np.zeros_like(params)
        self.scratch = np.zeros_like(params)
        self.t = 0

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        self.first *= b1
        np.multiply(grads, 1.0 - b1, out=self.scratch)  # scratch avoids a temporary per step
        self.first += self.scratch
        self.second *= b2
        np.multiply(grads, grads, out=self.scratch)
        self.scratch *= 1.0 - b2
        self.second += self.scratch
        step_size = self.lr * (np.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t))
        # eps is added to sqrt(v_hat), as Kingma & Ba (and PyTorch) do.
        eps_hat = self.eps * np.sqrt(1.0 - b2**self.t)
        np.sqrt(self.second, out=self.scratch)
        self.scratch += eps_hat
        np.divide(self.first, self.scratch, out=self.scratch)
        self.scratch *= step_size
        params -= self.scratch


def make_optimizer(name: str, params: np.ndarray, lr: np.ndarray):
    if name == "sgd":
        return SGD(params, lr)
    if name == "momentum":
        return Momentum(params, lr)
    if name == "adam":
        return Adam(params, lr)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
