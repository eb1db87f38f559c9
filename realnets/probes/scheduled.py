r"""Probes that run on a schedule, not on every batch (the Hessian eigenvalue of seed 003's ABS).

A policy declares ``probes = (ScheduledProbe(...), ...)``. The engine runs each one when it is due (every
``every_samples`` samples consumed, or whenever an epoch ends, and once before the first update when
``at_start``), on a *fresh* batch of ``batch_size`` training samples drawn from the probe's own
``torch.Generator`` (seeded from the run seed, the probe's name and how often it has run, so a resumed run
draws the same batches and the training sampler is untouched). The samples do not count against the
budget. The latest result is handed to the policy in its statistics under the probe's name, together with
``"<name>.runs"`` (how often it ran) and ``"<name>.new"`` (True on the first decision after a run).

``fn(model, loss_fn, x, y, generator) -> value`` receives the model in training mode and must restore
whatever it changes (the Hessian probes switch to eval mode and restore mode and gradients). ``value`` must
be checkpointable (numbers, strings, lists, dicts, tensors).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["ScheduledProbe", "probe_generator"]


@dataclass(frozen=True)
class ScheduledProbe:
    """One scheduled probe (see the module docstring).

    Attributes:
        name: key of its result in the policy's statistics.
        fn: ``(model, loss_fn, x, y, generator) -> value``.
        batch_size: fresh samples per run.
        every_samples: run every this many samples consumed (None: not on a sample schedule).
        at_epoch_end: run whenever an epoch of the budget ends.
        at_start: run once before the first update.
    """

    name: str
    fn: Callable[..., Any]
    batch_size: int
    every_samples: int | None = None
    at_epoch_end: bool = False
    at_start: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ValueError(f"Invalid batch_size: {self.batch_size!r} (expected an integer >= 1)")
        every = self.every_samples
        if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
            raise ValueError(f"Invalid every_samples: {every!r} (expected an integer >= 1 or None)")
        if every is None and not self.at_epoch_end and not self.at_start:
            raise ValueError(
                f"Invalid probe {self.name!r}: no schedule (expected every_samples, at_epoch_end or at_start)"
            )


def probe_generator(seed: int, name: str, run_index: int) -> torch.Generator:
    """The generator of a probe's ``run_index``-th run: a pure function of the seed, the name and the index."""
    salt = zlib.crc32(name.encode())
    return torch.Generator().manual_seed((seed * 1_000_003 + salt * 7919 + run_index) % (2**63))
