"""Seed 003 (Yao et al., ABS/ABSA): Theorem 1, its step-size condition, and the App. C time model (Table 3).

Every verdict is computed: symbolic steps by sympy (``theory.convergence``, ``theory.comm``), table totals
by re-evaluating the time model on the table's printed inputs, with the tolerance that the printed
rounding of those inputs allows (two significant figures: ±0.05e-2 s on T_comp and T_comm).
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from paper_checks import judge
from paper_checks.registry import Outcome, claim
from paper_checks.tables import SEED003_C1_CIFAR10_ITERS, SEED003_I3_IMAGENET, SEED003_TABLE3
from theory import comm, convergence
from theory import symbols as S

# ILSVRC-2012 training images, as the Table 3 totals need it (the seed's text says "1.2 million").
IMAGENET_TRAIN = 1_280_000
IMAGENET_TRAIN_EXACT = 1_281_167
# torchvision's ResNet-18 (model I3 of seed 003) has 11,689,512 parameters; 32-bit floats.
RESNET18_BITS = 11_689_512 * 32
#: FITTED, not tested: the global batch of BL is not printed; 256 (the standard ResNet ImageNet batch) is the
#: value that reproduces BL's 16,666 s total, so the BL row only checks that such a standard value exists.
#: GG's 6,150 s total, computed from the same batch and per-update times, is the out-of-sample test.
BL_BATCH = 256
HALF_UNIT = 0.05e-2  # half a unit in the last printed digit of T_comp and T_comm ("2.2E-2")


def _per_update_bounds(row: dict[str, float]) -> tuple[float, float]:
    central = row["t_comp"] + row["t_comm"]
    return central - 2 * HALF_UNIT, central + 2 * HALF_UNIT


def _bl_iterations(n_train: int = IMAGENET_TRAIN) -> float:
    return comm.iterations_for_schedule([(SEED003_I3_IMAGENET["epochs"], BL_BATCH)], n_train)


def _gg_iterations(n_train: int = IMAGENET_TRAIN) -> float:
    info = SEED003_I3_IMAGENET
    phases = comm.step_schedule_phases(BL_BATCH, info["gg_factor"], info["gg_milestones"], info["epochs"])
    return comm.iterations_for_schedule(phases, n_train)


# --------------------------------------------------------------------------------------------------
# Theorem 1 and its step-size condition
# --------------------------------------------------------------------------------------------------


@claim(
    id="003.thm1-bound",
    seed="003",
    where="Theorem 1 and App. A (Assumption 2, Lemmas 3-5)",
    kind="derivation",
    statement="For L-smooth, c-strongly convex loss with E||g_i||^2 <= M + M_G||grad L||^2, batch b_t and "
    "step b_t*eta0, eta0 <= 1/(L M_G b_max): E[L(theta_T)-L*] <= eta0 L M/(2c) + prod(1-b_k eta0 c)(gap0 - eta0 L M/(2c)).",
    paper_value="Δ_T ≤ η₀LM/(2c) + ∏(1−b_kη₀c)(Δ₀ − η₀LM/(2c)) (formula lost in extraction; text: rate ∏(1−b_tη₀c))",
    expect="confirmed",
)
def check_theorem1_bound() -> Outcome:
    steps = convergence.verify_derivation()
    schedule = [2**k for k in range(8) for _ in range(25)]
    params = dict(eta0=1.0 / (2.0 * 1.5 * 128), L=2.0, c=0.2, M=3.0, M_G=1.5, initial_gap=5.0)
    closed = convergence.abs_bound(schedule, **params)
    recursive = convergence.abs_bound_recursive(schedule, **params)
    agree = bool(np.allclose(closed, recursive, rtol=1e-12, atol=0.0))
    failed = [name for name, ok in steps.items() if not ok]
    verdict = judge.holds(not failed and agree)
    return Outcome(
        ours="Δ_{t+1} ≤ (1−b_tη₀c)Δ_t + LMη₀²b_t/2 ⇒ Δ_T ≤ F + ∏(1−b_kη₀c)(Δ₀−F), F = η₀LM/(2c)",
        verdict=verdict,
        evidence=f"sympy proves {len(steps) - len(failed)}/{len(steps)} steps ({', '.join(steps)}); "
        f"closed form = recursion to 1e-12 on a 200-step doubling schedule (Δ_200 = {closed[-1]:.6g}). "
        "M_G is the per-sample second-moment constant (the paper's M_V + 1); the batch mean then obeys "
        "E||g_B||² ≤ ||∇L||² + (M + (M_G−1)||∇L||²)/b ≤ M/b + M_G||∇L||², which is what makes "
        "η_t ≤ 1/(LM_G) enough for every b_t.",
        corrected=""
        if verdict == "confirmed"
        else f"steps that fail: {failed}; closed form vs recursion: {agree}",
        numbers={"steps": steps, "final_bound": float(closed[-1])},
    )


def _quadratic_threshold(batch: sp.Expr) -> sp.Expr:
    """Largest x = η_t λ for which the exact quadratic step stays below the one-step bound for every Δ."""
    x = sp.Symbol("x", positive=True)
    exact = convergence.quadratic_exact_one_step_expr()
    # The one-step bound with b η₀ = η_t and L = c = λ (the quadratic's constants).
    bound = convergence.one_step_recursion_expr().subs(
        convergence.eta0_sym, convergence.step_sym / convergence.b_sym
    )
    slack = sp.expand((bound - exact).subs(S.L, S.c).subs(convergence.step_sym, x / S.c))
    if sp.expand(slack.subs(convergence.gap_sym, 0)) != 0:
        raise ArithmeticError("the noise terms of the exact step and of the bound should coincide")
    # slack = Δ·x·(1 − x/x*): linear in x after dividing by Δ·x, so x* is its root.
    slope = sp.Poly(sp.cancel(sp.diff(slack, convergence.gap_sym) / x), x)
    root = -slope.nth(0) / slope.nth(1)
    return sp.factor(root.subs(convergence.b_sym, batch))


@claim(
    id="003.step-size-condition",
    seed="003",
    where="Theorem 1 (condition on η₀)",
    kind="derivation",
    statement="A fixed eta0 with 0 < eta0 <= 1/(L M_G b_max) and step b_t*eta0 makes the bound hold.",
    paper_value="η₀ ≤ 1/(L·M_G·b_max) (formula lost in extraction)",
    expect="confirmed",
)
def check_step_size_condition() -> Outcome:
    steps = convergence.verify_derivation()
    sufficient = steps["descent_relaxation"] and steps["contraction_in_unit_interval"]
    M_G = convergence.M_G_sym
    tight_at_one = _quadratic_threshold(sp.Integer(1))
    at_b = _quadratic_threshold(convergence.b_sym)
    is_tight = sp.simplify(tight_at_one - 1 / M_G) == 0
    verdict = judge.holds(sufficient)  # tightness is extra information, not part of the claim
    return Outcome(
        ours="sufficient; tight at b = 1 (η_tλ ≤ 1/M_G exactly), conservative for b > 1",
        verdict=verdict,
        evidence="η₀ ≤ 1/(LM_Gb_max) gives η_t = b_tη₀ ≤ 1/(LM_G), so the descent lemma's factor "
        "1 − Lη_tM_G/2 ≥ 1/2 and 0 ≤ 1 − b_tη₀c < 1 (sympy). On the 1-D quadratic λθ²/2 with "
        "multiplicative noise (Var ζ = M_G − 1) the exact step stays below the one-step bound iff "
        f"η_tλ ≤ {sp.sstr(at_b)}, which is {sp.sstr(tight_at_one)} at b = 1: the condition cannot be "
        "relaxed for single-sample steps.",
        corrected=""
        if verdict == "confirmed"
        else "the condition does not make the descent-lemma steps hold",
        numbers={"threshold_b": sp.sstr(at_b), "tight_at_b1": is_tight},
    )


def _steps_to_reach(factors: np.ndarray, target: float) -> int:
    below = np.nonzero(np.cumprod(factors) <= target)[0]
    return int(below[0]) + 1 if below.size else -1


@claim(
    id="003.adaptive-faster",
    seed="003",
    where="Sec. 3.2, after Theorem 1",
    kind="derivation",
    statement="With b_t = b_0 the rate is (1 - b_0 eta0 c)^T; with an adaptive (growing) b_t it is "
    "prod(1 - b_t eta0 c), so Alg. 1 can converge faster than basic SGD.",
    paper_value="∏(1−b_tη₀c) ≤ (1−b₀η₀c)^T: faster than SGD",
    expect="partly",
)
def check_adaptive_faster() -> Outcome:
    # b doubles every 100 steps from 1 to 128 (ABSA's ratio cap), η₀ = 1/(L M_G b_max), c/L = 0.01.
    b_max, kappa, target = 128, 0.01, 1e-3
    growing = np.array([min(2 ** (t // 100), b_max) for t in range(40_000)], dtype=float)
    eta0c = kappa / b_max  # L = M_G = 1
    q_growing = convergence.contraction_factors(growing, eta0=eta0c, c=1.0)
    q_fixed = convergence.contraction_factors(np.ones(400_000), eta0=eta0c, c=1.0)
    steps_g, steps_f = _steps_to_reach(q_growing, target), _steps_to_reach(q_fixed, target)
    samples_g = float(growing[:steps_g].sum())
    floors_equal = convergence.fixed_point_expr().diff(convergence.b_sym) == 0
    fewer_steps = 0 < steps_g < steps_f
    per_sample_gain = steps_f / samples_g  # fixed b = 1 uses one sample per step
    # whole claim: faster, and (as "converges faster" implies) to a better limit; the part: fewer updates
    verdict = judge.graded(fewer_steps and not floors_equal, fewer_steps)
    return Outcome(
        ours=f"to contract the gap by 1e3: {steps_g} vs {steps_f} steps, {samples_g:.0f} vs {steps_f} samples",
        verdict=verdict,
        evidence=f"doubling b from 1 to {b_max} every 100 steps, η₀c = {eta0c:.2e}: {steps_f / steps_g:.1f}x "
        f"fewer updates, but only {per_sample_gain:.4f}x fewer samples (log(1−x)/x decreases, so the "
        "per-sample gain is second order in bη₀c). The fixed point η₀LM/(2c) of the recursion does "
        "not depend on b_t (sympy): the growing batch reaches the same noise floor, sooner in updates.",
        corrected=""
        if verdict == "confirmed"
        else "Faster per update (∏(1−b_tη₀c) ≤ (1−b₀η₀c)^T for b_t ≥ b₀), not per sample (here "
        f"{per_sample_gain:.4f}x fewer samples), and to the same floor η₀LM/(2c): the gain is fewer, larger "
        "steps, not a better limit."
        if verdict == "partly"
        else f"Not faster here: {steps_g} updates with the growing batch against {steps_f} with b = 1.",
        numbers={"steps_growing": steps_g, "steps_fixed": steps_f, "samples_growing": samples_g},
    )


# --------------------------------------------------------------------------------------------------
# Appendix C: ring all-reduce and Table 3
# --------------------------------------------------------------------------------------------------


@claim(
    id="003.appc-ring-allreduce",
    seed="003",
    where="App. C (ring all-reduce, Thakur et al. 2005)",
    kind="derivation",
    statement="The ring all-reduce of n units over p processes costs 2(p-1)alpha + 2(p-1)/p n beta, "
    "about 2 p alpha + 2 n beta for large p.",
    paper_value="T_comm = 2(p−1)α + 2(p−1)nβ/p ≈ 2pα + 2nβ (formulas lost in extraction)",
    expect="confirmed",
)
def check_ring_allreduce() -> Outcome:
    p, alpha, beta, n = S.p, comm.alpha_sym, comm.beta_sym, comm.n_sym
    exact = comm.ring_allreduce_expr().subs(comm.gamma_sym, 0)
    printed = 2 * (p - 1) * alpha + 2 * (p - 1) / p * n * beta
    matches = sp.simplify(exact - printed) == 0
    ratio_limit = sp.limit(exact / comm.ring_allreduce_large_p_expr().subs(comm.gamma_sym, 0), p, sp.oo)
    t_comm, procs = SEED003_TABLE3["BL"]["t_comm"], SEED003_I3_IMAGENET["processes"]
    beta_max = t_comm / (2 * (procs - 1) / procs * RESNET18_BITS)
    alpha_max = t_comm / (2 * (procs - 1))
    verdict = judge.holds(matches and ratio_limit == 1)
    return Outcome(
        ours="Σ of 2(p−1) steps of α + (n/p)β = 2(p−1)α + 2(p−1)nβ/p; ratio to 2pα + 2nβ → 1",
        verdict=verdict,
        evidence="summed with sympy over p−1 reduce-scatter and p−1 all-gather steps (a reduction cost γ "
        "adds (p−1)nγ/p); tests run the ring step by step. With Table 3's T_comm = 0.015 s, p = 512 and "
        f"ResNet-18 in 32-bit ({RESNET18_BITS / 1e6:.0f} Mbit), the model needs β ≤ {beta_max:.2e} s/bit "
        f"(≥ {1 / beta_max / 8e9:.1f} GB/s) and α ≤ {alpha_max * 1e6:.1f} µs; the Cori2 values used "
        "were lost in extraction, so T_comm itself cannot be recomputed.",
        corrected="" if verdict == "confirmed" else f"sympy sum: {exact}",
        numbers={"beta_max_s_per_bit": beta_max, "alpha_max_s": alpha_max},
    )


def _total_within_rounding(paper_total: float, iterations: float, row: dict[str, float], n_h: float = 0.0):
    lo, hi = _per_update_bounds(row)
    low, high = iterations * lo + n_h * row["t_hess"], iterations * hi + n_h * row["t_hess"]
    return low <= paper_total <= high, low, high


@claim(
    id="003.table3-bl-total",
    seed="003",
    where="App. C, Table 3, row BL",
    kind="derivation",
    statement="BL on I3/ImageNet (90 epochs) takes 16666 s with T_comp = 2.2e-2 s and T_comm = 1.5e-2 s per update "
    "(a fit: the global batch 256 is chosen to reproduce this total).",
    paper_value="16666 s",
    expect="confirmed",
)
def check_table3_bl() -> Outcome:
    row = SEED003_TABLE3["BL"]
    iters = _bl_iterations()
    ours = comm.training_time(iters, row["t_comp"], row["t_comm"])
    ok, low, high = _total_within_rounding(row["total"], iters, row)
    text_n = comm.training_time(
        _bl_iterations(SEED003_I3_IMAGENET["n_train_text"]), row["t_comp"], row["t_comm"]
    )
    exact_n = comm.training_time(_bl_iterations(IMAGENET_TRAIN_EXACT), row["t_comp"], row["t_comm"])
    return Outcome(
        ours=f"{iters:.0f} updates × 0.037 s = {ours:.0f} s",
        verdict=judge.holds(ok),
        evidence=f"FIT, not a test: BL's global batch is not printed and 256 is the standard value that reproduces "
        "this total (see 003.table3-per-core-batch); the out-of-sample check is GG's total (003.table3-gg-total). "
        f"90 epochs × 1.28M/256 = {iters:.0f} updates; the printed T_comp and T_comm (±0.0005 s "
        f"each) put T_comp + T_comm in [{_per_update_bounds(row)[0]:.3f}, {_per_update_bounds(row)[1]:.3f}] s, giving [{low:.0f}, {high:.0f}] s, which holds 16666 ({ours:.0f} at 0.037 "
        f"exactly, {100 * (row['total'] / ours - 1):.2f}% off). With N = 1,281,167 (⌊N/256⌋ per epoch) "
        f"{exact_n:.0f} s; with the text's 1.2M images {text_n:.0f} s, outside the range: the table used 1.28M.",
        corrected="" if ok else f"the model gives {ours:.0f} s ([{low:.0f}, {high:.0f}])",
        numbers={"iterations": iters, "model_total": ours, "range": [low, high]},
    )


@claim(
    id="003.table3-gg-total",
    seed="003",
    where="App. C, Table 3, row GG",
    kind="derivation",
    statement="GG (batch x10 at epochs 30, 60, 80) takes 6150 s with the same per-update times as BL.",
    paper_value="6150 s",
    expect="confirmed",
)
def check_table3_gg() -> Outcome:
    row, bl = SEED003_TABLE3["GG"], SEED003_TABLE3["BL"]
    iters = _gg_iterations()
    ours = comm.training_time(iters, row["t_comp"], row["t_comm"])
    ok, low, high = _total_within_rounding(row["total"], iters, row)
    per_update_from_bl = bl["total"] / _bl_iterations()
    via_bl = iters * per_update_from_bl
    return Outcome(
        ours=f"{iters:.0f} updates × 0.037 s = {ours:.0f} s",
        verdict=judge.holds(ok),
        evidence="OUT-OF-SAMPLE: the batch 256 was fitted to BL's total; GG's total is not used in that fit. "
        f"Batches 256, 2560, 25600, 256000 for 30, 30, 20, 10 epochs of 1.28M images: "
        f"150000 + 15000 + 1000 + 50 = {iters:.0f} updates; rounding range [{low:.0f}, {high:.0f}] s holds 6150. "
        f"With the per-update time implied by the BL row (16666/450000 = {per_update_from_bl:.7f} s, i.e. "
        f"T_comm ≈ {per_update_from_bl - bl['t_comp']:.5f} s before rounding) GG takes {via_bl:.1f} s.",
        corrected="" if ok else f"the model gives {ours:.0f} s ([{low:.0f}, {high:.0f}])",
        numbers={"iterations": iters, "model_total": ours, "via_bl_per_update": via_bl},
    )


@claim(
    id="003.table3-per-core-batch",
    seed="003",
    where="App. C, text before Table 3",
    kind="derivation",
    statement="Table 3 simulates I3 on 512 processes with a per-core SGD batch of 16.",
    paper_value="512 processes × 16 images per core",
    expect="refuted",
)
def check_table3_per_core_batch() -> Outcome:
    row, info = SEED003_TABLE3["BL"], SEED003_I3_IMAGENET
    implied_updates = comm.implied_iterations(row["total"], row["t_comp"], row["t_comm"])
    implied_batch = info["epochs"] * IMAGENET_TRAIN / implied_updates
    stated_batch = info["processes"] * info["batch_per_core_sgd"]
    stated_updates = comm.iterations_for_schedule([(info["epochs"], stated_batch)], IMAGENET_TRAIN)
    stated_total = comm.training_time(stated_updates, row["t_comp"], row["t_comm"])
    lo, hi = _per_update_bounds(row)
    batch_range = (
        info["epochs"] * IMAGENET_TRAIN * lo / row["total"],
        info["epochs"] * IMAGENET_TRAIN * hi / row["total"],
    )
    consistent = batch_range[0] <= stated_batch <= batch_range[1]
    return Outcome(
        ours=f"BL total implies a global batch of {implied_batch:.0f}, not {stated_batch}",
        verdict=judge.holds(consistent),
        evidence=f"16666 s / 0.037 s = {implied_updates:.0f} updates = 90 × 1.28M / {implied_batch:.1f} "
        f"(range {batch_range[0]:.0f}-{batch_range[1]:.0f} from the rounding of T_comp, T_comm). A global batch "
        f"of 512 × 16 = {stated_batch} gives {stated_updates:.0f} updates and {stated_total:.0f} s. "
        "The totals charge every update the same T_comp whatever its batch size (GG's 256000 batches cost "
        "as much as BL's 256), so the time model is per update, not per image.",
        corrected=f"The BL total implies a global batch of {implied_batch:.0f} ({implied_batch / info['processes']:.2g} "
        f"image per process at p = {info['processes']}) with a batch-independent per-update cost; at "
        f"{info['batch_per_core_sgd']} images per core on {info['processes']} processes (batch {stated_batch}) BL "
        f"would take {stated_updates:.0f} updates, about {stated_total:.0f} s.",
        numbers={"implied_batch": implied_batch, "stated_batch": stated_batch},
    )


def _common_count_hessians() -> tuple[float, float, float]:
    """Hessian count if ABS and ABSA shared one update count, over the rounding box of the inputs."""
    abs_row, absa_row = SEED003_TABLE3["ABS"], SEED003_TABLE3["ABSA"]
    counts = []
    for d_abs, d_absa in itertools.product((-2 * HALF_UNIT, 0.0, 2 * HALF_UNIT), repeat=2):
        t_abs = abs_row["t_comp"] + abs_row["t_comm"] + d_abs
        t_absa = absa_row["t_comp"] + absa_row["t_comm"] + d_absa
        updates = (absa_row["total"] - abs_row["total"]) / (t_absa - t_abs)
        counts.append(((abs_row["total"] - updates * t_abs) / abs_row["t_hess"], updates))
    central = counts[4]
    return central[1], central[0], min(c for c, _ in counts)


@claim(
    id="003.table3-abs-absa-iterations",
    seed="003",
    where="App. C, Table 3, rows ABS and ABSA; Sec. 4.2 (I3 text)",
    kind="derivation",
    statement="ABS (2666 s) and ABSA (3467 s) follow from the time model with one Hessian eigenvalue per "
    "epoch, and (text) both use the same number of parameter updates.",
    paper_value="2666 s and 3467 s; 'both with [lost] parameter updates'",
    expect="partly",
)
def check_table3_abs_absa() -> Outcome:
    epochs = SEED003_I3_IMAGENET["epochs"]
    implied = {}
    for name in ("ABS", "ABSA"):
        row = SEED003_TABLE3[name]
        implied[name] = [
            comm.implied_iterations(row["total"], row["t_comp"], row["t_comm"], n_h, row["t_hess"])
            for n_h in (epochs, 0)
        ]
    common_updates, common_hessians, min_hessians = _common_count_hessians()
    consistent = min_hessians <= epochs
    bl_updates = _bl_iterations()
    # each total alone: a positive update count below BL's at one eigenvalue per epoch
    feasible = all(0 < implied[name][0] < bl_updates for name in implied)
    verdict = judge.all_or_some([feasible, consistent])
    return Outcome(
        ours=f"ABS {implied['ABS'][0]:.0f}-{implied['ABS'][1]:.0f}, ABSA {implied['ABSA'][0]:.0f}-"
        f"{implied['ABSA'][1]:.0f} updates; a common count needs ≈{common_hessians:.0f} Hessians",
        verdict=verdict,
        evidence=f"Each total alone is feasible at one eigenvalue per epoch ({feasible}); (total − n_H·1.15 s)/(T_comp + T_comm) for n_H from {epochs} (one per epoch) to 0: ABS "
        f"{implied['ABS'][0]:.0f}-{implied['ABS'][1]:.0f}, ABSA {implied['ABSA'][0]:.0f}-{implied['ABSA'][1]:.0f} "
        f"updates ({bl_updates / implied['ABS'][0]:.1f}x and {bl_updates / implied['ABSA'][0]:.1f}x fewer than "
        f"BL's {bl_updates:.0f}). A single count for both needs (3467 − 2666)/(0.051 − 0.037) = "
        f"{common_updates:.0f} updates and then {common_hessians:.0f} Hessian evaluations (at least "
        f"{min_hessians:.0f} within the rounding of the inputs), against at most {epochs} at one per epoch.",
        corrected=f"With one eigenvalue per epoch the totals imply different update counts, about "
        f"{implied['ABS'][0]:.0f} (ABS) and {implied['ABSA'][0]:.0f} (ABSA); equal counts would need "
        f"≈{common_hessians:.0f} Hessian computations (≈{common_hessians / epochs:.1f} per epoch).",
        numbers={
            "abs_updates": implied["ABS"],
            "absa_updates": implied["ABSA"],
            "common_hessians": common_hessians,
        },
    )


@claim(
    id="003.table5-bl-iterations",
    seed="003",
    where="App. D, Table 5, BL column",
    kind="derivation",
    statement="BL on C1 (Cifar-10, 90 epochs) uses the listed number of parameter updates for each batch size.",
    paper_value="35156, 7031, 1406, 878, 439, 281",
    expect="confirmed",
)
def check_table5_bl_iterations() -> Outcome:
    exact = {
        b: comm.iterations_for_schedule([(90, b)], 50_000, rounding="exact") for b in SEED003_C1_CIFAR10_ITERS
    }
    per_epoch = {b: comm.iterations_for_schedule([(90, b)], 50_000) for b in SEED003_C1_CIFAR10_ITERS}
    floored_once = {b: int(np.floor(v)) for b, v in exact.items()}
    ok = floored_once == SEED003_C1_CIFAR10_ITERS
    return Outcome(
        ours="⌊90·50000/b⌋ for every row",
        verdict=judge.holds(ok),
        evidence="the BL counts are the exact sample budget floored once (35156.25 → 35156), not "
        f"⌊N/b⌋ per epoch, which would give {[int(v) for v in per_epoch.values()]}.",
        corrected="" if ok else f"⌊90·50000/b⌋ = {floored_once}",
        numbers={"floored_once": floored_once},
    )
