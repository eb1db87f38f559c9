"""sim: fast, seeded, vectorised Monte-Carlo of the stochastic processes of the batch-size papers.

NumPy/SciPy only; never imports ``theory``, ``realnets`` or torch. Every stochastic function takes
``seed`` or ``rng`` and returns estimates with standard errors (:class:`sim.estimate.Estimate`, which
prints as ``0.0391 ± 8.9e-05`` and combines with ``+ - * /`` propagating its error).

Every public function and class of the submodules is importable from here (``from sim import play``);
module constants (``sim.rebound_walk.FIXED_SIZES``, ``sim._validate.MAX_WORK``) stay in their modules.
Only :mod:`sim.estimate` is imported eagerly; the rest load on first use, because ``scipy.special`` and
``scipy.optimize`` (used by :mod:`sim.rebound_walk` and :mod:`sim.convex`) would otherwise triple the cost
of ``import sim``.

Submodules: ``rebound_walk`` (seed 000), ``grad_shrinkage`` (seed 001), ``quadratic`` and ``least_squares``
(seed 002), ``convex`` (seed 003), ``sde`` (seed 004), ``estimate``, ``bench`` (throughput benchmark).
Simulators refuse absurd sizes (``steps=10**12``, ``dt=1e-12``) up front; pass ``max_work=`` to raise
the limit (see :mod:`sim._validate`).
"""

import importlib as _importlib

from sim.estimate import Estimate, estimate

_SUBMODULES = ("bench", "convex", "grad_shrinkage", "least_squares", "quadratic", "rebound_walk", "sde")

# submodule -> the public names it defines (loaded lazily by __getattr__ below)
_BY_MODULE = {
    "convex": (
        "ConvexProblem",
        "ConvexRun",
        "fixed_batches_for_samples",
        "geometric_batches",
        "logistic_problem",
        "ridge_problem",
        "simulate_adaptive_sgd",
    ),
    "grad_shrinkage": (
        "Population",
        "PowerLawFit",
        "ShrinkageCurve",
        "abs_mean",
        "abs_mean_curve",
        "batch_means",
        "distance_to_minimum",
        "finite_population",
        "fit_power_law",
        "gaussian_population",
        "loss_stride",
        "loss_stride_on_parabola",
        "parameter_stride",
        "sample_finite_population",
        "sq_mean",
        "student_t_population",
    ),
    "least_squares": (
        "LeastSquaresRun",
        "epoch_batches",
        "least_squares_solution",
        "least_squares_speedup_curve",
        "make_least_squares",
        "simulate_least_squares",
        "subset_batches",
    ),
    "quadratic": (
        "QuadraticRun",
        "SpeedupCurve",
        "critical_batch_from_speedup",
        "simulate",
        "simulated_steps_to_target",
        "speedup_curve",
    ),
    "rebound_walk": (
        "Comparison",
        "ConstantDice",
        "GameResult",
        "Policy",
        "PolicyRow",
        "QuadraticDice",
        "ba_policy",
        "ba_regime_table",
        "compare_policies",
        "constant_dice",
        "fixed_policy",
        "folded_normal_mean",
        "maximise_utility",
        "next_state_samples",
        "objective_decrease_samples",
        "one_step",
        "play",
        "quadratic_dice",
        "sim_utility",
    ),
    "sde": (
        "ScheduleComparison",
        "compare_schedules",
        "diffusion_coefficient",
        "momentum_scaled_batch",
        "noise_scale",
        "simulate_least_squares_sde",
        "simulate_quadratic_sde",
        "smith_schedules",
        "step_schedule",
        "svag_least_squares",
        "svag_quadratic",
        "updates_per_schedule",
    ),
}
_LAZY = {name: module for module, names in _BY_MODULE.items() for name in names}

__all__ = ["Estimate", "estimate", *_LAZY]


def __getattr__(name: str):
    if name in _SUBMODULES:  # ``pkg.submodule`` works without importing it first
        return _importlib.import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        # AttributeError (not KeyError) lets ``from sim import <submodule>`` fall back to the import system
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"sim.{module}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_SUBMODULES))
