"""The layer-wise optimizers LARS, LAMB, PercentDelta, CBLR and MCLR (seed 001, eq. 9-24).

Each is checked against a plain-tensor loop written from its paper's formula (not calling the class) on
Hypothesis-drawn parameter shapes; a trust ratio forced to 1 reproduces torch's SGD bit for bit; seed 001's
eq. 23-24 identities are pinned against :mod:`theory.curvature`; zero guards, closures, bad hyperparameters
and the algorithm registrations are checked too.
"""

from __future__ import annotations

import contextlib
import math
from functools import partial as functools_partial
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from torch import nn

from realnets.algorithms.base import ScheduledPolicy, StepInfo
from realnets.optim import CBLR, LAMB, LARS, MCLR, PercentDelta, get_optimizer
from realnets.optim.cblr import exact_hessian_diagonal, hutchinson_hessian_diagonal
from realnets.registry import get_algorithm
from theory import curvature

STEPS = 3
shapes_st = st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), min_size=1, max_size=3)
seed_st = st.integers(0, 2**16)
momentum_st = st.sampled_from([0.0, 0.9])
wd_st = st.sampled_from([0.0, 0.05])


def draw_problem(shapes, seed, steps=STEPS):
    """Parameters (float64, non-zero almost surely) and a gradient sequence, all from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    params = [nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64)) for s in shapes]
    grads = [[0.1 * torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes] for _ in range(steps)]
    return params, grads


def run(opt, params, grads_seq):
    for grads in grads_seq:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
    return [p.detach().clone() for p in params]


@contextlib.contextmanager
def device_path(enabled: bool):
    """Force the accelerator code path (ratios as device tensors) on the CPU when ``enabled``."""
    if not enabled:
        yield
        return
    with contextlib.ExitStack() as stack:
        for module in ("lars", "lamb", "percent_delta", "mclr"):
            stack.enter_context(mock.patch(f"realnets.optim.{module}.on_host", lambda params: False))
        yield


def norm(t):
    return math.sqrt(sum(x * x for x in t.flatten().tolist()))


def heavy_ball(w, d, v, lr, momentum, nesterov):
    """Torch's SGD form: v <- m v + d; w <- w - lr v (nesterov: w - lr (d + m v))."""
    v = d.clone() if v is None else momentum * v + d
    if momentum == 0:
        return w - lr * d, v
    return w - lr * ((d + momentum * v) if nesterov else v), v


def close(ours, ref):
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# --- against the papers' formulas -------------------------------------------------------------------------


@given(
    device=st.booleans(),
    shapes=shapes_st,
    seed=seed_st,
    momentum=momentum_st,
    wd=wd_st,
    nesterov=st.booleans(),
    clip=st.booleans(),
    trust=st.sampled_from([0.001, 0.5]),
)
def test_lars_matches_you_et_al_algorithm_1(shapes, seed, momentum, wd, nesterov, clip, trust, device):
    nesterov = nesterov and momentum > 0
    params, grads_seq = draw_problem(shapes, seed)
    lr = 0.3
    ws, vs = [p.detach().clone() for p in params], [None] * len(params)
    for grads in grads_seq:
        for i, g in enumerate(grads):
            wn, gn = norm(ws[i]), norm(g)
            local = trust * wn / (gn + wd * wn) if wn > 0 and gn > 0 else 1.0
            if clip:
                local = min(local / lr, 1.0)
            ws[i], vs[i] = heavy_ball(ws[i], local * (g + wd * ws[i]), vs[i], lr, momentum, nesterov)
    opt = LARS(
        params,
        lr=lr,
        momentum=momentum,
        weight_decay=wd,
        trust_coefficient=trust,
        clip=clip,
        nesterov=nesterov,
    )
    with device_path(device):
        close(run(opt, params, grads_seq), ws)


@given(
    device=st.booleans(),
    shapes=shapes_st,
    seed=seed_st,
    wd=st.sampled_from([0.0, 0.01]),
    bias_correction=st.booleans(),
    max_grad_norm=st.sampled_from([None, 0.05]),
)
def test_lamb_matches_you_et_al_algorithm_2(shapes, seed, wd, bias_correction, max_grad_norm, device):
    params, grads_seq = draw_problem(shapes, seed)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-6
    ws = [p.detach().clone() for p in params]
    ms = [torch.zeros_like(w) for w in ws]
    vs = [torch.zeros_like(w) for w in ws]
    for t, grads in enumerate(grads_seq, start=1):
        total = math.sqrt(sum(norm(g) ** 2 for g in grads))
        scale = max(1.0, total / max_grad_norm) if max_grad_norm else 1.0
        for i, g in enumerate(grads):
            g = g / scale
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            m_hat = ms[i] / (1 - b1**t) if bias_correction else ms[i]
            v_hat = vs[i] / (1 - b2**t) if bias_correction else vs[i]
            r = m_hat / (v_hat.sqrt() + eps) + wd * ws[i]
            wn, rn = norm(ws[i]), norm(r)
            ratio = wn / rn if wn > 0 and rn > 0 else 1.0
            ws[i] = ws[i] - lr * ratio * r
    opt = LAMB(params, lr=lr, weight_decay=wd, bias_correction=bias_correction, max_grad_norm=max_grad_norm)
    with device_path(device):
        close(run(opt, params, grads_seq), ws)


@given(device=st.booleans(), shapes=shapes_st, seed=seed_st, momentum=momentum_st, wd=wd_st)
def test_percent_delta_matches_eq_24(shapes, seed, momentum, wd, device):
    params, grads_seq = draw_problem(shapes, seed)
    lr = 0.01
    ws, vs = [p.detach().clone() for p in params], [None] * len(params)
    for grads in grads_seq:
        for i, g in enumerate(grads):
            d = g + wd * ws[i]
            pairs = [(wi, di) for wi, di in zip(ws[i].flatten().tolist(), d.flatten().tolist()) if wi != 0]
            total = sum(abs(di / wi) for wi, di in pairs)
            rate = len(pairs) / total if pairs and total > 0 else 1.0
            ws[i], vs[i] = heavy_ball(ws[i], rate * d, vs[i], lr, momentum, False)
    opt = PercentDelta(params, lr=lr, momentum=momentum, weight_decay=wd)
    with device_path(device):
        close(run(opt, params, grads_seq), ws)


def lower_median(values):
    values = sorted(values)
    return values[(len(values) - 1) // 2]


@given(
    device=st.booleans(), shapes=shapes_st, seed=seed_st, momentum=momentum_st, wd=wd_st, signed=st.booleans()
)
def test_mclr_matches_eq_20_to_22(shapes, seed, momentum, wd, signed, device):
    params, grads_seq = draw_problem(shapes, seed)
    lr = 0.01
    ws, vs = [p.detach().clone() for p in params], [None] * len(params)
    for grads in grads_seq:
        for i, g in enumerate(grads):
            d = g + wd * ws[i]
            w_list, d_list = ws[i].flatten().tolist(), d.flatten().tolist()
            if signed:
                num, den = abs(lower_median(w_list)), abs(lower_median(d_list))
            else:
                num, den = lower_median([abs(x) for x in w_list]), lower_median([abs(x) for x in d_list])
            ratio = num / den if num > 0 and den > 0 else 1.0
            ws[i], vs[i] = heavy_ball(ws[i], ratio * d, vs[i], lr, momentum, False)
    opt = MCLR(params, lr=lr, momentum=momentum, weight_decay=wd, signed=signed)
    with device_path(device):
        close(run(opt, params, grads_seq), ws)


def quadratic(seed, sizes, diagonal=False):
    """L(w) = 1/2 w^T Q w over all parameters concatenated; Q positive definite with known diagonal."""
    gen = torch.Generator().manual_seed(seed)
    n = sum(sizes)
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    q = torch.diag(torch.rand(n, generator=gen, dtype=torch.float64) * 3 + 0.1)
    if not diagonal:
        q = q + 0.3 * a @ a.T / n
    return q


@given(
    shapes=shapes_st,
    seed=seed_st,
    momentum=momentum_st,
    wd=wd_st,
    mode=st.sampled_from(["exact", "hutchinson", "secant"]),
    refresh=st.sampled_from([1, 2]),
)
def test_cblr_matches_eq_9_to_11(shapes, seed, momentum, wd, mode, refresh):
    # Hutchinson with Rademacher probes is exact on a diagonal Hessian (z_i^2 = 1), so it is compared there.
    sizes = [math.prod(shape) for shape in shapes]
    q = quadratic(seed, sizes, diagonal=mode == "hutchinson")
    gen = torch.Generator().manual_seed(seed + 1)
    params = [nn.Parameter(torch.randn(shape, generator=gen, dtype=torch.float64)) for shape in shapes]
    lr, r_min, r_max = 0.05, 0.01, 5.0

    def loss_of(ws):
        flat = torch.cat([w.reshape(-1) for w in ws])
        return 0.5 * flat @ q @ flat

    w_ref, v_ref = [p.detach().clone().reshape(-1) for p in params], [None] * len(params)
    h_diag = torch.diagonal(q).split(sizes)
    for _ in range(STEPS):
        flat = torch.cat(w_ref)
        grads = list((q @ flat).split(sizes))
        for i, g in enumerate(grads):
            curv = (g / w_ref[i]).abs() if mode == "secant" else h_diag[i].abs()
            radius = torch.tensor(
                [
                    min(max((1 + gj * gj) ** 1.5 / cj, r_min), r_max)
                    for gj, cj in zip(g.tolist(), curv.tolist())
                ],
                dtype=torch.float64,
            )
            w_ref[i], v_ref[i] = heavy_ball(
                w_ref[i], radius * (g + wd * w_ref[i]), v_ref[i], lr, momentum, False
            )

    opt = CBLR(
        params,
        lr=lr,
        momentum=momentum,
        weight_decay=wd,
        r_min=r_min,
        r_max=r_max,
        hessian=mode,
        refresh_every=refresh,
        n_probes=1,
    )
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(params).backward()
        opt.step(lambda: loss_of(params))
    close([p.detach().reshape(-1) for p in params], w_ref)


def test_exact_and_hutchinson_hessian_diagonals():
    sizes = [3, 4]
    q = quadratic(7, sizes)
    gen = torch.Generator().manual_seed(8)
    params = [nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64)) for s in sizes]

    def loss():
        flat = torch.cat(params)
        return 0.5 * flat @ q @ flat

    diag = torch.diagonal(q)
    close([torch.cat(exact_hessian_diagonal(loss(), params))], [diag])
    probes = 400
    estimate = torch.cat(
        hutchinson_hessian_diagonal(loss(), params, probes, torch.Generator().manual_seed(9))
    )
    # Per probe, z_i (Hz)_i - H_ii = sum_{j != i} z_i z_j H_ij: mean 0, variance sum_{j != i} H_ij^2.
    se = ((q**2).sum(1) - diag**2).div(probes).sqrt()
    assert torch.all((estimate - diag).abs() <= 5 * se)
    assert not torch.allclose(estimate, diag)  # off-diagonal terms do contribute noise


# --- trust ratio forced to 1 is SGD, bit for bit -------------------------------------------------------


@pytest.mark.parametrize("cls", [LARS, PercentDelta, MCLR])
@pytest.mark.parametrize(
    ("momentum", "nesterov", "wd"), [(0.0, False, 0.0), (0.9, False, 0.01), (0.9, True, 0.0)]
)
def test_trust_ratio_one_reproduces_sgd_exactly(cls, momentum, nesterov, wd):
    params, grads_seq = draw_problem([(3, 4), (5,)], seed=11, steps=4)
    peer = [nn.Parameter(p.detach().clone()) for p in params]
    ours = cls(
        [{"params": params, "trust": False}], lr=0.1, momentum=momentum, weight_decay=wd, nesterov=nesterov
    )
    sgd = torch.optim.SGD(peer, lr=0.1, momentum=momentum, weight_decay=wd, nesterov=nesterov)
    for a, b in zip(run(ours, params, grads_seq), run(sgd, peer, grads_seq), strict=True):
        assert torch.equal(a, b)


def test_lars_trust_one_group_with_unit_ratio_is_sgd():
    # A layer whose trust ratio is exactly 1 (trust * ||w|| = ||g||, no weight decay) moves as SGD does.
    w = torch.tensor([3.0, 4.0], dtype=torch.float64)
    p = nn.Parameter(w.clone())
    p.grad = torch.tensor([0.6, 0.8], dtype=torch.float64) * 0.5  # ||g|| = 0.5 = 0.1 * ||w||
    LARS([p], lr=0.2, momentum=0.0, trust_coefficient=0.1).step()
    torch.testing.assert_close(p.detach(), w - 0.2 * torch.tensor([0.3, 0.4], dtype=torch.float64))


# --- seed 001's eq. 23-24 identities against theory/ ---------------------------------------------------


layer_st = st.tuples(st.integers(0, 2**16), st.integers(1, 15).map(lambda k: 2 * k + 1))


def one_layer(seed, size):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(size, generator=gen, dtype=torch.float64)
    g = 0.1 * torch.randn(size, generator=gen, dtype=torch.float64)
    return w, g


def rate_of(opt, w, g):
    p = nn.Parameter(w.clone())
    p.grad = g.clone()
    o = opt([("layer", p)])
    o.step()
    return o.last_rates()["layer"], p.detach()


@given(layer=layer_st, beta=st.sampled_from([0.0, 0.3]), gamma=st.sampled_from([0.001, 0.7]))
def test_lars_is_eq_23_and_a_weighted_mean_of_radii(layer, beta, gamma):
    w, g = one_layer(*layer)
    rate, w_new = rate_of(
        lambda ps: LARS(ps, lr=1.0, momentum=0.0, weight_decay=beta, trust_coefficient=gamma), w, g
    )
    wn, gn = w.numpy(), g.numpy()
    assert rate == pytest.approx(gamma * curvature.lars_trust_ratio(wn, gn, beta), rel=1e-12)
    radii = wn / gn
    weighted = math.sqrt(np.sum(gn**2 * radii**2) / np.sum(gn**2))
    expected = weighted / (1 + beta * weighted)  # theory: h(R_LARS) with h(x) = x/(1 + beta x)
    assert rate == pytest.approx(gamma * expected, rel=1e-10)
    if beta == 0:  # eq. 23 reached: eta_g = gamma ||w|| / ||g||, step -eta_g g
        torch.testing.assert_close(w_new, w - gamma * w.norm() / g.norm() * g, rtol=1e-12, atol=1e-14)


@given(layer=layer_st, gamma=st.sampled_from([0.001, 0.5]))
def test_percent_delta_is_eq_24_and_the_harmonic_mean_of_radii(layer, gamma):
    w, g = one_layer(*layer)
    rate, w_new = rate_of(lambda ps: PercentDelta(ps, lr=gamma), w, g)
    wn, gn = w.numpy(), g.numpy()
    assert rate == pytest.approx(gamma * curvature.percent_delta_ratio(wn, gn), rel=1e-12)
    assert rate == pytest.approx(gamma * stats.hmean(np.abs(wn / gn)), rel=1e-10)
    torch.testing.assert_close(w_new, w - rate * g, rtol=1e-12, atol=1e-14)


@given(layer=layer_st, signed=st.booleans())
def test_mclr_is_eq_20_21_as_in_theory(layer, signed):
    w, g = one_layer(*layer)  # odd sizes: torch's and numpy's medians agree
    rate, _ = rate_of(lambda ps: MCLR(ps, lr=1.0, signed=signed), w, g)
    expected = curvature.paper_median_curvature_radius(w.numpy(), g.numpy(), magnitudes=not signed)
    assert rate == pytest.approx(expected, rel=1e-12)


def test_mclr_weight_decay_takes_the_median_of_the_decayed_gradient():
    # Eq. 22 as printed adds medians, g_m + beta w_m (theory's reading); MCLR takes median|g + beta w|.
    w, g = one_layer(0, 3)
    rate, _ = rate_of(lambda ps: MCLR(ps, lr=1.0, weight_decay=0.3), w, g)
    wn, gn = w.numpy(), g.numpy()
    assert rate == pytest.approx(np.median(np.abs(wn)) / np.median(np.abs(gn + 0.3 * wn)), rel=1e-12)
    assert rate != pytest.approx(curvature.paper_median_curvature_radius(wn, gn, 0.3), rel=1e-3)


# --- zero guards, names, closures ----------------------------------------------------------------------


@pytest.mark.parametrize("device", [False, True], ids=["host", "device"])
def test_zero_norms_give_ratio_one(device):
    w = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    w.grad = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    still = nn.Parameter(torch.ones(2, dtype=torch.float64))
    still.grad = torch.zeros(2, dtype=torch.float64)
    for cls in (LARS, PercentDelta, MCLR):
        opt = cls([("w", w), ("still", still)], lr=0.1, momentum=0.0)
        with device_path(device):
            opt.step()
        assert opt.last_rates() == {"w": pytest.approx(0.1), "still": pytest.approx(0.1)}
        with torch.no_grad():
            w.zero_()
            still.fill_(1.0)
    opt = LAMB([("w", w)], lr=0.1, weight_decay=0.0)
    with device_path(device):
        opt.step()
    assert opt.last_rates() == {"w": pytest.approx(0.1)}


@pytest.mark.parametrize("device", [False, True], ids=["host", "device"])
def test_percent_delta_skips_zero_coordinates(device):
    p = nn.Parameter(torch.tensor([0.0, 2.0, -4.0], dtype=torch.float64))
    p.grad = torch.tensor([5.0, 1.0, 1.0], dtype=torch.float64)
    opt = PercentDelta([("layer", p)], lr=1.0)
    with device_path(device):
        opt.step()
    assert opt.last_rates()["layer"] == pytest.approx(2 / (1 / 2 + 1 / 4))  # the zero weight is left out


@pytest.mark.parametrize("device", [False, True], ids=["host", "device"])
def test_mclr_with_mostly_zero_weights_falls_back_to_one(device):
    p = nn.Parameter(torch.tensor([0.0, 0.0, 3.0], dtype=torch.float64))
    p.grad = torch.ones(3, dtype=torch.float64)
    opt = MCLR([("layer", p)], lr=0.5)
    with device_path(device):
        opt.step()
    assert opt.last_rates()["layer"] == 0.5


def test_last_rates_use_the_parameter_names_and_groups():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double()
    info = get_optimizer("lars")
    from realnets.optim import build_optimizer

    opt = build_optimizer(info.name, list(model.named_parameters()), {"lr": 2.0, "momentum": 0.0})
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model(x).pow(2).mean().backward()
    expected = 2.0 * 0.001 * norm(model[0].weight.detach()) / norm(model[0].weight.grad)
    opt.step()
    rates = opt.last_rates()
    assert set(rates) == {"0.weight", "0.bias", "1.weight", "1.bias"}
    assert rates["0.bias"] == 2.0  # no trust ratio for biases
    assert rates["0.weight"] == pytest.approx(expected, rel=1e-12)
    plain = LARS([nn.Parameter(torch.ones(2))], lr=1.0)
    plain.param_groups[0]["params"][0].grad = torch.ones(2)
    plain.step()
    assert list(plain.last_rates()) == ["0.0"]


def test_cblr_refuses_a_missing_or_bad_closure():
    p = nn.Parameter(torch.ones(3, dtype=torch.float64))
    p.grad = torch.ones(3, dtype=torch.float64)
    opt = CBLR([p], lr=0.1)
    with pytest.raises(RuntimeError, match=r"CBLR needs step\(closure\)"):
        opt.step()
    with pytest.raises(RuntimeError, match="closure must return the loss with its graph"):
        opt.step(lambda: p.detach().pow(2).sum())
    secant = CBLR([p], lr=0.1, hessian="secant")
    secant.step()  # eq. 15-16 with b = 0 need no closure
    assert torch.all(p.detach() < 1.0)


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (LARS, {"lr": -0.1}, r"Invalid lr: -0.1 \(expected a finite number >= 0\)"),
        (
            LARS,
            {"trust_coefficient": -1.0},
            r"Invalid trust_coefficient: -1.0 \(expected a finite number > 0\)",
        ),
        (LARS, {"momentum": 1.0}, r"Invalid momentum: 1.0 \(expected a finite number >= 0 and < 1\)"),
        (LARS, {"eps": -1e-8}, r"Invalid eps: -1e-08"),
        (LARS, {"momentum": 0.0, "nesterov": True}, r"Invalid nesterov: True with momentum 0"),
        (LAMB, {"betas": (1.0, 0.999)}, r"Invalid beta1: 1.0 \(expected a finite number >= 0 and < 1\)"),
        (LAMB, {"betas": (0.9, -0.1)}, r"Invalid beta2: -0.1"),
        (LAMB, {"betas": 0.9}, r"Invalid betas: 0.9"),
        (LAMB, {"eps": 0.0}, r"Invalid eps: 0.0 \(expected a finite number > 0\)"),
        (LAMB, {"lr": float("nan")}, r"Invalid lr: nan"),
        (LAMB, {"max_grad_norm": -1.0}, r"Invalid max_grad_norm: -1.0"),
        (PercentDelta, {"weight_decay": -1.0}, r"Invalid weight_decay: -1.0"),
        (MCLR, {"signed": 1}, r"Invalid signed: 1 \(expected True or False\)"),
        (CBLR, {"r_min": 2.0, "r_max": 1.0}, r"Invalid r_min: 2.0 \(expected r_min <= r_max = 1.0\)"),
        (CBLR, {"refresh_every": 0}, r"Invalid refresh_every: 0 \(expected an integer >= 1\)"),
        (CBLR, {"hessian": "full"}, r"Invalid hessian: 'full' \(expected one of hutchinson, exact, secant\)"),
        (CBLR, {"hessian_ema": 1.0}, r"Invalid hessian_ema: 1.0"),
    ],
)
def test_bad_hyperparameters_raise_torch_style_one_line(cls, kwargs, message):
    with pytest.raises(ValueError, match=message) as err:
        cls([nn.Parameter(torch.ones(2))], **kwargs)
    assert "\n" not in str(err.value)


# --- the algorithms ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lars", "lamb", "percent-delta", "cblr", "mclr"])
def test_algorithm_builds_and_a_few_steps_reduce_the_loss(name):
    gen = torch.Generator().manual_seed(4)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(64, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=gen)
    info = get_algorithm(name)
    optimizer_info = get_optimizer(name)
    assert set(optimizer_info.defaults) <= set(info.defaults)
    assert {"lr", "batch_size", "momentum", "weight_decay"} <= set(info.defaults)
    policy, opt = info.build(model, {"batch_size": 16})
    assert isinstance(policy, ScheduledPolicy) and isinstance(opt, optimizer_info.cls)

    def full_loss():
        with torch.no_grad():
            return F.cross_entropy(model(x), y).item()

    before, state, seen = full_loss(), policy.init_state(), 0
    for step in range(12):
        step_info = StepInfo(
            step=step,
            samples_seen=seen,
            epoch=seen / 64,
            n_train=64,
            budget_left=10**6,
            epoch_left=64 - seen % 64,
        )
        n, state = policy.first_draw(state, step_info)
        decision, state = policy.decide(state, step_info, {})
        idx = torch.arange(seen, seen + n) % 64
        seen += n
        for group in opt.param_groups:
            group["lr"] = decision.lr * group["lr_scale"]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step(
            (lambda idx=idx: F.cross_entropy(model(x[idx]), y[idx])) if optimizer_info.needs_closure else None
        )
    assert n == 16 and decision.lr == info.defaults["lr"]
    assert full_loss() < before


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["lars", "lamb", "percent-delta", "mclr", "cblr"])
def test_cuda_matches_cpu(name):
    from realnets.optim import build_optimizer

    results = []
    for device in ("cpu", "cuda"):
        gen = torch.Generator().manual_seed(2)
        model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
        model = model.to(device)
        x = torch.randn(32, 6, generator=gen, dtype=torch.float64).to(device)
        y = torch.randint(0, 3, (32,), generator=gen).to(device)
        hp = {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01, "hessian": "exact"}
        opt = build_optimizer(name, list(model.named_parameters()), hp)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step(lambda m=model, xs=x, ys=y: F.cross_entropy(m(xs), ys))
        results.append([p.detach().cpu() for p in model.parameters()])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_needs_closure_is_readable_from_the_optimizer_and_the_registry():
    for name in ("lars", "lamb", "percent-delta", "mclr", "cblr"):
        info = get_optimizer(name)
        opt = info.cls([nn.Parameter(torch.ones(2))])
        assert getattr(opt, "needs_closure", False) is info.needs_closure is (name == "cblr")


# --- audit additions: CBLR and LAMB with the ratio forced to 1, theory's symbolic identities ---------------


@pytest.mark.parametrize(
    ("momentum", "nesterov", "wd"), [(0.0, False, 0.0), (0.9, False, 0.01), (0.9, True, 0.0)]
)
def test_cblr_radius_clamped_to_one_reproduces_sgd_exactly(momentum, nesterov, wd):
    # r_min = r_max = 1 forces R_i = 1 (eq. 10: eta_i = gamma): torch's SGD, bit for bit.
    params, grads_seq = draw_problem([(3, 4), (5,)], seed=12, steps=4)
    peer = [nn.Parameter(p.detach().clone()) for p in params]
    ours = CBLR(
        params,
        lr=0.1,
        momentum=momentum,
        weight_decay=wd,
        nesterov=nesterov,
        r_min=1.0,
        r_max=1.0,
        hessian="secant",
    )
    sgd = torch.optim.SGD(peer, lr=0.1, momentum=momentum, weight_decay=wd, nesterov=nesterov)
    for a, b in zip(run(ours, params, grads_seq), run(sgd, peer, grads_seq), strict=True):
        assert torch.equal(a, b)


@given(shapes=shapes_st, seed=seed_st, wd=st.sampled_from([0.0, 0.01]))
def test_lamb_with_trust_ratio_one_is_adamw(shapes, seed, wd):
    # Without the trust ratio LAMB's step is Adam's with decoupled decay, w - eta (m/(sqrt v + eps) + lam w):
    # torch's AdamW applies the decay first, w (1 - eta lam), the same number up to rounding.
    params, grads_seq = draw_problem(shapes, seed, steps=4)
    peer = [nn.Parameter(p.detach().clone()) for p in params]
    ours = LAMB([{"params": params, "trust": False}], lr=0.01, weight_decay=wd)
    adamw = torch.optim.AdamW(peer, lr=0.01, betas=(0.9, 0.999), eps=1e-6, weight_decay=wd)
    close(run(ours, params, grads_seq), run(adamw, peer, grads_seq))


@given(
    values=st.lists(st.tuples(st.floats(0.05, 3.0), st.floats(0.01, 2.0)), min_size=3, max_size=3),
    beta=st.sampled_from([0.0, 0.3]),
)
def test_eq_23_24_ratios_equal_theorys_symbolic_radius_forms(values, beta):
    # theory.curvature.ratio_statistic_identities writes LARS (eq. 23, and You et al.'s weight-decay form) and
    # PercentDelta (eq. 24) through the radii R_i = w_i/g_i; the optimizers' ratios must equal those forms.
    import sympy as sp

    identities = curvature.ratio_statistic_identities(3)
    w = torch.tensor([v[0] for v in values], dtype=torch.float64)
    g = torch.tensor([v[1] for v in values], dtype=torch.float64)
    subs = {sp.Symbol(f"w{i + 1}", positive=True): w[i].item() for i in range(3)}
    subs |= {sp.Symbol(f"g{i + 1}", positive=True): g[i].item() for i in range(3)}
    subs[sp.Symbol("beta", positive=True)] = beta
    lars_form = identities["lars_weight_decay" if beta else "lars"][1]
    p = nn.Parameter(w.clone())
    p.grad = g.clone()
    lars = LARS([("layer", p)], lr=1.0, momentum=0.0, weight_decay=beta, trust_coefficient=1.0)
    lars.step()
    assert lars.last_ratios()["layer"] == pytest.approx(float(lars_form.evalf(subs=subs)), rel=1e-12)
    p = nn.Parameter(w.clone())
    p.grad = g.clone()
    pd = PercentDelta([("layer", p)], lr=1.0)
    pd.step()
    pd_form = identities["percent_delta"][1]
    assert pd.last_ratios()["layer"] == pytest.approx(float(pd_form.evalf(subs=subs)), rel=1e-12)


def test_last_ratios_are_the_trust_ratios_and_rates_are_lr_times_them():
    w, g = one_layer(3, 5)
    p = nn.Parameter(w.clone())
    p.grad = g.clone()
    bias = nn.Parameter(torch.ones(2, dtype=torch.float64))
    bias.grad = torch.ones(2, dtype=torch.float64)
    opt = LARS([{"params": [("w", p)]}, {"params": [("b", bias)], "trust": False}], lr=0.5, momentum=0.0)
    opt.step()
    assert opt.last_ratios() == {"w": pytest.approx(0.001 * norm(w) / norm(g), rel=1e-12), "b": 1.0}
    assert opt.last_rates() == {"w": pytest.approx(0.5 * opt.last_ratios()["w"]), "b": 0.5}
    p2 = nn.Parameter(w.clone())
    p2.grad = g.clone()
    lamb = LAMB([("w", p2)], lr=0.1, weight_decay=0.0)
    lamb.step()
    r = (g / (1 - 0.9)) * (1 - 0.9) / ((g * g).sqrt() + 1e-6)  # first step: m_hat = g, v_hat = g^2
    assert lamb.last_ratios()["w"] == pytest.approx(norm(w) / norm(r), rel=1e-9)
    cblr = CBLR([("w", nn.Parameter(w.clone()))], lr=0.2, hessian="secant")
    cblr.param_groups[0]["params"][0].grad = g.clone()
    cblr.step()
    radii = cblr.curvature_radii()["w"]
    assert cblr.last_ratios()["w"] == pytest.approx(float(radii.median()))


@pytest.mark.parametrize("device", [False, True], ids=["host", "device"])
def test_float32_ratio_beyond_range_is_guarded_like_on_the_device(device):
    # median|w| / median|g| = 1 / 1e-44 overflows float32: MCLR (a guarded rule) falls back to 1 on both paths.
    p = nn.Parameter(torch.ones(3))
    p.grad = torch.full((3,), 1e-44)
    opt = MCLR([("layer", p)], lr=0.5)
    with device_path(device):
        opt.step()
    assert opt.last_rates()["layer"] == 0.5
    # LARS has no such guard: a trust ratio beyond float32 gives inf weights on both paths (no exception).
    q = nn.Parameter(torch.ones(3))
    q.grad = torch.full((3,), 1e-10)
    lars = LARS([("layer", q)], lr=1.0, momentum=0.9, trust_coefficient=1e30)  # ratio 1e40
    with device_path(device):
        lars.step()
    assert not torch.isfinite(q.detach()).any()


# --- the algorithms' schedule and the per-layer rates in metrics.jsonl ------------------------------------


def test_layerwise_schedule_is_warmup_then_step_decay():
    from realnets.algorithms.layerwise import layerwise_lr

    lr = functools_partial(layerwise_lr, lr=2.0, warmup_epochs=2.0, milestones=(4.0, 6.0), decay=0.1)
    assert [lr(e) for e in (0.0, 1.0, 2.0, 3.9)] == pytest.approx([0.2, 1.1, 2.0, 2.0])  # from 0.1 lr
    assert lr(4.0) == pytest.approx(0.2) and lr(6.5) == pytest.approx(0.02)
    flat = functools_partial(layerwise_lr, lr=2.0, warmup_epochs=0.0, milestones=(), decay=0.1)
    assert flat(0.0) == flat(100.0) == 2.0


@pytest.mark.parametrize(
    ("hp", "message"),
    [
        ({"lr_decay": 0.0}, r"Invalid lr_decay: 0.0"),
        ({"warmup_epochs": -1.0}, r"Invalid warmup_epochs: -1.0"),
        ({"warmup_from": 0.0}, r"Invalid warmup_from: 0.0"),
        ({"log_layer_rates": -2}, r"Invalid log_layer_rates: -2"),
        ({"milestones": "3,1"}, r"Invalid milestones: '3,1'"),
    ],
)
def test_layerwise_schedule_hyperparameters_are_validated(hp, message):
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=message) as err:
        get_algorithm("lars").build(model, hp)
    assert "\n" not in str(err.value)


def test_per_layer_rates_reach_metrics_jsonl(tmp_path):
    import json

    from realnets.config import make_config
    from realnets.engine import train

    config = make_config(
        {
            "algo": "lars",
            "seed": 0,
            "budget_epochs": 0.2,
            "progress": False,
            "device": "cpu",
            "threads": 1,
            "model": "mlp",
            "model_options": {"width": 8},
            "dataset": "digits",
            "hp": {"batch_size": 32, "log_layer_rates": 3, "warmup_epochs": 0.1, "trust_coefficient": 0.01},
            "out_dir": str(tmp_path / "run"),
        }
    )
    assert train(config, plots=False).status == "finished"
    steps = [
        r
        for r in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
        if r["kind"] == "step"
    ]
    logged = [r for r in steps if any(k.startswith("rate/") for k in r)]
    assert [r["step"] for r in logged] == [s["step"] for s in steps if s["step"] % 3 == 0]
    rates = {k: v for k, v in logged[-1].items() if k.startswith("rate/")}
    assert set(rates) == {
        "rate/1.weight",
        "rate/1.bias",
        "rate/3.weight",
        "rate/3.bias",
        "rate/5.weight",
        "rate/5.bias",
    }
    assert rates["rate/1.bias"] == pytest.approx(logged[-1]["lr"])  # biases: no trust ratio
    assert rates["rate/1.weight"] != pytest.approx(logged[-1]["lr"])
    assert steps[0]["lr"] < steps[-1]["lr"]  # the warm-up


# --- ratio_every: the layer ratios refreshed every k steps (a speed option, not the paper's rule) -----------


@given(shapes=shapes_st, seed=seed_st, every=st.sampled_from([2, 3]), device=st.booleans())
def test_lars_ratio_every_k_reuses_the_ratio_between_refreshes(shapes, seed, every, device):
    params, grads_seq = draw_problem(shapes, seed, steps=5)
    lr, trust, momentum = 0.3, 0.5, 0.9
    ws, vs, local = [p.detach().clone() for p in params], [None] * len(params), [None] * len(params)
    for t, grads in enumerate(grads_seq):
        for i, g in enumerate(grads):
            if t % every == 0:
                local[i] = trust * norm(ws[i]) / norm(g)
            ws[i], vs[i] = heavy_ball(ws[i], local[i] * g, vs[i], lr, momentum, False)
    opt = LARS(params, lr=lr, momentum=momentum, trust_coefficient=trust, ratio_every=every)
    with device_path(device):
        close(run(opt, params, grads_seq), ws)


@pytest.mark.parametrize("cls", [LARS, PercentDelta, MCLR])
def test_ratio_every_resumes_identically_between_refreshes(cls):
    params, grads_seq = draw_problem([(3, 4), (5,)], seed=21, steps=6)
    straight = [nn.Parameter(p.detach().clone()) for p in params]
    opt = cls(straight, lr=0.05, momentum=0.9, ratio_every=4)
    run(opt, straight, grads_seq)

    first = [nn.Parameter(p.detach().clone()) for p in params]
    opt_first = cls(first, lr=0.05, momentum=0.9, ratio_every=4)
    run(opt_first, first, grads_seq[:2])  # stop inside the first interval: the cached ratios must travel
    resumed = [nn.Parameter(p.detach().clone()) for p in first]
    opt_resumed = cls(resumed, lr=0.05, momentum=0.9, ratio_every=4)
    opt_resumed.load_state_dict(opt_first.state_dict())
    run(opt_resumed, resumed, grads_seq[2:])
    for a, b in zip(straight, resumed, strict=True):
        assert torch.equal(a, b)


def test_ratio_every_is_validated_and_reaches_the_algorithms():
    with pytest.raises(ValueError, match=r"^Invalid ratio_every: 0 \(expected an integer >= 1\)$"):
        MCLR([nn.Parameter(torch.ones(2))], ratio_every=0)
    for name in ("lars", "percent-delta", "mclr"):
        _, opt = get_algorithm(name).build(nn.Linear(3, 2), {"ratio_every": 5})
        assert all(group["ratio_every"] == 5 for group in opt.param_groups)


def test_cblr_hessian_diagonal_agrees_with_the_hessian_probe():
    # CBLR's closure-based diagonal against the second-order probe (realnets.probes.hessian), exact on a tiny MLP.
    from realnets.probes.hessian import hessian_diagonal

    gen = torch.Generator().manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = torch.randn(16, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (16,), generator=gen)
    params = list(model.parameters())
    ours = exact_hessian_diagonal(F.cross_entropy(model(x), y), params)
    probe = hessian_diagonal(model, F.cross_entropy, x, y, exact=True)
    close(ours, probe.values)


def test_host_norms_match_torch_norms_for_every_layout_and_dtype():
    from realnets.optim.base import host_norms

    gen = torch.Generator().manual_seed(6)
    base = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    tensors = [base, base.t(), base[:, ::2], torch.zeros(3, dtype=torch.float64)]
    expected = [float(torch.linalg.vector_norm(t)) for t in tensors]
    assert host_norms(tensors) == pytest.approx(expected, rel=1e-12)
    half = [t.to(torch.bfloat16) for t in tensors]
    assert host_norms(half) == pytest.approx([float(torch.linalg.vector_norm(t)) for t in half], rel=1e-6)
