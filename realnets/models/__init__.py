"""Models for real training, built by name: ``build_model(name, input_shape=..., num_outputs=...)``.

>>> from realnets.models import build_model, list_models
>>> net = build_model("mlp", input_shape=(1, 8, 8), num_outputs=10, width=64)
"""

from __future__ import annotations

# Importing the model modules registers their factories.
from realnets.models import dense  # noqa: F401
from realnets.models.registry import build_model, list_models

__all__ = ["build_model", "list_models"]
