"""BA's look-ahead (issue 15): the same decisions as the round-by-round rule of seed 000's Algorithm 1.

The engine peeks a block of rows, :class:`realnets.probes.prefix.PrefixStats` answers every round's statistics
from one forward and one backward pass of the block, and the rows the update does not take go back to the
sampler. The oracle is the sequential route (``lookahead=False``): one forward/backward per round through
:class:`~realnets.probes.gradstats.GradStatsAccumulator`, whose statistics are themselves tested against
per-sample gradients (tests/test_ba.py, tests/test_gradstats.py).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from realnets.engine import EpochSampler, TrainStep
from realnets.engine.sampling import FreshSampler
from realnets.probes.gradstats import GradStatsAccumulator
from realnets.probes.prefix import PrefixStats, prefix_supported
from realnets.registry import get_algorithm


def ce(outputs, targets):
    return F.cross_entropy(outputs, targets, reduction="none")


def mlp(seed: int, d: int = 12, classes: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, classes))


def cnn(seed: int, classes: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(3, 3, 3, padding="same"),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(3 * 6 * 6, classes),
    )


def data(kind: str, n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shape = (n, 12) if kind == "mlp" else (n, 1, 6, 6)
    x = torch.randn(*shape, generator=g)
    w = torch.randn(x[0].numel(), 4, generator=g)
    y = (x.flatten(1) @ w + 0.8 * torch.randn(n, 4, generator=g)).argmax(1)
    return x, y


# -- the statistics of a prefix -------------------------------------------------------------------------
def _oracle(model, x, y, n, mode, direction):
    acc = GradStatsAccumulator(model, ce, mode=mode)
    acc.add(x[:n], y[:n])
    f = acc.mean_grad()
    dot = float(sum((a.double() * b.double()).sum() for a, b in zip(f, direction)))
    stats = acc.stats(f) if n >= 2 else None
    return f, dot, stats


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("mode", ["exact", "diag"])
def test_prefix_statistics_match_the_accumulator_on_the_same_rows(kind, mode):
    model = mlp(0) if kind == "mlp" else cnn(0)
    x, y = data(kind, 90)
    g = torch.Generator().manual_seed(1)
    direction = [torch.randn(p.shape, generator=g) for p in model.parameters()]
    block = PrefixStats(model, ce, mode=mode, direction=direction)
    block.add(x[:50], y[:50])  # two blocks: the second extends the first (rows taken beyond the look-ahead)
    block.add(x[50:], y[50:])
    assert block.rows == 90 and block.forwards == 2 and block.backwards == 2
    for n in (1, 2, 7, 32, 50, 51, 64, 90):
        result = block.prefix(n)
        f_ref, dot_ref, ref = _oracle(model, x, y, n, mode, direction)
        for got, want in zip(block.mean_grad(n), f_ref):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
        assert result.dot == pytest.approx(dot_ref, rel=1e-4, abs=1e-7)
        if n == 1:
            assert result.sigma2 is None
            continue
        # float32 sums in another order: relative 1e-4 is ~1000 float32 ulps
        assert result.loss == pytest.approx(ref.loss, rel=1e-5)
        assert result.grad_sq_norm == pytest.approx(ref.grad_sq_norm, rel=1e-4)
        assert result.sigma2 == pytest.approx(ref.sigma2, rel=1e-4)


def test_the_table_route_serves_an_mlp_and_the_layer_route_a_cnn():
    x, y = data("mlp", 40)
    block = PrefixStats(mlp(0), ce)
    block.add(x, y)
    assert block._table is not None  # every prefix from the Gram matrix, one host transfer
    xc, yc = data("cnn", 40)
    block = PrefixStats(cnn(0), ce)
    block.add(xc, yc)
    assert block._table is None


def test_frozen_layers_and_bad_prefixes():
    model = mlp(0)
    model[0].weight.requires_grad_(False)  # a frozen weight next to a trainable bias
    x, y = data("mlp", 30)
    block = PrefixStats(model, ce, mode="diag")
    block.add(x, y)
    trainable = [p for p in model.parameters() if p.requires_grad]
    f_ref, _, ref = _oracle(model, x, y, 20, "diag", [torch.zeros_like(p) for p in trainable])
    result = block.prefix(20)
    assert result.sigma2 == pytest.approx(ref.sigma2, rel=1e-4)
    for got, want in zip(block.mean_grad(20), f_ref):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    exact = PrefixStats(model, ce)
    exact.add(x, y)
    reference = GradStatsAccumulator(model, ce)
    reference.add(x[:20], y[:20])
    assert exact.prefix(20).sigma2 == pytest.approx(reference.stats().sigma2, rel=1e-4)
    with pytest.raises(ValueError, match="Invalid prefix: 10 rows after 20"):
        block.prefix(10)
    with pytest.raises(ValueError, match="Invalid prefix: 31 rows"):
        block.prefix(31)
    with pytest.raises(ValueError, match="Invalid stat mode"):
        PrefixStats(model, ce, mode="full")


def test_supported_models():
    assert prefix_supported(mlp(0), "exact") and prefix_supported(cnn(0), "diag")
    assert not prefix_supported(mlp(0), "full")
    assert not prefix_supported(nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3)), "exact")
    assert not prefix_supported(nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)), "exact")
    bn = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3, affine=False)).eval()
    assert prefix_supported(bn, "exact")


# -- the sampler's peek -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [EpochSampler, FreshSampler])
def test_peek_returns_the_next_draws_without_drawing(cls):
    a, b = cls(10, 3, torch.device("cpu")), cls(10, 3, torch.device("cpu"))
    for step, sizes in enumerate([(4, 3), (5, 4), (9, 6)]):  # the last one wraps/crosses the end of the epoch
        a.start_step(step)
        b.start_step(step)
        for count in sizes:
            ahead = a.peek(count, skip=1)
            assert a.drawn == b.drawn
            assert torch.equal(a.peek(count), b.draw(count))
            assert torch.equal(ahead[: count - 1], a.peek(count - 1, skip=1)) if count > 1 else True
            a.draw(count)
            assert a.drawn == b.drawn


# -- whole runs: the decisions of the sequential rule ------------------------------------------------------
def _run(kind, algo, hp, lookahead, sampler_cls, updates):
    model = mlp(1) if kind == "mlp" else cnn(1)
    x, y = data(kind, 400, seed=2)
    policy, optimizer = get_algorithm(algo).build(model, {**hp, "lookahead": lookahead})
    sampler = sampler_cls(x.shape[0], 5, x.device)
    step = TrainStep(model, ce, F.cross_entropy, policy, optimizer, sampler, x, y, budget=10**6)
    sizes, losses, passes = [], [], []
    for _ in range(updates):
        result = step.run()
        sizes.append(result.batch_size)
        losses.append(float(result.loss))
        passes.append(result.bwd)
    return sizes, losses, passes, [p.detach().clone() for p in model.parameters()], sampler.drawn


# Settings where the batch grows and shrinks, and the runs are not chaotic (a large momentum step makes the
# loss explode, and float32 differences of 1e-7 in the statistics then grow into different decisions).
CASES = [
    ("mlp", "ba-sgd", {"lr": 1.0, "m0": 8, "stat": "exact"}, EpochSampler),
    ("mlp", "ba-momentum", {"lr": 1.0, "m0": 8, "stat": "exact", "growth": "jump"}, EpochSampler),
    ("mlp", "ba-sgd", {"lr": 1.0, "m0": 8, "stat": "diag", "batch_size": 12}, FreshSampler),
    ("cnn", "ba-momentum", {"lr": 0.3, "m0": 4, "stat": "exact", "momentum": 0.5}, EpochSampler),
    ("cnn", "ba-sgd", {"lr": 0.5, "m0": 4, "stat": "diag", "epoch_boundary": "cross"}, EpochSampler),
]


@pytest.mark.parametrize("kind, algo, hp, sampler_cls", CASES)
def test_lookahead_takes_the_decisions_of_the_sequential_rule(kind, algo, hp, sampler_cls):
    updates = 40 if kind == "mlp" else 25
    seq = _run(kind, algo, hp, False, sampler_cls, updates)
    ahead = _run(kind, algo, hp, True, sampler_cls, updates)
    assert ahead[0] == seq[0]  # the batch-size sequence, update by update
    assert len(set(seq[0])) > 2  # the batch did grow and shrink: the rounds were exercised
    assert ahead[4] == seq[4] == sum(seq[0])  # the unused look-ahead rows went back to the sampler
    # the same updates up to float32 rounding, which the runs amplify a little (losses up to 10 at these rates)
    assert ahead[1] == pytest.approx(seq[1], rel=1e-3)
    for a, b in zip(ahead[3], seq[3]):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)
    assert sum(ahead[2]) < sum(seq[2])  # fewer backward passes: one per block, not one per round


def test_the_hint_is_the_smaller_of_the_last_two_batches_on_the_growth_grid():
    from realnets.algorithms.ba import BatchAdaptivePolicy
    from realnets.algorithms.base import StepInfo

    info = StepInfo(
        step=3, samples_seen=0, epoch=0.0, n_train=1000, budget_left=10_000, epoch_left=1000, batch_so_far=0
    )
    policy = BatchAdaptivePolicy(lr=0.1, m0=32)
    state = policy.init_state()
    assert policy.lookahead(state, info) == 32  # nothing taken yet: the first draw
    for taken, expected in [(100, 128), (1000, 128), (40, 64), (40, 64), (1000, 64)]:
        state = policy.after_update(state, info, {"batch_size": taken})
        assert policy.lookahead(state, info) == expected
    capped = BatchAdaptivePolicy(lr=0.1, m0=32, max_batch_size=50)
    assert capped.lookahead({"taken": 1000, "taken_before": 1000}, info) == 50
    assert BatchAdaptivePolicy(lr=0.1, lookahead=False).lookahead(state, info) == 0
    with pytest.raises(ValueError, match="Invalid lookahead: 'yes'"):
        BatchAdaptivePolicy(lr=0.1, lookahead="yes")
