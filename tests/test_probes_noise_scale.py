"""Gradient noise scales (realnets.probes.noise_scale) against per-sample and dense-Hessian oracles.

Oracles: per-sample gradients from one backward pass per sample, the dense Hessian from
``torch.autograd.functional.hessian`` over the flattened parameters (tiny float64 nets), and Monte-Carlo
means of the two-batch estimator compared with the exact population quantities within standard errors.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from realnets.probes.noise_scale import b_noise, b_simple, b_simple_two_batch, hvp


def _ce(out, y):
    return F.cross_entropy(out, y, reduction="none")


def _se(out, y):
    return (out - y.reshape(out.shape)).pow(2).reshape(out.shape[0], -1).mean(1)


def _mlp(seed: int, n: int = 30, d: int = 4, hidden: int = 5, classes: int = 3):
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(d, hidden), nn.Tanh(), nn.Linear(hidden, classes)).double()
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    teacher = torch.randn(d, classes, generator=gen, dtype=torch.float64)
    y = (x @ teacher).argmax(1)  # learnable labels: the gradient at initialisation stands out of the noise
    return model, x, y


def _oracle_per_sample(model, loss_fn, x, y):
    params = list(model.parameters())
    return torch.stack(
        [
            torch.cat(
                [
                    g.reshape(-1)
                    for g in torch.autograd.grad(loss_fn(model(x[i : i + 1]), y[i : i + 1]).sum(), params)
                ]
            )
            for i in range(len(x))
        ]
    )


def _dense_hessian(model, loss_fn, x, y):
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss_of(theta):
        parts, start = {}, 0
        for name, shape in zip(names, shapes):
            size = shape.numel()
            parts[name] = theta[start : start + size].reshape(shape)
            start += size
        return loss_fn(functional_call(model, parts, (x,)), y).mean()

    return torch.autograd.functional.hessian(loss_of, flat)


def test_b_simple_matches_the_per_sample_oracle():
    model, x, y = _mlp(0)
    g = _oracle_per_sample(model, _ce, x, y)
    n = len(x)
    mean = g.mean(0)
    trace = float(((g - mean) ** 2).sum() / (n - 1))
    norm = float(mean @ mean) - trace / n
    result = b_simple(model, _ce, x, y, chunk_size=7)
    assert result.trace == pytest.approx(trace, rel=1e-9)
    assert result.norm_sq == pytest.approx(norm, rel=1e-9)
    assert result.norm_sq_hat == pytest.approx(float(mean @ mean), rel=1e-9)
    assert norm > 0
    assert result.value == pytest.approx(trace / norm, rel=1e-8)
    # when the noise swamps the batch's gradient the unbiased |G|^2 is negative: B_simple is reported as inf
    rand_y = torch.randint(0, 3, (len(x),), generator=torch.Generator().manual_seed(9))
    noisy = b_simple(model, _ce, x[:6], rand_y[:6])
    assert (noisy.norm_sq <= 0) == (noisy.value == float("inf"))


def test_hvp_matches_the_dense_hessian():
    model, x, y = _mlp(1)
    hessian = _dense_hessian(model, _ce, x, y)
    vectors = torch.randn(
        3, hessian.shape[0], generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    torch.testing.assert_close(hvp(model, _ce, x, y, vectors), vectors @ hessian, rtol=1e-9, atol=1e-11)


def test_hvp_agrees_with_the_hessian_probe_operator():
    from realnets.probes.hessian import HessianOperator

    model, x, y = _mlp(4)
    vectors = torch.randn(2, sum(p.numel() for p in model.parameters()), dtype=torch.float64)
    with HessianOperator(model, _ce, x, y) as op:
        theirs = torch.stack([op.flat_matvec(v) for v in vectors])
    torch.testing.assert_close(hvp(model, _ce, x, y, vectors), theirs.double(), rtol=1e-9, atol=1e-11)


def test_b_noise_matches_the_dense_hessian_oracle():
    model, x, y = _mlp(3)
    hessian = _dense_hessian(model, _ce, x, y)
    g = _oracle_per_sample(model, _ce, x, y)
    n = len(x)
    mean = g.mean(0)
    sigma = (g - mean).t() @ (g - mean) / (n - 1)
    trace = float(torch.trace(hessian @ sigma))
    norm = float(mean @ hessian @ mean) - trace / n
    assert norm > 0
    result = b_noise(model, _ce, x, y)
    assert result.trace == pytest.approx(trace, rel=1e-8)
    assert result.norm_sq == pytest.approx(norm, rel=1e-8)
    assert result.value == pytest.approx(trace / norm, rel=1e-7)
    # a subset of the deviations is a Monte-Carlo estimate of the same trace; all of them is exact
    assert b_noise(model, _ce, x, y, max_samples=n).trace == pytest.approx(trace, rel=1e-8)
    part = b_noise(model, _ce, x, y, max_samples=10, generator=torch.Generator().manual_seed(0))
    assert part.trace != pytest.approx(trace, rel=1e-8)


def _linear_problem(n: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64) + 0.5 * torch.randn(
        n, 1, generator=gen, dtype=torch.float64
    )
    model = nn.Linear(3, 1).double()
    with torch.no_grad():  # away from the optimum, so that |G|^2 > 0
        model.weight.copy_(torch.tensor([[0.5, -1.0, 0.0]], dtype=torch.float64))
        model.bias.fill_(0.3)
    return model, x, y


@pytest.mark.parametrize("replacement", [True, False])
def test_two_batch_estimator_is_unbiased(replacement):
    model, x, y = _linear_problem(600, seed=4)
    g = _oracle_per_sample(model, _se, x, y)
    mean = g.mean(0)
    trace_pop = float(((g - mean) ** 2).sum() / len(x))  # population covariance, divisor N
    norm_pop = float(mean @ mean)
    result = b_simple_two_batch(
        model,
        _se,
        x,
        y,
        b_small=4,
        b_big=64,
        repeats=600,
        generator=torch.Generator().manual_seed(5),
        replacement=replacement,
    )
    assert abs(result.trace - trace_pop) < 4 * result.trace_se
    assert abs(result.norm_sq - norm_pop) < 4 * result.norm_sq_se
    assert result.trace_se < 0.1 * trace_pop  # the check has power
    assert result.value == pytest.approx(result.trace / result.norm_sq)
    exact = b_simple(model, _se, x, y, population=True)
    assert exact.trace == pytest.approx(trace_pop, rel=1e-9)
    assert exact.norm_sq == pytest.approx(norm_pop, rel=1e-9)


def test_noise_scale_input_errors():
    model, x, y = _mlp(0)
    with pytest.raises(ValueError, match="Invalid b_big"):
        b_simple_two_batch(model, _ce, x, y, b_small=8, b_big=8)
    with pytest.raises(ValueError, match="Invalid b_big: 31"):
        b_simple_two_batch(model, _ce, x, y, b_small=8, b_big=31, replacement=False)
    with pytest.raises(ValueError, match="Invalid repeats"):
        b_simple_two_batch(model, _ce, x, y, b_small=2, b_big=8, repeats=1)
    with pytest.raises(ValueError, match="Invalid batch"):
        b_simple(model, _ce, x[:1], y[:1])
    with pytest.raises(ValueError, match="Invalid max_samples"):
        b_noise(model, _ce, x, y, max_samples=0)
