"""One signature per shared formula (issue 8, item 5).

A formula written in more than one room (``theory``: derived with sympy, ``sim``: NumPy, ``realnets``: plain
Python beside torch) takes keyword-only arguments with the same names and meanings in every room, so each test
below builds ONE dict of keyword arguments and passes it unchanged to every implementation.

These are TRANSCRIPTION checks across rooms, not independent cross-checks: they catch a formula typed wrong in
one room, or arguments that mean different things (``sigma`` a standard deviation in one room and a variance
in another), but not an error shared by every room. The independent evidence lives elsewhere: quadrature and
``scipy.stats.foldnorm`` for eq. 7 (``tests/test_theory_rebound_walk.py``), Monte-Carlo games
(``tests/test_theory_vs_sim.py``), the Monte-Carlo batch variance under the noise scale
(``tests/test_theory_vs_sim_dynamics.py``) and the measured ring all-reduce (``tests/test_comm.py``).

The one exception is the Monte-Carlo ``sim.rebound_walk.one_step``: it estimates E_m[s_{t+1}] from draws and is
compared within 5 standard errors (false-alarm rate ~6e-7 per comparison).
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.rebound_walk as sim_walk
import sim.sde as sim_sde
import theory.comm as theory_comm
import theory.noise_scale as theory_noise
import theory.rebound_walk as theory_walk
from realnets import comm as realnets_comm
from realnets.algorithms import ba as realnets_ba
from realnets.algorithms import schedules as realnets_schedules

Z = 5.0  # Monte-Carlo tolerance in standard errors

# ------------------------------------------------------------------------------ the formulas and their rooms
#: formula -> (the shared keyword-only parameters, the implementations in each room)
SHARED = {
    "expected next state E_m[s_{t+1}] (seed 000 eq. 7)": (
        ("m", "s", "mu", "sigma", "eta", "s_star"),
        [theory_walk.expected_next_state, realnets_ba.expected_next_state, sim_walk.one_step],
    ),
    "utility u(m) (seed 000 eq. 8)": (
        ("m", "s", "mu", "sigma", "eta", "s_star"),
        [theory_walk.utility, realnets_ba.utility, sim_walk.sim_utility],
    ),
    "optimal batch size m* (seed 000 eq. 9)": (
        ("s", "mu", "sigma", "eta", "s_star", "m_max"),
        [theory_walk.optimal_batch_size_int, realnets_ba.optimal_batch_size, sim_walk.maximise_utility],
    ),
    "noise scale g = eps/(1-m) (N/B - 1) (seed 004)": (
        ("lr", "n_train", "batch_size", "momentum"),
        [theory_noise.noise_scale, sim_sde.noise_scale, realnets_schedules.noise_scale],
    ),
    "effective learning rate eps/(1-m) (seed 004)": (
        ("lr", "momentum"),
        [theory_noise.effective_learning_rate, realnets_schedules.effective_lr],
    ),
    "ring all-reduce time (seed 003 App. C)": (
        ("workers", "n_bytes", "alpha", "beta", "gamma"),
        [theory_comm.ring_allreduce_time, realnets_comm.ring_allreduce_time],
    ),
}
#: members of the same families written in one room only: the same names, keyword-only, pinned against the
#: other rooms' functions by the tests named in the comments
ONE_ROOM = {
    "utility derivative du/dm (seed 000 eq. 8)": (
        ("m", "s", "mu", "sigma", "eta", "s_star"),
        [
            theory_walk.utility_derivative
        ],  # test_theory_utility_derivative_is_the_slope_of_the_other_rooms_utility
    ),
    "expected decrease s - E_m[s_{t+1}] (seed 000 eq. 7)": (
        ("m", "s", "mu", "sigma", "eta", "s_star"),
        [realnets_ba.expected_decrease],  # test_utility_and_expected_next_state_agree_in_every_room
    ),
    "the rest of the rebound walk": (
        ("s", "mu", "sigma", "eta", "s_star"),
        [
            theory_walk.unit_batch_is_optimal,
            theory_walk.utility_increases_forever,
            theory_walk.optimal_batch_size,
            theory_walk.optimal_batch_size_sensitivity,
        ],
    ),
    "Monte-Carlo draws of the next state (seed 000 eq. 6)": (
        ("m", "s", "mu", "sigma", "eta", "s_star"),
        [sim_walk.next_state_samples],
    ),
    "ring all-reduce, many-process limit (seed 003 App. C)": (
        ("workers", "n_bytes", "alpha", "beta", "gamma"),
        [theory_comm.ring_allreduce_time_large_p],
    ),
}


def _room(fn) -> str:
    return fn.__module__.split(".")[0]


def test_each_shared_formula_lives_in_at_least_two_rooms():
    for formula, (_, functions) in SHARED.items():
        assert len({_room(fn) for fn in functions}) >= 2, formula


@pytest.mark.parametrize("formula", sorted(SHARED | ONE_ROOM))
def test_every_implementation_takes_the_shared_names_keyword_only(formula):
    names, functions = (SHARED | ONE_ROOM)[formula]
    for fn in functions:
        params = inspect.signature(fn).parameters
        missing = [n for n in names if n not in params]
        assert not missing, f"{fn.__module__}.{fn.__name__} lacks {missing}"
        positional = [n for n, p in params.items() if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        assert not positional, f"{fn.__module__}.{fn.__name__} takes {positional} by position"


# ------------------------------------------------------------------------------------------ the rebound walk
gaps = st.floats(min_value=1e-3, max_value=5.0)
floors = st.floats(min_value=-2.0, max_value=2.0)
means = st.floats(min_value=-2.0, max_value=5.0)
noises = st.floats(min_value=0.05, max_value=20.0)
rates = st.floats(min_value=1e-3, max_value=1.0)
batches = st.integers(min_value=1, max_value=5000)


def _walk(gap, floor, mean, noise, rate, batch=None):
    walk = {"s": floor + gap, "mu": mean, "sigma": noise, "eta": rate, "s_star": floor}
    return walk if batch is None else walk | {"m": batch}


@settings(max_examples=60, deadline=None)
@given(gaps, floors, means, noises, rates, batches)
def test_utility_and_expected_next_state_agree_in_every_room(gap, floor, mean, noise, rate, batch):
    walk = _walk(gap, floor, mean, noise, rate, batch)
    u = theory_walk.utility(**walk)
    # The utility is a difference of O(s) terms divided by m: compare on the scale of its parts.
    scale = (gap + abs(rate * mean) + rate * noise) / batch
    assert realnets_ba.utility(**walk) == pytest.approx(u, rel=1e-9, abs=1e-12 * scale)
    assert float(sim_walk.sim_utility(**walk)) == pytest.approx(u, rel=1e-9, abs=1e-12 * scale)
    nxt = theory_walk.expected_next_state(**walk)
    assert realnets_ba.expected_next_state(**walk) == pytest.approx(nxt, rel=1e-12, abs=1e-12 * batch * scale)
    assert realnets_ba.expected_decrease(**walk) == pytest.approx(
        u * batch, rel=1e-9, abs=1e-12 * batch * scale
    )


@pytest.mark.parametrize(
    "walk",
    [
        dict(m=113, s=0.05, mu=1.0, sigma=20.0, eta=0.02, s_star=0.0),  # seed 000's worked example
        dict(m=4, s=1.5, mu=2.0, sigma=3.0, eta=0.3, s_star=0.5),
        dict(m=1, s=0.2, mu=-1.0, sigma=1.0, eta=0.1, s_star=0.0),  # momentum against the gradient
    ],
)
def test_the_monte_carlo_next_state_agrees_within_its_standard_error(walk):
    estimate = sim_walk.one_step(**walk, n=40_000, seed=0)
    for exact in (theory_walk.expected_next_state(**walk), realnets_ba.expected_next_state(**walk)):
        assert abs(estimate.mean - exact) <= Z * estimate.stderr


@settings(max_examples=40, deadline=None)
@given(gaps, floors, means, noises, rates, st.integers(min_value=4, max_value=4000))
def test_theory_utility_derivative_is_the_slope_of_the_other_rooms_utility(
    gap, floor, mean, noise, rate, batch
):
    walk = _walk(gap, floor, mean, noise, rate)
    h = 1e-3 * batch
    exact = theory_walk.utility_derivative(m=batch, **walk)
    # Truncation of the central difference ~ h^2 |u'''| ~ 1e-6 |u'|; rounding ~ 1e-16 |u| m / h.
    scale = (gap + abs(rate * mean) + rate * noise) / batch**2
    for utility in (realnets_ba.utility, sim_walk.sim_utility):
        slope = (float(utility(m=batch + h, **walk)) - float(utility(m=batch - h, **walk))) / (2 * h)
        assert slope == pytest.approx(exact, rel=1e-4, abs=1e-9 * scale), utility.__module__


@settings(max_examples=40, deadline=None)
@given(gaps, floors, st.floats(min_value=1e-2, max_value=5.0), noises, rates)
def test_the_three_maximisers_find_the_same_integer_optimum(gap, floor, mean, noise, rate):
    walk = _walk(gap, floor, mean, noise, rate) | {"m_max": 100_000}
    found = {
        "theory": float(theory_walk.optimal_batch_size_int(**walk)),
        "realnets": float(realnets_ba.optimal_batch_size(**walk)),
        "sim": float(sim_walk.maximise_utility(**walk)),
    }
    state = {k: v for k, v in walk.items() if k != "m_max"}
    utilities = {room: theory_walk.utility(m=m, **state) for room, m in found.items()}
    best = max(utilities.values())
    # Equal integers, or different integers whose utilities tie to rounding (a flat maximum, or the
    # realnets/sim shortcuts m* = 1 where the rebound term is below 1e-6 of the step).
    tie = 1e-6 * abs(best) + 1e-15 * (gap + abs(rate * mean) + rate * noise)
    for room, u in utilities.items():
        assert u >= best - tie, (room, found)


def test_the_paper_example_gives_113_in_every_room():
    walk = dict(s=0.05, mu=1.0, sigma=20.0, eta=0.02, s_star=0.0, m_max=60_000)
    assert theory_walk.optimal_batch_size_int(**walk) == 113
    assert realnets_ba.optimal_batch_size(**walk) == 113
    assert sim_walk.maximise_utility(**walk) == 113


def test_the_old_sigma_for_sigma2_mistake_cannot_be_written():
    # realnets.algorithms.ba.utility once took (m, s, mu, sigma2, eta) by position while theory took
    # (m, s, mu, sigma, eta): passing sigma = 20 where sigma2 = 400 was meant gave a utility 6.4x too large,
    # silently. Now both take sigma, the standard deviation, and only by keyword.
    walk = dict(m=64, s=0.05, mu=1.0, eta=0.02)
    right = theory_walk.utility(**walk, sigma=20.0)
    assert realnets_ba.utility(**walk, sigma=20.0) == pytest.approx(right, rel=1e-12)
    assert realnets_ba._utility(64, 0.05, 1.0, 20.0, 0.02) != pytest.approx(right, rel=0.5)  # the old mistake
    for fn in (
        realnets_ba.utility,
        theory_walk.utility,
        sim_walk.sim_utility,
        realnets_ba.expected_next_state,
    ):
        with pytest.raises(TypeError):
            fn(64, 0.05, 1.0, 400.0, 0.02)
        with pytest.raises(TypeError):
            fn(**walk, sigma2=400.0)
    with pytest.raises(TypeError):
        realnets_ba.optimal_batch_size(s=0.05, mu=1.0, sigma2=400.0, eta=0.02, m_max=100)
    with pytest.raises(ValueError, match="Invalid sigma"):
        realnets_ba.utility(**walk, sigma=-20.0)


# --------------------------------------------------------------------------------------------- noise scale
@settings(max_examples=60, deadline=None)
@given(
    lr=st.floats(min_value=1e-4, max_value=10.0),
    n_train=st.integers(min_value=2, max_value=10**6),
    fraction=st.floats(min_value=0.0, max_value=1.0),
    momentum=st.floats(min_value=0.0, max_value=0.99),
)
def test_noise_scale_and_effective_lr_agree_in_every_room(lr, n_train, fraction, momentum):
    args = dict(lr=lr, n_train=n_train, batch_size=max(1, round(fraction * n_train)), momentum=momentum)
    g = float(theory_noise.noise_scale(**args))
    # Near B = N the formula cancels; the float error is relative to lr / ((1 - m) B).
    floor = 1e-12 * lr / ((1 - momentum) * args["batch_size"])
    assert sim_sde.noise_scale(**args) == pytest.approx(g, rel=1e-12, abs=floor)
    assert realnets_schedules.noise_scale(**args) == pytest.approx(g, rel=1e-12, abs=floor)
    eff = dict(lr=lr, momentum=momentum)
    assert realnets_schedules.effective_lr(**eff) == pytest.approx(
        float(theory_noise.effective_learning_rate(**eff)), rel=1e-12
    )


def test_noise_scale_refuses_the_old_positional_call():
    for fn in (theory_noise.noise_scale, sim_sde.noise_scale, realnets_schedules.noise_scale):
        with pytest.raises(TypeError):
            fn(0.1, 50_000, 128, 0.9)
    with pytest.raises(TypeError):
        realnets_schedules.noise_scale(lr=0.1, n_train=50_000, batch=128)  # the old realnets name


# ------------------------------------------------------------------------------------ ring all-reduce time
@settings(max_examples=60, deadline=None)
@given(
    workers=st.integers(min_value=1, max_value=4096),
    n_bytes=st.floats(min_value=0.0, max_value=1e10),
    alpha=st.floats(min_value=0.0, max_value=1e-3),
    beta=st.floats(min_value=0.0, max_value=1e-8),
    gamma=st.floats(min_value=0.0, max_value=1e-8),
)
def test_ring_allreduce_time_agrees_in_theory_and_realnets(workers, n_bytes, alpha, beta, gamma):
    args = dict(workers=workers, n_bytes=n_bytes, alpha=alpha, beta=beta, gamma=gamma)
    expected = float(theory_comm.ring_allreduce_time(**args))
    assert realnets_comm.ring_allreduce_time(**args) == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert math.isfinite(expected) and expected >= 0


# -------------------------------------------------------------------- formulas kept apart on purpose


def test_batch_for_the_same_noise_scale_agrees_under_its_two_parametrisations():
    """B = B_ref (eps/(1-m)) / (eps_ref/(1-m_ref)): sim names the reference ``base_*``, realnets ``ref_*``.

    Not unified: ``realnets`` rounds to a whole batch for training and reads its reference from hyperparameters
    named ``ref_lr``/``ref_momentum``/``ref_batch_size``; this pins the two against each other instead.
    """
    for lr, momentum, expected in ((0.1, 0.9, 128), (0.5, 0.9, 640), (0.5, 0.98, 3200)):  # seed 004 Sec. 5.2
        ours = realnets_schedules.batch_for_effective_lr(
            lr, momentum, ref_lr=0.1, ref_momentum=0.9, ref_batch=128
        )
        theirs = sim_sde.momentum_scaled_batch(128, momentum, lr=lr, base_lr=0.1, base_momentum=0.9)
        assert ours == expected and theirs == pytest.approx(expected, rel=1e-12)


def test_scaled_lr_rules_agree_under_their_two_vocabularies():
    """Seed 002's BLR/LSR/SRSR: ``theory`` names the rules by the paper, ``realnets`` by the CLI's ``lr_scaling``."""
    names = {"blr": "none", "lsr": "linear", "srsr": "sqrt"}
    import theory.critical_batch as theory_batch

    for rule, cli_rule in names.items():
        for batch in (32, 64, 256, 8192):
            expected = float(theory_batch.scaled_lr(batch, 32, 0.1, rule))
            assert realnets_schedules.scaled_lr(0.1, batch, 32, cli_rule) == pytest.approx(
                expected, rel=1e-12
            )
    assert np.isfinite(expected)
