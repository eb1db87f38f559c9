"""Shared test configuration: Hypothesis profiles and the GPU marker.

Profiles: ``dev`` (default, quick), ``ci`` (derandomized: the same examples every run, no database) and
``thorough`` (many examples, for manual runs). Choose with ``HYPOTHESIS_PROFILE``; under ``CI=true`` the
``ci`` profile is the default.
"""

from __future__ import annotations

import os

# Under pytest-xdist each worker is one process per core: more BLAS/OpenMP threads than that oversubscribe the
# cores and make torch steps 10-50x slower. Set before numpy or torch is first imported.
# Hermetic data: never pick up a system-wide dataset copy (Debian's /usr/share/datasets) during the tests.
os.environ["REALNETS_SYSTEM_DATA_DIRS"] = ""

if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
