"""FGSM inputs (realnets.adversarial) on tiny float64 models: direction by finite differences, clipping,
the ABSA row-replacing transform, restored modes and gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from realnets.adversarial import FGSMTransform, fgsm

D = torch.float64


def ce(outputs, targets):
    return F.cross_entropy(outputs, targets, reduction="none")


def make_model(seed: int, d_in: int = 4, classes: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, 5), nn.Tanh(), nn.Linear(5, classes)).to(D)


def batch(seed: int, n: int, d_in: int = 4, classes: int = 3):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_in, generator=g, dtype=D), torch.randint(0, classes, (n,), generator=g)


@settings(max_examples=8)
@given(st.integers(0, 10_000), st.integers(1, 6), st.floats(1e-3, 0.5))
def test_sign_matches_finite_differences(seed, n, eps):
    model = make_model(seed)
    x, y = batch(seed + 1, n)
    step = (fgsm(model, ce, x, y, eps, clip=None) - x) / eps
    h = 1e-6
    checked = 0
    for i in range(n):
        for j in range(x.shape[1]):
            e = torch.zeros_like(x)
            e[i, j] = h
            with torch.no_grad():
                fd = (ce(model(x + e), y).mean() - ce(model(x - e), y).mean()) / (2 * h)
            if abs(float(fd)) > 1e-7:  # the sign is well defined
                assert float(step[i, j]) == pytest.approx(math.copysign(1.0, float(fd)), abs=1e-9)
                checked += 1
    assert checked > 0


def test_clip_to_tensor_range_and_data_range():
    model = make_model(0)
    x, y = batch(1, 6)
    eps = 1.5 * float(x.max() - x.min())  # larger than the range: every element leaves [min(x), max(x)]
    adv = fgsm(model, ce, x, y, eps)  # default clip="tensor"
    raw = fgsm(model, ce, x, y, eps, clip=None)
    assert bool(((raw > x.max()) | (raw < x.min())).all())
    torch.testing.assert_close(adv, raw.clamp(x.min(), x.max()), rtol=0, atol=0)
    assert float(adv.min()) == float(x.min()) and float(adv.max()) == float(x.max())
    boxed = fgsm(model, ce, x, y, eps, clip="data", data_min=-0.5, data_max=0.5)
    torch.testing.assert_close(boxed, raw.clamp(-0.5, 0.5), rtol=0, atol=0)


def test_eps_zero_is_identity_and_result_detached():
    model = make_model(0)
    x, y = batch(2, 5)
    assert torch.equal(fgsm(model, ce, x, y, 0.0), x)
    xr = x.clone().requires_grad_(True)
    adv = fgsm(model, ce, xr, y, 0.1)
    assert not adv.requires_grad and adv.grad_fn is None


def test_mode_grads_and_buffers_restored():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Dropout(0.3), nn.Tanh(), nn.Linear(5, 3)).to(
        D
    )
    x, y = batch(3, 6)
    ce(model(x), y).mean().backward()
    grads = [p.grad for p in model.parameters()]
    values = [g.clone() for g in grads]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    a = fgsm(model, ce, x, y, 0.1)
    b = fgsm(model, ce, x, y, 0.1)
    assert torch.equal(a, b)  # eval mode: dropout off, deterministic
    assert all(m.training for m in model.modules())
    for p, g, v in zip(model.parameters(), grads, values):
        assert p.grad is g and torch.equal(p.grad, v)
    for k, v in model.state_dict().items():  # BatchNorm running statistics untouched
        assert torch.equal(v, state[k])
    model.eval()
    fgsm(model, ce, x, y, 0.1)
    assert not any(m.training for m in model.modules())


@settings(max_examples=8)
@given(
    st.integers(0, 10_000), st.integers(1, 12), st.floats(0.0, 0.99), st.one_of(st.none(), st.integers(1, 40))
)
def test_transform_replaces_exactly_k_rows(seed, n, gamma, b0):
    model = make_model(seed)
    x, y = batch(seed + 1, n)
    t = FGSMTransform(gamma, 0.05, b0=b0)
    out, spent = t.apply(model, ce, x, y)
    base = n if b0 is None else b0
    k = 0 if gamma == 0 else min(max(math.floor(base * gamma), 1), n)
    assert t.rows(n) == k and out.shape == x.shape
    assert torch.equal(out[k:], x[k:])  # bit-identical clean rows
    if k > 0:
        torch.testing.assert_close(out[:k], fgsm(model, ce, x[:k], y[:k], 0.05), rtol=0, atol=0)
    assert t.cost == {"fwd": int(k > 0), "bwd": int(k > 0), "rows": k}
    assert spent == {"fwd": int(k > 0), "bwd": int(k > 0)}


def test_transform_gamma_zero_no_change_and_k_from_b0():
    model = make_model(0)
    x, y = batch(1, 8)
    t = FGSMTransform(0.0, 0.1)
    assert t(model, ce, x, y) is x and t.cost["fwd"] == 0
    t = FGSMTransform(0.25, 0.1, b0=16)  # k = floor(16 * 0.25) = 4 of the 8 rows
    out = t(model, ce, x, y)
    assert t.rows(8) == 4
    assert not torch.equal(out[:4], x[:4]) and torch.equal(out[4:], x[4:])
    t.gamma = 0.01  # 16 * 0.01 < 1: one row
    assert t.rows(8) == 1


def test_bad_inputs():
    model = make_model(0)
    x, y = batch(1, 4)
    cases = [
        (lambda: fgsm(model, ce, x, y, -0.1), "Invalid eps: -0.1"),
        (lambda: fgsm(model, ce, x, y, math.inf), "Invalid eps: inf"),
        (lambda: fgsm(model, ce, x, y, 0.1, clip="box"), "Invalid clip: 'box'"),
        (lambda: fgsm(model, ce, x, y, 0.1, clip="data"), "Invalid data range"),
        (lambda: fgsm(model, ce, x, y, 0.1, clip="data", data_min=1, data_max=0), "Invalid data range"),
        (lambda: fgsm(model, ce, x[:0], y[:0], 0.1), "Invalid batch"),
        (lambda: FGSMTransform(1.0, 0.1), "Invalid gamma: 1.0"),
        (lambda: FGSMTransform(-0.1, 0.1), "Invalid gamma: -0.1"),
        (lambda: FGSMTransform(0.1, 0.1, b0=0), "Invalid b0: 0"),
        (lambda: FGSMTransform(0.1, 0.1, per_base_batch=True), "Invalid per_base_batch"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


@settings(max_examples=8)
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(2, 9), st.floats(0.01, 0.9), st.integers(0, 5))
def test_per_base_batch_replaces_first_k_of_each_base_batch(seed, r, b0, gamma, partial):
    """ABSA with r accumulated base batches: the first k of each b0 rows, each clipped to its own k rows."""
    model = make_model(seed)
    n = r * b0 + min(partial, b0 - 1)  # r full base batches and maybe a trailing partial one
    x, y = batch(seed + 1, n)
    t = FGSMTransform(gamma, 0.3, b0=b0, per_base_batch=True)
    out, spent = t.apply(model, ce, x, y)
    k = max(math.floor(b0 * gamma), 1)
    expected_rows = []
    for start in range(0, n, b0):
        rows = list(range(start, min(start + k, n)))
        expected_rows += rows
        sub = torch.tensor(rows)
        # one base batch perturbed on its own, as the original driver does mini-batch by mini-batch
        torch.testing.assert_close(out[sub], fgsm(model, ce, x[sub], y[sub], 0.3), rtol=0, atol=1e-12)
    assert t.row_index(n).tolist() == expected_rows
    clean = torch.ones(n, dtype=torch.bool)
    clean[expected_rows] = False
    assert torch.equal(out[clean], x[clean]) and out.shape == x.shape
    assert spent == {"fwd": 1, "bwd": 1} and t.cost["rows"] == len(expected_rows)


def test_registered_and_timed():
    from realnets.objectives import get_transform, list_transforms

    assert "fgsm" in list_transforms()
    t = get_transform("fgsm", gamma=0.5, eps=0.1, timed=True)
    assert isinstance(t, FGSMTransform)
    model = make_model(0)
    x, y = batch(1, 4)
    t.apply(model, ce, x, y)
    assert t.seconds > 0
