"""Fully connected models: logistic regression and the default two-hidden-layer MLP.

Both flatten their input, so they accept any ``input_shape`` of float features (``(64,)``,
``(1, 8, 8)``, ``(3, 32, 32)``, ...).
"""

from __future__ import annotations

import math

from torch import nn

from realnets.models._checks import positive_int
from realnets.models.registry import register_model

__all__ = ["DEFAULT_MLP_WIDTH", "logreg", "mlp"]

DEFAULT_MLP_WIDTH = 256


@register_model("logreg", "logistic / linear regression: one linear layer on the flattened input")
def logreg(*, input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    """``z = W x + b`` on the flattened input (softmax regression under cross-entropy, linear under MSE)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_outputs))


@register_model("mlp", "MLP, 2 hidden ReLU layers (width option, default 256) on the flattened input")
def mlp(*, input_shape: tuple[int, ...], num_outputs: int, width: int = DEFAULT_MLP_WIDTH) -> nn.Module:
    """``z = W3 relu(W2 relu(W1 x + b1) + b2) + b3`` on the flattened input (the package's default model)."""
    width = positive_int("width", width)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(input_shape), width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, num_outputs),
    )
