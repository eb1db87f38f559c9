"""Seed 002 (Golmant et al.) by simulation: diminishing returns past a critical batch, and its
(in)dependence on the data-set size.

Speed-up :math:`s(m;m_0)=k(m_0)/k(m)` (seed 002, Sec. 3) with :math:`k` the updates to reach a loss
target and the learning rate tuned separately for every batch size (two-round geometric grid below the
stability edge, shared random numbers across learning rates). Critical batch: where the scaling
efficiency :math:`s\\,m_0/m` falls to 1/2 (``sim.quadratic.critical_batch_from_speedup``).
"""

from __future__ import annotations

import numpy as np

from paper_checks.registry import Outcome, claim
from sim import least_squares, quadratic

NQM_H = 1.0 / np.arange(1, 21)  # Hessian spectrum 1, 1/2, ..., 1/20; noise covariance Sigma = H
NQM_X0 = 0.3
LS_SPECTRUM = np.linspace(1.0, 0.1, 32)
LINEAR_EFFICIENCY = 0.8  # "near-linear" regime: efficiency at least 0.8 at m = 4 m0
PLATEAU_GAIN = 1.15  # "stagnation": doubling the largest batch gains less than 15%
N_SLOPE_TOL = 0.25  # |d log B_crit / d log N| below this is "does not move" (B_crit ∝ N would give 1)


def _nqm_curve(runs: int, seed: int, max_exponent: int):
    target = 0.05 * 0.5 * np.sum(NQM_H * NQM_X0**2)
    return quadratic.speedup_curve(
        NQM_H,
        batch_sizes=2.0 ** np.arange(1, max_exponent + 1),
        target=target,
        max_steps=2000,
        x0=NQM_X0,
        runs=runs,
        seed=seed,
    )


def _diminishing_returns(runs: int, seed: int, max_exponent: int) -> Outcome:
    curve = _nqm_curve(runs, seed, max_exponent)
    s, eff, m = curve.speedup, curve.efficiency, curve.batch_sizes
    near_linear = eff[2] >= LINEAR_EFFICIENCY
    plateau = s[-1] / s[-2] < PLATEAU_GAIN
    has_critical = bool(np.isfinite(curve.critical_batch))
    verdict = "confirmed" if near_linear and plateau and has_critical else "refuted"
    table = ", ".join(f"{int(b)}: {v:.1f}" for b, v in zip(m, s))
    return Outcome(
        ours=f"linear to ~{curve.critical_batch:.0f}, then s saturates at {s[-1]:.0f} (ideal {m[-1] / m[0]:.0f})",
        verdict=verdict,
        evidence=f"NQM, h_i = 1/i (d = 20), Sigma = H, x0 = {NQM_X0}, target 5% of the initial loss, m0 = "
        f"{int(curve.m0)}, lr tuned per batch. s(m): {table}. Efficiency at 4 m0: {eff[2]:.2f} (needs >= "
        f"{LINEAR_EFFICIENCY}); last doubling gains x{s[-1] / s[-2]:.2f} (needs < {PLATEAU_GAIN}); critical "
        f"batch (efficiency 1/2) {curve.critical_batch:.0f}. Three regimes: linear, diminishing, stagnation.",
        corrected="" if verdict == "confirmed" else "no saturation of the speed-up on this problem",
        data=f"synthetic noisy quadratic model, {runs} runs per (batch, lr), seed {seed}",
        numbers={
            "batch_sizes": m.tolist(),
            "speedup": s.tolist(),
            "speedup_stderr": curve.speedup_stderr.tolist(),
            "best_lr": curve.best_lr.tolist(),
            "critical_batch": curve.critical_batch,
        },
    )


_DIMINISHING = dict(
    seed="002",
    where="Sec. 3 and 4.1, Fig. 1-3",
    kind="simulation",
    statement="Past a critical batch size the speed-up s(m; m0) = k(m0)/k(m) falls away from linear "
    "scaling and plateaus, even with the learning rate tuned per batch size.",
    paper_value="linear, then diminishing returns, then stagnation (ResNet-34/CIFAR-10: ~2048)",
    expect="confirmed",
)


@claim(id="002.diminishing-returns-sim", **_DIMINISHING)
def check_diminishing_returns() -> Outcome:
    return _diminishing_returns(runs=100, seed=0, max_exponent=12)


@claim(
    id="002.diminishing-returns-sim-full",
    tier="full",
    miniature=lambda: _diminishing_returns(runs=4, seed=1, max_exponent=5),
    **_DIMINISHING,
)
def check_diminishing_returns_full() -> Outcome:
    return _diminishing_returns(runs=1000, seed=1, max_exponent=14)


def _critical_batches(sizes, runs, seed):
    rows = []
    for n in sizes:
        X, y, _ = least_squares.make_least_squares(n, LS_SPECTRUM, seed=seed + n)
        w_hat, H, _ = least_squares.least_squares_solution(X, y)
        target = 1e-2 * 0.5 * w_hat @ H @ w_hat
        curve = least_squares.least_squares_speedup_curve(
            X, y, batch_sizes=2 ** np.arange(0, 9), target=target, max_steps=4000, runs=runs, seed=seed
        )
        eigs = np.linalg.eigvalsh(H)
        beta = float(np.max(np.sum(X**2, axis=1)))
        rows.append((n, curve.critical_batch, beta / (eigs[-1] - eigs[0]) + 1, float(np.trace(H) / eigs[-1])))
    return rows


def _dataset_size_outcome(sizes: tuple[int, ...], runs: int, seed: int) -> Outcome:
    rows = _critical_batches(sizes, runs, seed)
    n = np.array([r[0] for r in rows], dtype=float)
    crit = np.array([r[1] for r in rows])
    slope = float(np.polyfit(np.log(n), np.log(crit), 1)[0]) if np.all(np.isfinite(crit)) else np.nan
    verdict = "confirmed" if abs(slope) < N_SLOPE_TOL else "refuted"
    table = "; ".join(f"N={int(a)}: B_crit {b:.0f} (Ma m* {c:.0f}, trH/λ1 {d:.1f})" for a, b, c, d in rows)
    return Outcome(
        ours=f"B_crit {crit.min():.0f}-{crit.max():.0f} for N {int(n.min())}-{int(n.max())} "
        f"(slope {slope:+.2f} in log-log)",
        verdict=verdict,
        evidence=f"Interpolating least squares (Ma et al.'s setting), rows ~ N(0, diag(linspace(1, 0.1, 32))), "
        f"y = X w*, target 1% of the initial excess loss, lr tuned per batch, m0 = 1. {table}. "
        f"log B_crit against log N has slope {slope:+.3f} (tolerance |slope| < {N_SLOPE_TOL}; B_crit ∝ N "
        "would give 1). Ma et al.'s worst-case m* = β/(λ1−λd)+1 moves with the extreme sample norm "
        "β = max||x||², a property of the sample; the simulated critical batch stays put, like tr(H)/λ1, "
        "a property of the distribution.",
        corrected="" if verdict == "confirmed" else "the critical batch grows with N on this problem",
        data=f"synthetic Gaussian least squares, N in {list(sizes)} from one distribution, {runs} runs per "
        f"(batch, lr), seed {seed}",
        numbers={
            "n": n.tolist(),
            "critical_batch": crit.tolist(),
            "slope": slope,
            "ma_m_star": [r[2] for r in rows],
            "trace_over_lambda1": [r[3] for r in rows],
        },
    )


_DATASET = dict(
    seed="002",
    where="Sec. 4.3, Fig. 4",
    kind="simulation",
    statement="The batch size at which the speed-up curve plateaus does not change with the data-set size "
    "(25/50/100% of the training set).",
    paper_value="plateau batch unchanged for 25/50/100% of CIFAR-10 and SVHN",
    expect="confirmed",
)


@claim(id="002.dataset-size-sim", **_DATASET)
def check_dataset_size() -> Outcome:
    return _dataset_size_outcome((512, 1024, 2048), runs=24, seed=0)


@claim(
    id="002.dataset-size-sim-full",
    tier="full",
    miniature=lambda: _dataset_size_outcome((256, 512), runs=2, seed=1),
    **_DATASET,
)
def check_dataset_size_full() -> Outcome:
    return _dataset_size_outcome((1024, 4096, 16384), runs=128, seed=1)
