"""Curvature probes (realnets.probes.hessian) against the dense Hessian of tiny float64 networks.

The dense reference is built by a different route: ``torch.autograd.functional.hessian`` of the loss as a
function of one flat parameter vector (through ``torch.func.functional_call``), then ``torch.linalg.eigvalsh``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from realnets.probes.hessian import (
    EXACT_DIAGONAL_LIMIT,
    HessianOperator,
    hessian_diagonal,
    hessian_trace,
    hvp,
    resolve_block,
    top_eigenvalues,
)

D = torch.float64


def ce(outputs, targets):
    return F.cross_entropy(outputs, targets, reduction="none")


def make_mlp(seed: int, d_in: int, width: int, d_out: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, width), nn.Tanh(), nn.Linear(width, d_out)).to(D)


def make_cnn(seed: int, channels: int, d_out: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, channels, 3), nn.Tanh(), nn.Flatten(), nn.Linear(channels * 9, d_out)
    ).to(D)


def batch(seed: int, shape: tuple[int, ...], n: int, classes: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g, dtype=D), torch.randint(0, classes, (n,), generator=g)


def dense_hessian(model: nn.Module, loss_fn, x, y, names: list[str] | None = None) -> torch.Tensor:
    """Dense Hessian over the named parameters (all by default), flattened in named_parameters order."""
    model.eval()
    named = dict(model.named_parameters())
    names = list(named) if names is None else names
    shapes = [named[n].shape for n in names]
    flat0 = torch.cat([named[n].detach().reshape(-1) for n in names])

    def loss_of(flat):
        params, start = {}, 0
        for n, s in zip(names, shapes):
            size = math.prod(s)
            params[n] = flat[start : start + size].reshape(s)
            start += size
        loss = loss_fn(torch.func.functional_call(model, params, (x,)), y)
        return loss if loss.dim() == 0 else loss.mean()

    h = torch.autograd.functional.hessian(loss_of, flat0)
    model.train()
    return (h + h.T) / 2


def flat(vs) -> torch.Tensor:
    return torch.cat([v.reshape(-1) for v in vs])


@st.composite
def problems(draw):
    """A tiny float64 MLP or CNN with a cross-entropy batch."""
    seed = draw(st.integers(0, 10_000))
    classes = draw(st.integers(2, 3))
    n = draw(st.integers(2, 6))
    if draw(st.booleans()):
        d_in = draw(st.integers(2, 4))
        model = make_mlp(seed, d_in, draw(st.integers(2, 4)), classes)
        x, y = batch(seed + 1, (d_in,), n, classes)
    else:
        model = make_cnn(seed, draw(st.integers(1, 2)), classes)
        x, y = batch(seed + 1, (1, 5, 5), n, classes)
    return model, x, y


@settings(max_examples=6)
@given(problems(), st.integers(0, 1000))
def test_hvp_matches_dense(problem, seed):
    model, x, y = problem
    h = dense_hessian(model, ce, x, y)
    g = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=g, dtype=D) for p in model.parameters()]
    hv = hvp(model, ce, x, y, v)
    torch.testing.assert_close(flat(hv), h @ flat(v), rtol=0, atol=1e-10 * (1 + float(h.abs().max())))


def test_hvp_accepts_scalar_or_per_sample_loss():
    model = make_mlp(0, 3, 4, 3)
    x, y = batch(1, (3,), 5, 3)
    v = [torch.ones_like(p) for p in model.parameters()]
    mean_loss = lambda out, t: F.cross_entropy(out, t)  # noqa: E731
    torch.testing.assert_close(flat(hvp(model, ce, x, y, v)), flat(hvp(model, mean_loss, x, y, v)))


@settings(max_examples=6, suppress_health_check=[HealthCheck.filter_too_much])
@given(problems(), st.integers(0, 1000))
def test_power_iteration_top_two(problem, seed):
    model, x, y = problem
    w = torch.linalg.eigvalsh(dense_hessian(model, ce, x, y))
    mags = w[w.abs().argsort(descending=True)]
    # power iteration needs gaps: the error falls like |l2/l1|^(2t)
    assume(abs(mags[1]) < 0.99 * abs(mags[0]) and abs(mags[2]) < 0.99 * abs(mags[1]) and abs(mags[0]) > 1e-6)
    res = top_eigenvalues(
        model, ce, x, y, k=2, max_iter=4000, tol=1e-14, generator=torch.Generator().manual_seed(seed)
    )
    assert res.converged
    assert res.values[0] == pytest.approx(float(mags[0]), rel=1e-6)
    assert res.values[1] == pytest.approx(float(mags[1]), rel=1e-5, abs=1e-9)
    assert res.hvps == sum(res.iterations)
    # the vectors are unit eigenvectors, orthogonal to each other
    u0, u1 = flat(res.vectors[0]), flat(res.vectors[1])
    assert float(u0 @ u1) == pytest.approx(0.0, abs=1e-6)
    assert float(u0.norm()) == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=5)
@given(problems(), st.integers(0, 1000))
def test_lanczos_matches_dense(problem, seed):
    model, x, y = problem
    w = torch.linalg.eigvalsh(dense_hessian(model, ce, x, y))
    g = torch.Generator().manual_seed(seed)
    la = top_eigenvalues(model, ce, x, y, k=2, tol=1e-12, generator=g, method="lanczos", which="LA")
    assert la.converged
    assert la.values == pytest.approx([float(w[-1]), float(w[-2])], rel=1e-8, abs=1e-10)
    lm = top_eigenvalues(model, ce, x, y, k=1, tol=1e-12, generator=g, method="lanczos", which="LM")
    assert lm.values[0] == pytest.approx(float(w[w.abs().argmax()]), rel=1e-8, abs=1e-10)
    # the eigenvector satisfies H u = lambda u
    u = la.vectors[0]
    torch.testing.assert_close(flat(hvp(model, ce, x, y, u)), la.values[0] * flat(u), rtol=0, atol=1e-7)


def saddle_loss(outputs, targets):
    """Convex in the first output, concave (and steeper) in the second: negative curvature dominates."""
    return outputs[:, 0] ** 2 - 3 * outputs[:, 1] ** 2


def test_negative_curvature_is_signed():
    torch.manual_seed(0)
    model = nn.Linear(3, 2).to(D)
    x, y = batch(2, (3,), 8, 2)
    w = torch.linalg.eigvalsh(dense_hessian(model, saddle_loss, x, y))
    assert w[0] < 0 < w[-1] and abs(w[0]) > abs(w[-1])
    power = top_eigenvalues(
        model, saddle_loss, x, y, max_iter=2000, tol=1e-14, generator=torch.Generator().manual_seed(0)
    )
    assert power.values[0] < 0
    assert power.values[0] == pytest.approx(float(w[0]), rel=1e-6)
    la = top_eigenvalues(model, saddle_loss, x, y, method="lanczos", which="LA", tol=1e-12)
    assert la.values[0] == pytest.approx(float(w[-1]), rel=1e-8)
    sa = top_eigenvalues(model, saddle_loss, x, y, method="lanczos", which="SA", tol=1e-12)
    assert sa.values[0] == pytest.approx(float(w[0]), rel=1e-8)


def test_lanczos_k_equal_to_size_uses_dense():
    torch.manual_seed(0)
    model = nn.Linear(2, 2).to(D)
    x, y = batch(3, (2,), 4, 2)
    w = torch.linalg.eigvalsh(dense_hessian(model, ce, x, y))
    res = top_eigenvalues(model, ce, x, y, k=6, method="lanczos")
    assert res.values == pytest.approx(sorted(w.tolist(), reverse=True), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_trace_within_four_stderr(seed):
    model = make_mlp(seed, 3, 4, 3)
    x, y = batch(seed + 5, (3,), 6, 3)
    h = dense_hessian(model, ce, x, y)
    n = 400
    est = hessian_trace(model, ce, x, y, n_probes=n, generator=torch.Generator().manual_seed(seed))
    true_sd = math.sqrt(2 * float((h**2).sum() - (torch.diagonal(h) ** 2).sum()) / n)
    assert abs(est.mean - float(torch.trace(h))) < 4 * true_sd
    assert est.stderr == pytest.approx(true_sd, rel=0.25)  # the reported error matches the true one
    assert est.hvps == n and est.n_probes == n


@settings(max_examples=5)
@given(problems(), st.integers(0, 1000))
def test_trace_within_four_stderr_drawn_nets(problem, seed):
    """Hutchinson on Hypothesis-drawn tiny MLPs and CNNs: within 4 true standard errors of the dense trace."""
    model, x, y = problem
    h = dense_hessian(model, ce, x, y)
    n = 200
    est = hessian_trace(model, ce, x, y, n_probes=n, generator=torch.Generator().manual_seed(seed))
    # Var[z^T H z] = 2 sum_{i != j} H_ij^2 for Rademacher z (zero when H is diagonal: then exact)
    true_sd = math.sqrt(2 * float((h**2).sum() - (torch.diagonal(h) ** 2).sum()) / n)
    assert abs(est.mean - float(torch.trace(h))) <= 4 * true_sd + 1e-10 * (1 + float(h.abs().max()))


@settings(max_examples=5)
@given(problems())
def test_exact_diagonal(problem):
    model, x, y = problem
    h = dense_hessian(model, ce, x, y)
    d = hessian_diagonal(model, ce, x, y, exact=True)
    torch.testing.assert_close(flat(d.values), torch.diagonal(h), rtol=0, atol=1e-10)
    assert d.exact and d.stderr is None and d.hvps == h.shape[0]


def test_hutchinson_diagonal_within_stderr():
    model = make_mlp(3, 3, 4, 3)
    x, y = batch(4, (3,), 6, 3)
    h = dense_hessian(model, ce, x, y)
    n = 300
    d = hessian_diagonal(model, ce, x, y, n_probes=n, generator=torch.Generator().manual_seed(0))
    true_se = (((h**2).sum(1) - torch.diagonal(h) ** 2) / n).sqrt()
    err = (flat(d.values) - torch.diagonal(h)).abs()
    # 5 sigma per element (about 40 elements): a false failure has probability < 1e-4
    assert bool((err <= 5 * true_se + 1e-12).all())
    torch.testing.assert_close(flat(d.stderr), true_se, rtol=0.35, atol=1e-12)


def test_block_restriction_is_sub_block():
    model = make_cnn(5, 2, 3)
    x, y = batch(6, (1, 5, 5), 4, 3)
    names = [n for n, _ in model.named_parameters()]
    h = dense_hessian(model, ce, x, y)
    sizes = [p.numel() for p in model.parameters()]
    offsets = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
    for block, chosen in (
        ("last:1", ["3.weight", "3.bias"]),
        (["0"], ["0.weight", "0.bias"]),
        ("last:2", names),
    ):
        assert resolve_block(model, block) == chosen
        idx = torch.cat([torch.arange(offsets[names.index(n)], offsets[names.index(n) + 1]) for n in chosen])
        sub = h[idx][:, idx]
        with HessianOperator(model, ce, x, y, block=block) as op:
            dense_block = torch.stack([op.flat_matvec(e) for e in torch.eye(op.numel, dtype=D)], dim=1)
        torch.testing.assert_close(dense_block, sub, rtol=0, atol=1e-10)
        top = top_eigenvalues(model, ce, x, y, block=block, method="lanczos", tol=1e-12)
        assert top.values[0] == pytest.approx(float(torch.linalg.eigvalsh(sub)[-1]), rel=1e-8)
    params = [model[3].weight]
    d = hessian_diagonal(model, ce, x, y, exact=True, params=params)
    i = names.index("3.weight")
    torch.testing.assert_close(
        flat(d.values), torch.diagonal(h)[offsets[i] : offsets[i + 1]], rtol=0, atol=1e-10
    )


def test_float64_copy_of_float32_model():
    torch.manual_seed(0)
    model32 = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x, y = batch(1, (3,), 5, 2)
    x = x.float().double()  # exactly representable in float32
    model64 = make_mlp(0, 3, 4, 2)
    model64.load_state_dict({k: v.double() for k, v in model32.state_dict().items()})
    w = torch.linalg.eigvalsh(dense_hessian(model64, ce, x, y))
    res = top_eigenvalues(model32, ce, x.float(), y, method="lanczos", tol=1e-12, dtype=torch.float64)
    assert res.values[0] == pytest.approx(float(w[-1]), rel=1e-10)
    assert all(p.dtype == torch.float32 for p in model32.parameters())  # the model itself is untouched


def test_modes_and_grads_restored():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Tanh(), nn.Linear(4, 2)).to(
        D
    )
    x, y = batch(1, (3,), 6, 2)
    model.train()
    model[2].eval()  # mixed modes must come back exactly
    ce(model(x), y).mean().backward()
    model[0].bias.grad = None
    grads = [p.grad for p in model.parameters()]
    values = [None if g is None else g.clone() for g in grads]
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    first = top_eigenvalues(model, ce, x, y, k=2, max_iter=20, generator=torch.Generator().manual_seed(0))
    hessian_trace(model, ce, x, y, n_probes=3)
    hessian_diagonal(model, ce, x, y, n_probes=3)
    hessian_diagonal(model, ce, x, y, exact=True, block="last:1")
    top_eigenvalues(model, ce, x, y, method="lanczos", dtype=torch.float64)
    assert [m.training for m in model.modules()] == modes
    for p, g, v in zip(model.parameters(), grads, values):
        assert p.grad is g
        if v is not None:
            assert torch.equal(p.grad, v)
    for k, v in model.state_dict().items():  # eval mode: BatchNorm running statistics not updated
        assert torch.equal(v, buffers[k])
    # eval mode makes the probe deterministic (dropout off): the same generator seed gives the same answer
    again = top_eigenvalues(model, ce, x, y, k=2, max_iter=20, generator=torch.Generator().manual_seed(0))
    assert again.values == first.values


def test_abs_constants_stop_early():
    model = make_mlp(1, 3, 4, 3)
    x, y = batch(2, (3,), 6, 3)
    res = top_eigenvalues(model, ce, x, y, max_iter=10, tol=1e-2, generator=torch.Generator().manual_seed(0))
    assert res.hvps <= 10 and res.hvps == res.iterations[0]
    w = torch.linalg.eigvalsh(dense_hessian(model, ce, x, y))
    assert abs(res.values[0]) <= float(w.abs().max()) * (1 + 1e-9)  # a Rayleigh quotient never overshoots


def test_bad_inputs():
    model = make_mlp(0, 3, 4, 2)
    x, y = batch(1, (3,), 4, 2)
    cases = [
        (lambda: top_eigenvalues(model, ce, x, y, max_iter=0), "Invalid max_iter: 0"),
        (lambda: top_eigenvalues(model, ce, x, y, tol=0.0), "Invalid tol: 0.0"),
        (lambda: top_eigenvalues(model, ce, x, y, tol=math.nan), "Invalid tol: nan"),
        (lambda: top_eigenvalues(model, ce, x, y, k=0), "Invalid k: 0"),
        (lambda: top_eigenvalues(model, ce, x, y, k=27), "Invalid k: 27"),
        (lambda: top_eigenvalues(model, ce, x, y, method="qr"), "Invalid method: 'qr'"),
        (lambda: top_eigenvalues(model, ce, x[:0], y[:0]), "Invalid batch"),
        (lambda: top_eigenvalues(model, ce, x, y[:2]), "Invalid targets"),
        (lambda: top_eigenvalues(model, ce, x, y, block="first:1"), "Invalid block: 'first:1'"),
        (lambda: top_eigenvalues(model, ce, x, y, block=["head"]), "Invalid block: 'head'"),
        (lambda: hessian_trace(model, ce, x, y, n_probes=0), "Invalid n_probes: 0"),
        (lambda: hessian_diagonal(model, ce, x, y, n_probes=0), "Invalid n_probes: 0"),
        (lambda: hvp(model, ce, x, y, [torch.ones(2)]), "Invalid v"),
        (lambda: hvp(model, ce, x, y, [], params=[torch.ones(2)]), "Invalid params"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            call()
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="'0', '2'"):  # the valid module names are listed
        resolve_block(model, ["nope"])
    big = nn.Linear(EXACT_DIAGONAL_LIMIT, 1).to(D)
    with pytest.raises(ValueError, match="Invalid exact=True"):
        hessian_diagonal(
            big,
            lambda o, t: (o**2).mean(),
            torch.ones(1, EXACT_DIAGONAL_LIMIT, dtype=D),
            torch.zeros(1),
            exact=True,
        )


def test_default_generator_draws_fresh_probes():
    model = make_mlp(0, 3, 4, 2)
    x, y = batch(1, (3,), 4, 2)
    a = hessian_trace(model, ce, x, y, n_probes=5)
    b = hessian_trace(model, ce, x, y, n_probes=5)
    assert a.mean == b.mean  # deterministic without a generator
    assert a.stderr > 0  # the probes differ from one another


def test_zero_hessian_and_unused_parameters():
    torch.manual_seed(0)
    model = nn.Linear(3, 2).to(D)
    x, y = batch(1, (3,), 4, 2)
    linear = lambda out, t: out.sum(1)  # noqa: E731  (linear in the parameters: H = 0)
    res = top_eigenvalues(model, linear, x, y)
    assert res.values == [0.0] and res.converged
    assert hessian_trace(model, linear, x, y, n_probes=2).mean == 0.0
    two = nn.ModuleDict({"a": nn.Linear(3, 2), "b": nn.Linear(3, 2)}).to(D)
    two.forward = lambda inp: two["a"](inp)  # "b" is never used: its Hessian rows are zero
    square = lambda out, t: (out**2).mean()  # noqa: E731
    d = hessian_diagonal(two, square, x, y, exact=True)
    assert all(float(v.abs().max()) == 0.0 for v in d.values[2:]) and float(d.values[0].abs().max()) > 0


@pytest.mark.slow
def test_bench_rows_mlp():
    from realnets.bench.hessian import hessian_rows

    rows = hessian_rows("mlp", (64,), {"width": 32}, 1, torch.device("cpu"), 1)
    assert [r["ours"].split(" ")[0] for r in rows] == ["HVP", "FGSM"]
    for r in rows:
        assert r["ours_value"] > 0 and r["peer_value"] > 0
        assert r["ratio"] == pytest.approx(r["ours_value"] / r["peer_value"])
