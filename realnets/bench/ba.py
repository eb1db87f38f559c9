"""``realnets bench --sections ba``: the cost of batch-adaptive training per training sample.

One BA update is timed as the engine runs it (through :class:`realnets.engine.TrainStep`): the batch grows from :math:`m_0 = 32` to :math:`B` (the
paper's step growth, :math:`B/m_0` statistic rounds, or the optional jump growth: :math:`m_0` then
:math:`B`, two rounds). With the look-ahead (the default) the statistics take the block of :math:`B` rows in one
forward and one backward pass and answer every round from it (:mod:`realnets.probes.prefix`); the
``no-lookahead`` row is the round-by-round route, where each round adds the new chunk's forward and backward
pass to the incremental statistics. Every round runs the policy's :math:`m^*` search, and the update reuses the
gradient the statistic left (no extra pass). The batch size is
forced to :math:`B` so that both sides process the same samples.

Peers, in the same run, interleaved, medians:

* plain SGD at the same batch size (forward, backward, step): target ours/peer <= 1.5 on CPU, <= 1.3 on GPU;
* the original implementation's statistics, one backward pass per sample with a host copy of each
  gradient (:func:`~realnets.probes.gradstats.per_sample_backward_stats`, diagonal, evaluated once per
  update, which is cheaper than the original code's re-evaluation after every increment): target
  peer/ours >= 10 at B = 128.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from realnets.bench import interleaved_medians, register_section
from realnets.probes.gradstats import per_sample_backward_stats

__all__ = ["ba_section", "ba_update_block", "plain_update_block"]

M0 = 32
_CASES = (("mlp", (64,), {"width": 256}, 128, 100), ("fmnist-cnn", (1, 28, 28), {}, 128, 10))


def _loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs, targets, reduction="none")


def _build(
    model_name: str,
    shape: tuple[int, ...],
    options: dict[str, Any],
    algo: str,
    device: torch.device,
    stat: str = "exact",
    lookahead: bool = True,
):
    from realnets.models import build_model
    from realnets.registry import get_algorithm

    model = build_model(model_name, input_shape=shape, num_outputs=10, **options).to(device)
    policy, optimizer = get_algorithm(algo).build(model, {"lr": 0.01, "stat": stat, "lookahead": lookahead})
    return model, policy, optimizer


def _data(shape: tuple[int, ...], batch: int, device: torch.device, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *shape, generator=generator).to(device)
    y = torch.randint(0, 10, (batch,), generator=generator).to(device)
    return x, y


class _ForcedGrowth:
    """Wraps a BA policy so that every update grows through ``sizes`` (both sides see the same samples).

    The wrapped policy still computes its statistics and runs its m* search at every round (its decision is
    computed and discarded), so the time is that of a BA update which happens to grow to ``sizes[-1]``.
    """

    def __init__(self, policy, sizes: list[int]) -> None:
        self.inner, self.sizes = policy, sizes
        self.name, self.needs, self.probes, self.budget_factor = policy.name, policy.needs, (), 1.0

    def init_state(self):
        return self.inner.init_state()

    def first_draw(self, state, info):
        _, state = self.inner.first_draw(state, info)
        return self.sizes[0], state

    def decide(self, state, info, stats):
        from realnets.algorithms.base import Grow, Update

        _, state = self.inner.decide(state, info, stats)
        have = info.batch_so_far
        later = [n for n in self.sizes if n > have]
        return (Grow(later[0] - have) if later else Update(lr=self.inner.lr)), state

    def lookahead(self, state, info):
        return self.sizes[-1] if self.inner.lookahead(state, info) else 0

    def after_update(self, state, info, record):
        return self.inner.after_update(state, info, record)

    def log_fields(self, state):
        return self.inner.log_fields(state)


def ba_update_block(model, policy, optimizer, x, y, sizes: list[int], updates: int) -> Callable[[], None]:
    """``updates`` BA updates through :class:`realnets.engine.TrainStep`, each growing through ``sizes``."""
    from realnets.engine import EpochSampler, TrainStep

    forced = _ForcedGrowth(policy, sizes)
    n = x.shape[0]

    def block() -> None:
        sampler = EpochSampler(n, 0, x.device)
        step = TrainStep(model, _loss, F.cross_entropy, forced, optimizer, sampler, x, y, budget=10**12)
        for _ in range(updates):
            step.run()

    return block


def plain_update_block(model, optimizer, x, y, updates: int) -> Callable[[], None]:
    """``updates`` plain SGD updates at the full batch (zero_grad, forward, backward, step)."""

    def block() -> None:
        for _ in range(updates):
            optimizer.zero_grad(set_to_none=True)
            _loss(model(x), y).mean().backward()
            optimizer.step()

    return block


def _row(
    case: str, ours: str, peer: str, ours_s: float, peer_s: float, samples: int, overhead: bool, target: str
) -> dict[str, Any]:
    return {
        "section": "ba",
        "case": case,
        "ours": ours,
        "peer": peer,
        "unit": "us/sample",
        "ours_value": 1e6 * ours_s / samples,
        "peer_value": 1e6 * peer_s / samples,
        "ratio": ours_s / peer_s if overhead else peer_s / ours_s,
        "target": target,
    }


@register_section("ba")
def ba_section(device: torch.device, repeats: int) -> list[dict[str, Any]]:
    """BA-SGD / BA-Momentum cost per sample against plain SGD and the per-sample-backward statistics."""
    cpu = device.type == "cpu"
    overhead_target = "<= 1.5 (ours/peer)" if cpu else "<= 1.3 (ours/peer)"
    rows = []
    for model_name, shape, options, batch, updates in _CASES:
        x, y = _data(shape, 8 * batch, device)  # the sampler walks through 8 batches' worth of samples
        step_sizes = list(range(M0, batch + 1, M0))
        variants = (
            ("ba-sgd", "exact", step_sizes, "step", True),
            ("ba-sgd", "exact", step_sizes, "step", False),
            ("ba-sgd", "exact", [M0, batch], "jump", True),
            ("ba-momentum", "exact", step_sizes, "step", True),
            ("ba-sgd", "diag", step_sizes, "step", True),
        )
        for algo, stat, sizes, growth, lookahead in variants:
            model, policy, optimizer = _build(model_name, shape, options, algo, device, stat, lookahead)
            peer_model, _, peer_optimizer = _build(model_name, shape, options, algo, device, stat)
            peer_model.load_state_dict(model.state_dict())
            ours, peer = interleaved_medians(
                ba_update_block(model, policy, optimizer, x, y, sizes, updates),
                plain_update_block(peer_model, peer_optimizer, x[:batch], y[:batch], updates),
                repeats,
                device,
            )
            rows.append(
                _row(
                    f"{model_name} B={batch} {algo} {stat} {growth}" + ("" if lookahead else " no-lookahead"),
                    f"{algo} ({len(sizes)} rounds{'' if lookahead else ', one pass each'})",
                    "plain SGD step",
                    ours,
                    peer,
                    updates * batch,
                    True,
                    overhead_target,
                )
            )
        original_updates = max(1, math.ceil(updates / 10))
        for stat in ("exact", "diag"):
            model, policy, optimizer = _build(model_name, shape, options, "ba-sgd", device, stat)
            ours, peer = interleaved_medians(
                ba_update_block(model, policy, optimizer, x, y, step_sizes, original_updates),
                _original_block(model, x[:batch], y[:batch], original_updates),
                max(1, repeats // 2),
                device,
            )
            rows.append(
                _row(
                    f"{model_name} B={batch} ba-sgd {stat} step",
                    f"ba-sgd {stat} (ours)",
                    "per-sample backward (original)",
                    ours,
                    peer,
                    original_updates * batch,
                    False,
                    ">= 10 (peer/ours)",
                )
            )
    return rows


def _original_block(model, x, y, updates: int) -> Callable[[], None]:
    def block() -> None:
        for _ in range(updates):
            per_sample_backward_stats(model, _loss, x, y, diag=True)

    return block
