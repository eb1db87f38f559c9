"""Models for real training, built by name: ``build_model(name, input_shape=..., num_outputs=...)``.

>>> from realnets.models import build_model, list_models
>>> net = build_model("mlp", input_shape=(1, 8, 8), num_outputs=10, width=64)

Models return logits (classification) or predictions (regression) of shape ``(B, num_outputs)``.
Initialisation uses torch's global generator: call ``torch.manual_seed`` before ``build_model``.
"""

from __future__ import annotations

# Importing the model modules registers their factories.
from realnets.models import convnets, dense, resnets, sequence  # noqa: F401
from realnets.models.norm import GhostBatchNorm2d
from realnets.models.registry import build_model, list_models

__all__ = ["GhostBatchNorm2d", "build_model", "list_models"]
