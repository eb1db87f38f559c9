"""``realnets bench --sections engine``: the engine's update against a hand-written PyTorch loop.

The engine's time per update at a fixed batch size (:meth:`realnets.engine.Run.one_step`, exactly the code
``realnets train`` runs, with its logging) against a minimal hand-written PyTorch loop (index the on-device
data, forward, cross-entropy, backward, optimizer step) on the same model, batch and device. Target: loop time
/ engine time >= 0.97 on the CPU, >= 0.95 on CUDA (issue 15). The engine's logging is part of its time: the
records are queued per update and written (losses read back in one transfer, one encoder for the lines)
every :data:`~realnets.engine.SYNC_EVERY` updates, as in training.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from realnets.bench import interleaved_medians, register_section
from realnets.engine import SYNC_EVERY

__all__ = ["ENGINE_CASES", "ENGINE_STEPS", "engine_section"]

#: (batch size, MLP width) cases, and the updates timed per repetition.
ENGINE_CASES = ((32, 256), (128, 256), (512, 256))
ENGINE_STEPS = 300


def _engine_run(batch_size: int, device: torch.device, run_dir: Path, width: int):
    from realnets.config import make_config
    from realnets.engine import Run

    config = make_config(
        {
            "algo": "momentum",
            "batch_size": batch_size,
            "lr": 0.01,
            "device": str(device),
            "budget_epochs": 1e6,
            "out_dir": str(run_dir),
            "progress": False,
            "model_options": {"width": width},
        }
    )
    run = Run(config, device, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").write_text("")
    return run


def _engine_block(run, steps: int) -> Callable[[], None]:
    def block() -> None:
        for _ in range(steps):
            run.one_step()
            if len(run.pending) >= SYNC_EVERY:
                run.flush()

    return block


def _loop_block(run, steps: int, batch_size: int) -> Callable[[], None]:
    """The peer: the same model architecture, data and batch, without the engine."""
    import copy

    model = copy.deepcopy(run.task.model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x_all, y_all = run.task.x_train, run.task.y_train
    n = x_all.shape[0]
    generator = torch.Generator().manual_seed(0)
    perm = torch.randperm(n, generator=generator).to(x_all.device)
    position = [0]

    def block() -> None:
        for _ in range(steps):
            if position[0] + batch_size > n:
                position[0] = 0
            idx = perm[position[0] : position[0] + batch_size]
            position[0] += batch_size
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
            loss.backward()
            optimizer.step()

    return block


@register_section("engine")
def engine_section(device: torch.device, repeats: int) -> list[dict[str, Any]]:
    """Engine vs hand-written loop, MLP on the embedded digits, fixed batch sizes."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch_size, width in ENGINE_CASES:
            run = _engine_run(batch_size, device, Path(tmp) / f"b{batch_size}w{width}", width)
            steps = ENGINE_STEPS
            ours, peer = interleaved_medians(
                _engine_block(run, steps), _loop_block(run, steps, batch_size), repeats, device
            )
            rows.append(
                {
                    "section": "engine",
                    "case": f"mlp(width={width}) digits B={batch_size}",
                    "ours": "engine",
                    "peer": "plain PyTorch loop",
                    "unit": "ms/update",
                    "ours_value": 1e3 * ours / steps,
                    "peer_value": 1e3 * peer / steps,
                    "ratio": peer / ours,
                    "target": ">= 0.95 (peer/ours)" if device.type == "cuda" else ">= 0.97 (peer/ours)",
                }
            )
    return rows
