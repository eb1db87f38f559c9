"""The public surface of ``sim`` and its shared input validation (sim/__init__.py, sim/_validate.py)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim import _validate, least_squares, quadratic

MOVED_TO_LEAST_SQUARES = [
    "LeastSquaresRun",
    "epoch_batches",
    "least_squares_solution",
    "least_squares_speedup_curve",
    "make_least_squares",
    "simulate_least_squares",
    "subset_batches",
]


@pytest.mark.parametrize("name", sim.__all__)
def test_every_public_name_resolves_to_its_defining_module(name):
    value = getattr(sim, name)
    module = sys.modules[value.__module__]
    assert getattr(module, name) is value
    assert name in module.__all__


def test_unknown_attribute_raises_attribute_error_and_submodules_still_import():
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = sim.no_such_name
    from sim import bench, grad_shrinkage  # submodules, not lazy names

    assert grad_shrinkage.__name__ == "sim.grad_shrinkage"
    assert bench.__name__ == "sim.bench"


def test_import_sim_does_not_load_scipy_or_torch():
    code = "import sys, sim; print('scipy' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("name", MOVED_TO_LEAST_SQUARES)
def test_least_squares_names_are_re_exported_by_quadratic(name):
    assert getattr(quadratic, name) is getattr(least_squares, name)
    assert name in quadratic.__all__


@given(value=st.floats(min_value=1e-300, max_value=1e300, allow_nan=False))
def test_positive_float_returns_positive_finite_values(value):
    assert _validate.positive_float("lr", value) == value
    assert _validate.finite_float("s", -value) == -value


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, -math.inf, math.nan, "x", None])
def test_positive_float_rejects_with_the_house_message(bad):
    with pytest.raises(ValueError, match=r"Invalid lr: .* \(expected a positive finite number\)"):
        _validate.positive_float("lr", bad)


@pytest.mark.parametrize("bad", [math.inf, math.nan, "x", None])
def test_finite_float_rejects_non_finite(bad):
    with pytest.raises(ValueError, match=r"Invalid mu: .* \(expected a finite number\)"):
        _validate.finite_float("mu", bad)


def test_finite_float_sign_options():
    with pytest.raises(ValueError, match=r"Invalid m: 0.0 \(expected > 0\)"):
        _validate.finite_float("m", 0.0, positive=True)
    with pytest.raises(ValueError, match=r"Invalid sigma: -1 \(expected >= 0\)"):
        _validate.finite_float("sigma", -1, nonnegative=True)
    assert _validate.finite_float("sigma", 0, nonnegative=True) == 0.0


@given(value=st.integers(min_value=-5, max_value=5), minimum=st.integers(min_value=0, max_value=3))
def test_int_at_least_accepts_exactly_the_integers_at_or_above_minimum(value, minimum):
    if value >= minimum:
        assert _validate.int_at_least("n", np.int64(value), minimum=minimum) == value
    else:
        with pytest.raises(ValueError, match=rf"Invalid n: .* \(expected an integer >= {minimum}\)"):
            _validate.int_at_least("n", value, minimum=minimum)


@pytest.mark.parametrize("bad", [True, 2.0, "3", None, 0])
def test_positive_int_rejects_bools_floats_and_zero(bad):
    with pytest.raises(ValueError, match=r"Invalid runs: .* \(expected a positive integer\)"):
        _validate.positive_int("runs", bad)


@pytest.mark.parametrize("bad", [-0.1, 1.0, math.nan, "a"])
def test_momentum_coefficient_rejects_outside_unit_interval(bad):
    with pytest.raises(ValueError, match=r"Invalid momentum: .* \(expected a number in \[0, 1\)\)"):
        _validate.momentum_coefficient(bad)


def test_finite_array_checks_shape_finiteness_and_sign():
    assert _validate.finite_array("h", [1.0, 2.0], ndim=1, positive=True).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"Invalid h: shape \(2, 1\) \(expected a 1-d array\)"):
        _validate.finite_array("h", [[1.0], [2.0]], ndim=1)
    with pytest.raises(ValueError, match="non-empty array of finite numbers"):
        _validate.finite_array("h", [1.0, math.nan])
    with pytest.raises(ValueError, match="expected all entries > 0"):
        _validate.finite_array("h", [1.0, 0.0], positive=True)
    with pytest.raises(ValueError, match="expected all entries >= 0"):
        _validate.finite_array("noise", [1.0, -1.0], nonnegative=True)


def test_start_state_broadcasts_to_a_fresh_array():
    source = np.array([1.0, 2.0])
    out = _validate.start_state("x0", source, runs=3, dim=2)
    out[0, 0] = 9.0
    assert out.shape == (3, 2) and source[0] == 1.0
    with pytest.raises(
        ValueError, match=r"Invalid x0: shape \(3,\) \(expected a scalar, \(2,\) or \(4, 2\)\)"
    ):
        _validate.start_state("x0", [1.0, 2.0, 3.0], runs=4, dim=2)


def test_as_schedule_wraps_constants_and_passes_callables_through():
    def schedule(step):
        return 0.1 / (1 + step)

    assert _validate.as_schedule("lr", schedule) is schedule
    assert _validate.as_schedule("lr", 0.5)(7) == 0.5
    with pytest.raises(ValueError, match="Invalid lr"):
        _validate.as_schedule("lr", -0.5)
