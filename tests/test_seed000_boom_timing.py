"""Seed 000 sec. 4.4 / fig. 5: the boom's start and the point where a loss stops falling (realnets.boom), their
place in ``realnets compare``'s table and JSON, and the verdict of 000.sec4.4-boom-timing on synthetic
evidence for every outcome."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from paper_checks.seed000_training import boom_timing_part, boom_timing_verdict
from realnets.boom import PLATEAU_FACTOR, boom_period, loss_plateau


def _steps(batches, n_train=1000):
    samples, out = 0, []
    for b in batches:
        samples += b
        out.append({"batch_size": b, "samples": samples})
    return out


def _epochs(losses, per_epoch=1000, updates_per_epoch=10):
    return [
        {"train_loss": loss, "samples": i * per_epoch, "step": i * updates_per_epoch}
        for i, loss in enumerate(losses)
    ]


def test_boom_is_the_interval_where_grown_batches_concentrate():
    batches = [32] * 100 + [256, 256, 32, 256] * 15 + [32] * 40  # boom on updates 101-160
    boom = boom_period(_steps(batches), n_train=1000)
    assert boom["reference_batch"] == 32
    assert (boom["start_update"], boom["end_update"]) == (101, 160)
    assert boom["start_epoch"] == pytest.approx(100 * 32 / 1000)
    assert boom["share_inside"] == pytest.approx(0.75) and boom["share_outside"] == 0.0
    assert boom["llr"] > 0


def test_boom_with_scattered_grown_batches_keeps_the_denser_part():
    # one grown batch every 20 updates early, every 2nd update late: the boom is the late part
    batches = [64 if i % 20 == 0 else 32 for i in range(200)] + [64, 32] * 50
    boom = boom_period(_steps(batches), n_train=1000)
    assert boom["start_update"] == 201 and boom["end_update"] == 300
    assert boom["share_inside"] > boom["share_outside"]


def test_no_boom_without_a_grown_batch():
    assert boom_period(_steps([32] * 50 + [31]), n_train=1000) is None
    assert boom_period([], n_train=1000) is None


def test_loss_stops_falling_where_it_never_halves_again():
    losses = [2.0, 1.0, 0.5, 0.25, 0.2, 0.18, 0.2, 0.15, 0.19, 0.17, 0.16]
    flat = loss_plateau(_epochs(losses), n_train=1000)
    # from 0.25 the later minimum 0.15 is above 0.25 / 2; from 0.5 it is not
    assert flat == {"update": 30, "epoch": 3.0, "loss": 0.25, "lowest": 0.15}
    assert flat["lowest"] >= flat["loss"] / PLATEAU_FACTOR


def test_a_loss_still_falling_near_the_end_has_not_stopped():
    assert loss_plateau(_epochs([2.0 * 0.6**i for i in range(11)]), n_train=1000) is None
    assert loss_plateau(_epochs([2.0]), n_train=1000) is None
    # non-finite evaluations are skipped, the initial one never counts
    flat = loss_plateau(_epochs([2.0, math.nan, 1.5, 1.4, 1.3, 1.3]), n_train=1000)
    assert flat["epoch"] == 2.0


def test_part_earlier_reaches_every_state():
    assert boom_timing_part([3.0, 3.2, 2.8], z=2.0) == "holds"
    assert boom_timing_part([-3.0, -3.2, -2.8], z=2.0) == "fails"
    assert boom_timing_part([3.0, -2.0, 0.5], z=2.0) == "undecided"
    assert boom_timing_part([3.0, None, 2.0], z=2.0) == "unmeasured"
    assert boom_timing_part([3.0], z=2.0) == "unmeasured"


def test_part_near_reaches_every_state():
    assert boom_timing_part([0.5, -0.5, 0.2], z=2.0, tolerance=2.0) == "holds"
    assert boom_timing_part([-10.0, -11.0, -9.0], z=2.0, tolerance=2.0) == "fails"
    assert boom_timing_part([-2.0, -3.0, -1.0], z=2.0, tolerance=2.0) == "undecided"
    assert boom_timing_part([None, 0.0], z=2.0, tolerance=2.0) == "unmeasured"


@pytest.mark.parametrize(
    ("earlier", "near", "verdict"),
    [
        ("holds", ["holds", "holds"], "confirmed"),
        ("holds", ["holds", "fails"], "partly"),
        ("holds", ["unmeasured", "holds"], "partly"),
        ("fails", ["holds", "holds"], "partly"),
        ("fails", ["undecided", "holds"], "refuted at this scale"),
        ("undecided", ["fails", "holds"], "refuted at this scale"),
        ("unmeasured", ["undecided", "undecided"], "not reproducible at this scale"),
        ("undecided", ["unmeasured", "holds"], "not reproducible at this scale"),
    ],
)
def test_verdict_from_the_two_parts(earlier, near, verdict):
    assert boom_timing_verdict(earlier, near) == verdict


def _fake_run(run_dir: Path, batches, losses, n_train=1000):
    run_dir.mkdir(parents=True)
    lines = [{"kind": "step", "step": i + 1, "lr": 0.01, **r} for i, r in enumerate(_steps(batches))]
    lines += [
        {"kind": "epoch", "epoch": r["samples"] / n_train, "test_acc": 0.5, **r} for r in _epochs(losses)
    ]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    summary = {
        "final_train_loss": losses[-1],
        "final_test_acc": 0.5,
        "steps": len(batches),
        "n_train": n_train,
    }
    return SimpleNamespace(run_dir=run_dir, summary=summary, status="finished")


def test_compare_shows_boom_start_and_flat_loss_with_spread(tmp_path):
    from realnets.compare import format_table, summarize

    flat_losses = [2.0, 1.0, 0.5, 0.25, 0.2, 0.18, 0.2, 0.15, 0.19, 0.17, 0.16]
    results = {
        ("ba-momentum", 0): _fake_run(tmp_path / "ba0", [32] * 100 + [256] * 20, [2.0, 1.0, 0.5, 0.2]),
        ("ba-momentum", 1): _fake_run(tmp_path / "ba1", [32] * 110 + [256] * 20, [2.0, 1.0, 0.5, 0.2]),
        ("momentum", 0): _fake_run(tmp_path / "m0", [32] * 100, flat_losses),
        ("momentum", 1): _fake_run(tmp_path / "m1", [32] * 100, [2.0 * 0.6**i for i in range(11)]),
    }
    labels = {"ba-momentum": "BA-Momentum", "momentum": "Mini-32-Momentum"}
    rows = summarize(
        ["ba-momentum", "momentum"], [0, 1], results, labels, {"ba-momentum": {}, "momentum": {}}
    )
    ba, mini = rows
    assert ba["boom_seeds"] == 2 and ba["boom_start_update"] == 106 and ba["boom_start_update_std"] > 0
    assert ba["boom_start_epoch"] == pytest.approx((100 * 32 + 110 * 32) / 2 / 1000)
    assert mini["boom_seeds"] is None and mini["boom_start_update"] is None
    assert mini["loss_flat_seeds"] == 1 and mini["loss_flat_epoch"] == 3.0  # seed 1 is still falling
    json.dumps(rows)  # the JSON carries them
    text = format_table(rows)
    assert "batch-size boom starts" in text and "training loss stops falling" in text
    assert "BA-Momentum: update 106.0 ± 7.1, epoch 3.36 ± 0.23 (2/2 seeds)" in text
    assert "Mini-32-Momentum: update 30 ± 0, epoch 3.0 ± 0.0 (1/2 seeds)" in text
    assert "BA-Momentum: none in 2 seeds" in text  # its loss falls to the end in both seeds
