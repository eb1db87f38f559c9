"""``realnets compare --preset seed000-lr``: seed 000's fig. 4 grid (BA-Momentum against Mini-32-Momentum at the
four learning rates of sec. 4.3), validated without training."""

from __future__ import annotations

from realnets.compare import SEED000_FIG4_LRS, plan_grid, preset_algos


def test_seed000_lr_preset_pairs_ba_and_mini32_at_each_rate(tmp_path):
    specs = preset_algos("seed000-lr", 2.0)
    assert SEED000_FIG4_LRS == (0.005, 0.01, 0.02, 0.05)
    plan = plan_grid(specs, [0], [{"budget_epochs": 2.0}], tmp_path, preset="seed000-lr")
    rows = {
        (c.algo, c.algo_overrides()["lr"], c.algo_overrides().get("batch_size"))
        for c in plan["configs"].values()
    }
    expected = {("ba-momentum", lr, None) for lr in SEED000_FIG4_LRS}
    expected |= {("momentum", lr, 32) for lr in SEED000_FIG4_LRS}
    assert rows == expected
    assert sorted(plan["labels"].values())[0] == "BA-Momentum (lr=0.005)"


def test_the_table_shows_no_momentum_for_optimizers_that_ignore_it():
    from realnets.compare import _hp_cell

    sgd = {"algo": "Mini-32-SGD", "hparams": {"optimizer": "sgd", "momentum": 0.9, "batch_size": 32}}
    heavy_ball = {"algo": "Mini-32-Momentum", "hparams": {"optimizer": "momentum", "momentum": 0.9}}
    assert _hp_cell(sgd, "momentum") == "-"
    assert _hp_cell(heavy_ball, "momentum") == "0.9"
