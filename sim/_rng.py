"""Explicit randomness: every simulator takes ``seed`` (int or None) or ``rng`` (a numpy Generator)."""

from __future__ import annotations

import numpy as np

__all__ = ["as_generator", "spawn"]


def as_generator(seed: int | np.random.Generator | None = None) -> np.random.Generator:
    """A numpy Generator from a seed, or the Generator itself. Never touches global state.

    Args:
        seed: a non-negative integer, a ``numpy.random.Generator`` (returned as is) or None (fresh entropy).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(
            f"Invalid seed: {seed!r} (expected a non-negative integer, a numpy Generator or None)"
        )
    return np.random.default_rng(seed)


def spawn(seed: int | None, k: int) -> list[np.random.Generator]:
    """``k`` independent generators derived from one seed (``SeedSequence.spawn``).

    Args:
        seed: the root seed (int or None).
        k: how many generators.
    """
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(k)]
