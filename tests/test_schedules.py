"""Closed-form schedules against their recursive (one milestone at a time) definitions, and seed 004's rules."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realnets.algorithms.schedules import (
    batch_for_effective_lr,
    effective_lr,
    manual_batch_size,
    manual_batch_step,
    milestones_passed,
    noise_decay_schedule,
    noise_decay_step,
    noise_scale,
    scaled_lr,
    warmup_lr,
    warmup_lr_step,
)

milestone_lists = st.lists(st.integers(1, 200), min_size=0, max_size=5, unique=True).map(sorted)


@given(
    lr0=st.floats(1e-4, 10.0),
    batch0=st.integers(1, 512),
    factor=st.integers(2, 10),
    growth_steps=st.integers(0, 5),
    milestones=milestone_lists,
)
def test_noise_decay_closed_form_equals_recursion(lr0, batch0, factor, growth_steps, milestones):
    max_batch = batch0 * factor**growth_steps
    batch, lr = batch0, lr0
    for k, epoch in enumerate([0.0, *map(float, milestones)]):
        if k > 0:
            batch, lr = noise_decay_step(batch, lr, factor=factor, max_batch=max_batch)
        closed = noise_decay_schedule(
            epoch, lr0=lr0, batch0=batch0, milestones=milestones, factor=factor, max_batch=max_batch
        )
        assert closed[0] == batch
        assert math.isclose(closed[1], lr, rel_tol=1e-12)


@given(
    lr0=st.floats(1e-4, 10.0),
    batch0=st.integers(1, 512),
    factor=st.integers(2, 10),
    max_growth=st.integers(0, 4),
    k=st.integers(0, 6),
)
def test_noise_scale_falls_by_the_factor_at_each_milestone(lr0, batch0, factor, max_growth, k):
    """eps_k / B_k = eps_0 / (B_0 f^k) whether the batch grows or the learning rate decays."""
    milestones = list(range(1, k + 1))
    batch, lr = noise_decay_schedule(
        float(k),
        lr0=lr0,
        batch0=batch0,
        milestones=milestones,
        factor=factor,
        max_batch=batch0 * factor**max_growth,
    )
    assert math.isclose(lr / batch, lr0 / (batch0 * factor**k), rel_tol=1e-12)
    assert batch == batch0 * factor ** min(k, max_growth)


def test_seed004_three_schedules_at_each_phase():
    # Seed 004, sec. 5.1: factor 5, three steps; decay-lr keeps B, increase-batch keeps eps, hybrid grows once.
    common = dict(lr0=0.1, batch0=128, milestones=[60, 120, 160], factor=5)
    decay = [noise_decay_schedule(e, max_batch=128, **common) for e in (0, 60, 120, 160)]
    grow = [noise_decay_schedule(e, max_batch=10**6, **common) for e in (0, 60, 120, 160)]
    hybrid = [noise_decay_schedule(e, max_batch=640, **common) for e in (0, 60, 120, 160)]
    assert [b for b, _ in decay] == [128] * 4
    assert [lr for _, lr in decay] == pytest.approx([0.1, 0.02, 0.004, 0.0008])
    assert [b for b, _ in grow] == [128, 640, 3200, 16000]
    assert [lr for _, lr in grow] == pytest.approx([0.1] * 4)
    assert [b for b, _ in hybrid] == [128, 640, 640, 640]
    assert [lr for _, lr in hybrid] == pytest.approx([0.1, 0.1, 0.02, 0.004])


@given(
    batch0=st.integers(1, 64), every=st.integers(1, 30), doublings=st.integers(0, 5), epoch=st.floats(0, 300)
)
def test_manual_closed_form_equals_doubling(batch0, every, doublings, epoch):
    max_batch = batch0 * 2**doublings
    batch = batch0
    for _ in range(math.floor(epoch / every)):
        batch = manual_batch_step(batch, max_batch=max_batch)
    assert manual_batch_size(epoch, batch0=batch0, every_epochs=every, max_batch=max_batch) == batch


def test_manual_seed000_setting():
    # Seed 000, sec. 4.2: start at 32, double every 25 epochs of a 100-epoch budget, reaching 256.
    sizes = [
        manual_batch_size(e, batch0=32, every_epochs=25, max_batch=256) for e in (0, 24.9, 25, 50, 75, 99)
    ]
    assert sizes == [32, 32, 64, 128, 256, 256]


@given(
    start=st.floats(1e-4, 1.0),
    target=st.floats(1e-4, 10.0),
    warmup=st.integers(1, 20),
    per_epoch=st.integers(1, 8),
    epochs=st.integers(0, 40),
)
def test_warmup_closed_form_equals_constant_increments(start, target, warmup, per_epoch, epochs):
    lr, delta = start, 1.0 / per_epoch
    for _ in range(epochs * per_epoch):
        lr = warmup_lr_step(lr, delta_epochs=delta, lr_start=start, lr_target=target, warmup_epochs=warmup)
    closed = warmup_lr(float(epochs), lr_start=start, lr_target=target, warmup_epochs=warmup)
    assert math.isclose(lr, closed, rel_tol=1e-9, abs_tol=1e-12)


def test_warmup_without_warmup_is_the_target():
    assert warmup_lr(0.0, lr_start=0.1, lr_target=0.8, warmup_epochs=0) == 0.8


@given(base=st.floats(1e-4, 1.0), batch=st.integers(1, 8192), base_batch=st.integers(1, 512))
def test_scaling_rules(base, batch, base_batch):
    assert scaled_lr(base, batch, base_batch, "none") == base
    assert math.isclose(
        scaled_lr(base, batch, base_batch, "linear"), base * batch / base_batch, rel_tol=1e-12
    )
    assert math.isclose(
        scaled_lr(base, batch, base_batch, "sqrt") ** 2, base**2 * batch / base_batch, rel_tol=1e-9
    )


def test_unknown_scaling_rule_raises():
    with pytest.raises(ValueError, match="Invalid lr_scaling"):
        scaled_lr(0.1, 64, 32, "cubic")


def test_batch_for_effective_lr_reproduces_seed004_rows():
    # Seed 004, sec. 5.2: (eps, m, B) = (0.1, 0.9, 128) -> (0.5, 0.9, 640) -> (0.5, 0.98, 3200).
    ref = dict(ref_lr=0.1, ref_momentum=0.9, ref_batch=128)
    assert batch_for_effective_lr(0.1, 0.9, **ref) == 128
    assert batch_for_effective_lr(0.5, 0.9, **ref) == 640
    assert batch_for_effective_lr(0.5, 0.98, **ref) == 3200


@given(
    lr=st.floats(1e-4, 5.0), momentum=st.floats(0.0, 0.99), n=st.integers(2, 100_000), frac=st.floats(0, 1)
)
def test_noise_scale_matches_theory(lr, momentum, n, frac):
    """The torch-side formula is written twice on purpose; theory's symbolic-backed version pins it."""
    from theory.noise_scale import effective_learning_rate
    from theory.noise_scale import noise_scale as theory_noise_scale

    batch = max(1, min(n, round(frac * n)))
    assert math.isclose(
        noise_scale(lr=lr, n_train=n, batch_size=batch, momentum=momentum),
        float(theory_noise_scale(lr=lr, n_train=n, batch_size=batch, momentum=momentum)),
        rel_tol=1e-9,
        abs_tol=1e-12,
    )
    assert math.isclose(
        effective_lr(lr=lr, momentum=momentum),
        float(effective_learning_rate(lr=lr, momentum=momentum)),
        rel_tol=1e-12,
    )


@given(milestones=milestone_lists, epoch=st.floats(0, 250))
def test_milestones_passed_counts(milestones, epoch):
    assert milestones_passed(epoch, milestones) == sum(m <= epoch for m in milestones)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("6,12,16", (6.0, 12.0, 16.0)),
        ([1, 2.5], (1.0, 2.5)),
        (30, (30.0,)),
        ("", None),
        ("3,2", None),
        ("a,b", None),
        ([-1], None),
    ],
)
def test_milestones_parsing(value, expected):
    from realnets.algorithms.common import parse_milestones

    if expected is None:
        with pytest.raises(ValueError, match="Invalid milestones"):
            parse_milestones(value)
    else:
        assert parse_milestones(value) == expected


# ------------------------------------------------------------------ schedules relative to the budget ---
def test_budget_fractions_resolve_to_epochs():
    from realnets.algorithms.schedules import resolve_budget_fractions

    hp = {"milestones": "30%,60%,80%", "warmup_epochs": "25%", "lr": 0.1, "every_epochs": 3.0}
    out = resolve_budget_fractions(hp, 10.0)
    assert out["milestones"] == "3,6,8"
    assert out["warmup_epochs"] == pytest.approx(2.5)
    assert out["every_epochs"] == 3.0 and out["lr"] == 0.1  # plain epochs and other keys untouched
    assert resolve_budget_fractions({"milestones": "2,50%"}, 20.0)["milestones"] == "2,10"
    assert hp["milestones"] == "30%,60%,80%"  # the input is not modified
    for bad in ("x%", "150%", "-5%"):
        with pytest.raises(ValueError, match="Invalid milestones"):
            resolve_budget_fractions({"milestones": bad}, 10.0)


def test_collapse_note_says_when_a_schedule_does_nothing():
    from realnets.algorithms.schedules import schedule_collapse_note

    note = schedule_collapse_note("decay-lr", {"milestones": "6,12,16"}, 2.0)
    assert "no milestone of decay-lr" in note and "30%,60%,80%" in note and "same run" in note
    assert schedule_collapse_note("decay-lr", {"milestones": "0.6,1.2"}, 2.0) is None
    assert "never grows" in schedule_collapse_note("manual", {"every_epochs": 5.0}, 2.0)
    assert "warm-up never" in schedule_collapse_note("lsr", {"warmup_epochs": 2.0}, 2.0)
    assert schedule_collapse_note("lsr", {"warmup_epochs": 0.5}, 2.0) is None


def test_percent_milestones_in_a_real_run(tmp_path, capsys):
    """increase-batch with --milestones 50% at a 1-epoch budget grows the batch half-way; with the
    default milestones (6,12,16) it never does, and the run says so on stderr."""
    import json

    from realnets.config import make_config
    from realnets.engine import train

    def run(name, hp):
        config = make_config(
            {
                "algo": "increase-batch",
                "budget_epochs": 1,
                "progress": False,
                "device": "cpu",
                "model": "mlp",
                "model_options": {"width": 8},
                "dataset": "digits",
                "hp": {"lr": 0.05, "batch_size": 128, "factor": 2.0, **hp},
                "out_dir": str(tmp_path / name),
            }
        )
        train(config, plots=False)
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return {
            r["batch_size"] for r in map(json.loads, lines) if r.get("kind") == "step" and "batch_size" in r
        }

    grown = run("fraction", {"milestones": "50%"})
    assert max(grown) == 256 and 128 in grown
    assert "note" not in capsys.readouterr().err
    constant = run("default", {})
    assert max(constant) == 128  # (the last batch is cut to the budget)
    assert "no milestone of increase-batch" in capsys.readouterr().err
