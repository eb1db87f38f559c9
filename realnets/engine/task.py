"""The task of a run: data on the device, the model, the losses, and the full-data evaluation.

Small datasets live on the device as tensors (no DataLoader worker overhead); variable batch sizes index
into them. ``val_fraction > 0`` holds out a stratified validation split of the training set (seeded by the
run seed), so model selection need not look at the test set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

__all__ = [
    "Task",
    "build_task",
    "evaluate",
    "mean_squared_error",
    "per_sample_cross_entropy",
    "per_sample_squared_error",
    "stratified_split",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def per_sample_cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each sample, shape (n,)."""
    return F.cross_entropy(outputs, targets, reduction="none")


def per_sample_squared_error(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each sample over its output coordinates, shape (n,)."""
    diff = outputs - targets.reshape(outputs.shape)
    return diff.pow(2).reshape(diff.shape[0], -1).mean(dim=1)


def mean_squared_error(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The batch-mean squared error (the fused mean loss of regression tasks)."""
    return F.mse_loss(outputs, targets.reshape(outputs.shape))


@dataclass
class Task:
    """Data on the device, the model, the losses. Built by :func:`build_task`.

    Attributes:
        x_train, y_train, x_test, y_test: the data, on the run's device.
        model: the network.
        loss_fn: per-sample loss ``(outputs, targets) -> (n,)``.
        mean_loss_fn: the fused batch-mean loss (its backward is cheaper than ``loss_fn(...).mean()``).
        classification: whether accuracies are reported.
        dataset_info: name, sizes, task and source of the data (``env.json``).
        x_val, y_val: the validation split (None without ``val_fraction``).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    model: torch.nn.Module
    loss_fn: LossFn
    mean_loss_fn: LossFn
    classification: bool
    dataset_info: dict[str, Any]
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None

    @property
    def n_train(self) -> int:
        """Training-set size N."""
        return int(self.x_train.shape[0])


def stratified_split(x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int, classification: bool):
    """``(train_idx, val_idx)``: a stratified (per class) seeded hold-out of ``fraction`` of the samples.

    The engine's rule for ``val_fraction`` (seed ``seed``) and ``train_fraction`` (seed ``seed + 1``, the kept
    part is the first index tensor), so other code can select exactly the rows a run trains on.

    Args:
        x: the inputs (only their number of rows is used).
        y: the targets (class labels when ``classification``).
        fraction: the share held out, in (0, 1).
        seed: the split's seed.
        classification: stratify by class (else a plain seeded permutation).
    """
    generator = torch.Generator().manual_seed((seed * 1_000_003 + 0x7A1) % (2**63))
    n = x.shape[0]
    if classification:
        labels = y.cpu()
        val_parts = []
        for label in torch.unique(labels):
            members = torch.nonzero(labels == label).flatten()
            members = members[torch.randperm(members.numel(), generator=generator)]
            val_parts.append(members[: int(round(fraction * members.numel()))])
        val = torch.cat(val_parts)
    else:
        val = torch.randperm(n, generator=generator)[: int(round(fraction * n))]
    mask = torch.ones(n, dtype=torch.bool)
    mask[val] = False
    if val.numel() == 0 or bool(mask.sum() == 0):
        raise ValueError(f"Invalid val_fraction: {fraction!r} (leaves an empty split of {n} samples)")
    return torch.nonzero(mask).flatten(), torch.sort(val).values


def build_task(config: Any, device: torch.device) -> Task:
    """Load the dataset onto ``device`` and build the model (call inside the run's RNG scope)."""
    from realnets.data import load_dataset
    from realnets.models import build_model

    ds = load_dataset(config.dataset, data_dir=config.data_dir, seed=config.seed, **config.dataset_options)
    classification = ds.task == "classification"
    outputs = ds.num_classes if classification else int(ds.y_train[0].numel())
    model_options = dict(config.model_options)
    if getattr(ds, "vocab_size", 0) and "vocab_size" not in model_options:
        model_options["vocab_size"] = ds.vocab_size  # token sequences: the embedding needs the vocabulary
    model = build_model(
        config.model, input_shape=tuple(ds.input_shape), num_outputs=outputs, **model_options
    ).to(device)
    loss_fn = per_sample_cross_entropy if classification else per_sample_squared_error
    mean_loss_fn = F.cross_entropy if classification else mean_squared_error
    x_train, y_train = ds.x_train, ds.y_train
    x_val = y_val = None
    fraction = getattr(config, "val_fraction", 0.0) or 0.0
    if fraction > 0:
        train_idx, val_idx = stratified_split(x_train, y_train, fraction, config.seed, classification)
        x_val, y_val = x_train[val_idx].to(device), y_train[val_idx].to(device)
        x_train, y_train = x_train[train_idx], y_train[train_idx]
    keep = getattr(config, "train_fraction", 1.0)
    if keep < 1:  # a stratified, seeded subset (seed 002's data fractions), drawn after the validation split
        dropped = 1 - keep
        try:
            train_idx, _ = stratified_split(x_train, y_train, dropped, config.seed + 1, classification)
        except ValueError:
            raise ValueError(
                f"Invalid train_fraction: {keep!r} (keeps all or none of the {x_train.shape[0]} samples)"
            ) from None
        x_train, y_train = x_train[train_idx], y_train[train_idx]
    info = {
        "name": ds.name,
        "n_train": int(x_train.shape[0]),
        "n_test": int(ds.x_test.shape[0]),
        "task": ds.task,
        "source": ds.source,
    }
    if x_val is not None:
        info["n_val"] = int(x_val.shape[0])
    return Task(
        x_train.to(device),
        y_train.to(device),
        ds.x_test.to(device),
        ds.y_test.to(device),
        model,
        loss_fn,
        mean_loss_fn,
        classification,
        info,
        x_val,
        y_val,
    )


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    chunk: int,
    classification: bool,
    collective: Any = None,
) -> tuple[float, float | None]:
    """Mean loss over all of ``(x, y)`` and accuracy (None for regression), in eval mode, in chunks.

    This is the full training loss of seed 000 (fig. 1: the objective on the whole training set after each
    epoch), not the running average of batch losses. Under torchrun (``collective``) each rank evaluates its
    contiguous part of the rows and the sums are all-reduced.
    """
    was_training = model.training
    model.eval()
    total, correct = torch.zeros((), dtype=torch.float64, device=x.device), 0
    lo, hi = (0, x.shape[0]) if collective is None else collective.shard(x.shape[0])
    for start in range(lo, hi, chunk):
        stop = min(start + chunk, hi)
        outputs = model(x[start:stop])
        total += loss_fn(outputs, y[start:stop]).double().sum()
        if classification:
            correct += int((outputs.argmax(dim=1) == y[start:stop]).sum())
    if collective is not None:
        both = torch.stack([total, torch.tensor(float(correct), dtype=torch.float64, device=x.device)])
        total, reduced_correct = collective.all_reduce_sum([both])[0].unbind()
        correct = int(round(float(reduced_correct)))
    model.train(was_training)
    accuracy = correct / x.shape[0] if classification else None
    return float(total) / x.shape[0], accuracy
