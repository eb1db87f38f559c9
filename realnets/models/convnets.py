"""Plain convolutional networks of the papers: seed 000's Fashion-MNIST CNN and the AlexNet-like
CIFAR net of seeds 002/003.
"""

from __future__ import annotations

import math

from torch import nn

from realnets.models._checks import image_shape, positive_int, probability
from realnets.models.norm import make_norm2d, resolve_norm
from realnets.models.registry import register_model

__all__ = ["alexnet_cifar", "fmnist_cnn"]

_INITS = ("torch", "reference")
_REFERENCE_INIT_STD = 0.01


def _ceil_pool(size: int) -> int:
    return math.ceil(size / 2)


def _fmnist_feature_size(height: int, width: int) -> tuple[int, int]:
    # conv1 "full" (pad 2, 3x3): +2; pool /2 (ceil); conv2, conv3 "valid": -2; pool after each.
    def through(size: int) -> int:
        size = _ceil_pool(size + 2)
        size = _ceil_pool(size - 2)
        return _ceil_pool(size - 2) if size - 2 >= 1 else 0

    return through(height), through(width)


@register_model(
    "fmnist-cnn", "seed 000 appendix A: 3 conv layers (32/64/128, 3x3, max-pool) + FC 625, dropout"
)
def fmnist_cnn(
    *,
    input_shape: tuple[int, ...],
    num_outputs: int,
    hidden: int = 625,
    dropout_conv: float = 0.2,
    dropout_hidden: float = 0.5,
    init: str = "torch",
) -> nn.Module:
    """The Fashion-MNIST CNN of seed 000 (Chen, Wu & Luo, BA-SGD), appendix A.

    The paper: "3 convolutional layers ... 32, 64, 128 filters respectively, with MaxPool after each
    convolutional layer ... ReLU activations and Dropout". The sizes it leaves out come from the
    authors' script ``cnn_fashion_mnist.py`` (Batch_Adaptive_Framework): 3x3 kernels, the first conv
    in "full" mode (padding 2), 2x2 max-pools that keep the border (ceil mode), no conv or FC biases,
    a 625-unit ReLU layer, dropout 0.2 after each pool and 0.5 after the hidden layer. On 28x28 inputs:
    28 -> 30 -> 15 -> 13 -> 7 -> 5 -> 3, so the hidden layer sees 128 * 3 * 3 = 1152 features.

    Args:
        init: ``"torch"`` (PyTorch's default Kaiming-uniform) or ``"reference"`` (every weight
            ``N(0, 0.01^2)``, as in the authors' script).

    Note:
        The default init departs from the authors' script, whose ``N(0, 0.01^2)`` weights make the
        six-layer bias-free net start with vanishing signals; ``init="reference"`` restores it.
    """
    channels, height, width = image_shape("fmnist-cnn", input_shape)
    out_h, out_w = _fmnist_feature_size(height, width)
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"Invalid input_shape for fmnist-cnn: {input_shape} (expected images of at least 11x11)"
        )
    if init not in _INITS:
        raise ValueError(f"Invalid init: {init!r} (expected one of {_INITS})")
    hidden = positive_int("hidden", hidden)
    p_conv, p_hidden = (
        probability("dropout_conv", dropout_conv),
        probability("dropout_hidden", dropout_hidden),
    )
    net = nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=2, bias=False),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Dropout(p_conv),
        nn.Conv2d(32, 64, 3, bias=False),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Dropout(p_conv),
        nn.Conv2d(64, 128, 3, bias=False),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Flatten(),
        nn.Dropout(p_conv),
        nn.Linear(128 * out_h * out_w, hidden, bias=False),
        nn.ReLU(),
        nn.Dropout(p_hidden),
        nn.Linear(hidden, num_outputs, bias=False),
    )
    if init == "reference":
        for module in net.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=_REFERENCE_INIT_STD)
    return net


def _pool_3x3_s2(size: int) -> int:
    return (size - 1) // 2 + 1


@register_model("alexnet-cifar", "AlexNet-like CIFAR net (seed 003's C1/S1): 2 conv 5x5 + BN, FC 384-192")
def alexnet_cifar(
    *,
    input_shape: tuple[int, ...],
    num_outputs: int,
    norm: str | None = None,
    ghost_batch_size: int | None = None,
) -> nn.Module:
    """The "AlexNet like" network of seed 003 (Yao et al., ABS/ABSA; S1 on SVHN, "as in
    yao2018hessian [C1]") and of the authors' HessianFlow ``models/c1.py``; seed 002 also trains an
    AlexNet on CIFAR-10 without giving its layers.

    Layers: conv 5x5 (64, pad 2) -> ReLU -> norm -> max-pool 3x3/2 (pad 1) -> conv 5x5 (64, pad 2) ->
    ReLU -> norm -> max-pool 3x3/2 (pad 1) -> FC 384 -> ReLU -> FC 192 -> ReLU -> FC ``num_outputs``.
    On 32x32 inputs the FC layer sees 64 * 8 * 8 features. Norm after the ReLU, as in ``c1.py``.

    Args:
        norm: ``"batch"`` (default), ``"ghost"`` (implied by ``ghost_batch_size``) or ``"none"``.
        ghost_batch_size: Ghost batch size of :class:`~realnets.models.norm.GhostBatchNorm2d`.
    """
    channels, height, width = image_shape("alexnet-cifar", input_shape)
    norm = resolve_norm(norm, ghost_batch_size)
    out_h, out_w = _pool_3x3_s2(_pool_3x3_s2(height)), _pool_3x3_s2(_pool_3x3_s2(width))
    return nn.Sequential(
        nn.Conv2d(channels, 64, 5, padding=2),
        nn.ReLU(),
        make_norm2d(64, norm, ghost_batch_size),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(64, 64, 5, padding=2),
        nn.ReLU(),
        make_norm2d(64, norm, ghost_batch_size),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.Flatten(),
        nn.Linear(64 * out_h * out_w, 384),
        nn.ReLU(),
        nn.Linear(384, 192),
        nn.ReLU(),
        nn.Linear(192, num_outputs),
    )
