"""theory.curvature: the radius of curvature against the circle through three points, the parabola steps
of seed 001 eq. 12-17, and LARS / PercentDelta / median as statistics of the same ratio |w/g| (eq. 20-24)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

from theory import curvature as C

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
COEFS = st.floats(min_value=0.05, max_value=20.0, allow_nan=False, allow_infinity=False)
POINTS = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)
DECAYS = st.floats(min_value=0.0, max_value=1.0, allow_nan=False, allow_infinity=False)


def _circumradius(xs: np.ndarray, ys: np.ndarray) -> float:
    """Radius of the circle through three points: abc / (4 area)."""
    p = np.stack([xs, ys], axis=1)
    a, b, c = (np.linalg.norm(p[i] - p[j]) for i, j in ((0, 1), (1, 2), (0, 2)))
    area = 0.5 * abs((p[1, 0] - p[0, 0]) * (p[2, 1] - p[0, 1]) - (p[2, 0] - p[0, 0]) * (p[1, 1] - p[0, 1]))
    return a * b * c / (4 * area)


def _layer(seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=size), rng.normal(scale=0.1, size=size)


# ---------------------------------------------------------------- eq. 9: the general radius


def test_general_radius_expr_is_eq9():
    loss = sp.Function("L")(C.w)
    expected = (1 + sp.diff(loss, C.w) ** 2) ** sp.Rational(3, 2) / sp.Abs(sp.diff(loss, C.w, 2))
    assert sp.simplify(C.curvature_radius_expr() - expected) == 0


@pytest.mark.parametrize("loss", [sp.sin(C.w), sp.exp(C.w) / 3, C.w**4 - C.w, sp.log(1 + C.w**2)])
@pytest.mark.parametrize("at", [-0.7, 0.4, 1.3])
def test_radius_matches_circle_through_three_nearby_points(loss, at):
    fn = sp.lambdify(C.w, loss, "numpy")
    step = 1e-3
    xs = np.array([at - step, at, at + step])
    reference = _circumradius(xs, fn(xs))
    exact = float(C.curvature_radius_expr(loss).subs(C.w, at))
    # The three-point circle converges to the osculating circle with an O(step) relative error.
    assert exact == pytest.approx(reference, rel=5e-3)
    grad = float(sp.diff(loss, C.w).subs(C.w, at))
    hess = float(sp.diff(loss, C.w, 2).subs(C.w, at))
    assert C.curvature_radius(grad, hess) == pytest.approx(exact, rel=1e-12)


@given(grad=POINTS, hess=st.floats(min_value=-50.0, max_value=50.0).filter(lambda h: abs(h) > 1e-3))
def test_numeric_radius_matches_finite_differences_of_a_cubic(grad, hess):
    """A cubic with the given L'(0), L''(0): central differences recover both, then eq. 9."""

    def loss(v):
        return grad * v + 0.5 * hess * v**2 + 0.3 * v**3

    step = 1e-4
    fd_grad = (loss(step) - loss(-step)) / (2 * step)
    fd_hess = (loss(step) - 2 * loss(0.0) + loss(-step)) / step**2
    assert C.curvature_radius(grad, hess) == pytest.approx(C.curvature_radius(fd_grad, fd_hess), rel=1e-5)


def test_straight_line_has_infinite_radius_and_cblr_scales_radius():
    assert C.curvature_radius(0.3, 0.0) == np.inf
    assert C.curvature_based_lr(0.5, 0.0, 4.0) == pytest.approx(0.5 / 4.0)


# ---------------------------------------------------------------- eq. 12-17: the parabola


def test_eq16_is_exact_on_the_parabola_and_eq15_holds():
    steps = C.parabola_radius_exprs()
    assert sp.simplify(steps["exact"] - steps["eq16"]) == 0
    w, a, b, c = sp.symbols("w a b c", real=True)
    loss = a * (w - b) ** 2 + c
    assert sp.simplify(sp.diff(loss, w, 2) - sp.diff(loss, w) / (w - b)) == 0


def test_eq17_is_the_vertex_radius_only_when_b_is_zero():
    steps = C.parabola_radius_exprs()
    b = sp.Symbol("b", real=True)
    assert sp.simplify(steps["eq17"].subs(b, 0) - steps["vertex"]) == 0
    assert sp.simplify(steps["eq17"] - steps["vertex"]) != 0


@given(a=COEFS, w_value=POINTS, b=POINTS)
def test_parabola_radius_matches_general_radius(a, w_value, b):
    slope = 2 * a * (w_value - b)
    assume(abs(slope) > 1e-6)  # eq. 16 is 0/0 at the vertex; eq. 9 gives 1/(2a) there (checked above)
    general = C.curvature_radius(slope, 2 * a)
    assert C.parabola_curvature_radius(w_value, slope, b) == pytest.approx(general, rel=1e-10)


@given(a=COEFS, w_value=POINTS.filter(lambda v: abs(v) > 1e-3))
def test_dropping_g_squared_costs_exactly_the_factor_one_plus_g2_to_three_halves(a, w_value):
    slope = 2 * a * w_value  # b = 0
    ratio = C.curvature_radius(slope, 2 * a) / C.element_curvature_radius(w_value, slope)
    assert ratio == pytest.approx((1 + slope**2) ** 1.5, rel=1e-10)
    assert C.element_curvature_radius(w_value, slope) == pytest.approx(1 / (2 * a), rel=1e-12)


# ---------------------------------------------------------------- eq. 20-24: statistics of one ratio


def test_printed_rules_equal_their_ratio_statistic_forms():
    for name, (printed, via_radii) in C.ratio_statistic_identities().items():
        assert sp.simplify(printed - via_radii) == 0, name


@given(seed=SEEDS)
def test_numeric_rules_are_weighted_quadratic_harmonic_and_median_of_r(seed):
    w_values, grad = _layer(seed)
    radii = np.abs(w_values / grad)
    weights = grad**2
    assert C.lars_trust_ratio(w_values, grad) == pytest.approx(
        np.sqrt(np.sum(weights * radii**2) / weights.sum())
    )
    assert C.percent_delta_ratio(w_values, grad) == pytest.approx(stats.hmean(radii), rel=1e-12)
    assert C.median_curvature_radius(w_values, grad) == pytest.approx(np.median(radii), rel=1e-12)


@given(seed=SEEDS, scale=COEFS)
def test_rules_coincide_when_the_ratio_is_constant_over_the_layer(seed, scale):
    rng = np.random.default_rng(seed)
    grad = rng.normal(size=32)
    w_values = scale * np.abs(grad) * rng.choice([-1.0, 1.0], size=32)
    for rule in C.LAYER_RULES:
        assert C.layer_rate_statistic(w_values, grad, rule) == pytest.approx(scale, rel=1e-10), rule


def test_rules_differ_when_the_ratio_varies():
    w_values, grad = np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0])  # R = 1/3, 2, 3/2
    values = {rule: C.layer_rate_statistic(w_values, grad, rule) for rule in C.LAYER_RULES}
    assert values["lars"] == pytest.approx(1.0)
    assert values["percent_delta"] == pytest.approx(3 / (3 + 0.5 + 2 / 3))
    assert values["median"] == pytest.approx(1.5)
    assert values["paper_median"] == pytest.approx(1.0)  # median|w| / median|g| = 2/2


@given(seed=SEEDS, beta=DECAYS)
def test_weight_decay_maps_ratio_through_x_over_one_plus_beta_x(seed, beta):
    w_values, grad = _layer(seed)
    lars = C.lars_trust_ratio(w_values, grad)
    assert C.lars_trust_ratio(w_values, grad, beta) == pytest.approx(lars / (1 + beta * lars), rel=1e-12)
    same_sign = np.sign(w_values) == np.sign(grad)
    radii = C.element_curvature_radius(w_values, grad)
    with_decay = C.element_curvature_radius(w_values, grad, beta)
    np.testing.assert_allclose(
        with_decay[same_sign], radii[same_sign] / (1 + beta * radii[same_sign]), rtol=1e-12
    )


@given(seed=SEEDS, beta=DECAYS)
def test_median_rule_with_weight_decay_is_the_median_of_eq22_ratios(seed, beta):
    w_values, grad = _layer(seed)
    eq22 = np.abs(w_values / (grad + beta * w_values))
    assert C.median_curvature_radius(w_values, grad, beta) == pytest.approx(np.median(eq22), rel=1e-12)
    magnitudes = np.median(np.abs(w_values)) / (np.median(np.abs(grad)) + beta * np.median(np.abs(w_values)))
    assert C.paper_median_curvature_radius(w_values, grad, beta) == pytest.approx(magnitudes, rel=1e-12)


def test_lars_weight_decay_is_not_the_norm_of_eq22_denominator_unless_aligned():
    w_values, grad, beta = np.array([1.0, -1.0]), np.array([1.0, 1.0]), 0.5
    separate = C.lars_trust_ratio(w_values, grad, beta)
    combined = np.linalg.norm(w_values) / np.linalg.norm(grad + beta * w_values)
    assert separate < combined
    aligned = 2.0 * w_values
    assert C.lars_trust_ratio(w_values, aligned, beta) == pytest.approx(
        np.linalg.norm(w_values) / np.linalg.norm(aligned + beta * w_values)
    )


def test_one_zero_weight_kills_percent_delta_but_not_lars_or_median():
    w_values, grad = _layer(7)
    w_values[3] = 0.0
    assert C.percent_delta_ratio(w_values, grad) == 0.0
    assert 0.0 < C.lars_trust_ratio(w_values, grad) < np.inf
    assert 0.0 < C.median_curvature_radius(w_values, grad) < np.inf
    assert C.lars_trust_ratio(w_values, np.zeros_like(grad)) == np.inf  # eq. 19 for the whole layer


def test_signed_medians_of_eq20_degenerate_for_centred_weights():
    w_values, grad = np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), np.array([0.1, -0.2, 0.3, 0.1, -0.1])
    assert C.paper_median_curvature_radius(w_values, grad, magnitudes=False) == 0.0
    assert C.paper_median_curvature_radius(w_values, grad) == pytest.approx(1.0 / 0.1)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: C.lars_trust_ratio([1.0, 2.0], [1.0]), "grad"),
        (lambda: C.percent_delta_ratio([], []), "w"),
        (lambda: C.median_curvature_radius([1.0, np.nan], [1.0, 1.0]), "w"),
        (lambda: C.lars_trust_ratio([1.0], [1.0], -0.1), "weight_decay"),
        (lambda: C.layer_rate_statistic([1.0], [1.0], "lamb"), "rule"),
        (lambda: C.layer_rate_statistic([1.0], [1.0], "percent_delta", 0.1), "weight_decay"),
        (lambda: C.curvature_radius(np.inf, 1.0), "grad"),
        (lambda: C.curvature_based_lr(0.0, 1.0, 1.0), "gamma"),
    ],
)
def test_invalid_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=f"Invalid {name}"):
        call()
