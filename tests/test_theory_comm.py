"""Ring all-reduce time (seed 003, App. C) against an explicit run of the ring algorithm, plus the
training-time model of Table 3: limits, schedules, round trips and validation.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theory import comm as C
from theory import symbols as S

latencies = st.floats(min_value=0.0, max_value=1e-3, allow_nan=False)
inverse_bandwidths = st.floats(min_value=0.0, max_value=1e-6, allow_nan=False)


def _run_ring_allreduce(vectors: np.ndarray, alpha: float, beta: float, gamma: float):
    """Run reduce-scatter then all-gather on a ring of p processes, step by step.

    Each step is synchronous: every process sends one chunk to its right neighbour at the same time,
    so a step costs α plus β (and γ for reductions) times the largest chunk moved in that step.
    Returns the per-process results, the elapsed time, the number of steps and the messages and
    units each process sent.
    """
    p, n = vectors.shape
    chunks = np.array_split(np.arange(n), p)
    data = vectors.astype(float).copy()
    elapsed, steps = 0.0, 0
    sent_messages, sent_units = np.zeros(p, int), np.zeros(p, int)
    for phase in ("reduce_scatter", "all_gather"):
        for s in range(p - 1):
            # In reduce-scatter step s process i sends chunk (i − s) mod p; in all-gather step s it
            # forwards chunk (i + 1 − s) mod p, the one it finished (or received) last.
            offset = -s if phase == "reduce_scatter" else 1 - s
            outgoing = [(i, (i + offset) % p) for i in range(p)]
            payload = {i: data[i, chunks[k]].copy() for i, k in outgoing}
            largest = 0
            for i, k in outgoing:
                receiver = (i + 1) % p
                if phase == "reduce_scatter":
                    data[receiver, chunks[k]] += payload[i]
                else:
                    data[receiver, chunks[k]] = payload[i]
                sent_messages[i] += 1
                sent_units[i] += chunks[k].size
                largest = max(largest, chunks[k].size)
            elapsed += alpha + beta * largest + (gamma * largest if phase == "reduce_scatter" else 0.0)
            steps += 1
    return data, elapsed, steps, sent_messages, sent_units


@given(
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=1, max_value=12),
    latencies,
    inverse_bandwidths,
    st.floats(min_value=0.0, max_value=1e-7, allow_nan=False),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_formula_matches_an_explicit_ring(p, chunk, alpha, beta, gamma, seed):
    n = p * chunk  # divisible, so every chunk has exactly n/p units, as the formula assumes
    vectors = np.random.default_rng(seed).integers(-1000, 1000, size=(p, n))
    result, elapsed, steps, messages, units = _run_ring_allreduce(vectors, alpha, beta, gamma)
    np.testing.assert_array_equal(result, np.broadcast_to(vectors.sum(axis=0), (p, n)))
    assert steps == 2 * (p - 1)
    assert np.all(messages == 2 * (p - 1))
    assert np.all(units == 2 * (p - 1) * chunk)
    expected = C.ring_allreduce_time(workers=p, n_bytes=n, alpha=alpha, beta=beta, gamma=gamma)
    assert expected == pytest.approx(elapsed, rel=1e-12, abs=1e-18)


def test_uneven_chunks_cost_at_most_the_ceiling_chunk():
    # n = 10 over p = 4: chunks of 3, 3, 2, 2; each step is paced by a 3-unit chunk.
    _, elapsed, _, _, _ = _run_ring_allreduce(np.ones((4, 10)), 1.0, 0.5, 0.0)
    assert elapsed == pytest.approx(6 * (1.0 + 0.5 * 3))
    assert (
        C.ring_allreduce_time(workers=4, n_bytes=10, alpha=1.0, beta=0.5)
        < elapsed
        < C.ring_allreduce_time(workers=4, n_bytes=12, alpha=1.0, beta=0.5) + 1e-12
    )


def test_symbolic_form_and_its_large_p_limit():
    alpha, beta, gamma, n, p = C.alpha_sym, C.beta_sym, C.gamma_sym, C.n_sym, S.p
    paper = 2 * (p - 1) * alpha + 2 * (p - 1) / p * n * beta + (p - 1) / p * n * gamma
    assert sp.simplify(C.ring_allreduce_expr() - paper) == 0
    large = C.ring_allreduce_large_p_expr()
    assert sp.simplify(large - (2 * p * alpha + 2 * n * beta + n * gamma)) == 0
    assert sp.limit(C.ring_allreduce_expr() / large, p, sp.oo) == 1
    assert sp.simplify(large - C.ring_allreduce_expr() - (2 * alpha + (2 * beta + gamma) * n / p)) == 0


@given(
    st.integers(2, 4096),
    st.floats(min_value=1.0, max_value=1e9, allow_nan=False),
    latencies,
    inverse_bandwidths,
)
def test_time_grows_with_p_and_stays_below_the_large_p_form(p, n, alpha, beta):
    exact = C.ring_allreduce_time(workers=p, n_bytes=n, alpha=alpha, beta=beta)
    assert C.ring_allreduce_time(workers=p - 1, n_bytes=n, alpha=alpha, beta=beta) <= exact * (1 + 1e-12)
    assert exact <= C.ring_allreduce_time_large_p(workers=p, n_bytes=n, alpha=alpha, beta=beta) * (1 + 1e-12)
    assert C.ring_allreduce_time_large_p(
        workers=p, n_bytes=n, alpha=alpha, beta=beta
    ) - exact == pytest.approx(2 * alpha + 2 * n * beta / p, rel=1e-9, abs=1e-15)


def test_single_process_costs_nothing_and_arrays_broadcast():
    assert C.ring_allreduce_time(workers=1, n_bytes=1e6, alpha=1e-6, beta=1e-9) == 0.0
    out = C.ring_allreduce_time(workers=np.array([2, 4, 8]), n_bytes=8.0, alpha=1.0, beta=1.0)
    np.testing.assert_allclose(out, [2 + 8, 6 + 12, 14 + 14])


@given(
    st.floats(min_value=0.0, max_value=1e7, allow_nan=False),
    st.floats(min_value=1e-4, max_value=1.0, allow_nan=False),
    st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
    st.integers(0, 500),
    st.floats(min_value=0.0, max_value=10.0, allow_nan=False),
)
def test_training_time_and_implied_iterations_are_inverse(iters, t_comp, t_comm, n_h, t_h):
    total = C.training_time(iters, t_comp, t_comm, n_h, t_h)
    assert total == pytest.approx(iters * (t_comp + t_comm) + n_h * t_h, rel=1e-12)
    assert C.implied_iterations(total, t_comp, t_comm, n_h, t_h) == pytest.approx(iters, rel=1e-9, abs=1e-6)


def test_iterations_for_schedule_roundings():
    assert C.iterations_for_schedule([(90, 128)], 50_000, rounding="floor") == 90 * 390
    assert C.iterations_for_schedule([(90, 128)], 50_000, rounding="ceil") == 90 * 391
    assert C.iterations_for_schedule([(90, 128)], 50_000, rounding="exact") == pytest.approx(35156.25)
    phases = C.step_schedule_phases(128, 5, [30, 60, 80], 90, max_batch=640)
    assert phases == [(30, 128), (30, 640), (20, 640), (10, 640)]
    # 30·390 + 60·78: the per-epoch floor count of a GG run capped at 640 (seed 003 Table 5 prints 16380).
    assert C.iterations_for_schedule(phases, 50_000) == 30 * 390 + 60 * 78


def test_gg_schedule_of_table3():
    phases = C.step_schedule_phases(256, 10, [30, 60, 80], 90)
    assert phases == [(30, 256), (30, 2560), (20, 25600), (10, 256000)]
    assert C.iterations_for_schedule(phases, 1_280_000) == 150_000 + 15_000 + 1_000 + 50


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: C.ring_allreduce_time(workers=0, n_bytes=1.0, alpha=1.0, beta=1.0), "workers"),
        (lambda: C.ring_allreduce_time(workers=2.5, n_bytes=1.0, alpha=1.0, beta=1.0), "workers"),
        (lambda: C.ring_allreduce_time(workers=4, n_bytes=-1.0, alpha=1.0, beta=1.0), "n_bytes"),
        (lambda: C.ring_allreduce_time(workers=4, n_bytes=1.0, alpha=float("nan"), beta=1.0), "alpha"),
        (lambda: C.ring_allreduce_time(workers=4, n_bytes=1.0, alpha=1.0, beta=-1.0), "beta"),
        (
            lambda: C.ring_allreduce_time_large_p(workers=4, n_bytes=1.0, alpha=1.0, beta=1.0, gamma=-1.0),
            "gamma",
        ),
        (lambda: C.training_time(-1, 1.0, 1.0), "iterations"),
        (lambda: C.training_time(1, float("inf"), 1.0), "t_comp"),
        (lambda: C.implied_iterations(10.0, 0.0, 0.0), r"t_comp \+ t_comm"),
        (lambda: C.iterations_for_schedule([(90, 128)], 50_000, rounding="round"), "rounding"),
        (lambda: C.iterations_for_schedule([(90, 0)], 50_000), "batch_size"),
        (lambda: C.iterations_for_schedule([(-1, 8)], 50_000), "epochs"),
        (lambda: C.step_schedule_phases(128, 5, [60, 30], 90), "milestones"),
        (lambda: C.step_schedule_phases(128, 5, [30, 60], 90, max_batch=0), "batch_size"),
        (lambda: C.ring_allreduce_step_cost_expr("broadcast"), "phase"),
    ],
)
def test_invalid_input_raises_a_named_error(call, name):
    with pytest.raises(ValueError, match=rf"Invalid {name}: .*\(expected"):
        call()
