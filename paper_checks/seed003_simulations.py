"""Seed 003 (Yao et al., ABS) by simulation: Theorem 1's bound against adaptive-batch SGD, and growing
against fixed batches.

Problems: ridge regression on synthetic Gaussian data (exact constants L, c, M, M_G) and L2-regularised
logistic regression on scikit-learn's 8x8 digits (real data, "digit < 5"; the paper's LIBSVM mushrooms
set is not available offline). Step :math:`\\eta_t=b_t\\eta_0` with :math:`\\eta_0=1/(LM_Gb_{max})`, the
largest step the theorem allows; i.i.d. batches (the theorem's setting).
"""

from __future__ import annotations

import math

import numpy as np

from paper_checks import judge
from paper_checks.registry import Outcome, claim
from sim import convex, least_squares
from theory import convergence

Z = 5.0  # every step of every run is a comparison: 5 sigma keeps the family-wise rate below 1e-3
PER_SAMPLE_GAIN = 1.25  # a per-sample advantage counts as real only above 25%
GAP_DROP = 100.0  # compare growing and fixed where the growing run's gap has fallen this much


def _ridge():
    X, y, _ = least_squares.make_least_squares(500, np.linspace(1.0, 0.5, 5), label_noise=0.5, seed=0)
    return convex.ridge_problem(X, y, reg=0.01)


def _digits(n_rows: int):
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data[:n_rows] / 16.0
    X = X - X.mean(axis=0)
    X = X / math.sqrt(np.mean(np.sum(X**2, axis=1)))  # mean ||x||^2 = 1, so M = 1
    return convex.logistic_problem(X, (digits.target[:n_rows] < 5).astype(float), reg=0.05)


def _start(problem):
    return problem.theta_star + 3.0 / math.sqrt(problem.X.shape[1])


def _bound_check(problem, b_max: int, steps: int, runs: int, seed: int):
    eta0 = 1.0 / (problem.L * problem.M_G * b_max)
    sizes = convex.geometric_batches(2, 1.25, steps, b_max)
    run = convex.simulate_adaptive_sgd(
        problem, sizes, eta0=eta0, theta0=_start(problem), runs=runs, seed=seed
    )
    bound = convergence.abs_bound(
        sizes, eta0=eta0, L=problem.L, c=problem.c, M=problem.M, M_G=problem.M_G, initial_gap=run.mean_gap[0]
    )
    excess_z = (run.mean_gap - bound) / np.maximum(run.stderr_gap, 1e-300)
    holds = bool(np.all(run.mean_gap <= bound + Z * run.stderr_gap + 1e-12 * (1 + bound)))
    slack = float(np.min(bound[1:] / run.mean_gap[1:]))
    return holds, slack, float(np.max(excess_z[1:])), run, bound


def _bound_outcome(runs: int, seed: int, digits_rows: int) -> Outcome:
    ridge, logistic = _ridge(), _digits(digits_rows)
    results = {
        "ridge": _bound_check(ridge, 32, 120, runs, seed),
        "logistic": _bound_check(logistic, 64, 40, runs, seed),
    }
    verdict = judge.holds(all(r[0] for r in results.values()))
    parts = []
    for name, problem in (("ridge", ridge), ("logistic", logistic)):
        holds, slack, worst_z, run, bound = results[name]
        parts.append(
            f"{name}: L = {problem.L:.3g}, c = {problem.c:.3g}, M = {problem.M:.3g}, M_G = "
            f"{problem.M_G:.3g}; {run.batch_sizes.size} steps, b from {run.batch_sizes[0]} to "
            f"{run.batch_sizes.max()}; min bound/empirical {slack:.2f}, final {run.mean_gap[-1]:.3g} "
            f"<= {bound[-1]:.3g}"
        )
    return Outcome(
        ours="E[L−L*] ≤ bound at every step: "
        + ", ".join(f"{k} slack ≥ {v[1]:.2f}x" for k, v in results.items()),
        verdict=verdict,
        evidence="; ".join(parts) + f". Test per step: empirical ≤ bound + {Z} se. Ridge constants are exact "
        "(M is the supremum for the chosen M_G = 1.5x its smallest admissible value); logistic uses the "
        "global M = mean||x||², M_G = 1, c = λ, so its bound is loose.",
        corrected="" if verdict == "confirmed" else "the bound fails at some step (see evidence)",
        data=f"synthetic ridge (N = 500, d = 5) and scikit-learn 8x8 digits, first {digits_rows} rows "
        f"(real data), {runs} runs each, seed {seed}",
        numbers={k: {"slack": v[1], "max_z_above_bound": v[2]} for k, v in results.items()},
    )


_BOUND = dict(
    seed="003",
    where="Theorem 1, App. A (logistic regression example, Fig. 3)",
    kind="simulation",
    statement="For adaptive batches b_t with step b_t*eta0, eta0 <= 1/(L M_G b_max), the expected optimality "
    "gap obeys E[L(theta_t)-L*] <= eta0 L M/(2c) + prod(1 - b_k eta0 c)(gap0 - eta0 L M/(2c)).",
    paper_value="Theorem 1 bound (formula lost in extraction)",
    expect="confirmed",
)


@claim(id="003.abs-bound-sim", **_BOUND)
def check_abs_bound() -> Outcome:
    return _bound_outcome(runs=200, seed=0, digits_rows=600)


@claim(
    id="003.abs-bound-sim-full",
    tier="full",
    miniature=lambda: _bound_outcome(runs=10, seed=1, digits_rows=200),
    **_BOUND,
)
def check_abs_bound_full() -> Outcome:
    return _bound_outcome(runs=1000, seed=1, digits_rows=1797)


def _first_below(gaps: np.ndarray, level: float) -> int:
    below = np.flatnonzero(gaps <= level)
    return int(below[0]) if below.size else -1


def _growing_vs_fixed(problem, b0: int, b_max: int, steps: int, runs: int, seed: int):
    eta0 = 1.0 / (problem.L * problem.M_G * b_max)
    growing = convex.geometric_batches(b0, 1.25, steps, b_max)
    fixed = convex.fixed_batches_for_samples(b0, int(growing.sum()))
    theta0 = _start(problem)
    g = convex.simulate_adaptive_sgd(problem, growing, eta0=eta0, theta0=theta0, runs=runs, seed=seed)
    f = convex.simulate_adaptive_sgd(problem, fixed, eta0=eta0, theta0=theta0, runs=runs, seed=seed + 1)
    level = g.mean_gap[0] / GAP_DROP
    k = _first_below(g.mean_gap, level)  # chosen from the growing run alone: no look at the fixed run
    budget = g.samples[k]
    fixed_gap = np.interp(budget, f.samples, f.mean_gap)
    fixed_se = np.interp(budget, f.samples, f.stderr_gap)
    ratio = fixed_gap / g.mean_gap[k]
    z = (fixed_gap - g.mean_gap[k]) / math.hypot(fixed_se, g.stderr_gap[k])
    fixed_steps = _first_below(f.mean_gap, g.mean_gap[k])
    return dict(
        level=level,
        steps_growing=k,
        steps_fixed=fixed_steps,
        samples=int(budget),
        ratio=float(ratio),
        z=float(z),
        growing_gap=float(g.mean_gap[k]),
        fixed_gap=float(fixed_gap),
        final_growing=float(g.mean_gap[-1]),
        final_fixed=float(f.mean_gap[-1]),
    )


def _growing_outcome(runs: int, seed: int) -> Outcome:
    r = _growing_vs_fixed(_ridge(), 2, 32, 120, runs, seed)
    fewer_updates = 0 < r["steps_growing"] < r["steps_fixed"] or r["steps_fixed"] < 0
    per_sample_better = r["z"] > 3.0
    # whole claim: faster per sample too (a real gain, beyond 3 se); the part: fewer updates
    verdict = judge.graded(
        fewer_updates and per_sample_better and r["ratio"] >= PER_SAMPLE_GAIN, fewer_updates
    )
    return Outcome(
        ours=f"{r['steps_growing']} vs {r['steps_fixed']} updates; per sample ahead by x{r['ratio']:.3f} "
        f"({r['z']:.1f} se)",
        verdict=verdict,
        evidence=f"Ridge, b_t = 2·1.25^t capped at 32 vs fixed b = 2, both with eta_t = b_t eta0, eta0 = "
        f"1/(L M_G 32), from gap {r['level'] * GAP_DROP:.3g}. The growing batch reaches gap {r['growing_gap']:.3g} "
        f"(1/{GAP_DROP:.0f} of the start) after {r['steps_growing']} updates and {r['samples']} samples; the fixed "
        f"batch needs {r['steps_fixed']} updates, and at the same {r['samples']} samples sits at "
        f"{r['fixed_gap']:.3g}: x{r['ratio']:.3f} higher ({r['z']:.1f} se). Per-sample gain counts as real "
        f"above x{PER_SAMPLE_GAIN}. At the end of the budget: growing {r['final_growing']:.3g}, fixed "
        f"{r['final_fixed']:.3g}.",
        corrected={
            "confirmed": "",
            "partly": f"Faster per update ({r['steps_growing']} vs {r['steps_fixed']} updates to the same gap); per "
            f"sample the fixed batch is only x{r['ratio']:.3f} higher ({r['z']:.1f} se), below the x{PER_SAMPLE_GAIN} "
            "counted as a real gain (the contraction per sample differs at second order in b·eta0·c).",
            "refuted": f"Not faster: the growing batch needs {r['steps_growing']} updates, the fixed one "
            f"{r['steps_fixed']}.",
        }[verdict],
        data=f"synthetic ridge regression (N = 500, d = 5, label noise 0.5), {runs} runs per schedule, "
        f"seeds {seed} and {seed + 1}",
        numbers=r,
    )


_GROWING = dict(
    seed="003",
    where="Sec. 3.2 after Theorem 1",
    kind="simulation",
    statement="With an adaptive (growing) batch and eta_t = b_t eta0, Alg. 1 converges faster than basic SGD "
    "with a fixed batch (rate prod(1 - b_t eta0 c) instead of (1 - b0 eta0 c)^T).",
    paper_value="∏(1−b_tη₀c) vs (1−b₀η₀c)^T: faster",
    expect="partly",
)


@claim(id="003.growing-vs-fixed-sim", **_GROWING)
def check_growing_vs_fixed() -> Outcome:
    return _growing_outcome(runs=1000, seed=0)


@claim(
    id="003.growing-vs-fixed-sim-full",
    tier="full",
    miniature=lambda: _growing_outcome(runs=20, seed=2),
    **_GROWING,
)
def check_growing_vs_fixed_full() -> Outcome:
    return _growing_outcome(runs=5000, seed=2)


FLOOR_STEPS = {4: 300, 64: 40}  # ten or more relaxation times 1/(eta c): 28 steps at b = 4, 1.7 at b = 64
FLOOR_EXCESS = 1.1  # a floor 10% above the small-batch one (and 3 se) counts as "not the same noise level"


@claim(
    id="003.noise-floor-sim",
    seed="003",
    where="Sec. 3.1 (LR scaled with the batch 'to keep the same noise level') and the floor of Theorem 1",
    kind="simulation",
    statement="Scaling the step with the batch, eta_t = b_t eta0, keeps the noise level of baseline SGD: "
    "the limit eta0 L M/(2c) of the bound does not depend on b_t.",
    paper_value="same noise level; floor η₀LM/(2c) for every b_t",
    expect="partly",
)
def check_noise_floor() -> Outcome:
    problem = _digits(600)
    eta0 = 1.0 / (problem.L * problem.M_G * max(FLOOR_STEPS))
    floors = {}
    for b, steps in FLOOR_STEPS.items():
        run = convex.simulate_adaptive_sgd(
            problem, np.full(steps, b), eta0=eta0, theta0=problem.theta_star, runs=200, seed=b
        )
        floors[b] = (float(run.mean_gap[-1]), float(run.stderr_gap[-1]))
    (small, se_small), (large, se_large) = floors[4], floors[64]
    ratio = large / small
    z = (large - small) / math.hypot(se_small, se_large)
    same = not (z > 3.0 and ratio > FLOOR_EXCESS)
    bound_floor = convergence.noise_floor(eta0=eta0, L=problem.L, c=problem.c, M=problem.M)
    # two parts: the bound's floor is batch-independent and holds (both stationary gaps below it, Z se), and
    # the actual noise level is the same for both batches
    below_bound = all(mean <= bound_floor + Z * se for mean, se in floors.values())
    verdict = judge.graded(same and below_bound, same or below_bound)
    return Outcome(
        ours=f"stationary gap x{ratio:.2f} higher at b = 64 than at b = 4 ({z:.1f} se)",
        verdict=verdict,
        evidence=f"Logistic regression on digits, eta0 = 1/(L M_G 64), started at theta*: stationary E[L−L*] = "
        f"{small:.4g}±{se_small:.1g} with b = 4 (eta = 4 eta0) after {FLOOR_STEPS[4]} steps, {large:.4g}±"
        f"{se_large:.1g} with b = 64 (eta = 1/L) after {FLOOR_STEPS[64]} steps. Below the bound's floor "
        f"{bound_floor:.3g} (the same for every b) within {Z:g} se: {below_bound}. The two floors are the same "
        f"(not both > {FLOOR_EXCESS}x and > 3 se apart): {same}. SGD's stationary variance per curvature lambda "
        "is proportional to eta/(b(2 − eta·lambda)), so at a fixed eta/b it grows with eta once eta·lambda is "
        "not small.",
        corrected=""
        if verdict == "confirmed"
        else (
            "The bound's floor eta0 L M/(2c) is batch-independent and holds, but the noise level is not the "
            f"same: the stationary gap is x{ratio:.2f} higher at b = 64 ({z:.1f} se)"
            if below_bound
            else f"The measured stationary gaps exceed the bound's floor {bound_floor:.3g}"
            + ("" if same else f", and differ by x{ratio:.2f} between b = 4 and b = 64 ({z:.1f} se)")
        ),
        data="scikit-learn 8x8 digits, first 600 rows (real data), L2-regularised logistic regression "
        "(lambda = 0.05), 200 runs per batch size, seeds 4 and 64",
        numbers={
            "floors": {str(k): v for k, v in floors.items()},
            "ratio": ratio,
            "z": z,
            "bound_floor": bound_floor,
        },
    )
