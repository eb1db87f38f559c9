"""Residual networks for 32x32 images: ResNet-18 with a CIFAR stem (seed 003's C1/C4) and the wide
ResNet 16-4 of seed 004 (and seed 003's C2).

Both end in global average pooling, so they accept any image size (each stride-2 stage halves it,
rounding up); the batch-norm layers follow the ``norm`` / ``ghost_batch_size`` options.
"""

from __future__ import annotations

import torch
from torch import nn

from realnets.models._checks import image_shape, positive_int, probability
from realnets.models.norm import make_norm2d, resolve_norm
from realnets.models.registry import register_model

__all__ = ["BasicBlock", "WideBlock", "resnet18_cifar", "wide_resnet"]


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Post-activation residual block (He et al. 2016): ``relu(bn(conv(relu(bn(conv x)))) + shortcut x)``."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, norm: str, ghost: int | None
    ) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn1 = make_norm2d(out_channels, norm, ghost)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.bn2 = make_norm2d(out_channels, norm, ghost)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                make_norm2d(out_channels, norm, ghost),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


_RESNET18_STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))


@register_model("resnet18-cifar", "ResNet-18 for 32x32 images: 3x3 stem, no max-pool, [2,2,2,2] basic blocks")
def resnet18_cifar(
    *,
    input_shape: tuple[int, ...],
    num_outputs: int,
    norm: str | None = None,
    ghost_batch_size: int | None = None,
) -> nn.Module:
    """ResNet-18 (He et al. 2016) adapted to CIFAR: the 7x7/2 stem and its max-pool are replaced by one
    3x3/1 conv, so 32x32 inputs reach the last stage at 4x4; stages of 64/128/256/512 channels with
    two basic blocks each, global average pooling, one linear layer (11.2M parameters for 10 classes).

    Used by seed 003 for C1 (CIFAR-10) and C4 (CIFAR-100); the layout follows the common CIFAR port.
    """
    channels, _, _ = image_shape("resnet18-cifar", input_shape)
    norm = resolve_norm(norm, ghost_batch_size)
    layers: list[nn.Module] = [_conv3x3(channels, 64), make_norm2d(64, norm, ghost_batch_size), nn.ReLU()]
    in_channels = 64
    for out_channels, stride in _RESNET18_STAGES:
        layers.append(BasicBlock(in_channels, out_channels, stride, norm, ghost_batch_size))
        layers.append(BasicBlock(out_channels, out_channels, 1, norm, ghost_batch_size))
        in_channels = out_channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_channels, num_outputs)]
    return nn.Sequential(*layers)


class WideBlock(nn.Module):
    """Pre-activation wide-ResNet block (Zagoruyko & Komodakis 2016):
    ``conv(dropout(relu(bn(conv(relu(bn x)))))) + shortcut``, with a 1x1 conv shortcut applied to the
    pre-activated input when the shape changes.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, dropout: float, norm: str, ghost: int | None
    ) -> None:
        super().__init__()
        self.bn1 = make_norm2d(in_channels, norm, ghost)
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn2 = make_norm2d(out_channels, norm, ghost)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.projection = None
        if stride != 1 or in_channels != out_channels:
            self.projection = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = torch.relu(self.bn1(x))
        out = self.conv2(self.dropout(torch.relu(self.bn2(self.conv1(activated)))))
        return out + (x if self.projection is None else self.projection(activated))


_WRN_BASE_WIDTHS = ((16, 1), (32, 2), (64, 2))


@register_model(
    "wrn-16-4", "wide ResNet 16-4 (seed 004): 3 groups x 2 pre-activation blocks, widths 64/128/256"
)
def wide_resnet(
    *,
    input_shape: tuple[int, ...],
    num_outputs: int,
    depth: int = 16,
    widen_factor: int = 4,
    dropout: float = 0.0,
    norm: str | None = None,
    ghost_batch_size: int | None = None,
) -> nn.Module:
    """Wide ResNet WRN-``depth``-``widen_factor`` (Zagoruyko & Komodakis 2016), default 16-4.

    A 3x3 conv to 16 channels, then three groups of ``n = (depth - 4) / 6`` pre-activation blocks of
    width ``16k, 32k, 64k`` (strides 1, 2, 2), then BN-ReLU, global average pooling and a linear layer
    (2.75M parameters for WRN-16-4 on 10 classes). Seed 004 trains it on CIFAR-10 with ghost batch
    norm (``ghost_batch_size=128``); seed 003 uses it as C2.
    """
    channels, _, _ = image_shape("wrn-16-4", input_shape)
    depth, widen_factor = positive_int("depth", depth), positive_int("widen_factor", widen_factor)
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"Invalid depth: {depth} (expected 6n + 4 with n >= 1, e.g. 16, 22, 28)")
    dropout = probability("dropout", dropout)
    norm = resolve_norm(norm, ghost_batch_size)
    blocks_per_group = (depth - 4) // 6
    layers: list[nn.Module] = [_conv3x3(channels, 16)]
    in_channels = 16
    for base_width, stride in _WRN_BASE_WIDTHS:
        out_channels = base_width * widen_factor
        for index in range(blocks_per_group):
            block_stride = stride if index == 0 else 1
            layers.append(WideBlock(in_channels, out_channels, block_stride, dropout, norm, ghost_batch_size))
            in_channels = out_channels
    layers += [
        make_norm2d(in_channels, norm, ghost_batch_size),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(in_channels, num_outputs),
    ]
    return nn.Sequential(*layers)
