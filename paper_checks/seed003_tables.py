"""Seed 003 (Yao et al., ABS/ABSA): the text's summary claims against the paper's own Tables 1, 2 and 4-7
(``tables.SEED003_ACCURACY_TABLES``), the update counts of the BL rows, and the claims that need training at
a scale this package cannot run here (registered as "needs").
"""

from __future__ import annotations

import math

from paper_checks import judge
from paper_checks.registry import Outcome, claim, register_needs
from paper_checks.tables import SEED003_ACCURACY_TABLES as TABLES

ABS_TABLES = ("Table 1", "Table 4", "Table 5", "Table 6", "Table 7")  # the text: "Tables 1 and 4-7"
#: SVHN (S1, Table 4): 73,257 train + 531,131 extra images; the BL rows at batch >= 512 fit 531,131 x 20 epochs.
SVHN_EXTRA = 531_131


@claim(
    id="003.abs-3-10x-fewer-updates",
    seed="003",
    where="Sec. 4.1 (text after Table 1)",
    kind="transcription",
    statement="Overall, the number of updates of ABS is 3-10 times smaller than BL with batch size 128.",
    paper_value="3-10x fewer updates than BL(128)",
    expect="partly",
)
def check_abs_fewer_updates() -> Outcome:
    ranges, inside, total = {}, 0, 0
    for name in ABS_TABLES:
        rows = TABLES[name]["rows"]
        bl128 = rows[128]["BL"][1]
        ratios = [bl128 / cells["ABS"][1] for b, cells in rows.items() if "ABS" in cells]
        ranges[name] = (min(ratios), max(ratios))
        inside += sum(3.0 <= r <= 10.0 for r in ratios)
        total += len(ratios)
    verdict = judge.graded(inside == total, inside)
    return Outcome(
        ours=f"{inside}/{total} ABS rows within 3-10x; ranges "
        + ", ".join(f"{TABLES[k]['model']} {lo:.1f}-{hi:.1f}x" for k, (lo, hi) in ranges.items()),
        verdict=verdict,
        evidence="BL(128) updates / ABS updates for every row of Tables 1 and 4-7: "
        + "; ".join(
            f"{k} ({TABLES[k]['model']}, {TABLES[k]['data']}): {lo:.2f}-{hi:.2f}x"
            for k, (lo, hi) in ranges.items()
        ),
        corrected=""
        if verdict == "confirmed"
        else "by the paper's own tables ABS needs "
        + ", ".join(f"{lo:.1f}-{hi:.1f}x ({TABLES[k]['model']})" for k, (lo, hi) in ranges.items())
        + " fewer updates than BL(128), not uniformly 3-10x",
        numbers={"ranges": ranges, "inside": inside, "total": total},
    )


@claim(
    id="003.absa-up-to-1pct",
    seed="003",
    where="Abstract and Sec. 1",
    kind="transcription",
    statement="The proposed method achieves equal or better test accuracy than the state of the art, up to 1%.",
    paper_value="equal or better, up to 1%",
    expect="refuted",
)
def check_up_to_one_percent() -> Outcome:
    gains, worse = {}, []
    for name, table in TABLES.items():
        rows = table["rows"]
        bl = rows[128]["BL"][0]
        row_gains = {b: cells["ABSA"][0] - bl for b, cells in rows.items() if "ABSA" in cells}
        gains[name] = max(row_gains.values())
        worse += [(name, b, round(g, 2)) for b, g in row_gains.items() if g < 0]
    best = max(gains.values())
    up_to_one = best <= 1.0 + 0.005  # printed to two decimals
    verdict = judge.all_or_some([up_to_one, not worse])
    return Outcome(
        ours=f"largest ABSA gain over BL(128) {best:.2f} points; ABSA below BL(128) in {len(worse)} rows",
        verdict=verdict,
        evidence="ABSA accuracy minus BL(128) accuracy, largest per table: "
        + ", ".join(f"{k} {g:+.2f}" for k, g in gains.items())
        + f"; rows below BL(128): {worse}",
        corrected=""
        if verdict == "confirmed"
        else f"by the tables the largest gain is {best:.2f} points ({max(gains, key=gains.get)}), and ABSA is below "
        f"BL(128) in {len(worse)} rows",
        numbers={"max_gain": gains, "rows_below_bl": worse},
    )


@claim(
    id="003.absa-best-most-cases",
    seed="003",
    where="Sec. 4.1",
    kind="transcription",
    statement="For most cases, ABSA achieves superior results (the best accuracy of the row).",
    paper_value="ABSA best in most rows",
    expect="confirmed",
)
def check_absa_best() -> Outcome:
    best, total = 0, 0
    for table in TABLES.values():
        for cells in table["rows"].values():
            if "ABSA" not in cells:
                continue
            total += 1
            best += cells["ABSA"][0] >= max(v[0] for v in cells.values())
    share = best / total
    verdict = judge.graded(share > 0.5, share > 0)
    return Outcome(
        ours=f"ABSA best in {best}/{total} rows ({share:.0%})",
        verdict=verdict,
        evidence="rows of Tables 1, 2, 4-7 with all methods; 'most' read as more than half; ties count "
        "as best",
        corrected="" if verdict == "confirmed" else f"ABSA is best in {best} of {total} rows",
        numbers={"best": best, "total": total},
    )


def _bl_budget(table: dict) -> int:
    """Samples of the BL schedule (epochs x N), fitted to the smallest batch's row: ceil(iters x b)."""
    rows = table["rows"]
    return 128 * rows[128]["BL"][1]


@claim(
    id="003.bl-iteration-counts",
    seed="003",
    where="Tables 1, 2, 6, 7 (BL columns)",
    kind="transcription",
    statement="The BL update counts of each table follow one sample budget, floor(epochs x N / b).",
    paper_value="e.g. C3: 78125, 39062, ..., 610",
    expect="partly",
)
def check_bl_counts() -> Outcome:
    results = {}
    for name in ("Table 1", "Table 2", "Table 6", "Table 7"):
        budget = _bl_budget(TABLES[name])  # FITTED on the b = 128 row; the other rows are the test
        bad = [b for b, cells in TABLES[name]["rows"].items() if cells["BL"][1] != budget // b]
        results[name] = (budget, bad)
    verdict = judge.all_or_some([not bad for _, bad in results.values()])
    return Outcome(
        ours=", ".join(f"{k}: {b:,} samples, mismatches {bad}" for k, (b, bad) in results.items()),
        verdict=verdict,
        evidence="the budget is fitted on the batch-128 row (128 x its count) and tested on every other row: "
        "C3 10,000,000 = 200 epochs x 50,000; I1 12,000,000 = 120 x 100,000; C2 4,499,968 ≈ 90 x 50,000; "
        "C4 8,000,000 = 160 x 50,000",
        corrected=""
        if verdict == "confirmed"
        else "rows off the floored budget: "
        + "; ".join(
            f"{k} batch {b}: printed {TABLES[k]['rows'][b]['BL'][1]}, ⌊{budget:,}/{b}⌋ = {budget // b} "
            f"(exact {budget / b:.2f})"
            for k, (budget, bad) in results.items()
            for b in bad
        )
        + " (rounded instead of floored)",
    )


@claim(
    id="003.table4-bl128-row",
    seed="003",
    where="App. D, Table 4, BL row at batch 128",
    kind="transcription",
    statement="BL for S1 on SVHN at batch 128 takes 81,986 updates, on the same budget as its other rows.",
    paper_value="81986",
    expect="refuted",
)
def check_table4_bl128() -> Outcome:
    rows = TABLES["Table 4"]["rows"]
    budget = 20 * SVHN_EXTRA
    others_ok = all(cells["BL"][1] == budget // b for b, cells in rows.items() if b != 128)
    expected = budget // 128
    printed = rows[128]["BL"][1]
    verdict = judge.exact_match(printed, expected) if others_ok else "partly"
    return Outcome(
        ours=f"⌊20 x 531,131 / 128⌋ = {expected:,}, printed {printed:,}",
        verdict=verdict,
        evidence=f"the rows at batch 512-131072 are ⌊{budget:,}/b⌋ exactly ({others_ok}: 20 epochs of SVHN's "
        f"531,131 'extra' images); at 128 that gives {expected:,}, {expected - printed:,} more than printed "
        f"({printed * 128 / 20:,.0f} images per epoch would be needed)",
        corrected=""
        if verdict == "confirmed"
        else f"Table 4's BL(128) count should be {expected:,} on the budget of its other rows (printed {printed:,}: "
        "probably a typo)",
        numbers={"expected": expected, "printed": printed},
    )


@claim(
    id="003.power-iteration-cost",
    seed="003",
    where="Sec. 1 (limitations)",
    kind="derivation",
    statement="The Hessian spectrum typically needs ten Hessian matvecs (power iterations to a tolerance of "
    "1e-2).",
    paper_value="~10 HVPs to 1e-2",
    expect="partly",
)
def check_power_iteration_cost() -> Outcome:
    r"""Power iteration's relative eigenvalue error falls as (λ₂/λ₁)^{2k} (Rayleigh quotient, symmetric
    matrix, start with unit overlap ratio); 10 iterations reach 1e-2 iff λ₂/λ₁ <= 1e-2^{1/20} ≈ 0.79."""
    ratio_needed = 1e-2 ** (1 / 20)
    iterations = {gap: math.ceil(math.log(1e-2) / (2 * math.log(gap))) for gap in (0.5, 0.8, 0.9, 0.99)}
    ten_enough = [k <= 10 for k in iterations.values()]
    verdict = judge.all_or_some(ten_enough)
    return Outcome(
        ours=f"10 HVPs reach 1e-2 only if λ₂/λ₁ ≤ {ratio_needed:.2f}",
        verdict=verdict,
        evidence="Rayleigh-quotient error of power iteration on a symmetric matrix ~ (λ₂/λ₁)^{2k} times the initial "
        "overlap ratio (taken as 1): iterations to 1e-2 at λ₂/λ₁ = "
        + ", ".join(f"{g}: {k}" for g, k in iterations.items())
        + ". Whether ten suffice depends on the spectral gap of the net's Hessian; measuring it needs "
        "training (003.power-iteration-measured).",
        corrected=f"ten matvecs are enough only for a clear spectral gap (λ₂/λ₁ ≤ {ratio_needed:.2f}); at "
        f"λ₂/λ₁ = 0.99 they need {iterations[0.99]}",
        numbers={"iterations": iterations},
    )


_ABS_CMD = (
    "python -m realnets train --algo absa --dataset cifar10 --model resnet18-cifar --device cuda "
    "--batch-size 128 --lr 0.1 --budget-epochs 90 --milestones 30,60,80 --hp r_max=128"
)
for _id, _where, _statement, _value, _needs, _reason, _cmd in [
    (
        "003.power-iteration-measured",
        "Sec. 1 and 4.3",
        "Ten power iterations reach a 1e-2 tolerance on the nets trained.",
        "~10 HVPs",
        "a trained ResNet and the Hessian probe on a GPU",
        "the spectral gap is a property of the trained net",
        _ABS_CMD,
    ),
    (
        "003.one-eigenvalue-per-epoch",
        "Sec. 1",
        "One top-eigenvalue computation per epoch suffices for ABS/ABSA.",
        "once per epoch",
        "ABS/ABSA training on Cifar-10 with eigenvalues every k samples vs every epoch",
        "ResNet training on Cifar-10 for 90 epochs, twice, is GPU work",
        _ABS_CMD + " --hp check_every=12800 (against the same run without check_every)",
    ),
    (
        "003.sec41-bl-fb-gg-training",
        "Sec. 4.1, Tables 1, 4-7",
        "BL degrades at large batch, FB collapses beyond "
        "~8k, GG keeps accuracy with more updates, ABS/ABSA match BL(128) with fewer updates (measured).",
        "e.g. C3: FB 32.57% at 16384",
        "Cifar-10/SVHN ResNets at batch up to 16k on a GPU",
        "batch 16k on ResNets is beyond 2 CPU cores",
        _ABS_CMD,
    ),
    (
        "003.tinyimagenet-absa",
        "Sec. 4.2, Table 2",
        "On TinyImageNet ABSA reaches better test accuracy than the other methods with fewer SGD iterations.",
        "ABSA 60.71-61.28%",
        "TinyImageNet (not in the data cache) and a GPU",
        "the data set is not available offline",
        _ABS_CMD + " (with a TinyImageNet dataset, not in realnets' registry)",
    ),
    (
        "003.imagenet-i2-i3",
        "Sec. 4.2, Fig. 2 and 5",
        "On ImageNet ABSA reaches BL's validation accuracy with far fewer updates (I2, I3).",
        "numbers lost in extraction",
        "ImageNet and many GPUs",
        "ImageNet training",
        _ABS_CMD + " (with an ImageNet dataset, not in realnets' registry)",
    ),
    (
        "003.block-hessian",
        "Sec. 4.3, Fig. 6",
        "The top eigenvalue of the last layers' block Hessian tracks the full Hessian's through training.",
        "similar trends (C1)",
        "C1 training with the block and full Hessian probes",
        "C1 (AlexNet-like) training on Cifar-10 is GPU work",
        _ABS_CMD.replace("resnet18-cifar", "alexnet-cifar") + " --hp block=last:2 (against block=)",
    ),
]:
    register_needs(
        id=_id,
        seed="003",
        where=_where,
        kind="training",
        statement=_statement,
        paper_value=_value,
        needs=_needs,
        reason=_reason,
        command=_cmd,
    )


#: App. B: epochs, lr-decay milestones and factor of each model (GG multiplies the batch there instead), and
#: the training-set size. S1's N is SVHN's 531,131 "extra" images (see 003.table4-bl128-row).
GG_SCHEDULES = {
    "Table 1": (200, (60, 120, 160), 5, 50_000),
    "Table 2": (120, (60, 90), 10, 100_000),
    "Table 4": (20, (5, 10, 15), 5, SVHN_EXTRA),
    "Table 5": (90, (30, 60, 80), 5, 50_000),
    "Table 6": (90, (30, 60, 80), 5, 50_000),
    "Table 7": (160, (80, 120), 10, 50_000),
}


def gg_updates(
    epochs: int,
    milestones: tuple[int, ...],
    factor: int,
    n_train: int,
    b_max: int,
    b0: int = 128,
    per_epoch_floor: bool = True,
) -> int:
    r"""GG's updates: batch b0, times ``factor`` at each milestone, capped at the row's batch b_max.

    With ``per_epoch_floor`` an epoch holds ⌊N/b0⌋·b0 samples (the baseline loader drops the last partial
    batch of b0); the count is ⌊Σ_phase epochs·samples/b⌋. Without it, N samples per epoch.
    """
    samples = (n_train // b0) * b0 if per_epoch_floor else n_train
    bounds = (0, *milestones, epochs)
    total, batch = 0.0, b0
    for k in range(len(bounds) - 1):
        total += (bounds[k + 1] - bounds[k]) * samples / batch
        batch = min(batch * factor, b_max)
    return math.floor(total + 1e-9)


@claim(
    id="003.gg-update-counts",
    seed="003",
    where="Tables 1, 2, 4-7 (GG columns) and App. B schedules",
    kind="transcription",
    statement="GG (Smith et al.) grows the batch by the lr-decay factor at the lr-decay epochs instead of decaying "
    "the lr, from 128 up to the row's batch size; its update counts follow.",
    paper_value="e.g. C1: 16380, 14508, 14449, 14400, 14383",
    expect="partly",
)
def check_gg_counts() -> Outcome:
    matched, rows, plain_off = 0, 0, []
    mismatches = []
    for name, (epochs, milestones, factor, n_train) in GG_SCHEDULES.items():
        for b, cells in TABLES[name]["rows"].items():
            if "GG" not in cells:
                continue
            rows += 1
            ours = gg_updates(epochs, milestones, factor, n_train, b)
            plain = gg_updates(epochs, milestones, factor, n_train, b, per_epoch_floor=False)
            printed = cells["GG"][1]
            matched += ours == printed
            if ours != printed:
                mismatches.append(f"{name} batch {b}: ours {ours}, printed {printed}")
            else:
                plain_off.append((plain - printed) / plain)
    share = matched / rows
    verdict = judge.graded(matched == rows, share >= 0.5)
    mean_off = sum(plain_off) / len(plain_off)
    return Outcome(
        ours=f"{matched}/{rows} GG counts reproduced exactly",
        verdict=verdict,
        evidence="GG from batch 128, multiplied by the model's lr-decay factor at its lr-decay epochs (App. B), "
        "capped at the row's batch; an epoch holds ⌊N/128⌋·128 samples (the baseline loader drops its last "
        f"partial batch), count = ⌊Σ epochs·samples/b⌋. On the rows reproduced, N samples per epoch would give "
        f"counts {100 * mean_off:.2f}% above the printed ones on average. Mismatches: {mismatches or 'none'}",
        corrected=""
        if verdict == "confirmed"
        else f"{matched} of {rows} GG counts follow the stated schedule; not "
        f"reproduced: {mismatches} (Table 4's S1 counts fit no schedule we found with its BL budget)",
        numbers={"matched": matched, "rows": rows, "mismatches": mismatches},
    )
