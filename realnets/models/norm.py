"""Normalisation layers: ghost batch norm (Hoffer et al. 2017) and the ``norm`` option of the CNNs.

Ghost batch norm, used by seed 004 (Smith et al., "Don't decay the learning rate, increase the batch
size", section 5: ghost batch size 128 on CIFAR-10, after Hoffer, Hubara & Soudry 2017), normalises
each "ghost" sub-batch of ``ghost_batch_size`` samples with its own statistics, so the noise that
batch norm adds to each sample's gradient does not change as the (real) batch size grows.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["NORMS", "GhostBatchNorm2d", "make_norm2d", "resolve_norm"]

NORMS = ("batch", "ghost", "none")


class GhostBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode statistics come from ghost batches of ``ghost_batch_size``.

    In training mode the batch ``(B, C, H, W)`` is cut, in order, into chunks of ``ghost_batch_size``
    samples (the last one smaller if ``B`` is not a multiple); chunk ``j`` is normalised with its own
    per-channel mean ``mu_j`` and biased variance ``s2_j``:
    ``y = gamma * (x - mu_j) / sqrt(s2_j + eps) + beta``, and the running statistics take one
    exponential-moving-average step per chunk, in order (exactly what calling ``BatchNorm2d`` on each
    chunk would do). In eval mode it is plain ``BatchNorm2d`` with the running statistics.

    Note:
        When ``B`` is a multiple of ``ghost_batch_size`` the chunks are normalised in one vectorised
        pass and the running statistics are updated by the closed form of the ``G`` sequential steps,
        ``r <- (1-m)^G r + sum_j m (1-m)^(G-1-j) s_j``; otherwise chunk by chunk.
    """

    def __init__(self, num_features: int, ghost_batch_size: int, **kwargs: object) -> None:
        if (
            isinstance(ghost_batch_size, bool)
            or not isinstance(ghost_batch_size, int)
            or ghost_batch_size < 1
        ):
            raise ValueError(f"Invalid ghost_batch_size: {ghost_batch_size!r} (expected an integer >= 1)")
        super().__init__(num_features, **kwargs)
        self.ghost_batch_size = ghost_batch_size

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, ghost_batch_size={self.ghost_batch_size}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.shape[0] <= self.ghost_batch_size:
            return super().forward(x)
        if x.shape[0] % self.ghost_batch_size == 0 and self.momentum is not None and self.track_running_stats:
            return self._forward_vectorised(x)
        return torch.cat([super(GhostBatchNorm2d, self).forward(c) for c in x.split(self.ghost_batch_size)])

    def _forward_vectorised(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        batch, channels, height, width = x.shape
        ghosts = x.reshape(batch // self.ghost_batch_size, self.ghost_batch_size, channels, height, width)
        mean = ghosts.mean(dim=(1, 3, 4), keepdim=True)
        var = ghosts.var(dim=(1, 3, 4), unbiased=False, keepdim=True)
        y = (ghosts - mean) * torch.rsqrt(var + self.eps)
        if self.affine:
            y = y * self.weight.view(1, 1, -1, 1, 1) + self.bias.view(1, 1, -1, 1, 1)
        self._update_running_stats(mean.flatten(1), var.flatten(1), self.ghost_batch_size * height * width)
        return y.reshape(batch, channels, height, width)

    @torch.no_grad()
    def _update_running_stats(self, means: torch.Tensor, variances: torch.Tensor, count: int) -> None:
        # F.batch_norm stores the unbiased variance in running_var.
        if count < 2:
            raise ValueError(f"Invalid ghost batch: {count} value(s) per channel (expected more than 1)")
        momentum = float(self.momentum)
        num_ghosts = means.shape[0]
        exponents = torch.arange(num_ghosts - 1, -1, -1, device=means.device, dtype=means.dtype)
        weights = momentum * (1.0 - momentum) ** exponents
        decay = (1.0 - momentum) ** num_ghosts
        unbiased = variances * (count / (count - 1))
        self.running_mean.mul_(decay).add_(weights @ means.detach())
        self.running_var.mul_(decay).add_(weights @ unbiased.detach())
        self.num_batches_tracked.add_(num_ghosts)


def resolve_norm(norm: str | None, ghost_batch_size: int | None) -> str:
    """The effective norm: ``ghost_batch_size`` alone implies ``"ghost"``; contradictions raise."""
    if norm is None:
        norm = "ghost" if ghost_batch_size is not None else "batch"
    if norm not in NORMS:
        raise ValueError(f"Invalid norm: {norm!r} (expected one of {NORMS})")
    if norm == "ghost" and ghost_batch_size is None:
        raise ValueError("Invalid ghost_batch_size: None (expected an integer >= 1 with norm='ghost')")
    if norm != "ghost" and ghost_batch_size is not None:
        raise ValueError(
            f"Invalid ghost_batch_size: {ghost_batch_size!r} (only used with norm='ghost', got {norm!r})"
        )
    return norm


def make_norm2d(channels: int, norm: str, ghost_batch_size: int | None) -> nn.Module:
    """``BatchNorm2d``, ``GhostBatchNorm2d`` or ``Identity`` for an already resolved ``norm``."""
    if norm == "ghost":
        return GhostBatchNorm2d(channels, ghost_batch_size)
    return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()
