"""realnets: real training of neural networks with every batch-size algorithm of the papers (PyTorch).

Command line: ``realnets --help``. In Python::

    from realnets import TrainConfig, train, load_dataset, build_model, list_algorithms
    from realnets import GradStatsAccumulator   # gradient-noise statistics of a batch (seed 000)

The names are imported on first use, so ``import realnets`` stays light. Never imports ``theory`` or ``sim``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "TrainConfig": "realnets.config",
    "make_config": "realnets.config",
    "train": "realnets.engine",
    "resume": "realnets.engine",
    "load_dataset": "realnets.data",
    "list_datasets": "realnets.data",
    "build_model": "realnets.models",
    "list_models": "realnets.models",
    "get_algorithm": "realnets.registry",
    "list_algorithms": "realnets.registry",
    "register_algorithm": "realnets.registry",
    "GradStats": "realnets.probes.gradstats",
    "GradStatsAccumulator": "realnets.probes.gradstats",
    "gradient_stats": "realnets.probes.gradstats",
    "run_compare": "realnets.compare",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'realnets' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
