"""Checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts (nothing that needs pickle's
arbitrary-object loading): model and optimizer ``state_dict``, the policy state, the engine counters
(step, samples seen, metric lines written) and the RNG states, so that a resumed run continues exactly
as the uninterrupted one would have.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "CHECKPOINT_NAME",
    "FORMAT_VERSION",
    "check_run_state",
    "load_checkpoint",
    "rng_states",
    "save_checkpoint",
    "set_rng_states",
]

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``.

    A crash while writing leaves the previous checkpoint intact, and a failed write (a full disk) removes its
    partial temporary file and raises ``OSError`` naming the checkpoint, so the previous one stays the last
    good state. The data is flushed to disk (``fsync``) before the rename, so that a power cut after the
    rename cannot leave an empty file under the final name.

    Raises:
        OSError: the checkpoint could not be written (the previous one, if any, is untouched).
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as stream:
            torch.save({"format_version": FORMAT_VERSION, **payload}, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            kept = "the previous checkpoint is kept" if path.exists() else "no earlier checkpoint exists"
            raise OSError(
                error.errno, f"could not write checkpoint {path} ({error.strerror or error}); {kept}"
            ) from None
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        ValueError: the file is missing, unreadable, or not a checkpoint of this format.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise ValueError(f"Invalid checkpoint: {str(path)!r} (expected an existing {CHECKPOINT_NAME} file)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many types for corrupt files
        raise ValueError(
            f"Invalid checkpoint: {str(path)!r} (could not be read: {type(error).__name__})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"Invalid checkpoint: {str(path)!r} (expected format version {FORMAT_VERSION})")
    return payload


# The engine's run state (see realnets.engine.loop.Run.checkpoint): key -> (check, what is expected).
def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _tensor_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, torch.Tensor) for v in value.values())


_RUN_STATE = {
    "config": (lambda v: isinstance(v, dict), "a table of settings"),
    "model": (_tensor_dict, "a state_dict of tensors"),
    "optimizer": (
        lambda v: isinstance(v, dict) and isinstance(v.get("param_groups"), list) and "state" in v,
        "an optimizer state_dict",
    ),
    "policy_state": (lambda v: True, "the algorithm's state"),
    "step": (_count, "an integer >= 0"),
    "samples": (_count, "an integer >= 0"),
    "evals_done": (_count, "an integer >= 0"),
    "metric_lines": (_count, "an integer >= 0"),
    "elapsed": (
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
        "a number of seconds >= 0",
    ),
    "totals": (
        lambda v: isinstance(v, dict) and all(_count(v.get(k)) for k in ("fwd", "bwd")),
        "fwd/bwd counts",
    ),
    "rng": (
        lambda v: (
            isinstance(v, dict)
            and all(isinstance(t, torch.Tensor) and t.dtype == torch.uint8 for t in v.values())
            and "torch" in v
        ),
        "the torch RNG states (uint8 tensors)",
    ),
}


def check_run_state(payload: dict[str, Any], path: str | os.PathLike) -> None:
    """Refuse a checkpoint that :func:`load_checkpoint` could read but whose run state is incomplete or of the
    wrong types (a damaged or hand-edited file), in one line naming the file and the key, before a resume
    touches the run directory.

    Raises:
        ValueError: ``Invalid checkpoint: '<path>' (<key>: expected ...)``.
    """
    for key, (ok, expected) in _RUN_STATE.items():
        if key not in payload:
            raise ValueError(
                f"Invalid checkpoint: {str(path)!r} (expected a full run state; missing {key!r})"
            )
        if not ok(payload[key]):
            raise ValueError(f"Invalid checkpoint: {str(path)!r} ({key}: expected {expected})")


def rng_states(device: torch.device) -> dict[str, Any]:
    """The torch RNG states the run depends on (CPU, and CUDA when the run uses it)."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def set_rng_states(states: dict[str, Any], device: torch.device) -> None:
    """Restore the states saved by :func:`rng_states` (inside the engine's forked RNG scope)."""
    torch.set_rng_state(states["torch"].cpu())
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"].cpu(), device)
