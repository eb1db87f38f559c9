"""theory: exact, symbolic truth for the batch-size papers (sympy, with NumPy functions lambdified).

Submodules:

* ``rebound_walk`` and ``ba_momentum`` (seed 000): the Gaussian walk with rebound, its utility and optimal
  batch m*, the BA-Momentum recurrence;
* ``grad_shrinkage`` and ``curvature`` (seed 001): E|g| ~ 1/sqrt(n) and its finite-population form, the
  strides, curvature radius, LARS and PercentDelta as statistics of |w/g|;
* ``critical_batch`` (seed 002, McCandlish et al., Ma et al.): noise scales, speed-up, critical batch;
* ``convergence`` and ``comm`` (seed 003): the strongly convex adaptive-batch bound, ring all-reduce time;
* ``noise_scale`` (seed 004): g = eps/(1-m)(N/B - 1) and the stationary variance of SGD on a quadratic.

Every public function and class of those submodules is importable from here (``from theory import
utility``), loaded on first use so that ``import theory`` stays cheap (sympy alone takes ~0.3 s to import).
Two names stay in their modules: ``theory.noise_scale`` is the submodule (its function is
``theory.noise_scale.noise_scale``), and ``folded_normal_mean_expr`` here is the one of ``grad_shrinkage``
(``rebound_walk`` has its own). Module constants (``critical_batch.LR_RULES``, ``curvature.LAYER_RULES``,
the sympy symbols) stay in their modules too.

Each derivation exposes its sympy expression (``*_expr()``), a NumPy function, and the paper's printed
form where it differs. Numeric input is validated at the boundary (:mod:`theory._validate`): bools,
strings and non-finite numbers are refused with a message naming the parameter. This package never imports
``sim``, ``realnets`` or torch.
"""

import importlib as _importlib

_SUBMODULES = (
    "ba_momentum",
    "comm",
    "convergence",
    "critical_batch",
    "curvature",
    "grad_shrinkage",
    "noise_scale",
    "rebound_walk",
    "symbols",
)

# submodule -> the public names it defines (loaded lazily by __getattr__ below)
_BY_MODULE = {
    "ba_momentum": (
        "buffer_closed_form_exprs",
        "buffer_recurrence_exprs",
        "closed_form_step_identity",
        "mean_recursion_gap_expr",
        "momentum_buffer_closed_form",
        "momentum_buffer_recurrence",
        "momentum_decrease_moments",
        "momentum_decrease_moments_expr",
        "momentum_dice",
    ),
    "comm": (
        "implied_iterations",
        "iterations_for_schedule",
        "ring_allreduce_expr",
        "ring_allreduce_large_p_expr",
        "ring_allreduce_step_cost_expr",
        "ring_allreduce_time",
        "ring_allreduce_time_large_p",
        "step_schedule_phases",
        "training_time",
    ),
    "convergence": (
        "abs_bound",
        "abs_bound_recursive",
        "batch_second_moment_bound_expr",
        "batch_second_moment_expr",
        "contraction_factors",
        "descent_lemma_expr",
        "fixed_batch_bound",
        "fixed_point_expr",
        "noise_floor",
        "one_step_bound",
        "one_step_recursion_expr",
        "pl_gap_bound_expr",
        "quadratic_exact_one_step_expr",
        "same_samples_fixed_contraction",
        "theorem1_bound_expr",
        "verify_derivation",
    ),
    "critical_batch": (
        "LeastSquaresConstants",
        "b_noise",
        "b_simple",
        "batch_for_speedup_fraction",
        "critical_batch_from_minima",
        "critical_batch_size",
        "examples_to_target",
        "least_squares_constants",
        "least_squares_contraction",
        "least_squares_critical_batch",
        "least_squares_optimal_lr",
        "least_squares_optimal_lr_two_sided",
        "least_squares_step_contraction_expr",
        "loss_decrease",
        "loss_decrease_expr",
        "optimal_loss_decrease_expr",
        "optimal_lr",
        "optimal_lr_expr",
        "rule_speedup",
        "scaled_lr",
        "scaling_exponent",
        "speedup",
        "speedup_limit",
        "steps_to_target",
        "tradeoff_expr",
    ),
    "curvature": (
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
    ),
    "grad_shrinkage": (
        "batch_mean_variance",
        "batch_mean_variance_finite_expr",
        "distance_to_minimum",
        "expected_abs_difference_of_means",
        "expected_abs_difference_of_means_expr",
        "expected_abs_mean",
        "expected_abs_mean_expr",
        "expected_abs_mean_finite",
        "expected_sq_mean",
        "expected_sq_mean_expr",
        "folded_normal_mean_expr",
        "loss_stride",
        "loss_stride_on_parabola",
        "paper_density",
        "paper_density_expr",
        "paper_distance_to_minimum",
        "paper_expected_abs_mean",
        "paper_expected_abs_mean_expr",
        "paper_parameter_stride",
        "parameter_stride",
    ),
    "noise_scale": (
        "batch_gradient_variance",
        "batch_mean_variance_expr",
        "batch_size_for_noise_scale",
        "effective_learning_rate",
        "heavy_ball_lyapunov_solution",
        "linear_scaling_batch_size",
        "max_stable_lr",
        "noise_scale_expr",
        "noise_scale_small_batch_expr",
        "stationary_loss",
        "stationary_variance",
        "stationary_variance_expr",
        "stationary_variance_small_lr",
        "stationary_variance_small_lr_expr",
        "step_noise_variance",
    ),
    "rebound_walk": (
        "derivative_tail_expr",
        "expected_next_state",
        "expected_next_state_expr",
        "expected_next_state_limit",
        "expected_next_state_limit_expr",
        "expected_next_state_paper_expr",
        "optimal_batch_size",
        "optimal_batch_size_int",
        "optimal_batch_size_sensitivity",
        "rebound_excess_expr",
        "step_size_sensitivity_expr",
        "unit_batch_is_optimal",
        "utility",
        "utility_derivative",
        "utility_derivative_expr",
        "utility_derivative_numerator_expr",
        "utility_expr",
        "utility_increases_forever",
    ),
}
_LAZY = {name: module for module, names in _BY_MODULE.items() for name in names}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _SUBMODULES:  # ``pkg.submodule`` works without importing it first
        return _importlib.import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        # AttributeError (not KeyError) lets ``from theory import <submodule>`` fall back to the import system
        raise AttributeError(f"module 'theory' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"theory.{module}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_SUBMODULES))
