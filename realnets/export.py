"""Exports of a run's metrics: CSV files next to ``metrics.jsonl``, and TensorBoard event files.

``metrics_to_csv(run_dir)`` writes ``steps.csv`` (one row per update) and ``epochs.csv`` (one row per
evaluation), each atomically (a temporary file, then ``os.replace``), so a crash never leaves half a file.
Columns are the union of the records' keys in first-seen order (``kind`` dropped); a missing value is empty.

``TensorBoardWriter`` wraps ``torch.utils.tensorboard.SummaryWriter``, imported on first use: without the
optional ``tensorboard`` package it fails in one line (``pip install 'batchsize-science[tensorboard]'``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["MissingExtraError", "TensorBoardWriter", "metrics_to_csv", "write_csv_atomic"]


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message (one line) says how to install it."""


_STEP_SCALARS = ("loss", "batch_size", "lr")
_EPOCH_SCALARS = ("train_loss", "train_acc", "test_loss", "test_acc", "val_loss", "val_acc")


def write_csv_atomic(path: str | Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write ``records`` as CSV to ``path`` through a temporary file in the same folder."""
    records = list(records)
    columns: list[str] = []
    for record in records:
        columns += [key for key in record if key not in columns and key != "kind"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def metrics_to_csv(run_dir: str | Path) -> dict[str, Path]:
    """``steps.csv`` and ``epochs.csv`` in ``run_dir`` from its ``metrics.jsonl``.

    Returns:
        ``{"steps": path, "epochs": path}``.

    Raises:
        ValueError: no readable ``metrics.jsonl`` in ``run_dir`` (one line naming the file).
    """
    from realnets.plots import load_metrics

    steps, epochs = load_metrics(run_dir)
    run_dir = Path(run_dir)
    return {
        "steps": write_csv_atomic(run_dir / "steps.csv", steps),
        "epochs": write_csv_atomic(run_dir / "epochs.csv", epochs),
    }


class TensorBoardWriter:
    """Scalars of a run for TensorBoard, in ``<run_dir>/tensorboard``.

    ``add_step(record)`` logs ``loss``, ``batch_size`` and ``lr`` of a step record against its ``step``;
    ``add_epoch(record)`` logs the evaluation losses and accuracies against the update count and, under
    ``by_epoch/``, against the epoch (x100, TensorBoard steps are integers). ``close()`` flushes.

    Raises:
        MissingExtraError: the ``tensorboard`` package is missing (an ImportError; one line saying how to
            install it; ``realnets`` reports it with exit status 2).
    """

    def __init__(self, run_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ImportError(
                "--tensorboard needs the tensorboard package "
                "(pip install tensorboard, or the extra batchsize-science[tensorboard])"
            ) from None
        self.log_dir = Path(run_dir) / "tensorboard"
        self._writer = SummaryWriter(log_dir=str(self.log_dir))

    def add_step(self, record: Mapping[str, Any]) -> None:
        for key in _STEP_SCALARS:
            if isinstance(record.get(key), (int, float)):
                self._writer.add_scalar(f"step/{key}", float(record[key]), int(record["step"]))

    def add_epoch(self, record: Mapping[str, Any]) -> None:
        for key in _EPOCH_SCALARS:
            if isinstance(record.get(key), (int, float)):
                self._writer.add_scalar(f"eval/{key}", float(record[key]), int(record["step"]))
                self._writer.add_scalar(f"by_epoch/{key}", float(record[key]), round(100 * record["epoch"]))

    def add_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Log a batch of ``metrics.jsonl`` records (steps and epochs; events are skipped)."""
        for record in records:
            if record.get("kind") == "step":
                self.add_step(record)
            elif record.get("kind") == "epoch":
                self.add_epoch(record)

    def close(self) -> None:
        self._writer.flush()
        self._writer.close()
