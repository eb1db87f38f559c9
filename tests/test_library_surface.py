"""The public surface of ``theory`` and ``sim`` as research libraries (issue 14).

Every module declares ``__all__`` and it matches what the module defines publicly; the packages re-export
every public function and class of their submodules (lazily); every public function documents each of its
parameters in an ``Args:`` section; ``Estimate`` computes and prints like a number with its error.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import re
import subprocess
import sys

import pytest

import sim
import theory
from sim.estimate import Estimate

PACKAGES = {"theory": theory, "sim": sim}
# names a package deliberately does not re-export (see its docstring)
NOT_RE_EXPORTED = {
    "theory": {"noise_scale.noise_scale", "rebound_walk.folded_normal_mean_expr"},
    "sim": {
        "quadratic." + n
        for n in (
            "LeastSquaresRun",
            "epoch_batches",
            "least_squares_solution",
            "least_squares_speedup_curve",
            "make_least_squares",
            "simulate_least_squares",
            "subset_batches",
        )
    },
}
NOT_RE_EXPORTED_MODULES = {"sim.bench"}  # the benchmark's entry points are a CLI, not library API


def _modules(package_name: str, *, private: bool = False) -> list[str]:
    package = PACKAGES[package_name]
    names = [info.name for info in pkgutil.iter_modules(package.__path__)]
    return [f"{package_name}.{n}" for n in sorted(names) if private or not n.startswith("_")]


ALL_MODULES = [m for p in PACKAGES for m in _modules(p, private=True)]
PUBLIC_MODULES = [m for p in PACKAGES for m in _modules(p)]


def _is_api(value) -> bool:
    """A function or class (``functools.cache`` wrappers included), not a constant."""
    return (inspect.isclass(value) or callable(value)) and hasattr(value, "__module__")


def _defined_here(module, name: str) -> bool:
    value = getattr(module, name)
    return _is_api(value) and getattr(value, "__module__", None) == module.__name__


@pytest.mark.parametrize("module_name", ALL_MODULES)
def test_every_module_declares_all_and_it_lists_exactly_its_public_definitions(module_name):
    module = importlib.import_module(module_name)
    assert isinstance(getattr(module, "__all__", None), list | tuple), f"{module_name} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{module_name}.__all__ names undefined {missing}"
    public = {n for n in vars(module) if not n.startswith("_") and _defined_here(module, n)}
    assert public <= set(module.__all__), (
        f"{module_name}: public but not in __all__: {sorted(public - set(module.__all__))}"
    )


@pytest.mark.parametrize("package_name", PACKAGES)
def test_package_re_exports_every_public_function_and_class_of_its_submodules(package_name):
    package = PACKAGES[package_name]
    expected = set()
    for module_name in _modules(package_name):
        if module_name in NOT_RE_EXPORTED_MODULES:
            continue
        module = importlib.import_module(module_name)
        short = module_name.split(".", 1)[1]
        for name in module.__all__:
            value = getattr(module, name)
            own = _is_api(value) and str(getattr(value, "__module__", "")).startswith(package_name)
            if own and f"{short}.{name}" not in NOT_RE_EXPORTED[package_name]:
                expected.add(name)
    assert expected == set(package.__all__)
    for name in package.__all__:
        value = getattr(package, name)
        assert getattr(sys.modules[value.__module__], name) is value


@pytest.mark.parametrize("package_name", PACKAGES)
def test_dir_shows_the_api_and_submodules_not_import_machinery(package_name):
    names = dir(PACKAGES[package_name])
    assert "annotations" not in names and "importlib" not in names
    assert set(PACKAGES[package_name].__all__) <= set(names)
    submodule = importlib.import_module(_modules(package_name)[0])
    assert getattr(PACKAGES[package_name], submodule.__name__.split(".")[1]) is submodule


@pytest.mark.parametrize("package_name", ["theory", "sim"])
def test_unknown_names_raise_attribute_error(package_name):
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = PACKAGES[package_name].no_such_name


def test_import_theory_is_lazy_about_sympy():
    code = "import sys, theory; print('sympy' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_two_steps_to_target_have_distinct_names():
    from theory import critical_batch

    assert sim.simulated_steps_to_target.__module__ == "sim.quadratic"
    assert not hasattr(sim, "steps_to_target")
    assert theory.steps_to_target is critical_batch.steps_to_target
    assert critical_batch.steps_to_target(4.0, 10.0, 4.0) == pytest.approx(20.0)


# --------------------------------------------------------------------------------------------------
# Docstrings name every parameter


def _public_functions():
    seen = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or not callable(value) or not hasattr(value, "__module__"):
                continue
            if value.__module__ == module_name:
                seen[f"{module_name}.{name}"] = value
    for package in PACKAGES.values():  # re-exports from private modules (sim._speedup)
        for name in package.__all__:
            value = getattr(package, name)
            if not inspect.isclass(value) and callable(value) and value not in seen.values():
                seen[f"{value.__module__}.{name}"] = value
    return seen


PUBLIC_FUNCTIONS = _public_functions()


def _args_section(doc: str) -> str:
    match = re.search(
        r"^\s*Args:\s*$(.*?)(?=^\s*(Returns|Raises|Yields|Note|Notes|Example|Examples|Attributes):|\Z)",
        doc,
        flags=re.M | re.S,
    )
    return match.group(1) if match else ""


@pytest.mark.parametrize("qualname", sorted(PUBLIC_FUNCTIONS))
def test_every_public_function_documents_each_parameter_in_an_args_section(qualname):
    fn = PUBLIC_FUNCTIONS[qualname]
    params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
    if not params:
        return
    args = _args_section(inspect.getdoc(fn) or "")
    undocumented = [p for p in params if not re.search(rf"(?<![\w.]){re.escape(p)}(?!\w)", args)]
    assert not undocumented, f"{qualname}: no Args entry for {undocumented}"


# --------------------------------------------------------------------------------------------------
# Estimate: a number with its standard error

A = Estimate(2.0, 0.3, 100)
B = Estimate(-0.5, 0.4, 50)


def test_estimate_format_float_and_short_repr():
    est = Estimate(0.0391, 8.9e-05, 1000)
    assert format(est, ".3g") == "0.0391 ± 8.9e-05"
    assert f"{est:.2f}" == "0.04 ± 8.9e-05"
    assert float(est) == 0.0391
    assert str(est) == "0.0391 ± 8.9e-05 (n=1000)"
    assert repr(est) == "Estimate(0.0391 ± 8.9e-05, n=1000)"
    assert "\n" not in repr(est) and len(repr(est)) < 50


@pytest.mark.parametrize(
    ("result", "mean", "stderr"),
    [
        (A + B, 1.5, 0.5),  # sqrt(0.3^2 + 0.4^2) = 0.5
        (A - B, 2.5, 0.5),
        (A + 1, 3.0, 0.3),
        (1 - A, -1.0, 0.3),
        (-3 * A, -6.0, 0.9),
        (A / 4, 0.5, 0.075),
        (-A, -2.0, 0.3),
        (A * B, -1.0, math.hypot(-0.5 * 0.3, 2.0 * 0.4)),
        (A / B, -4.0, math.hypot(0.3 / 0.5, 2.0 * 0.4 / 0.25)),
        (1 / A, 0.5, 0.3 / 4.0),
    ],
)
def test_estimate_arithmetic_propagates_the_error_in_quadrature(result, mean, stderr):
    assert isinstance(result, Estimate)
    assert result.mean == pytest.approx(mean)
    assert result.stderr == pytest.approx(stderr)


def test_estimate_combination_keeps_the_smaller_n_and_matches_monte_carlo():
    import numpy as np

    rng = np.random.default_rng(0)
    x, y = rng.normal(1.0, 2.0, 4000), rng.normal(3.0, 1.0, 1000)
    from sim.estimate import estimate

    diff = estimate(x) - estimate(y)
    assert diff.n == 1000
    # the propagated error equals the textbook standard error of a difference of independent means
    assert diff.stderr == pytest.approx(math.sqrt(x.var(ddof=1) / 4000 + y.var(ddof=1) / 1000))
    assert abs(diff.z_score(-2.0)) < 4


def test_estimate_comparison_helpers():
    assert A.z_score(2.6) == pytest.approx(2.0)
    assert A.z_score(B) == pytest.approx((-0.5 - 2.0) / 0.5)
    assert A.agrees_with(2.5) and not A.agrees_with(3.0, z=2)
    assert Estimate(1.0, 0.0, 3).z_score(0.0) == -math.inf
    assert A.interval(2.0) == pytest.approx((1.4, 2.6))
    with pytest.raises(ZeroDivisionError):
        _ = A / Estimate(0.0, 1.0, 10)
    with pytest.raises(TypeError):
        _ = A + "x"


def test_estimate_mixes_with_numpy_scalars_and_sum():
    import numpy as np

    assert isinstance(np.float64(2.0) * A, Estimate) and (np.float64(2.0) * A).stderr == pytest.approx(0.6)
    total = sum([A, A, A])
    assert total.mean == pytest.approx(6.0) and total.stderr == pytest.approx(0.3 * math.sqrt(3))
