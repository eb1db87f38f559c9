r"""``realnets bench --sections hessian``: the cost of seed 003's curvature probe and FGSM inputs.

* One Hessian-vector product through :class:`~realnets.probes.hessian.HessianOperator`, amortised over a
  power iteration of :data:`POWER_STEPS` = 10 products (seed 003 sec. 1: "typically ten Hessian matvecs" to a
  tolerance of 1e-2), the one gradient-graph build included, against one plain training step (zero_grad,
  forward, backward, SGD step) at the same batch. An HVP is a second backward through the gradient graph, so
  it should cost about one to two steps: target ours/peer <= 3.
* :func:`~realnets.adversarial.fgsm` on the whole batch (one forward, one backward to the input) against the
  same plain step: target ours/peer <= 1.5.

Models: ``mlp`` (digits-shaped input (64,), width 256) and ``fmnist-cnn`` ((1, 28, 28)), batch 128, random
inputs and labels (the cost does not depend on the values).

* The whole-run share of the curvature work (:func:`abs_share_rows`): ABS and ABSA trained by ``realnets`` for
  :data:`SHARE_EPOCHS` epochs on a synthetic 10-class set of N = 50,000 (CIFAR-10's size) with the ``mlp`` at
  b0 = 128 (``log_seconds=true``): seconds in the epoch-end eigenvalue probe against the run's wall time, target
  <= 5%; FGSM's seconds reported on their own row (no target). The share depends on N (one probe per epoch of N
  samples), hence the CIFAR-sized set.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from realnets.bench import interleaved_medians, register_section

__all__ = [
    "CASES",
    "POWER_STEPS",
    "SHARE_EPOCHS",
    "abs_share_rows",
    "fgsm_block",
    "hessian_rows",
    "hessian_section",
    "power_block",
    "step_block",
]

POWER_STEPS = 10
BATCH = 128
SHARE_EPOCHS = 2.0
#: (model, input shape, options, repetitions per timed block: power iterations / FGSM calls / steps)
CASES = (("mlp", (64,), {"width": 256}, 10), ("fmnist-cnn", (1, 28, 28), {}, 2))


def _loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs, targets, reduction="none")


def power_block(model, x, y, reps: int) -> Callable[[], None]:
    """``reps`` power iterations of :data:`POWER_STEPS` HVPs, each with its own gradient graph."""
    from realnets.probes.hessian import HessianOperator

    generator = torch.Generator().manual_seed(0)
    start = [torch.randn(p.shape, generator=generator).to(p.device, p.dtype) for p in model.parameters()]

    def block() -> None:
        for _ in range(reps):
            with HessianOperator(model, _loss, x, y) as op:
                v = start
                for _ in range(POWER_STEPS):
                    hv = op.matvec(v)
                    norm = torch.sqrt(sum(torch.sum(h * h) for h in hv))
                    v = [h / norm for h in hv]

    return block


def fgsm_block(model, x, y, reps: int) -> Callable[[], None]:
    """``reps`` FGSM batches (eps = 0.005, the paper's, tensor clip)."""
    from realnets.adversarial import fgsm

    def block() -> None:
        for _ in range(reps):
            fgsm(model, _loss, x, y, 0.005)

    return block


def step_block(model, x, y, reps: int) -> Callable[[], None]:
    """``reps`` plain SGD steps (zero_grad, forward, backward, step) at the same batch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def block() -> None:
        for _ in range(reps):
            optimizer.zero_grad(set_to_none=True)
            _loss(model(x), y).mean().backward()
            optimizer.step()

    return block


def hessian_rows(
    model_name: str,
    shape: tuple[int, ...],
    options: dict[str, Any],
    reps: int,
    device: torch.device,
    repeats: int,
) -> list[dict[str, Any]]:
    """The HVP and FGSM rows of one model."""
    from realnets.models import build_model

    torch.manual_seed(0)
    model = build_model(model_name, input_shape=shape, num_outputs=10, **options).to(device)
    peer_model = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, *shape, generator=generator).to(device)
    y = torch.randint(0, 10, (BATCH,), generator=generator).to(device)
    case = f"{model_name} B={BATCH}"
    rows = []
    ours, peer = interleaved_medians(
        power_block(model, x, y, reps), step_block(peer_model, x, y, reps), repeats, device
    )
    per_hvp, per_step = ours / (reps * POWER_STEPS), peer / reps
    rows.append(
        {
            "section": "hessian",
            "case": case,
            "ours": f"HVP (HessianOperator, {POWER_STEPS}-step power)",
            "peer": "plain SGD step",
            "unit": "ms",
            "ours_value": 1e3 * per_hvp,
            "peer_value": 1e3 * per_step,
            "ratio": per_hvp / per_step,
            "target": "<= 3 (ours/peer)",
        }
    )
    ours, peer = interleaved_medians(
        fgsm_block(model, x, y, reps), step_block(peer_model, x, y, reps), repeats, device
    )
    rows.append(
        {
            "section": "hessian",
            "case": case,
            "ours": "FGSM batch (eps 0.005)",
            "peer": "plain SGD step",
            "unit": "ms",
            "ours_value": 1e3 * ours / reps,
            "peer_value": 1e3 * peer / reps,
            "ratio": ours / peer,
            "target": "<= 1.5 (ours/peer)",
        }
    )
    return rows


def abs_share_rows(
    device: torch.device, epochs: float = SHARE_EPOCHS, n_train: int = 50_000
) -> list[dict[str, Any]]:
    """Seconds of ABS's eigenvalue probe (and ABSA's FGSM) against the whole run's wall time (one run each)."""
    from realnets.config import make_config
    from realnets.engine import train

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for algo in ("abs", "absa"):
            config = make_config(
                {
                    "algo": algo,
                    "model": "mlp",
                    "dataset": "synthetic-classification",
                    "dataset_options": {"num_train": n_train, "num_test": 1000, "dim": 64, "num_classes": 10},
                    "budget_epochs": epochs,
                    "device": device.type,
                    "progress": False,
                    "checkpoint_every": 0,
                    "threads": torch.get_num_threads(),  # the bench's setting, not the run's default
                    "hp": {
                        "batch_size": BATCH,
                        "lr": 0.05,
                        "r_max": 8,
                        "duration": 1,
                        "milestones": "1.5",
                        "log_seconds": True,
                    },
                    "out_dir": str(Path(tmp) / algo),
                }
            )
            result = train(config, plots=False)
            lines = (Path(tmp) / algo / "metrics.jsonl").read_text().splitlines()
            last = [r for r in map(json.loads, lines) if r["kind"] == "step"][-1]
            wall = result.summary["wall_time"]
            what, seconds = ("eigenvalue probe", last["probe_seconds"])
            if algo == "absa":
                what, seconds = ("FGSM inputs", last["fgsm_seconds"])
            rows.append(
                {
                    "section": "hessian",
                    "case": f"{algo} mlp N={n_train} {epochs:g} ep",
                    "ours": f"{algo.upper()} {what} (s)",
                    "peer": "whole run (s)",
                    "unit": "s",
                    "ours_value": seconds,
                    "peer_value": wall,
                    "ratio": seconds / wall,
                    "target": "<= 0.05 (share)" if algo == "abs" else "reported (no target)",
                }
            )
    return rows


@register_section("hessian")
def hessian_section(device: torch.device, repeats: int) -> list[dict[str, Any]]:
    """HVP and FGSM cost against a plain training step, ``mlp`` and ``fmnist-cnn`` at batch 128; the whole-run
    share of ABS's probe and ABSA's FGSM."""
    rows = [
        row
        for name, shape, options, reps in CASES
        for row in hessian_rows(name, shape, options, reps, device, repeats)
    ]
    return rows + abs_share_rows(device)
