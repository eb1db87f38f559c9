"""``realnets bench --sections optim``: the cost of a layer-wise optimizer step against torch's SGD step.

For LARS, LAMB, PercentDelta and MCLR (and LARS, PercentDelta, MCLR with ``ratio_every=10``, the layer
ratios refreshed every 10 steps), ``optimizer.step()`` alone is timed (gradients fixed, set once by one
backward pass) on the MLP of width 256 on (64,) inputs (:func:`realnets.models.build_model`), against
``torch.optim.SGD(momentum=0.9)``'s step on a copy of the same model and gradients. Target: ours/peer <= 1.1.
LAMB is also timed against ``torch.optim.Adam``'s step, its natural peer (no target).

CBLR's Hessian-diagonal refresh (one Hutchinson probe: the closure's forward pass, a first backward with
``create_graph`` and one Hessian-vector product) is reported on its own, against one plain forward and
backward pass of the same batch (no target: the ratio is the refresh's cost in gradient evaluations).
Repetitions are interleaved and the medians reported (:func:`realnets.bench.interleaved_medians`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from realnets.bench import interleaved_medians, register_section

__all__ = ["optim_section", "step_block"]

#: optimizer steps per timed repetition, and the batch of the fixed gradients.
STEPS = 100
BATCH = 128
#: (optimizer, hyperparameters) timed against torch's SGD step.
CASES = (
    ("lars", {"lr": 1.0, "momentum": 0.9}),
    ("lamb", {"lr": 0.01, "momentum": 0.0}),
    ("percent-delta", {"lr": 0.001, "momentum": 0.9}),
    ("mclr", {"lr": 0.001, "momentum": 0.9}),
    # The same rules with the layer ratios refreshed every 10 steps (``ratio_every``; not the paper's rule).
    ("lars", {"lr": 1.0, "momentum": 0.9, "ratio_every": 10}),
    ("percent-delta", {"lr": 0.001, "momentum": 0.9, "ratio_every": 10}),
    ("mclr", {"lr": 0.001, "momentum": 0.9, "ratio_every": 10}),
)


def step_block(optimizer: torch.optim.Optimizer, steps: int) -> Callable[[], None]:
    """``steps`` calls of ``optimizer.step()`` (the gradients stay as they are)."""

    def block() -> None:
        for _ in range(steps):
            optimizer.step()

    return block


def _setup(device: torch.device):
    from realnets.models import build_model

    generator = torch.Generator().manual_seed(0)
    model = build_model("mlp", input_shape=(64,), num_outputs=10, width=256).to(device)
    x = torch.randn(BATCH, 64, generator=generator).to(device)
    y = torch.randint(0, 10, (BATCH,), generator=generator).to(device)
    return model, x, y


def _with_grads(model, x, y):
    twin = copy.deepcopy(model)
    F.cross_entropy(twin(x), y).backward()
    return twin


def _row(
    case: str, ours: str, peer: str, ours_s: float, peer_s: float, count: int, unit: str, target: str
) -> dict[str, Any]:
    scale = 1e6 / count
    return {
        "section": "optim",
        "case": case,
        "ours": ours,
        "peer": peer,
        "unit": unit,
        "ours_value": scale * ours_s,
        "peer_value": scale * peer_s,
        "ratio": ours_s / peer_s,
        "target": target,
    }


@register_section("optim")
def optim_section(device: torch.device, repeats: int) -> list[dict[str, Any]]:
    """Layer-wise optimizer steps vs torch's SGD step; CBLR's Hessian refresh vs a forward+backward pass."""
    from realnets.optim import build_optimizer

    model, x, y = _setup(device)
    rows = []
    for name, hp in CASES:
        ours_model, peer_model = _with_grads(model, x, y), _with_grads(model, x, y)
        ours = build_optimizer(name, list(ours_model.named_parameters()), {"weight_decay": 0.0, **hp})
        peer = torch.optim.SGD(peer_model.parameters(), lr=0.01, momentum=0.9)
        ours_s, peer_s = interleaved_medians(
            step_block(ours, STEPS), step_block(peer, STEPS), repeats, device
        )
        label = name if "ratio_every" not in hp else f"{name}(ratio_every={hp['ratio_every']})"
        rows.append(
            _row(
                f"mlp(width=256) {label} step",
                f"{label} step()",
                "torch SGD(momentum=0.9) step()",
                ours_s,
                peer_s,
                STEPS,
                "us/step",
                "<= 1.1 (ours/peer)",
            )
        )
        if name == "lamb":  # LAMB is Adam plus a trust ratio: Adam is its natural peer (for information)
            adam = torch.optim.Adam(_with_grads(model, x, y).parameters(), lr=0.01)
            ours_s, peer_s = interleaved_medians(
                step_block(ours, STEPS), step_block(adam, STEPS), repeats, device
            )
            rows.append(
                _row(
                    "mlp(width=256) lamb vs adam",
                    "lamb step()",
                    "torch Adam step()",
                    ours_s,
                    peer_s,
                    STEPS,
                    "us/step",
                    "report (ours/peer)",
                )
            )

    cblr_model = _with_grads(model, x, y)
    cblr = build_optimizer("cblr", list(cblr_model.named_parameters()), {"lr": 0.1, "n_probes": 1})
    refreshes = max(1, STEPS // 10)

    def closure():
        return F.cross_entropy(cblr_model(x), y)

    def refresh_block() -> None:
        for _ in range(refreshes):
            cblr.refresh_hessian(closure)

    plain_model = copy.deepcopy(model)

    def backward_block() -> None:
        for _ in range(refreshes):
            plain_model.zero_grad(set_to_none=True)
            F.cross_entropy(plain_model(x), y).backward()

    ours_s, peer_s = interleaved_medians(refresh_block, backward_block, repeats, device)
    rows.append(
        _row(
            f"mlp(width=256) B={BATCH} cblr refresh",
            "CBLR Hutchinson refresh (1 probe)",
            "forward+backward",
            ours_s,
            peer_s,
            refreshes,
            "us/refresh",
            "report (cost in gradient evaluations)",
        )
    )
    return rows
