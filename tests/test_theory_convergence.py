"""The ABS bound of seed 003 (Theorem 1): derivation, closed form vs recursion, limits, monotonicity, validation.

Independent routes: a brute-force sum-of-products evaluation written here in plain Python, and the exact
one-step expectation of SGD on a diagonal quadratic with additive and multiplicative gradient noise,
which must never exceed the one-step bound.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import convergence as C

# Bounded strategies: constants of a well-conditioned problem and short batch schedules.
smoothness = st.floats(min_value=0.1, max_value=10.0, allow_nan=False)
condition = st.floats(min_value=0.01, max_value=1.0, allow_nan=False)  # c / L
noise_m = st.floats(min_value=0.0, max_value=5.0, allow_nan=False)
noise_mg = st.floats(min_value=1.0, max_value=5.0, allow_nan=False)
step_fraction = st.floats(min_value=0.01, max_value=1.0, allow_nan=False)  # eta0 * L * M_G * b_max
gaps = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
schedules = st.lists(st.integers(min_value=1, max_value=256), min_size=1, max_size=40)


def _problem(L, kappa, M, M_G, fraction, sizes):
    return dict(eta0=fraction / (L * M_G * max(sizes)), L=L, c=kappa * L, M=M, M_G=M_G)


def _brute_force_bound(sizes, *, eta0, L, c, M, initial_gap):
    # Δ_T = ∏_k q_k Δ_0 + Σ_j r_j ∏_{k>j} q_k, each term computed from scratch.
    q = [1.0 - b * eta0 * c for b in sizes]
    r = [L * M * eta0**2 * b / 2.0 for b in sizes]
    out = []
    for t in range(len(sizes) + 1):
        total = math.prod(q[:t]) * initial_gap
        total += sum(r[j] * math.prod(q[j + 1 : t]) for j in range(t))
        out.append(total)
    return np.asarray(out)


def test_every_derivation_step_is_proved_by_sympy():
    steps = C.verify_derivation()
    assert all(steps.values()), {k: v for k, v in steps.items() if not v}


def test_recursion_and_floor_expressions():
    assert str(C.fixed_point_expr()) == "L*M*eta_0/(2*c)"
    rhs = C.one_step_recursion_expr()
    q = 1 - C.b_sym * C.eta0_sym * C.S.c
    r = C.S.L * C.M_sym * C.eta0_sym**2 * C.b_sym / 2
    assert (rhs - (q * C.gap_sym + r)).expand() == 0


@given(smoothness, condition, noise_m, noise_mg, step_fraction, gaps, schedules)
def test_closed_form_equals_recursion_and_brute_force(L, kappa, M, M_G, fraction, gap0, sizes):
    params = _problem(L, kappa, M, M_G, fraction, sizes)
    closed = C.abs_bound(sizes, initial_gap=gap0, **params)
    recursive = C.abs_bound_recursive(sizes, initial_gap=gap0, **params)
    brute = _brute_force_bound(sizes, initial_gap=gap0, **{k: params[k] for k in ("eta0", "L", "c", "M")})
    assert closed.shape == (len(sizes) + 1,)
    np.testing.assert_allclose(closed, recursive, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(closed, brute, rtol=1e-10, atol=1e-12)


@given(
    st.lists(st.floats(min_value=0.2, max_value=5.0, allow_nan=False), min_size=2, max_size=5),
    st.floats(min_value=0.0, max_value=2.0, allow_nan=False),  # multiplicative noise variance s²
    st.floats(min_value=0.0, max_value=3.0, allow_nan=False),  # additive noise variance per coordinate
    st.integers(min_value=1, max_value=64),
    step_fraction,
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_exact_quadratic_sgd_never_exceeds_one_step_bound(curvatures, s2, sigma2, batch, fraction, seed):
    # L(θ) = Σ λ_i θ_i²/2, g = (1 + ζ)∇L + ξ with Var ζ = s², Var ξ_i = σ²: E‖g‖² = M + M_G‖∇L‖² with
    # M = dσ², M_G = 1 + s². The exact expectation after one step of the batch mean is
    # Σ λ_i/2 [(1 − ηλ_i)² + η²λ_i² s²/b] θ_i² + η² Σ λ_i σ²/(2b).
    rng = np.random.default_rng(seed)
    lam = np.asarray(curvatures)
    theta = rng.normal(size=lam.size) * 3.0
    L, c, M, M_G = lam.max(), lam.min(), lam.size * sigma2, 1.0 + s2
    eta0 = fraction / (L * M_G * batch)
    eta = batch * eta0
    gap = float(np.sum(lam * theta**2) / 2)
    exact_next = float(np.sum(lam / 2 * ((1 - eta * lam) ** 2 + eta**2 * lam**2 * s2 / batch) * theta**2))
    exact_next += eta**2 * float(np.sum(lam)) * sigma2 / (2 * batch)
    bound_next = C.one_step_bound(gap, batch, eta0=eta0, L=L, c=c, M=M)
    assert exact_next <= bound_next * (1 + 1e-12) + 1e-15


def test_quadratic_expression_matches_the_direct_formula():
    # One coordinate of the formula in the test above: λ = 2, s² = 0.5, σ² = 3, b = 4, η = 0.1, θ = 1.5.
    expr = C.quadratic_exact_one_step_expr()
    lam, s2, sigma2, b, eta, theta = 2.0, 0.5, 3.0, 4, 0.1, 1.5
    direct = lam / 2 * (
        (1 - eta * lam) ** 2 + eta**2 * lam**2 * s2 / b
    ) * theta**2 + eta**2 * lam * sigma2 / (2 * b)
    values = {
        C.S.c: lam,
        C.M_G_sym: 1 + s2,
        C.M_sym: sigma2,
        C.b_sym: b,
        C.step_sym: eta,
        C.gap_sym: lam * theta**2 / 2,
    }
    assert float(expr.subs(values)) == pytest.approx(direct, rel=1e-14)


def test_one_step_bound_validates():
    with pytest.raises(ValueError, match="Invalid gap"):
        C.one_step_bound(-1.0, 4, eta0=1e-3, L=1.0, c=0.5, M=1.0)
    with pytest.raises(ValueError, match="Invalid batch_sizes"):
        C.one_step_bound(1.0, 0, eta0=1e-3, L=1.0, c=0.5, M=1.0)


@given(smoothness, condition, noise_m, noise_mg, step_fraction, schedules, st.data())
def test_bound_is_monotone_in_its_arguments(L, kappa, M, M_G, fraction, sizes, data):
    params = _problem(L, kappa, M, M_G, fraction, sizes)
    floor = C.noise_floor(eta0=params["eta0"], L=L, c=params["c"], M=M)
    gap0 = data.draw(st.floats(min_value=floor, max_value=floor + 50.0, allow_nan=False))
    base = C.abs_bound(sizes, initial_gap=gap0, **params)
    tol = 1e-12 * (1 + gap0)
    # Above the floor the bound never increases along the run and stays above the floor.
    assert np.all(np.diff(base) <= tol)
    assert np.all(base >= floor - tol)
    # More initial gap or more noise can only raise it; more strong convexity can only lower it.
    assert np.all(C.abs_bound(sizes, initial_gap=gap0 + 1.0, **params) >= base - tol)
    assert np.all(C.abs_bound(sizes, initial_gap=gap0, **{**params, "M": M + 1.0}) >= base - tol)
    stronger = {**params, "c": min(L, params["c"] * 1.5)}
    assert np.all(C.abs_bound(sizes, initial_gap=gap0, **stronger) <= base + tol)


@given(smoothness, condition, noise_m, noise_mg, step_fraction, gaps, schedules, st.data())
def test_larger_batches_contract_faster_for_equal_steps(L, kappa, M, M_G, fraction, extra_gap, sizes, data):
    # b'_t ≥ b_t at every step, with η₀ admissible for the larger schedule.
    extra = data.draw(st.lists(st.integers(0, 64), min_size=len(sizes), max_size=len(sizes)))
    larger = [b + e for b, e in zip(sizes, extra)]
    params = _problem(L, kappa, M, M_G, fraction, larger)
    gap0 = C.noise_floor(eta0=params["eta0"], L=L, c=params["c"], M=M) + extra_gap
    small = C.abs_bound(sizes, initial_gap=gap0, **params)
    big = C.abs_bound(larger, initial_gap=gap0, **params)
    assert np.all(big <= small + 1e-12 * (1 + gap0))


@given(
    st.integers(1, 32),
    st.lists(st.integers(0, 224), min_size=1, max_size=40),
    st.floats(min_value=0.01, max_value=0.99, allow_nan=False),
    step_fraction,
)
def test_growing_batch_contracts_at_least_as_much_per_sample(base, extra, kappa, fraction):
    # Same sample budget Σ b_t: the fixed batch `base` needs Σ b_t / base steps, the growing one fewer.
    sizes = [base + e for e in extra]
    eta0 = fraction / max(sizes)  # L = M_G = 1, so c = kappa < 1 keeps every factor positive
    growing = float(np.prod(C.contraction_factors(sizes, eta0=eta0, c=kappa)))
    fixed = C.same_samples_fixed_contraction(sizes, base, eta0=eta0, c=kappa)
    assert growing <= fixed * (1 + 1e-12) + 1e-300


def test_fixed_batch_bound_has_closed_form_and_reaches_the_floor():
    params = dict(eta0=1e-3, L=2.0, c=0.5, M=4.0, M_G=2.0)
    bound = C.fixed_batch_bound(16, 5000, initial_gap=10.0, **params)
    floor = C.noise_floor(eta0=1e-3, L=2.0, c=0.5, M=4.0)
    assert floor == pytest.approx(1e-3 * 2.0 * 4.0 / (2 * 0.5), rel=1e-15)
    t = np.arange(5001)
    expected = floor + (1 - 16 * 1e-3 * 0.5) ** t * (10.0 - floor)
    np.testing.assert_allclose(bound, expected, rtol=1e-9)
    # (1 − 0.008)^5000 ≈ 4e-18: the bound has reached its floor to float precision.
    assert bound[-1] == pytest.approx(floor, rel=1e-12)


def test_floor_is_the_same_for_every_batch_size():
    # 100,000 samples at η₀c = 5e-4 per sample: every contraction is below e^{-50}.
    params = dict(eta0=1e-3, L=1.0, c=0.5, M=3.0, M_G=1.5)
    limits = [C.fixed_batch_bound(b, 100_000 // b, initial_gap=1.0, **params)[-1] for b in (1, 4, 64)]
    np.testing.assert_allclose(limits, C.noise_floor(eta0=1e-3, L=1.0, c=0.5, M=3.0), rtol=1e-12)


def test_bound_below_floor_rises_to_it():
    bound = C.abs_bound([8] * 2000, eta0=1e-3, L=1.0, c=0.5, M=2.0, M_G=1.0, initial_gap=0.0)
    # F = η₀LM/(2c) = 2e-3; after 2000 steps of q = 0.996 the remaining gap is 0.996^2000 F ≈ 3e-4 F.
    assert np.all(np.diff(bound) >= 0)
    assert bound[-1] == pytest.approx(2e-3 * (1 - 0.996**2000), rel=1e-9)


def test_empty_schedule_returns_the_initial_gap():
    out = C.abs_bound([], eta0=10.0, L=1.0, c=0.5, M=1.0, M_G=1.0, initial_gap=3.0)
    np.testing.assert_array_equal(out, [3.0])


def test_step_size_at_the_limit_is_accepted():
    eta0 = 1.0 / (3.0 * 1.7 * 128)
    out = C.abs_bound([1, 128], eta0=eta0, L=3.0, c=1.0, M=1.0, M_G=1.7, initial_gap=1.0)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"eta0": 1.0 / 64 * 1.001}, "eta0"),  # above 1/(L M_G b_max) = 1/64
        ({"eta0": 0.0}, "eta0"),
        ({"eta0": float("nan")}, "eta0"),
        ({"L": -1.0}, "L"),
        ({"c": 2.0}, "c"),  # c > L
        ({"c": float("inf")}, "c"),
        ({"M": -0.1}, "M"),
        ({"M_G": 0.5}, "M_G"),
        ({"initial_gap": -1.0}, "initial_gap"),
        ({"batch_sizes": [4, 2.5]}, "batch_sizes"),
        ({"batch_sizes": [0, 4]}, "batch_sizes"),
        ({"batch_sizes": [[4, 4]]}, "batch_sizes"),
        ({"batch_sizes": [4, float("nan")]}, "batch_sizes"),
    ],
)
def test_invalid_input_raises_a_named_error(overrides, name):
    kwargs = dict(batch_sizes=[4, 64], eta0=1.0 / 64, L=1.0, c=0.5, M=1.0, M_G=1.0, initial_gap=1.0)
    kwargs.update(overrides)
    for fn in (C.abs_bound, C.abs_bound_recursive):
        with pytest.raises(ValueError, match=rf"Invalid {name}: .*\(expected"):
            fn(**kwargs)


def test_fixed_batch_and_helpers_validate():
    params = dict(eta0=1e-3, L=1.0, c=0.5, M=1.0, M_G=1.0, initial_gap=1.0)
    with pytest.raises(ValueError, match="Invalid steps"):
        C.fixed_batch_bound(4, 2.5, **params)
    with pytest.raises(ValueError, match="Invalid batch_sizes"):
        C.fixed_batch_bound(0, 3, **params)
    with pytest.raises(ValueError, match="Invalid base_batch"):
        C.same_samples_fixed_contraction([4], 4, eta0=1.0, c=1.0)
