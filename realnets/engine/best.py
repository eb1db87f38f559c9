"""The best checkpoint of a run: ``best.pt`` beside the last one (``checkpoint.pt``).

``checkpoint.pt`` is the last full state (model, optimizer, policy, RNG: what ``--resume`` continues);
``best.pt`` holds the model weights after the evaluation with the best selection metric so far, chosen
without looking at the test set:

* with a validation split (``--val-fraction``): the highest validation accuracy (the lowest validation loss
  for regression);
* without one: the lowest full training loss (the test set is never used to pick a model).

``best.pt`` is ``{"model": state_dict, "epoch", "step", "samples", "metric", "value", "config"}``; load the
weights with ``model.load_state_dict(torch.load("best.pt")["model"])``. A resumed run recovers the best value
so far from ``metrics.jsonl``, so ``best.pt`` is only replaced by a better evaluation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from realnets.checkpoint import save_checkpoint

__all__ = ["BEST_NAME", "best_so_far", "keep_best", "selection_metric"]

#: File name of the best checkpoint in a run directory.
BEST_NAME = "best.pt"


def selection_metric(record: dict[str, Any]) -> tuple[str, bool]:
    """``(key, higher_is_better)`` of the metric that picks the best model from an epoch record."""
    if isinstance(record.get("val_acc"), (int, float)):
        return "val_acc", True
    if isinstance(record.get("val_loss"), (int, float)):
        return "val_loss", False
    return "train_loss", False


def _better(value: float, best: dict[str, Any] | None, higher: bool) -> bool:
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value > best["value"] if higher else value < best["value"]


def best_so_far(metrics_path: Path) -> dict[str, Any] | None:
    """The best epoch record of ``metrics.jsonl`` as ``{"epoch", "step", "samples", "metric", "value"}``."""
    best = None
    if not metrics_path.is_file():
        return None
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or record.get("kind") != "epoch":
            continue
        key, higher = selection_metric(record)
        value = record.get(key)
        if isinstance(value, (int, float)) and _better(float(value), best, higher):
            best = _entry(record, key, float(value))
    return best


def _entry(record: dict[str, Any], key: str, value: float) -> dict[str, Any]:
    return {
        "epoch": record.get("epoch"),
        "step": record.get("step"),
        "samples": record.get("samples"),
        "metric": key,
        "value": value,
    }


def _weights(model) -> dict[str, Any]:
    """The model's state dict, without the ``torch.compile`` wrapper's key prefix."""
    return getattr(model, "_orig_mod", model).state_dict()


def keep_best(run) -> dict[str, Any] | None:
    """After ``run.evaluate_epoch()``: write ``best.pt`` when the queued epoch record beats the best so far.

    ``run`` is a :class:`~realnets.engine.loop.Run`; its ``best`` attribute caches the best entry (recovered
    from ``metrics.jsonl`` on the first call of a resumed run). Returns the best entry.
    """
    record = next((r for r in reversed(run.pending) if r.get("kind") == "epoch"), None)
    if record is None:
        return getattr(run, "best", None)
    if not hasattr(run, "best"):
        run.best = best_so_far(run.run_dir / "metrics.jsonl")
    key, higher = selection_metric(record)
    value = record.get(key)
    if isinstance(value, (int, float)) and _better(float(value), run.best, higher):
        run.best = _entry(record, key, float(value))
        save_checkpoint(
            run.run_dir / BEST_NAME,
            {"model": _weights(run.task.model), "config": run.config.to_dict(), **run.best},
        )
    return run.best
