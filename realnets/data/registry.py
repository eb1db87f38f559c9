"""The dataset record and the name -> loader registry behind :func:`realnets.data.load_dataset`.

Every dataset, embedded, synthetic or downloaded, comes back as one :class:`Dataset`: CPU tensors
(float32 features; int64 labels for classification, float32 targets for regression, int64 token ids
for sequence inputs), plus the facts a training engine needs (``num_classes``, ``task``,
``input_shape``) and where the data came from (``source``).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "CLASSIFICATION",
    "REGRESSION",
    "Dataset",
    "DatasetSpec",
    "default_data_dir",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]

CLASSIFICATION = "classification"
REGRESSION = "regression"
_TASKS = (CLASSIFICATION, REGRESSION)
_DATA_DIR_ENV = "REALNETS_DATA"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split held as CPU tensors.

    Attributes:
        name: Registry name (``"digits"``, ``"fashion-mnist"``, ...).
        x_train: Training inputs, shape ``(n_train, *input_shape)``; float32, or int64 token ids.
        y_train: Training labels (int64, classification) or targets (float32, regression).
        x_test: Test inputs, shape ``(n_test, *input_shape)``.
        y_test: Test labels or targets.
        num_classes: Number of classes; 0 for regression.
        task: ``"classification"`` or ``"regression"``.
        input_shape: Shape of one sample, e.g. ``(1, 28, 28)`` or ``(64,)``.
        description: One line saying what the data is.
        source: Provenance: origin, URL, license or citation.
        vocab_size: Number of token ids for sequence inputs (ids lie in ``[0, vocab_size)``); 0 otherwise.
            Pass it to ``build_model("bilstm", ..., vocab_size=ds.vocab_size)``.

    Regression targets have shape ``(n, num_outputs)`` (never ``(n,)``), so a per-sample MSE against
    predictions of shape ``(B, num_outputs)`` cannot broadcast to ``(B, B)`` by accident.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    task: str
    input_shape: tuple[int, ...]
    description: str
    source: str
    vocab_size: int = 0

    def __post_init__(self) -> None:
        _check_consistent(self)

    @property
    def num_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def num_test(self) -> int:
        return int(self.x_test.shape[0])

    @property
    def num_outputs(self) -> int:
        """Width of the model output: ``num_classes`` logits, or the number of regression targets."""
        return self.num_classes if self.task == CLASSIFICATION else int(self.y_train.shape[1])

    @property
    def is_sequence(self) -> bool:
        """True when the inputs are integer token ids (feed them to an embedding)."""
        return not self.x_train.is_floating_point()


def _check_consistent(ds: Dataset) -> None:
    # A loader bug (wrong dtype, shape, label range) must surface here, not as a silent training error.
    if ds.task not in _TASKS:
        raise ValueError(f"Invalid task: {ds.task!r} (expected one of {_TASKS})")
    if ds.vocab_size < 0 or (ds.vocab_size > 0) == ds.x_train.is_floating_point():
        raise ValueError(
            f"Invalid vocab_size: {ds.vocab_size} (expected > 0 exactly for integer token inputs)"
        )
    for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
        if x.dtype not in (torch.float32, torch.int64):
            raise ValueError(
                f"Invalid x_{split} dtype: {x.dtype} (expected float32 features or int64 token ids)"
            )
        if tuple(x.shape[1:]) != tuple(ds.input_shape):
            raise ValueError(f"Invalid x_{split} shape: {tuple(x.shape)} (expected (n, *{ds.input_shape}))")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"Invalid y_{split} length: {y.shape[0]} (expected {x.shape[0]}, as x_{split})")
        _check_labels(ds, split, y)
        if ds.vocab_size and x.numel() and (int(x.min()) < 0 or int(x.max()) >= ds.vocab_size):
            raise ValueError(
                f"Invalid x_{split}: token ids in [{int(x.min())}, {int(x.max())}] (expected [0, {ds.vocab_size}))"
            )


def _check_labels(ds: Dataset, split: str, y: torch.Tensor) -> None:
    if ds.task == REGRESSION:
        if y.dtype != torch.float32 or y.ndim != 2 or ds.num_classes != 0:
            raise ValueError(
                f"Invalid y_{split}: dtype {y.dtype}, ndim {y.ndim} (expected 2-d float32 targets, num_classes 0)"
            )
        return
    if y.dtype != torch.int64 or y.ndim != 1:
        raise ValueError(f"Invalid y_{split}: dtype {y.dtype}, ndim {y.ndim} (expected 1-d int64 labels)")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= ds.num_classes):
        raise ValueError(
            f"Invalid y_{split}: labels in [{int(y.min())}, {int(y.max())}] (expected [0, {ds.num_classes}))"
        )


Loader = Callable[..., Dataset]


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry: the loader is called as ``loader(data_dir=..., download=..., seed=..., **options)``."""

    name: str
    description: str
    loader: Loader


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(name: str, description: str) -> Callable[[Loader], Loader]:
    """Decorator adding a loader to the registry under ``name``."""

    def add(loader: Loader) -> Loader:
        if name in _REGISTRY:
            raise ValueError(f"Invalid dataset name: {name!r} (already registered)")
        _REGISTRY[name] = DatasetSpec(name=name, description=description, loader=loader)
        return loader

    return add


def list_datasets() -> list[tuple[str, str]]:
    """All registered datasets as ``(name, one-line description)``, sorted by name."""
    return sorted((spec.name, spec.description) for spec in _REGISTRY.values())


def default_data_dir() -> Path:
    """``$REALNETS_DATA`` if set, else ``~/.cache/realnets``."""
    env = os.environ.get(_DATA_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "realnets"


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    seed: int = 0,
    **options: Any,
) -> Dataset:
    """Load a registered dataset by name.

    Args:
        name: One of :func:`list_datasets`.
        data_dir: Cache folder for downloaded files (default ``$REALNETS_DATA`` or ``~/.cache/realnets``).
            Files already there are used without any network access.
        download: Fetch missing files from the official source; if False a missing file is an error.
        seed: Seed of the synthetic generators; real datasets have fixed splits and ignore it.
        **options: Loader-specific options (e.g. ``num_train`` for the synthetic sets).

    Raises:
        ValueError: Unknown name (the message lists the valid ones), bad option or seed.
    """
    spec = _REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None:
        valid = ", ".join(n for n, _ in list_datasets())
        raise ValueError(f"Invalid dataset name: {name!r} (expected one of: {valid})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"Invalid seed: {seed!r} (expected an integer >= 0)")
    _check_options(spec, options)
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    return spec.loader(data_dir=root, download=bool(download), seed=seed, **options)


_COMMON_PARAMETERS = ("data_dir", "download", "seed")


def _check_options(spec: DatasetSpec, options: dict[str, Any]) -> None:
    accepted = [p for p in inspect.signature(spec.loader).parameters if p not in _COMMON_PARAMETERS]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"Invalid option for dataset {spec.name!r}: {', '.join(unknown)} "
            f"(expected {'one of: ' + ', '.join(accepted) if accepted else 'no options'})"
        )
