"""Fixed, stratified train/test splits for datasets that ship without one.

The split of a dataset never depends on the user's seed: runs with different seeds are compared on
the same test set. Each split is drawn once by a numpy PCG64 generator with a documented constant.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from realnets.data.registry import CLASSIFICATION, Dataset

__all__ = ["SPLIT_SEED", "split_classification", "stratified_split"]

# The one seed of every fixed split in realnets.data (digits, mnist5000, mushroom, connect-4).
SPLIT_SEED = 20_171_100


def stratified_split(
    labels: np.ndarray,
    *,
    test_per_class: int | None = None,
    test_fraction: float | None = None,
    split_seed: int = SPLIT_SEED,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted index arrays ``(train, test)`` holding out the same share of every class.

    Give exactly one of ``test_per_class`` (that many test samples of each class) or ``test_fraction``
    (``round(test_fraction * n_c)`` test samples of class ``c``). Within a split, samples keep the
    order of the source file.
    """
    if (test_per_class is None) == (test_fraction is None):
        raise ValueError("Invalid split: give exactly one of test_per_class and test_fraction")
    rng = np.random.default_rng(split_seed)
    test_parts = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        n_test = test_per_class if test_per_class is not None else round(test_fraction * members.size)
        if not 0 < n_test < members.size:
            raise ValueError(f"Invalid test size: {n_test} for class {label} with {members.size} samples")
        test_parts.append(rng.choice(members, size=n_test, replace=False))
    test = np.sort(np.concatenate(test_parts))
    return np.setdiff1d(np.arange(labels.size), test), test


def split_classification(
    name: str, x: torch.Tensor, y: torch.Tensor, train: np.ndarray, test: np.ndarray, **meta: Any
) -> Dataset:
    """A classification :class:`Dataset` from full tensors and the index arrays of a fixed split."""
    return Dataset(
        name=name,
        x_train=x[train].clone(),
        y_train=y[train].clone(),
        x_test=x[test].clone(),
        y_test=y[test].clone(),
        task=CLASSIFICATION,
        **meta,
    )
