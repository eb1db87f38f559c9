"""sim: fast, seeded, vectorised Monte-Carlo of the stochastic processes of the batch-size papers.

NumPy/SciPy only; never imports ``theory``, ``realnets`` or torch. Every stochastic function takes
``seed`` or ``rng`` and returns estimates with standard errors (:class:`sim.estimate.Estimate`).

The main entry points of every submodule are importable from here (``from sim import play``). Only
:mod:`sim.estimate` is imported eagerly; the rest load on first use, because ``scipy.special`` and
``scipy.optimize`` (used by :mod:`sim.rebound_walk` and :mod:`sim.convex`) would otherwise triple the cost
of ``import sim``.
"""

from __future__ import annotations

import importlib

from sim.estimate import Estimate, estimate

# public name -> submodule that defines it (loaded lazily by __getattr__ below)
_LAZY = {
    **dict.fromkeys(
        ["one_step", "play", "fixed_policy", "ba_policy", "constant_dice", "quadratic_dice",
         "compare_policies", "ba_regime_table", "GameResult"],
        "rebound_walk",
    ),
    **dict.fromkeys(
        ["gaussian_population", "student_t_population", "finite_population", "sample_finite_population",
         "batch_means", "abs_mean", "abs_mean_curve", "fit_power_law"],
        "grad_shrinkage",
    ),
    **dict.fromkeys(
        ["QuadraticRun", "SpeedupCurve", "simulate", "steps_to_target", "speedup_curve",
         "critical_batch_from_speedup"],
        "quadratic",
    ),
    **dict.fromkeys(
        ["LeastSquaresRun", "make_least_squares", "least_squares_solution", "simulate_least_squares",
         "least_squares_speedup_curve"],
        "least_squares",
    ),
    **dict.fromkeys(
        ["noise_scale", "simulate_quadratic_sde", "simulate_least_squares_sde", "smith_schedules",
         "compare_schedules", "svag_quadratic", "svag_least_squares"],
        "sde",
    ),
    **dict.fromkeys(
        ["ConvexProblem", "ConvexRun", "ridge_problem", "logistic_problem", "simulate_adaptive_sgd",
         "geometric_batches"],
        "convex",
    ),
}

__all__ = ["Estimate", "estimate", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        # AttributeError (not KeyError) lets ``from sim import <submodule>`` fall back to the import system
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sim.{module}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
