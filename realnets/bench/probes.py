r"""``realnets bench --sections probes``: the cost of seed 001's per-update probes when switched on.

:class:`~realnets.probes.magnitudes.StrideProbe` on every update (snapshot of the parameters before
``optimizer.step()``, then the per-layer parameter strides :math:`E|\Delta w|/lr`; the curvature radii
:math:`|w/g|`, medians over coordinates that cost several steps, on every :data:`RADIUS_EVERY`-th update), against the same plain SGD step (zero_grad, forward, backward, step) at the same batch:
target ours/peer <= 1.05 (the issue's "<= 5% of a run"). A second row adds the loss stride
:math:`\Delta L/lr`, which needs the batch's loss after the update: one more forward pass per update, so its
cost is about a third of a step by construction and it is reported, not targeted.

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
#: the radii (medians over coordinates) on every 50th update, the strides on every update
RADIUS_EVERY = 50


def _loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs, targets, reduction="none")


def stride_block(model, x, y, reps: int, *, probe: bool, loss_stride: bool = False) -> Callable[[], None]:
    """``reps`` SGD steps, with the stride probe on every step when ``probe`` (and the loss after the step
    when ``loss_stride``)."""
    from realnets.probes.magnitudes import StrideProbe

    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    stride = StrideProbe(radius_every=RADIUS_EVERY)

    def block() -> None:
        for _ in range(reps):
            optimizer.zero_grad(set_to_none=True)
            loss = _loss(model(x), y).mean()
            loss.backward()
            if probe:
                stride.before(model)
            optimizer.step()
            if probe:
                after = float(loss.detach())
                if loss_stride:
                    with torch.no_grad():
                        after = float(_loss(model(x), y).mean())
                stride.after(model, float(loss.detach()), after, LR)

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
    from realnets.models import build_model

    torch.manual_seed(0)
    model = build_model(model_name, input_shape=shape, num_outputs=10, **options).to(device)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(batch, *shape, generator=generator).to(device)
    y = torch.randint(0, 10, (batch,), generator=generator).to(device)
    rows = []
    for loss_stride, target in ((False, "<= 1.05 (ours/peer)"), (True, "reported (one extra forward)")):
        ours_model, peer_model = copy.deepcopy(model), copy.deepcopy(model)
        ours, peer = interleaved_medians(
            stride_block(ours_model, x, y, reps, probe=True, loss_stride=loss_stride),
            stride_block(peer_model, x, y, reps, probe=False),
            repeats,
            device,
        )
        rows.append(
            {
                "section": "probes",
                "case": f"{model_name} B={batch}",
                "ours": f"SGD step + strides (radii every {RADIUS_EVERY})"
                + (" + loss stride" if loss_stride else ""),
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
