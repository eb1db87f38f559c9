"""Seed 004 (Smith et al., increase the batch size) by simulation: schedules, momentum rule, the SDE.

All runs are SGD on a synthetic finite least-squares training set (Gaussian rows, noisy labels), so the
noise scale :math:`g=\\frac{\\epsilon}{1-m}(N/B-1)` has a real :math:`N`; batches are drawn without
replacement. Verdicts compare curves within Monte-Carlo error (``Z`` standard errors of the difference,
schedules on independent streams) plus, where stated, the first-order discretisation error of the SDE.
"""

from __future__ import annotations

import math

import numpy as np

from paper_checks import judge
from paper_checks.registry import Outcome, claim
from sim import least_squares, sde

Z = 4.5  # about 25 epoch-by-pair comparisons per check: family-wise false-positive rate below 1e-4
SPECTRUM = np.linspace(1.0, 0.2, 10)


def _dataset(n: int = 4000, seed: int = 3):
    X, y, _ = least_squares.make_least_squares(n, SPECTRUM, label_noise=1.0, seed=seed)
    return X, y


def _data_label(n: int, runs: int, seed: int) -> str:
    return (
        f"synthetic least squares, N = {n}, d = {SPECTRUM.size}, rows ~ N(0, diag(linspace(1, 0.2))), "
        f"label noise 1, {runs} runs per schedule, seed {seed}"
    )


@claim(
    id="004.schedule-equivalence-sim",
    seed="004",
    where="Sec. 5.1, Fig. 1-2",
    kind="simulation",
    statement="Decaying the learning rate by 5, increasing the batch by 5, or the hybrid (grow B then decay "
    "eps) at the same epochs give the same training curve against epochs, with far fewer updates when B grows.",
    paper_value="indistinguishable loss vs epochs; ~80000 vs ~29000 updates (WRN, CIFAR-10)",
    expect="confirmed",
)
def check_schedule_equivalence() -> Outcome:
    X, y = _dataset()
    runs, seed, epochs = 200, 0, 8
    schedules = sde.smith_schedules(0.02, 8, factor=5.0, milestones=[2, 4, 6], max_batch=40)
    cmp = sde.compare_schedules(X, y, schedules, epochs=epochs, runs=runs, seed=seed)
    counts = cmp.updates
    fewer = counts["increase_batch"] < counts["hybrid"] < counts["decay_lr"]
    verdict = judge.holds(cmp.max_abs_z <= Z and fewer)
    finals = {k: f"{r.mean_excess[-1]:.3g}±{r.stderr_excess[-1]:.1g}" for k, r in cmp.runs.items()}
    return Outcome(
        ours=f"max |Δloss| = {cmp.max_abs_z:.2f} se; updates {counts['decay_lr']}/{counts['hybrid']}/"
        f"{counts['increase_batch']}",
        verdict=verdict,
        evidence=f"eps = 0.02, B = 8, factor 5 at epochs 2, 4, 6 (hybrid: B 8 -> 40, then eps decays); "
        f"{epochs} epochs. Largest disagreement over all epochs and schedule pairs: {cmp.max_abs_z:.2f} "
        f"standard errors (tolerance {Z}), {cmp.max_rel_diff:.1%} relative. Final excess loss "
        f"decay/increase/hybrid: {finals['decay_lr']} / {finals['increase_batch']} / {finals['hybrid']}. "
        f"Updates: decay {counts['decay_lr']}, hybrid {counts['hybrid']}, increase {counts['increase_batch']} "
        f"({counts['decay_lr'] / counts['increase_batch']:.1f}x fewer).",
        corrected="" if verdict == "confirmed" else "the schedules give different curves (see evidence)",
        data=_data_label(4000, runs, seed),
        numbers={"max_abs_z": cmp.max_abs_z, "max_rel_diff": cmp.max_rel_diff, "updates": dict(counts)},
    )


@claim(
    id="004.momentum-rule-sim",
    seed="004",
    where="Sec. 4 (g = eps/(1-m) (N/B - 1)) and Sec. 5.3",
    kind="simulation",
    statement="With momentum the noise scale is g = eps/(1-m)(N/B - 1), so scaling B proportional to "
    "eps/(1-m) leaves the training curve against epochs unchanged.",
    paper_value="B ∝ ε/(1−m)",
    expect="partly",
)
def check_momentum_rule() -> Outcome:
    X, y = _dataset()
    runs, seed, lr, epochs = 200, 0, 0.002, 6
    momenta = (0.0, 0.5, 0.8)
    schedules = {f"m={m}": (lr, round(sde.momentum_scaled_batch(8, m)), m) for m in momenta}
    cmp = sde.compare_schedules(X, y, schedules, epochs=epochs, runs=runs, seed=seed)
    # SGD follows the SDE only to first order in eps_eff * lambda_max; allow twice that, relative.
    eps_eff_max = lr / (1 - max(momenta))
    rel_tol = 2 * eps_eff_max * SPECTRUM.max()
    curves = list(cmp.runs.values())
    worst = 0.0
    for i, a in enumerate(curves):
        for b in curves[i + 1 :]:
            excess = np.abs(a.mean_excess - b.mean_excess)[1:]
            allowed = Z * np.hypot(a.stderr_excess, b.stderr_excess)[1:] + rel_tol * a.mean_excess[1:]
            worst = max(worst, float(np.max(excess / allowed)))
    # "unchanged" within Monte-Carlo error is the claim; agreement only within the first-order SDE error (a
    # deterministic O(eps_eff lambda) gap, many se at 200 runs) is the rule holding to first order: partly
    verdict = judge.graded(cmp.max_abs_z <= Z, worst <= 1.0)
    batches = ", ".join(f"{name}: B = {spec[1]}" for name, spec in schedules.items())
    return Outcome(
        ours=f"curves agree to {cmp.max_rel_diff:.1%} ({cmp.max_abs_z:.1f} se); updates "
        + "/".join(str(v) for v in cmp.updates.values()),
        verdict=verdict,
        evidence=f"eps = {lr}, {batches} (B ∝ 1/(1-m)), {epochs} epochs, same g = eps/(1-m)(N/B-1) up to the "
        f"-1. Largest relative gap between any two curves {cmp.max_rel_diff:.2%} ({cmp.max_abs_z:.1f} se); "
        f"tolerance {Z} se + {rel_tol:.1%} (twice the first-order SDE error eps/(1-m)*lambda_max); worst "
        f"ratio to tolerance {worst:.2f}. The residual differences are deterministic (momentum transient "
        "and O(eps_eff) discretisation), which is why a pure standard-error test would fail at large runs.",
        corrected=""
        if verdict == "confirmed"
        else (
            f"The curves differ by {cmp.max_abs_z:.1f} standard errors (more than {Z}): B ∝ 1/(1-m) holds to first "
            f"order only, within {rel_tol:.1%} here (momentum transient and O(eps_eff λ) discretisation)"
            if verdict == "partly"
            else "the momentum-scaled runs differ beyond the first-order SDE error"
        ),
        data=_data_label(4000, runs, seed),
        numbers={
            "max_rel_diff": cmp.max_rel_diff,
            "max_abs_z": cmp.max_abs_z,
            "worst_ratio": worst,
            "updates": dict(cmp.updates),
        },
    )


def _stationary_excess(X, y, lr, batch, sampling, runs, seed, epochs):
    w_hat, _, _ = least_squares.least_squares_solution(X, y)
    run = least_squares.simulate_least_squares(
        X, y, lr=lr, batch_size=batch, epochs=epochs, w0=w_hat, runs=runs, seed=seed, sampling=sampling
    )
    return run.mean_excess[-1], run.stderr_excess[-1]


def _sde_excess(X, y, coefficient, time, lr, runs, seed):
    w_hat, _, _ = least_squares.least_squares_solution(X, y)
    run = sde.simulate_least_squares_sde(
        X, y, coefficient=coefficient, time=time, dt=lr, w0=w_hat, runs=runs, seed=seed, record_every=10**9
    )
    return run.mean_excess[-1], run.stderr_excess[-1]


@claim(
    id="004.noise-scale-finite-n-sim",
    seed="004",
    where="Sec. 2 (Smith & Le: g = eps(N/B - 1))",
    kind="simulation",
    statement="SGD integrates an SDE whose noise scale is g = eps(N/B - 1) (approximately eps N/B for B << N).",
    paper_value="g = ε(N/B − 1)",
    expect="partly",
)
def check_noise_scale_finite_n() -> Outcome:
    X, y, _ = least_squares.make_least_squares(40, [1.0, 0.5], label_noise=1.0, seed=2)
    lr, batch, n, runs, epochs = 0.02, 20, 40, 1000, 150
    time = lr * epochs * (n // batch)
    fresh = _stationary_excess(X, y, lr, batch, "subset", runs, 0, epochs)
    shuffled = _stationary_excess(X, y, lr, batch, "epoch", runs, 1, epochs)
    right = _sde_excess(X, y, sde.diffusion_coefficient(lr, batch, n), time, lr, runs, 2)
    naive = _sde_excess(X, y, lr / batch, time, lr, runs, 3)

    def agrees(a, b, rel=0.05):  # 5%: the O(lr h) bias of SGD against its SDE at lr h <= 0.02
        return abs(a[0] - b[0]) <= Z * math.hypot(a[1], b[1]) + rel * b[0]

    formula_ok = agrees(fresh, right) and not agrees(fresh, naive)
    reshuffle_ok = agrees(shuffled, right)
    # the paper's regime, B << N: N = 4000, B = 8, an epoch lasts eps N/B = 10 >> 1/(2 lambda_min) = 2.5
    X_big, y_big = _dataset()
    fresh_big = _stationary_excess(X_big, y_big, 0.02, 8, "subset", 200, 4, 2)
    shuffled_big = _stationary_excess(X_big, y_big, 0.02, 8, "epoch", 200, 5, 2)
    big_ratio = shuffled_big[0] / fresh_big[0]
    verdict = judge.graded(formula_ok and reshuffle_ok, formula_ok)
    return Outcome(
        ours=f"fresh batches: SGD {fresh[0]:.3g} vs SDE {right[0]:.3g}; reshuffled epochs {shuffled[0]:.2g}",
        verdict=verdict,
        evidence=f"B = N/2 = {batch}, eps = {lr}, stationary excess loss (mean ± se over {runs} runs): SGD with a "
        f"fresh without-replacement batch each step {fresh[0]:.4g}±{fresh[1]:.1g}; SDE with g = eps(N/B-1) "
        f"{right[0]:.4g}±{right[1]:.1g}; SDE with g = eps N/B {naive[0]:.4g}±{naive[1]:.1g} (twice too noisy); "
        f"SGD with per-epoch reshuffling {shuffled[0]:.3g}±{shuffled[1]:.1g}: its two batches per epoch are "
        "complements, so their noise cancels to first order. In the B << N regime (N = 4000, B = 8, "
        f"eps = 0.02, 200 runs) reshuffling still gives x{big_ratio:.2f} the fresh-batch stationary loss "
        f"({shuffled_big[0]:.3g}±{shuffled_big[1]:.1g} vs {fresh_big[0]:.3g}±{fresh_big[1]:.1g}).",
        corrected={
            "confirmed": "",
            "partly": "g = eps(N/B - 1) matches batches drawn independently at every step (the (N/B - 1) "
            "matters: eps N/B doubles the noise at B = N/2). With per-epoch reshuffling, as in real training, "
            f"successive batches are anti-correlated and the stationary loss is x{shuffled[0] / fresh[0]:.2g} "
            f"the fresh-batch one at B = N/2 and x{big_ratio:.2f} at B = N/500 here.",
            "refuted": "the stationary loss of fresh-batch SGD does not match the SDE with g = eps(N/B - 1) "
            f"({fresh[0]:.3g} vs {right[0]:.3g}), or matches eps N/B as well ({naive[0]:.3g})",
        }[verdict],
        data=f"synthetic least squares, N = {n}, d = 2, label noise 1, {runs} runs per process, seeds 0-3; "
        "and N = 4000, d = 10, 200 runs, seeds 4-5",
        numbers={
            "sgd_fresh": fresh,
            "sgd_reshuffled": shuffled,
            "sde_n_over_b_minus_1": right,
            "sde_n_over_b": naive,
            "large_n_fresh": fresh_big,
            "large_n_reshuffled": shuffled_big,
        },
    )


def _ou_second_moment(h, lr, batch, time, x0):
    # The SDE dx = -h x dt + sqrt(lr/B) dW: E[x_T^2] = x0^2 e^{-2hT} + lr/(2hB) (1 - e^{-2hT}).
    decay = math.exp(-2 * h * time)
    return x0**2 * decay + lr / (2 * h * batch) * (1 - decay)


@claim(
    id="004.svag-sde-limit-sim",
    seed="004",
    where="Sec. 2 (SGD as an SDE; the linear scaling rule B ∝ eps)",
    kind="simulation",
    statement="SGD with step eps and batch B is a discretisation of one SDE fixed by the noise scale, so the "
    "dynamics depend on eps and B only through g (the basis of B ∝ eps).",
    paper_value="dw/dt = −dC/dw + η(t), ⟨ηη⟩ = g F δ",
    expect="confirmed",
)
def check_svag_limit() -> Outcome:
    h, lr, batch, time, x0, runs = 1.0, 1.0, 1.0, 3.0, 1.0, 100_000
    exact = _ou_second_moment(h, lr, batch, time, x0)
    errors, stderrs = [], []
    for k, amp in enumerate((1, 2, 4, 8, 16)):
        run = sde.svag_quadratic(
            [h], lr=lr, batch_size=batch, amplification=amp, time=time, x0=x0, runs=runs, seed=k
        )
        second = run.x[:, 0] ** 2
        errors.append(float(second.mean() - exact))
        stderrs.append(float(second.std(ddof=1) / math.sqrt(runs)))
    errors, stderrs = np.array(errors), np.array(stderrs)
    shrinking = bool(
        np.all(np.abs(errors[1:]) <= np.abs(errors[:-1]) + Z * np.hypot(stderrs[1:], stderrs[:-1]))
    )
    # first order in 1/l: the error should halve with each doubling; ask for at least a 4x drop over 16x
    first_order = abs(errors[0]) > 4 * (abs(errors[-1]) + Z * stderrs[-1])
    verdict = judge.holds(shrinking and first_order)
    table = ", ".join(f"l={a}: {e:+.4f}" for a, e in zip((1, 2, 4, 8, 16), errors))
    return Outcome(
        ours=f"weak error of E[x_T²]: {abs(errors[0]):.3f} (l=1) -> {abs(errors[-1]):.4f} (l=16)",
        verdict=verdict,
        evidence=f"SVAG (Li, Malladi & Arora 2021) on L = h x²/2, h = {h}, eps = {lr}, B = {batch}, T = {time}: "
        f"the step eps/l with variance amplified l-fold keeps g fixed while the discretisation refines. "
        f"E[x_T²] minus the exact Ornstein-Uhlenbeck value {exact:.4f}: {table} (se ~{stderrs.max():.1g}). "
        "The error falls like 1/l: at fixed g, SGD's dynamics converge to the SDE's.",
        corrected="" if verdict == "confirmed" else "SVAG does not converge to the SDE (see evidence)",
        data=f"synthetic 1-D noisy quadratic (Gaussian gradient noise), {runs} runs per l, seeds 0-4",
        numbers={"errors": errors.tolist(), "stderrs": stderrs.tolist(), "exact": exact},
    )


def _sde_excess_exact(X, y, coefficient: float, time: float, e0: np.ndarray) -> float:
    """E[L(w_T) − L*] of the least-squares SDE, from the closed linear ODE of its first two moments.

    With e = w − ŵ, per-sample gradients g_j = A_j e + u_j (A_j = x_j x_jᵀ, u_j = x_j(x_jᵀŵ − y_j),
    Σ_j u_j = 0), the drift is −He and Σ(w) = (1/(N−1)) Σ_j (A_j−H)e eᵀ(A_j−H) + (A_j−H)e u_jᵀ +
    u_j eᵀ(A_j−H) + u_j u_jᵀ is linear in (E e, E e eᵀ), so μ' = −Hμ and
    P' = −HP − PH + c·E[Σ(w)] close; solved to rtol 1e-11.
    """
    from scipy.integrate import solve_ivp

    w_hat, H, _ = least_squares.least_squares_solution(X, y)
    n, d = X.shape
    A = np.einsum("ni,nj->nij", X, X) - H
    u = X * (X @ w_hat - y)[:, None]

    def rhs(_t, z):
        mu, P = z[:d], z[d:].reshape(d, d)
        cross = np.einsum("nij,j,nk->ik", A, mu, u)
        sigma = (np.einsum("nij,jk,nlk->il", A, P, A) + cross + cross.T + u.T @ u) / (n - 1)
        return np.concatenate([-H @ mu, (-H @ P - P @ H + coefficient * sigma).ravel()])

    z0 = np.concatenate([e0, np.outer(e0, e0).ravel()])
    P = solve_ivp(rhs, (0.0, time), z0, rtol=1e-11, atol=1e-13).y[d:, -1].reshape(d, d)
    return float(0.5 * np.trace(H @ P))


@claim(
    id="004.svag-finite-set-sim",
    seed="004",
    where="Sec. 2 (SGD as an SDE with g = eps(N/B - 1))",
    kind="simulation",
    statement="SGD with real without-replacement batches from a finite training set is a discretisation of "
    "the SDE with noise scale g = eps(N/B - 1).",
    paper_value="dw/dt = −dC/dw + η(t), ⟨ηη⟩ = g F δ, g = ε(N/B−1)",
    expect="confirmed",
    tier="full",
    miniature=lambda: _svag_finite_set(runs=200, amps=(1, 2)),
)
def check_svag_finite_set() -> Outcome:
    return _svag_finite_set(runs=20_000, amps=(1, 2, 4, 8, 16))


def _svag_finite_set(runs: int, amps: tuple[int, ...]) -> Outcome:
    X, y, _ = least_squares.make_least_squares(40, [1.0, 0.5], label_noise=1.0, seed=2)
    w_hat, _, _ = least_squares.least_squares_solution(X, y)
    lr, batch, time, e0 = 0.8, 4, 2.0, np.ones(2)
    exact = _sde_excess_exact(X, y, sde.diffusion_coefficient(lr, batch, X.shape[0]), time, e0)
    errors, stderrs = [], []
    for amp in amps:
        run = sde.svag_least_squares(
            X, y, lr=lr, batch_size=batch, amplification=amp, time=time, w0=w_hat + e0, runs=runs, seed=amp
        )
        errors.append(float(run.mean_excess[-1] - exact))
        stderrs.append(float(run.stderr_excess[-1]))
    errors, stderrs = np.array(errors), np.array(stderrs)
    shrinking = bool(
        np.all(np.abs(errors[1:]) <= np.abs(errors[:-1]) + Z * np.hypot(stderrs[1:], stderrs[:-1]))
    )
    converged = abs(errors[-1]) <= Z * stderrs[-1] + 0.05 * exact
    first_order = abs(errors[0]) > 4 * (abs(errors[-1]) + Z * stderrs[-1])
    verdict = judge.holds(shrinking and converged and first_order)
    table = ", ".join(f"l={a}: {e:+.4f}" for a, e in zip(amps, errors))
    return Outcome(
        ours=f"weak error {abs(errors[0]):.3f} (l=1: SGD, fresh batches) -> {abs(errors[-1]):.4f} (l=16)",
        verdict=verdict,
        evidence=f"SVAG with two independent without-replacement batches per step, N = 40, B = {batch}, eps = "
        f"{lr}, T = {time}, from ŵ + (1, 1). Excess loss minus the exact SDE value {exact:.4f} (moment ODE "
        f"with coefficient eps(1/B − 1/N) = g/N): {table} (se ~{stderrs.max():.1g}). The error shrinks to "
        "zero as l grows: SGD's finite-set noise converges to the SDE with g = eps(N/B − 1).",
        corrected="" if verdict == "confirmed" else "SVAG does not approach the SDE with g = eps(N/B − 1)",
        data=f"synthetic least squares, N = 40, d = 2, label noise 1, {runs} runs per l, seeds 1-16",
        numbers={"errors": errors.tolist(), "stderrs": stderrs.tolist(), "exact": exact},
    )
