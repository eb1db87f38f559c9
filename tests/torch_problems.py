"""Small float64 torch problems shared by the BA tests (a helper module, not a test file)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy."""
    return F.cross_entropy(out, y, reduction="none")


def tiny_mlp_problem(seed: int, n: int, d: int, classes: int, hidden: int):
    """A one-hidden-layer tanh MLP in float64 with ``n`` random inputs and labels, all from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(d, hidden), nn.Tanh(), nn.Linear(hidden, classes)).double()
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=gen)
    return model, x, y
