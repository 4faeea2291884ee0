"""Optimizers acting on one flat parameter buffer of shape (models, parameters).

Because every network's parameters live in one array (the layers are views into it), an update
is a handful of in-place array operations whatever the depth, and many networks with different
learning rates train in the same operations (lr has shape (models, 1)).
"""

from __future__ import annotations

import math

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "adam")


def _scalar_if_uniform(lr: np.ndarray):
    """A NumPy scalar when every model shares one learning rate: a scalar operand saves a NumPy
    call per step against an (M, 1) column. It keeps lr's dtype, so the arithmetic (and so every
    bit of the result) is the same either way: one network alone or in a stack."""
    return lr.flat[0] if np.all(lr == lr.flat[0]) else lr


class SGD:
    def __init__(self, params: np.ndarray, lr: np.ndarray):
        self.lr = _scalar_if_uniform(lr)
        self.grads = np.zeros_like(params)  # the buffer the backward pass writes into

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        grads *= self.lr
        params -= grads


class Momentum:
    """Classical momentum (velocity = mu * velocity - lr * grad), mu = 0.9."""

    def __init__(self, params: np.ndarray, lr: np.ndarray, mu: float = 0.9):
        self.lr, self.mu = _scalar_if_uniform(lr), mu
        self.velocity = np.zeros_like(params)
        self.grads = np.zeros_like(params)

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.velocity *= self.mu
        grads *= self.lr
        self.velocity -= grads
        params += self.velocity


class Adam:
    """Kingma & Ba 2015.

    The moments are kept unscaled, m̃ = m / (1 − β1) and ṽ = v / (1 − β2), so each update is
    m̃ ← β1·m̃ + g and ṽ ← β2·ṽ + g² (two fewer array passes per step); the constant factors and
    the bias correction fold into two scalars. Same update as the textbook form up to rounding.
    Both moments live in one (2, models, parameters) array and the gradient sits beside its
    square in another, so both moment updates are one multiply and one add.
    """

    def __init__(self, params: np.ndarray, lr: np.ndarray, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = _scalar_if_uniform(lr), beta1, beta2, eps
        self.moments = np.zeros((2,) + params.shape, params.dtype)  # m̃, ṽ
        self.first, self.second = self.moments
        self.betas = np.array([beta1, beta2], params.dtype).reshape((2,) + (1,) * params.ndim)
        self.grad_and_square = np.zeros_like(self.moments)
        self.grads = self.grad_and_square[0]  # the backward pass writes here: no copy per step
        self.scratch = np.zeros_like(params)
        self.t = 0

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        if grads is not self.grads:
            np.copyto(self.grads, grads)
        np.multiply(self.grads, self.grads, out=self.grad_and_square[1])
        self.moments *= self.betas
        self.moments += self.grad_and_square
        # With m_hat = (1-b1)·m̃/(1-b1^t) and sqrt(v_hat) = sqrt(ṽ)/r, r = sqrt((1-b2^t)/(1-b2)):
        # lr·m_hat/(sqrt(v_hat) + eps) = lr·(1-b1)/(1-b1^t)·r · m̃/(sqrt(ṽ) + eps·r).
        # (eps is added to sqrt(v_hat), as Kingma & Ba and PyTorch do.)
        root = math.sqrt((1.0 - b2**self.t) / (1.0 - b2))
        step_size = self.lr * ((1.0 - b1) / (1.0 - b1**self.t) * root)
        np.sqrt(self.second, out=self.scratch)
        self.scratch += self.eps * root
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
