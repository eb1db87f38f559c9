"""Seed 000 (batch adaptive training): App. C's overheads and App. D's Table 1, and the claims this package
cannot check here (the relation-extraction task, the 100-epoch Fashion-MNIST runs), registered as "needs".

The text's statements about Table 1 are checked against the table's own numbers (``tables.SEED000_TABLE1``).
"""

from __future__ import annotations

from paper_checks import judge
from paper_checks.registry import Outcome, claim, register_needs
from paper_checks.tables import SEED000_APPC_OVERHEAD_PERCENT, SEED000_TABLE1

#: App. D calls a gap "very close" without a number; we read it as under one accuracy point.
CLOSE_POINTS = 1.0
MINI = ("Mini-32", "Mini-64", "Mini-128", "Mini-256")


def _column(task: str, opt: str) -> dict[str, float]:
    return {method: cells[(task, opt)] for method, cells in SEED000_TABLE1.items()}


def _ranked(task: str, opt: str) -> list[str]:
    col = _column(task, opt)
    return sorted(col, key=col.get, reverse=True)


@claim(
    id="000.appD-ba-best-sgd",
    seed="000",
    where="App. D, Table 1",
    kind="transcription",
    statement="BA methods achieve the best test accuracy in two of the four cases, SGD-based on Fashion-MNIST "
    "and SGD-based on relation extraction.",
    paper_value="BA best: SGD/Fashion-MNIST 91.01%, SGD/relation extraction 75.57%",
    expect="confirmed",
)
def check_ba_best_sgd() -> Outcome:
    best = {
        case: _ranked(*case)[0]
        for case in (("fmnist", "sgd"), ("re", "sgd"), ("fmnist", "momentum"), ("re", "momentum"))
    }
    ba_best = [case for case, method in best.items() if method == "BA"]
    verdict = judge.exact_match(sorted(ba_best), sorted([("fmnist", "sgd"), ("re", "sgd")]))
    return Outcome(
        ours=f"BA best in {len(ba_best)}/4: {', '.join('/'.join(c) for c in ba_best)}",
        verdict=verdict,
        evidence="best method per column of Table 1: "
        + "; ".join(f"{'/'.join(c)}: {m} {_column(*c)[m]:.2f}%" for c, m in best.items()),
        corrected="" if verdict == "confirmed" else f"BA is best in {ba_best}",
    )


@claim(
    id="000.appD-ba-close-to-best",
    seed="000",
    where="App. D, Table 1",
    kind="transcription",
    statement="In the other two cases BA's accuracies, 91.33% and 88.46%, are very close to the best ones, "
    "91.64% and 89.02%.",
    paper_value="91.33 vs 91.64; 88.46 vs 89.02",
    expect="confirmed",
)
def check_ba_close() -> Outcome:
    gaps = {}
    for case in (("fmnist", "momentum"), ("re", "momentum")):
        col = _column(*case)
        gaps["/".join(case)] = (max(col.values()) - col["BA"], max(col.values()), col["BA"])
    close = [g[0] <= CLOSE_POINTS for g in gaps.values()]
    printed = [(91.64, 91.33), (89.02, 88.46)]
    same_numbers = [(g[1], g[2]) for g in gaps.values()] == printed
    verdict = judge.all_or_some([all(close), same_numbers])
    return Outcome(
        ours=", ".join(f"{k}: {g[0]:.2f} points below the best" for k, g in gaps.items()),
        verdict=verdict,
        evidence=f"from Table 1; 'very close' read as under {CLOSE_POINTS:g} accuracy point (the text gives no "
        f"number); the text's numbers match the table: {same_numbers}. Single runs, no spread reported.",
        corrected="" if verdict == "confirmed" else f"gaps {gaps}",
    )


@claim(
    id="000.appD-manual-fourth-re",
    seed="000",
    where="App. D, Table 1",
    kind="transcription",
    statement="Manual methods end up with the fourth highest test accuracies on the relation extraction task.",
    paper_value="Manual 4th of 6 (momentum and SGD)",
    expect="confirmed",
)
def check_manual_fourth() -> Outcome:
    ranks = {opt: _ranked("re", opt).index("Manual") + 1 for opt in ("momentum", "sgd")}
    verdict = judge.all_or_some([r == 4 for r in ranks.values()])
    return Outcome(
        ours=f"Manual ranks {ranks}",
        verdict=verdict,
        evidence="ranking of Table 1's relation-extraction columns: "
        + "; ".join(f"{o}: {_ranked('re', o)}" for o in ranks),
        corrected="" if verdict == "confirmed" else f"Manual ranks {ranks}",
    )


@claim(
    id="000.appD-larger-batch-worse-re",
    seed="000",
    where="Sec. 4.2 and App. D, Table 1",
    kind="transcription",
    statement="For relation extraction, the larger the batch size, the worse the model generalizes.",
    paper_value="accuracy falls from Mini-32 to Mini-256",
    expect="confirmed",
)
def check_larger_batch_worse() -> Outcome:
    falls = {}
    for opt in ("momentum", "sgd"):
        values = [SEED000_TABLE1[m][("re", opt)] for m in MINI]
        falls[opt] = (all(b < a for a, b in zip(values, values[1:])), values)
    verdict = judge.all_or_some([f for f, _ in falls.values()])
    return Outcome(
        ours=", ".join(f"{o}: strictly falling {f}" for o, (f, _) in falls.items()),
        verdict=verdict,
        evidence="Mini-32..256 on relation extraction: "
        + "; ".join(f"{o} {v}" for o, (_, v) in falls.items()),
        corrected="" if verdict == "confirmed" else "not monotone in the batch size",
    )


@claim(
    id="000.appD-momentum-best-differ",
    seed="000",
    where="App. D, Table 1",
    kind="transcription",
    statement="The best accuracies in the two momentum-based cases are achieved by totally different fixed "
    "batch sizes (a tuning process).",
    paper_value="different fixed batches",
    expect="confirmed",
)
def check_momentum_best_differ() -> Outcome:
    best = {task: max(MINI, key=lambda m: SEED000_TABLE1[m][(task, "momentum")]) for task in ("fmnist", "re")}
    verdict = judge.holds(best["fmnist"] != best["re"])
    return Outcome(
        ours=f"best fixed batch: Fashion-MNIST {best['fmnist']}, relation extraction {best['re']}",
        verdict=verdict,
        evidence="argmax over Mini-32..256 of Table 1's momentum columns",
        corrected="" if verdict == "confirmed" else "the same fixed batch is best in both",
    )


@claim(
    id="000.appC-overheads-transcribed",
    seed="000",
    where="App. C",
    kind="transcription",
    statement="Computing the optimal batch size takes 1.03% and 0.61% (BA-Momentum, BA-SGD) of the time per "
    "iteration on image classification, 1.31% and 0.92% on relation extraction: 'little time'.",
    paper_value="1.03/0.61/1.31/0.92 %",
    expect="confirmed",
)
def check_overheads_transcribed() -> Outcome:
    values = SEED000_APPC_OVERHEAD_PERCENT
    momentum_costs_more = all(values[(t, "ba-momentum")] > values[(t, "ba-sgd")] for t in ("fmnist", "re"))
    small = all(v < 2.0 for v in values.values())
    verdict = judge.all_or_some([small, momentum_costs_more])
    return Outcome(
        ours=f"all below 2% ({small}); BA-Momentum above BA-SGD on both tasks ({momentum_costs_more})",
        verdict=verdict,
        evidence="transcribed, not measured (the measurement is 000.appC-overheads-measured): "
        + ", ".join(f"{t}/{a}: {v}%" for (t, a), v in values.items())
        + ". 'Little time' read as under 2% of an iteration. Momentum computes μ = fᵀμ_P on top of BA-SGD's "
        "statistics, consistent with its higher share.",
        corrected="" if verdict == "confirmed" else "see evidence",
    )


_FMNIST_CMD = (
    "python -m realnets train --algo ba-momentum --dataset fashion-mnist --model fmnist-cnn "
    "--budget-epochs 100 --device cuda --lr 0.02 (and --algo ba-sgd, momentum/sgd --batch-size 32..256, "
    "manual; 3 seeds)"
)
_RE_REASON = (
    "the relation-extraction data (3855 financial documents, Miwa & Bansal's BiLSTM) is not public; a "
    "synthetic BiLSTM task would test the code path, not the paper's claim"
)
_RE_CMD = "not runnable: the data set is not public (a stand-in would need the lead's decision)"

for _id, _where, _kind, _statement, _value, _needs, _reason, _cmd in [
    (
        "000.sec4.2-lowest-in-three-of-four",
        "Sec. 4.2, Figs. 1-2",
        "training",
        "The BA methods reach the lowest training loss in three of the four cases (two tasks x SGD/momentum).",
        "lowest in 3 of 4",
        "Fashion-MNIST with the appendix A CNN for 100 epochs on a GPU, and the relation-extraction data",
        "the four cases need both tasks at the paper's budget; the digits quick tier is the momentum case "
        "at 8 epochs only (000.train-lowest-loss)",
        _FMNIST_CMD,
    ),
    (
        "000.re-epoch-224-spike",
        "Sec. 4.2, Fig. 2b",
        "training",
        "BA-SGD's relation-extraction loss jumps from 0.05 to 0.30 at epoch 224 and soon drops back, "
        "presumably from very inaccurate gradient estimates.",
        "0.05 -> 0.30 at epoch 224",
        "the relation-extraction data",
        _RE_REASON,
        _RE_CMD,
    ),
    (
        "000.appC-overheads-measured",
        "App. C",
        "training",
        "Computing m* takes about 1% of the time per iteration (1.03/0.61% on Fashion-MNIST).",
        "1.03% / 0.61%",
        "Fashion-MNIST with the appendix A CNN on a GPU",
        "the share depends on the model's forward/backward cost: the CPU-scale MLP would measure a different ratio",
        _FMNIST_CMD.replace("--budget-epochs 100", "--budget-epochs 1")
        + "; then the m*-search share of step time",
    ),
    (
        "000.appD-table1-measured",
        "App. D, Table 1",
        "training",
        "Best test accuracies of the 12 methods on Fashion-MNIST after 100 epochs (Table 1's left half).",
        "e.g. BA-Momentum 91.33%, Mini-128-Momentum 91.64%",
        "Fashion-MNIST, the appendix A CNN, 100 epochs on a GPU",
        "100 epochs x 12 methods x seeds of the CNN are GPU-hours",
        _FMNIST_CMD,
    ),
    (
        "000.sec4.2-ba-sgd-second",
        "Sec. 4.2, Fig. 1b",
        "training",
        "Among SGD-based methods on Fashion-MNIST BA-SGD reaches the second lowest loss; Mini-32-SGD the lowest.",
        "BA-SGD 2nd, Mini-32-SGD 1st",
        "Fashion-MNIST, the appendix A CNN, 100 epochs on a GPU",
        "the quick tier's 8 digits epochs are no stand-in for the 100-epoch ranking",
        _FMNIST_CMD,
    ),
    (
        "000.sec4.2-fewer-fluctuations",
        "Sec. 4.2, Fig. 1",
        "training",
        "BA-Momentum has fewer fluctuations in later training than most fixed-batch methods.",
        "fewer late fluctuations",
        "Fashion-MNIST, the appendix A CNN, 100 epochs on a GPU",
        "late-training fluctuations need the full budget",
        _FMNIST_CMD,
    ),
    (
        "000.re-lowest-loss",
        "Sec. 4.2, Fig. 2",
        "training",
        "On relation extraction BA-Momentum achieves the lowest training loss.",
        "BA-Momentum lowest",
        "the relation-extraction data",
        _RE_REASON,
        _RE_CMD,
    ),
    (
        "000.re-ba-sgd-fluctuates-less",
        "Sec. 4.2, Fig. 2",
        "training",
        "On relation extraction BA-SGD fluctuates much less than Mini-32-SGD late and ends lower.",
        "BA-SGD below Mini-32-SGD",
        "the relation-extraction data",
        _RE_REASON,
        _RE_CMD,
    ),
    (
        "000.re-momentum-batch-constant",
        "Sec. 4.2, Fig. 3b",
        "training",
        "On relation extraction the batch of BA-Momentum stays nearly constant at 32; BA-SGD grows rarely.",
        "≈32 throughout",
        "the relation-extraction data",
        _RE_REASON,
        _RE_CMD,
    ),
    (
        "000.appD-table1-re-measured",
        "App. D, Table 1",
        "training",
        "Best test accuracies (intersection over union) on relation extraction after 300 epochs.",
        "e.g. BA-SGD 75.57%, Mini-32-Momentum 89.02%",
        "the relation-extraction data",
        _RE_REASON,
        _RE_CMD,
    ),
]:
    register_needs(
        id=_id,
        seed="000",
        where=_where,
        kind=_kind,
        statement=_statement,
        paper_value=_value,
        needs=_needs,
        reason=_reason,
        command=_cmd,
    )
