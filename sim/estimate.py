"""Monte-Carlo estimates that carry their standard error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "estimate"]


@dataclass(frozen=True)
class Estimate:
    """A Monte-Carlo estimate: ``mean`` of ``n`` independent draws and its standard error ``stderr``."""

    mean: float
    stderr: float
    n: int

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """The normal-approximation confidence interval ``mean ± z·stderr``."""
        return self.mean - z * self.stderr, self.mean + z * self.stderr

    def z_score(self, value: float) -> float:
        """How many standard errors ``value`` lies from the estimate (inf if stderr is 0 and they differ)."""
        diff = value - self.mean
        if self.stderr == 0:
            return 0.0 if diff == 0 else float("inf")
        return diff / self.stderr

    def __str__(self) -> str:
        return f"{self.mean:.6g} ± {self.stderr:.2g} (n={self.n})"


def estimate(samples: np.ndarray, axis: int | None = None) -> Estimate:
    """The mean and its standard error (sample std with ddof=1 over sqrt(n)) of i.i.d. draws."""
    samples = np.asarray(samples, dtype=float)
    if axis is None:
        samples = samples.ravel()
        axis = 0
    n = samples.shape[axis]
    if n < 2:
        raise ValueError(f"Invalid number of samples: {n} (expected at least 2 for a standard error)")
    mean = samples.mean(axis=axis)
    stderr = samples.std(axis=axis, ddof=1) / np.sqrt(n)
    return Estimate(float(mean), float(stderr), int(n))
