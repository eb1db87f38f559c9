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
