"""Curvature radius of a loss curve and the layer-wise LR rules built on it (seed 001, eq. 9-24).

Gao & Zhong (seed 001, Sec. 4) set the learning rate of a parameter proportional to the radius of
curvature of the 1-D loss curve L(w_i) (CBLR, eq. 9-11),

.. math::

    R_i = \\frac{(1 + L'(w_i)^2)^{3/2}}{|L''(w_i)|}, \\qquad \\eta_i = \\gamma R_i ,

approximate it on the parabola L = a(w-b)² + c of eq. 12 by eq. 16, and with b = 0 and L'² ≪ 1 by the
ratio R_i ≈ |w_i / g_i| (eq. 17). A layer then uses one statistic of the per-element ratios:

* MCLR, the median (eq. 20-22);
* LARS (eq. 23), ‖w‖₂/‖g‖₂ = √(Σ g_i² R_i² / Σ g_i²): the root of the g²-weighted mean of R_i²;
* PercentDelta (eq. 24), size(w)/‖g/w‖₁ = (mean of 1/R_i)⁻¹: the harmonic mean of R_i.

All three equal the common value when R_i is the same for every element of the layer, and differ
otherwise; see :func:`ratio_statistic_identities` for the sympy proofs.

Note:
    With b = 0, |w/g| = 1/(2a) = 1/|L''| on the parabola: the ratio is the secant estimate of the
    inverse second derivative, so η = γ|w/g| is a diagonal Newton step size rather than a radius of
    curvature away from the vertex. The factor (1 + g²)^{3/2} that eq. 17 drops is what separates the
    two, and it is close to 1 only where g² ≪ 1.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

from theory._numeric import as_float_array, scalar_or_array

__all__ = [
    "LAYER_RULES",
    "curvature_based_lr",
    "curvature_radius",
    "curvature_radius_expr",
    "element_curvature_radius",
    "lars_trust_ratio",
    "layer_rate_statistic",
    "median_curvature_radius",
    "paper_median_curvature_radius",
    "parabola_curvature_radius",
    "parabola_radius_exprs",
    "percent_delta_ratio",
    "ratio_statistic_identities",
]

#: The parameter w_i whose 1-D loss curve L(w) the derivations describe.
w = sp.Symbol("w", real=True)
_a = sp.Symbol("a", positive=True)
_b = sp.Symbol("b", real=True)
_c = sp.Symbol("c", real=True)
_grad = sp.Symbol("g", real=True)


# --------------------------------------------------------------------------------------------------
# Symbolic derivations
# --------------------------------------------------------------------------------------------------


def curvature_radius_expr(loss: sp.Expr | None = None) -> sp.Expr:
    """Radius of curvature of the graph of L(w), derived from the turning rate of its tangent.

    The tangent angle is φ = atan L'(w) and arc length grows as ds/dw = √(1 + L'²), so the curvature is
    κ = |dφ/ds| = |L''| / (1 + L'²)^{3/2} and

    .. math::

        R = \\frac{1}{\\kappa} = \\frac{(1 + L'(w)^2)^{3/2}}{|L''(w)|} \\qquad \\text{(seed 001, eq. 9)}.

    Args:
        loss: a sympy expression in :data:`w`; by default an undefined function ``L(w)``.

    Returns:
        R as a sympy expression in ``w`` (with ``Derivative`` objects for the general ``L``).
    """
    curve = sp.Function("L")(w) if loss is None else loss
    slope, second = sp.diff(curve, w), sp.diff(curve, w, 2)
    tangent_angle = sp.atan(slope)
    arc_length_rate = sp.sqrt(1 + slope**2)
    radius = arc_length_rate / sp.Abs(sp.diff(tangent_angle, w))
    # Real placeholders for L' and L'' let sympy use 1 + L'^2 > 0 when it simplifies the Abs.
    p, q = sp.symbols("p q", real=True)
    simplified = sp.simplify(radius.subs(second, q).subs(slope, p))
    return simplified.subs({p: slope, q: second})


@cache
def parabola_radius_exprs() -> dict[str, sp.Expr]:
    """The steps of seed 001 eq. 12-17 on the parabola L = a(w-b)² + c, each as a sympy expression.

    Returns:
        A dict with

        * ``"exact"``: eq. 9 evaluated on the parabola, (1 + 4a²(w-b)²)^{3/2}/(2a);
        * ``"eq16"``: |(w - b)(1 + g²)^{3/2} / g| with g = L'(w) = 2a(w-b) substituted (eq. 13);
        * ``"eq17"``: |w / g| with the same g (b dropped from the numerator, g² dropped);
        * ``"vertex"``: 1/(2a), the radius at the minimum w = b.

        ``exact - eq16`` simplifies to 0 for w ≠ b; ``eq17`` equals ``vertex`` when b = 0.
    """
    parabola = _a * (w - _b) ** 2 + _c
    slope = sp.diff(parabola, w)
    eq16 = sp.Abs((w - _b) * (1 + _grad**2) ** sp.Rational(3, 2) / _grad)
    eq17 = sp.Abs(w / _grad)
    return {
        "exact": sp.simplify(curvature_radius_expr(parabola)),
        "eq16": eq16.subs(_grad, slope),
        "eq17": eq17.subs(_grad, slope),
        "vertex": 1 / (2 * _a),
    }


@cache
def ratio_statistic_identities(size: int = 3) -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """LARS, LARS with weight decay and PercentDelta written two ways: as printed, and via R_i = w_i/g_i.

    For a layer of ``size`` elements with positive w_i, g_i (signs only enter through |·|):

    * ``"lars"``: ‖w‖₂/‖g‖₂ (eq. 23) and √(Σ g_i² R_i² / Σ g_i²);
    * ``"lars_weight_decay"``: ‖w‖/(‖g‖ + β‖w‖) and h(R_LARS) with h(x) = x/(1 + βx), the same map that
      turns eq. 17 into eq. 22 element-wise;
    * ``"percent_delta"``: size/‖g/w‖₁ (eq. 24) and the harmonic mean size/Σ(1/R_i).

    Each pair's difference simplifies to 0 (the tests check it).

    Args:
        size: the number of parameters of the symbolic layer (an integer >= 1).
    """
    ws = sp.symbols(f"w1:{size + 1}", positive=True)
    gs = sp.symbols(f"g1:{size + 1}", positive=True)
    beta = sp.Symbol("beta", positive=True)
    radii = [wi / gi for wi, gi in zip(ws, gs)]
    w_norm = sp.sqrt(sum(wi**2 for wi in ws))
    g_norm = sp.sqrt(sum(gi**2 for gi in gs))
    weighted_mean_sq = sum(gi**2 * ri**2 for gi, ri in zip(gs, radii)) / sum(gi**2 for gi in gs)
    lars_from_radii = sp.sqrt(weighted_mean_sq)
    return {
        "lars": (w_norm / g_norm, lars_from_radii),
        "lars_weight_decay": (
            w_norm / (g_norm + beta * w_norm),
            lars_from_radii / (1 + beta * lars_from_radii),
        ),
        "percent_delta": (size / sum(gi / wi for wi, gi in zip(ws, gs)), size / sum(1 / ri for ri in radii)),
    }


# --------------------------------------------------------------------------------------------------
# Numeric functions
# --------------------------------------------------------------------------------------------------


def _layer_pair(w_values, grad_values) -> tuple[np.ndarray, np.ndarray]:
    w_arr = as_float_array("w", w_values)
    g_arr = as_float_array("grad", grad_values)
    if w_arr.shape != g_arr.shape:
        raise ValueError(f"Invalid grad: shape {g_arr.shape} (expected the shape of w, {w_arr.shape})")
    if w_arr.size == 0:
        raise ValueError("Invalid w: empty array (expected at least one parameter)")
    return w_arr.ravel(), g_arr.ravel()


def _weight_decay(value) -> float:
    return float(as_float_array("weight_decay", value, nonnegative=True))


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # A zero denominator is the failure condition of eq. 18-19; we return inf (or nan for 0/0) on
    # purpose so that it stays visible instead of being papered over with a fallback value.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(numerator, dtype=float) / np.asarray(denominator, dtype=float)


def curvature_radius(grad, hess):
    """Radius of curvature R = (1 + g²)^{3/2} / |L''| of the loss curve (seed 001, eq. 9).

    Args:
        grad: first derivative g = dL/dw_i (any shape).
        hess: second derivative d²L/dw_i² (broadcastable with ``grad``).

    Returns:
        R (float for scalars); inf where L'' = 0 (a straight line has no finite radius).
    """
    g_arr = as_float_array("grad", grad)
    h_arr = as_float_array("hess", hess)
    return scalar_or_array(_safe_divide((1 + g_arr**2) ** 1.5, np.abs(h_arr)))


def curvature_based_lr(gamma, grad, hess):
    """CBLR, the per-parameter learning rate η_i = γ R_i (seed 001, eq. 10) with R_i from eq. 9.

    Args:
        gamma: the CBLR scale gamma (> 0).
        grad: the gradient g_i (per parameter).
        hess: the second derivative h_i (per parameter).
    """
    gamma_arr = as_float_array("gamma", gamma, positive=True)
    return scalar_or_array(gamma_arr * np.asarray(curvature_radius(grad, hess)))


def parabola_curvature_radius(w_values, grad, b=0.0):
    """Eq. 16 of seed 001: R_i = |(w_i - b_i)(1 + g_i²)^{3/2} / g_i|, exact on L = a(w-b)² + c.

    Eq. 13-15 eliminate the unknown a through L'' = g/(w - b). The result is inf where g_i = 0.

    Args:
        w_values: the parameters w.
        grad: the gradient g, of the shape of w.
        b: the parabola's minimiser b (broadcast against w).
    """
    w_arr = as_float_array("w", w_values)
    g_arr = as_float_array("grad", grad)
    b_arr = as_float_array("b", b)
    return scalar_or_array(np.abs(_safe_divide((w_arr - b_arr) * (1 + g_arr**2) ** 1.5, g_arr)))


def element_curvature_radius(w_values, grad, weight_decay=0.0):
    """Per-element ratio R_i ≈ |w_i / (g_i + β w_i)| (seed 001, eq. 17; eq. 22 with weight decay β).

    Args:
        w_values: the layer's parameters w.
        grad: the gradient g, of the shape of w.
        weight_decay: beta >= 0.

    Note:
        Eq. 17 assumes b_i = 0 and g_i² ≪ 1 in eq. 16. It fails (0 or inf) when w_i → 0 or g_i → 0
        (eq. 18-19); we return those values rather than a fallback.
    """
    w_arr = as_float_array("w", w_values)
    g_arr = as_float_array("grad", grad)
    if g_arr.ndim and w_arr.ndim and g_arr.shape != w_arr.shape:  # [1, 2] with [1] would broadcast silently
        raise ValueError(f"Invalid grad: shape {g_arr.shape} (expected the shape of w, {w_arr.shape})")
    beta = _weight_decay(weight_decay)
    return scalar_or_array(np.abs(_safe_divide(w_arr, g_arr + beta * w_arr)))


def median_curvature_radius(w_values, grad, weight_decay=0.0) -> float:
    """MCLR statistic: the median over a layer of R_i = |w_i / (g_i + β w_i)| (seed 001, eq. 20-22).

    This is "R_m, the median value of curvature radius in a group", the quantity eq. 20 approximates.
    The layer LR is η_g = γ R_m (eq. 21).

    Args:
        w_values: the layer's parameters w.
        grad: the gradient g, of the shape of w.
        weight_decay: beta >= 0.
    """
    w_arr, g_arr = _layer_pair(w_values, grad)
    return float(np.median(element_curvature_radius(w_arr, g_arr, weight_decay)))


def paper_median_curvature_radius(w_values, grad, weight_decay=0.0, *, magnitudes: bool = True) -> float:
    """Eq. 20/22 as printed: R_m ≈ |w_m / (g_m + β w_m)| with w_m, g_m the layer medians.

    Args:
        w_values: the layer's parameters (any shape).
        grad: their gradients (same shape).
        weight_decay: β >= 0 (eq. 22).
        magnitudes: take medians of |w| and |g| (default). With ``False`` the signed medians are used,
            which is the literal reading of eq. 20.

    Note:
        A ratio of medians is not the median of ratios (:func:`median_curvature_radius`); they agree
        when R_i is constant over the layer and, in the population limit, for independent centred normal
        w and g (both give σ_w/σ_g), but not in general. Signed medians make eq. 20 degenerate for a
        layer whose weights are centred at 0 (w_m ≈ 0 is failure condition eq. 18).
    """
    if not isinstance(magnitudes, (bool, np.bool_)):
        raise ValueError(f"Invalid magnitudes: {magnitudes!r} (expected True or False)")
    w_arr, g_arr = _layer_pair(w_values, grad)
    beta = _weight_decay(weight_decay)
    if magnitudes:
        w_arr, g_arr = np.abs(w_arr), np.abs(g_arr)
    w_med, g_med = np.median(w_arr), np.median(g_arr)
    return float(np.abs(_safe_divide(w_med, g_med + beta * w_med)))


def lars_trust_ratio(w_values, grad, weight_decay=0.0) -> float:
    """LARS trust ratio ‖w‖₂ / (‖g‖₂ + β‖w‖₂) of one layer (seed 001, eq. 23; You et al. 2017).

    Equals √(Σ g_i² R_i² / Σ g_i²) with R_i = |w_i/g_i| at β = 0 (a g²-weighted quadratic mean of the
    per-element radii); the layer LR is η_g = γ · ratio.

    Args:
        w_values: the layer's parameters w.
        grad: the gradient g, of the shape of w.
        weight_decay: beta >= 0.

    Note:
        The weight-decay form is You et al.'s, not the norm of eq. 22's denominator: ‖g + βw‖ ≤
        ‖g‖ + β‖w‖, with equality only when g is a non-negative multiple of w. Common torch
        implementations fall back to 1 when a norm is zero; we return inf or 0 so that the failure
        conditions (eq. 18-19) stay visible.
    """
    w_arr, g_arr = _layer_pair(w_values, grad)
    beta = _weight_decay(weight_decay)
    w_norm, g_norm = np.linalg.norm(w_arr), np.linalg.norm(g_arr)
    return float(_safe_divide(w_norm, g_norm + beta * w_norm))


def percent_delta_ratio(w_values, grad) -> float:
    """PercentDelta layer ratio size(w) / ‖g/w‖₁ (seed 001, eq. 24; Abu-El-Haija 2017).

    Equals the harmonic mean of R_i = |w_i/g_i|. A single w_i = 0 (eq. 18) drives it to 0 for the whole
    layer, unlike LARS, which fails only when the whole layer norm vanishes.

    Args:
        w_values: the layer's parameters w.
        grad: the gradient g, of the shape of w.
    """
    w_arr, g_arr = _layer_pair(w_values, grad)
    inverse_radii = np.abs(_safe_divide(g_arr, w_arr))
    return float(_safe_divide(w_arr.size, np.sum(inverse_radii)))


def _percent_delta_rule(w_values, grad, weight_decay=0.0) -> float:
    if _weight_decay(weight_decay) != 0.0:
        raise ValueError(
            f"Invalid weight_decay: {weight_decay!r} (expected 0 for percent_delta, "
            "which has no weight-decay form in seed 001)"
        )
    return percent_delta_ratio(w_values, grad)


#: Layer statistics of the ratios |w_i/g_i| by name; each takes ``(w_values, grad, weight_decay=0.0)``.
LAYER_RULES = {
    "lars": lars_trust_ratio,
    "percent_delta": _percent_delta_rule,
    "median": median_curvature_radius,
    "paper_median": paper_median_curvature_radius,
}


def layer_rate_statistic(w_values, grad, rule: str, weight_decay=0.0) -> float:
    """One layer's LR statistic of the ratios |w_i/g_i| by rule name (the layer LR is γ times it).

    Args:
        w_values: the layer's parameters.
        grad: their gradients (same shape).
        rule: one of :data:`LAYER_RULES` (``"lars"``, ``"percent_delta"``, ``"median"``,
            ``"paper_median"``).
        weight_decay: β >= 0; must be 0 for PercentDelta, which has no weight-decay form in seed 001.

    Raises:
        ValueError: for an unknown rule or invalid arrays.
    """
    if not isinstance(rule, str) or rule not in LAYER_RULES:
        raise ValueError(f"Invalid rule: {rule!r} (expected one of {sorted(LAYER_RULES)})")
    return LAYER_RULES[rule](w_values, grad, weight_decay=weight_decay)
