r"""``realnets bench --sections probes``: the cost of seed 001's per-update probes when switched on.

:class:`~realnets.probes.magnitudes.StrideProbe` on every update, as the engine runs it (``optimizer`` passed
to ``before``, so plain SGD's move is read from its gradient without copying the parameters; the readings
stay on the device until they are read back with the logged losses), against the same plain SGD step
(zero_grad, forward, backward, step) at the same batch. Three rows per case: the per-update strides
:math:`E|\Delta w|/lr` alone, target ours/peer <= 1.05 (the issue's "<= 5% of a run"); the strides with
the curvature radii :math:`|w/g|` on every :data:`RADIUS_EVERY`-th update (medians over all coordinates,
each costing several steps on a small net: reported, so that ``--stride-probe N`` can be chosen from it);
the strides with the loss stride :math:`\Delta L/lr`, which needs the batch's loss after the update (one
more forward pass per update, about a third of a step by construction: reported, not targeted).

Models: ``mlp`` (digits-shaped input (64,), width 256) at batch 32 and 128, and ``fmnist-cnn`` ((1, 28, 28))
at batch 128; random inputs and labels (the cost does not depend on the values).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from realnets.bench import interleaved_medians, register_section

__all__ = ["CASES", "probe_rows", "probes_section", "stride_block"]

#: (model, input shape, options, batch, steps per timed block)
CASES = (
    ("mlp", (64,), {"width": 256}, 32, 40),
    ("mlp", (64,), {"width": 256}, 128, 40),
    ("fmnist-cnn", (1, 28, 28), {}, 128, 4),
)
LR = 1e-3
#: the radii (medians over all coordinates, several steps' worth of work each time) on every 50th update in
#: the row that reports their cost; the targeted row measures the strides alone (radii off)
RADIUS_EVERY = 50


def _loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs, targets, reduction="none")


def stride_block(
    model, x, y, reps: int, *, probe: bool, loss_stride: bool = False, radius_every: int = 0
) -> Callable[[], None]:
    """``reps`` SGD steps, with the stride probe on every step when ``probe`` (the radii on every
    ``radius_every``-th update, 0: never; and the loss after the step when ``loss_stride``), used as the
    engine uses it: the optimizer passed to ``before``, the readings left
    on the device and read back every :data:`~realnets.engine.SYNC_EVERY` updates and at the end of the
    block (the engine reads them when it writes ``metrics.jsonl``)."""
    from realnets.engine import SYNC_EVERY
    from realnets.probes.magnitudes import StrideProbe, StrideReading

    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    stride = StrideProbe(radius_every=radius_every)
    readings: list[Any] = []
    losses: list[torch.Tensor] = []
    sink: list[float] = []

    def read_back() -> None:
        values = StrideReading.read_all(readings)
        if losses:  # the loss stride (before - after) / lr of each update
            pairs = torch.stack(losses).tolist()
            for out, (before, after) in zip(values, pairs):
                out["loss_stride"] = (before - after) / LR
        sink[:] = [len(values)]
        readings.clear()
        losses.clear()

    def block() -> None:
        for _ in range(reps):
            optimizer.zero_grad(set_to_none=True)
            loss = _loss(model(x), y).mean()
            loss.backward()
            if probe:
                stride.before(model, optimizer=optimizer)
            optimizer.step()
            if probe:
                readings.append(stride.after_deferred(model, LR))
                if loss_stride:
                    with torch.no_grad():
                        losses.append(torch.stack([loss.detach(), _loss(model(x), y).mean()]))
                if len(readings) >= SYNC_EVERY:
                    read_back()
        if readings:
            read_back()

    return block


def probe_rows(
    model_name: str,
    shape: tuple[int, ...],
    options: dict[str, Any],
    batch: int,
    reps: int,
    device: torch.device,
    repeats: int,
) -> list[dict[str, Any]]:
    """The stride-probe rows of one model and batch size."""
    from realnets.engine import SYNC_EVERY
    from realnets.models import build_model

    torch.manual_seed(0)
    model = build_model(model_name, input_shape=shape, num_outputs=10, **options).to(device)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(batch, *shape, generator=generator).to(device)
    y = torch.randint(0, 10, (batch,), generator=generator).to(device)
    rows = []
    variants = (  # (radii every, loss stride, what, target)
        (0, False, "strides", "<= 1.05 (ours/peer)"),
        (
            RADIUS_EVERY,
            False,
            f"strides + radii every {RADIUS_EVERY}",
            "reported (medians over all coordinates)",
        ),
        (0, True, "strides + loss stride", "reported (one extra forward)"),
    )
    for radius_every, loss_stride, what, target in variants:
        ours_model, peer_model = copy.deepcopy(model), copy.deepcopy(model)
        ours, peer = interleaved_medians(
            stride_block(
                ours_model, x, y, reps, probe=True, loss_stride=loss_stride, radius_every=radius_every
            ),
            stride_block(peer_model, x, y, reps, probe=False),
            repeats,
            device,
        )
        rows.append(
            {
                "section": "probes",
                "case": f"{model_name} B={batch}",
                "ours": f"SGD step + {what} (read back every {SYNC_EVERY})",
                "peer": "plain SGD step",
                "unit": "ms",
                "ours_value": 1e3 * ours / reps,
                "peer_value": 1e3 * peer / reps,
                "ratio": ours / peer,
                "target": target,
            }
        )
    return rows


@register_section("probes")
def probes_section(device: torch.device, repeats: int) -> list[dict[str, Any]]:
    """Per-update stride probes against a plain step: ``mlp`` at batch 32 and 128, ``fmnist-cnn`` at 128."""
    return [
        row
        for name, shape, options, batch, reps in CASES
        for row in probe_rows(name, shape, options, batch, reps, device, repeats)
    ]
