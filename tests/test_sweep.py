"""``realnets sweep`` (realnets.sweep): the grid, resumption, seed 002's threshold/k(m)/speed-up protocol, errors.

The end-to-end runs train a width-16 MLP on digits for 1-2 epochs (2 batch sizes x 2 strategies, a few
seconds in all).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from realnets.config import make_config
from realnets.engine import train
from realnets.plots import load_metrics
from realnets.sweep import first_crossing, main, plan_sweep, regimes, run_sweep

_TINY = [
    "--model-option",
    "width=16",
    "--budget-epochs",
    "2",
    "--lr",
    "0.05",
    "--batch-sizes",
    "32,128",
    "--strategies",
    "blr,lsr:warmup_epochs=0.5",
    "--no-plots",
]


def test_first_crossing_interpolates_linearly():
    curve = [(0.0, 2.0), (10.0, 1.0), (20.0, 0.5)]
    assert first_crossing(curve, 1.5) == pytest.approx(5.0)
    assert first_crossing(curve, 0.75) == pytest.approx(15.0)
    assert first_crossing(curve, 1.0) == pytest.approx(10.0)
    assert first_crossing(curve, 3.0) == 0.0
    assert first_crossing(curve, 0.1) is None
    assert first_crossing([(0.0, 2.0), (5.0, math.nan), (9.0, 0.1)], 1.0) == 9.0


def test_regimes_follow_the_local_exponent():
    m = [16, 32, 64, 128, 256]
    assert regimes(m, [1, 2, 4, 8, 16]) == ["base"] + ["linear"] * 4
    assert regimes(m, [1, 1, 1, 1, 1]) == ["base"] + ["plateau"] * 4
    assert regimes(m, [1, 2**0.5, 2, 2**1.5, 4]) == ["base"] + ["diminishing"] * 4
    assert regimes(m, [1, 2, 2.2, 0.0, None]) == ["base", "linear", "plateau", "not reached", "not reached"]
    assert regimes(m[:3], [1, 2**0.85, 2**1.0], linear_alpha=0.9) == ["base", "diminishing", "plateau"]


def test_sweep_end_to_end_on_digits(tmp_path, capsys):
    out = tmp_path / "grid"
    plan = plan_sweep([*_TINY, "--out", str(out)])
    assert [c.label(len(plan.cells), 1) for c in plan.cells[:2]] == [
        "cell 1/4: blr B=32 seed 0",
        "cell 2/4: blr B=128 seed 0",
    ]
    # interrupt one cell: the sweep must resume it, not retrain or skip it
    interrupted = plan.cells[1]
    result = train(make_config(interrupted.config, {"progress": False}), stop_after_steps=10, plots=False)
    assert result.status == "interrupted"
    analysis = run_sweep(plan)
    printed = capsys.readouterr().out
    assert "cell 4/4: lsr:warmup_epochs=0.5 B=128 seed 0" in printed
    assert "cell 2/4: blr B=128 seed 0\n  finished (resumed)" in printed
    summary = json.loads((out / "blr" / "data1" / "B128" / "seed0" / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["steps"] == math.ceil(2 * 1437 / 128)  # resumed to the full budget, not restarted on top
    written = json.loads((out / "sweep.json").read_text())
    assert (out / "sweep.txt").is_file()
    assert written["groups"] == json.loads(json.dumps(analysis["groups"]))
    for group in written["groups"]:
        # the paper's threshold: the lower quartile of the largest batch's logged full training losses
        _, epochs = load_metrics(
            out / group["strategy"].replace(":", "_").replace("=", "") / "data1" / "B128" / "seed0"
        )
        assert group["threshold"] == pytest.approx(
            float(np.quantile([r["train_loss"] for r in epochs], 0.25))
        )
        base, big = group["rows"]
        assert base["speedup"] == 1.0 and base["regime"] == "base"
        assert big["regime"] in ("linear", "diminishing", "plateau", "not reached")
        if big["speedup"] is not None:
            assert big["speedup"] == pytest.approx(base["k"][0] / big["k"][0])
            assert big["efficiency"] == pytest.approx(big["speedup"] / 4)
    # a second invocation skips every finished cell
    run_sweep(plan_sweep([*_TINY, "--out", str(out)]))
    assert capsys.readouterr().out.count("skipped (finished)") == 4


def test_changed_settings_in_the_same_folder_are_refused(tmp_path, capsys):
    out = tmp_path / "grid"
    args = [
        "--model-option",
        "width=8",
        "--budget-epochs",
        "0.5",
        "--batch-sizes",
        "64,256",
        "--strategies",
        "blr",
        "--no-plots",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args, "--lr", "0.2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a run with other settings" in err[0]


def test_step_loss_source_and_figures(tmp_path):
    out = tmp_path / "grid"
    plan = plan_sweep(
        [
            "--model-option",
            "width=8",
            "--budget-epochs",
            "1",
            "--batch-sizes",
            "32,64",
            "--strategies",
            "srsr",
            "--loss-source",
            "step",
            "--log-every",
            "5",
            "--out",
            str(out),
        ]
    )
    analysis = run_sweep(plan)
    group = analysis["groups"][0]
    steps, _ = load_metrics(out / "srsr" / "data1" / "B32" / "seed0")
    curve = group["curves"]["B32/seed0"]
    assert len(curve) == len(steps) // 5
    assert curve[0][0] == pytest.approx(2.0)  # the first window holds updates 0..4: centre 2
    assert curve[0][1] == pytest.approx(np.mean([r["loss"] for r in steps[:5]]))
    assert (out / "speedup.png").stat().st_size > 0 and (out / "curves.png").stat().st_size > 0


def test_data_fraction_uses_num_train_where_the_dataset_has_it():
    plan = plan_sweep(
        [
            "--dataset",
            "synthetic-classification",
            "--data-fraction",
            "1,0.5,0.25",
            "--batch-sizes",
            "16,64",
            "--strategies",
            "blr",
            "--out",
            "unused",
        ]
    )
    options = {c.fraction: c.config["dataset_options"].get("num_train") for c in plan.cells}
    assert options == {1.0: None, 0.5: 2000, 0.25: 1000}
    assert len({c.run_dir for c in plan.cells}) == len(plan.cells) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-sizes", "16"], "Invalid batch sizes"),
        (["--batch-sizes", "16,0"], "Invalid batch sizes"),
        (["--strategies", "nope"], "Invalid algo"),
        (["--strategies", "blr:batch_size=4"], "batch_size is set by --batch-sizes"),
        (["--strategies", "blr:warp=2"], "Invalid strategy option"),
        (["--hp", "warmup_epochs=1", "--strategies", "blr"], "Invalid hyperparameter"),
        (["--strategies", "lsr:warmup_epochs=-1"], "warmup_epochs"),
        (["--data-fraction", "0"], "Invalid data fraction"),
        (["--data-fraction", "1.5"], "Invalid data fraction"),
        (["--quantile", "2"], "Invalid quantile"),
        (["--loss-source", "test"], "Invalid loss source"),
        (["--jobs", "0"], "Invalid jobs"),
        (["--plateau-alpha", "0.9"], "Invalid plateau alpha"),
        (["--model", "nonet"], "Invalid model"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    assert main([*args, "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "never").exists()  # nothing trained or written before the grid is valid


@pytest.mark.slow
@pytest.mark.slow  # two spawned workers import torch: ~10 s on an idle 2-core box, 40 s on a loaded one
def test_parallel_jobs_give_the_same_table(tmp_path, capsys):
    small = [*_TINY, "--strategies", "blr", "--budget-epochs", "1"]  # 2 cells: the spawn cost dominates
    serial = run_sweep(plan_sweep([*small, "--out", str(tmp_path / "a")]))
    parallel = run_sweep(plan_sweep([*small, "--out", str(tmp_path / "b"), "--jobs", "2"]))
    assert [r["k"] for g in serial["groups"] for r in g["rows"]] == [
        r["k"] for g in parallel["groups"] for r in g["rows"]
    ]


def test_data_fraction_on_real_data_trains_on_a_stratified_subset(tmp_path):
    import torch

    from realnets.engine.task import build_task

    plan = plan_sweep([*_TINY, "--data-fraction", "1,0.5", "--out", str(tmp_path / "g")])
    half = [c for c in plan.cells if c.fraction == 0.5]
    assert half and all(c.config["train_fraction"] == 0.5 for c in half)
    assert all(c.config.get("train_fraction", 1.0) == 1.0 for c in plan.cells if c.fraction == 1.0)
    full = build_task(make_config(plan.cells[0].config), torch.device("cpu"))
    task = build_task(make_config(half[0].config), torch.device("cpu"))
    n_full, n_half = full.x_train.shape[0], task.x_train.shape[0]
    assert abs(n_half - n_full / 2) <= 10  # per-class rounding
    per_class = torch.bincount(task.y_train, minlength=10).double() / torch.bincount(
        full.y_train, minlength=10
    )
    assert torch.allclose(per_class, torch.full((10,), 0.5, dtype=torch.float64), atol=0.02)  # stratified


def test_eval_every_logs_the_full_loss_at_fixed_update_intervals(tmp_path):
    from realnets.sweep import loss_curve

    config = make_config(
        {
            "algo": "sgd",
            "budget_epochs": 1,
            "progress": False,
            "device": "cpu",
            "model": "mlp",
            "model_options": {"width": 8},
            "dataset": "digits",
            "hp": {"lr": 0.05, "batch_size": 64},
            "eval_every": 7,
            "out_dir": str(tmp_path / "run"),
        }
    )
    train(config, plots=False)
    curve = loss_curve(tmp_path / "run")
    updates = math.ceil(1437 / 64)
    # the engine's evaluation before the first update, the evals every 7 updates, then the epoch end
    assert [k for k, _ in curve] == [0.0, 7.0, 14.0, 21.0, float(updates)]
    assert all(math.isfinite(v) and v > 0 for _, v in curve)
    with pytest.raises(ValueError, match="Invalid eval_every"):
        make_config({"eval_every": 0})


def test_eval_points_give_each_cell_its_own_interval(tmp_path):
    args = [*_TINY, "--batch-sizes", "16,64,1000", "--eval-points", "10", "--out", str(tmp_path / "g")]
    plan = plan_sweep(args)
    for cell in plan.cells:
        updates = math.ceil(2 * 1437 / cell.batch_size)  # 2 epochs of the 1437 digits training images
        assert cell.config["eval_every"] == max(1, updates // 10)
    assert {c.batch_size: c.config["eval_every"] for c in plan.cells} == {16: 18, 64: 4, 1000: 1}
    with pytest.raises(ValueError, match="Invalid eval points: '10' .*not both"):
        plan_sweep([*args, "--eval-every", "5"])
    with pytest.raises(ValueError, match="Invalid eval points: '0'"):
        plan_sweep([*_TINY, "--eval-points", "0", "--out", str(tmp_path / "h")])
