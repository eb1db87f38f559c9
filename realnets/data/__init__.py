"""Datasets for real training: embedded (offline), synthetic, and downloaded with pinned SHA-256.

>>> from realnets.data import load_dataset, list_datasets
>>> ds = load_dataset("digits")          # real data, no network
>>> ds.x_train.shape, ds.num_classes
(torch.Size([1437, 1, 8, 8]), 10)

Errors: ``ValueError`` for bad names and options, :class:`ChecksumError` (a ``ValueError``) for a file
with the wrong SHA-256, :class:`DataFormatError` (a ``ValueError``) for a malformed file and
:class:`DataUnavailableError` (a ``RuntimeError``) when a file is missing and cannot be downloaded.
"""

from __future__ import annotations

# Importing the loader modules registers their datasets.
from realnets.data import embedded, remote, synthetic  # noqa: F401
from realnets.data.download import ChecksumError, DataUnavailableError
from realnets.data.formats import DataFormatError
from realnets.data.registry import (
    CLASSIFICATION,
    REGRESSION,
    Dataset,
    default_data_dir,
    list_datasets,
    load_dataset,
)

__all__ = [
    "CLASSIFICATION",
    "REGRESSION",
    "ChecksumError",
    "DataFormatError",
    "DataUnavailableError",
    "Dataset",
    "default_data_dir",
    "list_datasets",
    "load_dataset",
]
