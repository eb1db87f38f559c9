"""realnets.probes.linear_approx (seed 002, sec. 4.2, Fig. 2 right) against closed forms and a manual oracle.

On linear least squares the loss is exactly quadratic, so with s = eta m/m0, G the full gradient and H the
Hessian of the mean loss, L(w* - s g_m) - L(w*) = -s G.g_m + s^2 g_m^T H g_m / 2 exactly, and the error
against the paper's first-order model -s |g_m|^2 is |s (g_m - G).g_m + s^2 g_m^T H g_m / 2|."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from realnets.probes.linear_approx import linear_approximation_error


def _se(out, y):
    return (out - y).pow(2).reshape(out.shape[0], -1).mean(1)


def _data(n=64, d=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    return x, y


def test_error_on_least_squares_is_the_quadratic_term_exactly():
    x, y = _data()
    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False).double()
    lr, m0, sizes = 0.05, 4, [4, 16, 64]
    out = linear_approximation_error(
        model,
        _se,
        x,
        y,
        sizes,
        lr=lr,
        base_batch_size=m0,
        batches_per_size=2,
        generator=torch.Generator().manual_seed(5),
    )
    hessian = 2 * x.t() @ x / x.shape[0]  # of mean (x w - y)^2
    full = 2 * ((x @ model.weight.detach().t() - y) * x).mean(0)
    gen = torch.Generator().manual_seed(5)  # replay the batches the probe drew
    w = model.weight.detach()
    for i, m in enumerate(sizes):
        step = lr * m / m0
        errors = []
        for _ in range(2):
            idx = torch.randperm(x.shape[0], generator=gen)[:m]
            g = 2 * ((x[idx] @ w.t() - y[idx]) * x[idx]).mean(0)
            errors.append(abs(step * float((g - full) @ g) + 0.5 * step**2 * float(g @ hessian @ g)))
        assert out.error[i] == pytest.approx(sum(errors) / 2, rel=1e-9)
        assert out.actual_change[i] - out.linear_change[i] == pytest.approx(out.error[i], rel=1e-9)
    assert torch.equal(model.weight.detach(), w)  # the model's parameters are not changed
    assert out.error[0] < out.error[-1]  # the error grows with the LSR step


def test_error_matches_a_manual_oracle_on_a_small_network():
    x, y = _data(n=40, d=4, seed=1)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    out = linear_approximation_error(
        model,
        _se,
        x,
        y,
        [8],
        lr=0.3,
        base_batch_size=2,
        batches_per_size=1,
        generator=torch.Generator().manual_seed(2),
    )
    params = {k: v.detach() for k, v in model.named_parameters()}
    idx = torch.randperm(40, generator=torch.Generator().manual_seed(2))[:8]
    loss = lambda p, xs, ys: _se(functional_call(model, p, (xs,)), ys).mean()  # noqa: E731
    grads = torch.func.grad(loss)(params, x[idx], y[idx])
    step = 0.3 * 8 / 2
    moved = {k: params[k] - step * grads[k] for k in params}
    change = float(loss(moved, x, y) - loss(params, x, y))
    linear = -step * float(sum(g.pow(2).sum() for g in grads.values()))
    assert out.error[0] == pytest.approx(abs(change - linear), rel=1e-9)
    assert out.loss_at_start == pytest.approx(float(loss(params, x, y)), rel=1e-12)


def test_bad_input_is_one_line():
    x, y = _data()
    model = nn.Linear(3, 1).double()
    for kwargs, match in (
        ({"lr": -1.0, "base_batch_size": 4}, "Invalid lr"),
        ({"lr": 0.1, "base_batch_size": 0}, "Invalid base_batch_size"),
    ):
        with pytest.raises(ValueError, match=match):
            linear_approximation_error(model, _se, x, y, [4], **kwargs)
    with pytest.raises(ValueError, match="Invalid batch size"):
        linear_approximation_error(model, _se, x, y, [65], lr=0.1, base_batch_size=4)
