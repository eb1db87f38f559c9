r"""Monte-Carlo estimates that carry their standard error, and compute and print like numbers.

An :class:`Estimate` is a mean :math:`\hat\theta` with standard error :math:`\mathrm{se}`. Arithmetic
propagates the error to first order (the delta method); **combining two Estimates assumes they are
independent**, so their errors add in quadrature:

.. math::

    \mathrm{se}(a \pm b) = \sqrt{\mathrm{se}_a^2 + \mathrm{se}_b^2}, \qquad
    \frac{\mathrm{se}(ab)}{|ab|} = \sqrt{\Big(\frac{\mathrm{se}_a}{a}\Big)^2 + \Big(\frac{\mathrm{se}_b}{b}\Big)^2}
    \ \text{(the same for } a/b\text{)}.

Two estimates computed from the same draws (e.g. two statistics of one simulation) are correlated, and
these rules then misstate the error; combine the draws first and call :func:`estimate` on the result.
Scalars (Python or NumPy numbers) are exact: ``2 * est`` scales the mean and the error by 2.

>>> a = Estimate(0.0391, 8.9e-05, 1000)
>>> format(a, ".3g")
'0.0391 ± 8.9e-05'
>>> float(a)
0.0391
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "estimate"]


@dataclass(frozen=True)
class Estimate:
    r"""A Monte-Carlo estimate: ``mean`` of ``n`` independent draws and its standard error ``stderr``.

    Supports ``+``, ``-``, ``*`` and ``/`` with scalars (exact) and with other Estimates (assumed
    independent: standard errors combined in quadrature, first-order delta method for ``*`` and ``/``),
    unary ``-``, ``abs``, ``float(est)`` (the mean) and format specs: ``format(est, ".3g")`` gives
    ``"0.0391 ± 8.9e-05"`` (the spec applies to the mean; the error is shown to two significant figures).
    The ``n`` of a combination is the smaller of the two ``n``.

    Attributes:
        mean: the sample mean :math:`\hat\theta`.
        stderr: its standard error (>= 0; ``inf`` marks an unreached or undefined quantity).
        n: the number of independent draws behind it.
    """

    mean: float
    stderr: float
    n: int

    # ------------------------------------------------------------------ comparison helpers
    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """The normal-approximation confidence interval ``mean ± z·stderr``.

        Args:
            z: the half-width in standard errors (1.96 for a two-sided 95% interval).
        """
        return self.mean - z * self.stderr, self.mean + z * self.stderr

    def z_score(self, value) -> float:
        """How many standard errors ``value`` lies above the estimate: ``(value - mean)/stderr``.

        Args:
            value: a number, or another (independent) :class:`Estimate`, whose error then adds in
                quadrature: ``(value.mean - mean)/sqrt(stderr² + value.stderr²)``.

        Returns:
            The z-score; 0 if they agree exactly and the combined error is 0, ``±inf`` if they differ and
            it is 0.
        """
        if isinstance(value, Estimate):
            diff, se = value.mean - self.mean, math.hypot(self.stderr, value.stderr)
        else:
            diff, se = float(value) - self.mean, self.stderr
        if se == 0:
            return 0.0 if diff == 0 else math.copysign(math.inf, diff)
        return diff / se

    def agrees_with(self, value, z: float = 3.0) -> bool:
        """True when ``value`` (a number or an independent Estimate) lies within ``z`` standard errors.

        Args:
            value: the number or :class:`Estimate` to compare with.
            z: the tolerance in (combined) standard errors.
        """
        return abs(self.z_score(value)) <= z

    @property
    def relative_stderr(self) -> float:
        """``stderr/|mean|`` (``inf`` when the mean is 0)."""
        return self.stderr / abs(self.mean) if self.mean != 0 else math.inf

    # ------------------------------------------------------------------ numbers
    def __float__(self) -> float:
        return float(self.mean)

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        return f"{format(self.mean, spec)} ± {self.stderr:.2g}"

    def __str__(self) -> str:
        return f"{self.mean:.6g} ± {self.stderr:.2g} (n={self.n})"

    def __repr__(self) -> str:
        return f"Estimate({self.mean:.6g} ± {self.stderr:.2g}, n={self.n})"

    @staticmethod
    def _scalar(other) -> float | None:
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return float(other)
        if isinstance(other, np.ndarray) and other.ndim == 0:
            return float(other)
        return None

    def __neg__(self) -> Estimate:
        return Estimate(-self.mean, self.stderr, self.n)

    def __pos__(self) -> Estimate:
        return self

    def __abs__(self) -> Estimate:
        return Estimate(abs(self.mean), self.stderr, self.n)

    def __add__(self, other) -> Estimate:
        if isinstance(other, Estimate):
            return Estimate(
                self.mean + other.mean, math.hypot(self.stderr, other.stderr), min(self.n, other.n)
            )
        c = self._scalar(other)
        return NotImplemented if c is None else Estimate(self.mean + c, self.stderr, self.n)

    __radd__ = __add__

    def __sub__(self, other) -> Estimate:
        if isinstance(other, Estimate):
            return self + (-other)
        c = self._scalar(other)
        return NotImplemented if c is None else Estimate(self.mean - c, self.stderr, self.n)

    def __rsub__(self, other) -> Estimate:
        c = self._scalar(other)
        return NotImplemented if c is None else Estimate(c - self.mean, self.stderr, self.n)

    def __mul__(self, other) -> Estimate:
        if isinstance(other, Estimate):
            # se(ab)^2 = b^2 se_a^2 + a^2 se_b^2 (delta method, independent a and b)
            se = math.hypot(other.mean * self.stderr, self.mean * other.stderr)
            return Estimate(self.mean * other.mean, se, min(self.n, other.n))
        c = self._scalar(other)
        return NotImplemented if c is None else Estimate(self.mean * c, abs(c) * self.stderr, self.n)

    __rmul__ = __mul__

    def __truediv__(self, other) -> Estimate:
        if isinstance(other, Estimate):
            if other.mean == 0:
                raise ZeroDivisionError("Estimate division by an Estimate whose mean is 0")
            ratio = self.mean / other.mean
            # se(a/b)^2 = se_a^2/b^2 + a^2 se_b^2/b^4 (delta method, independent a and b)
            se = math.hypot(self.stderr / other.mean, self.mean * other.stderr / other.mean**2)
            return Estimate(ratio, se, min(self.n, other.n))
        c = self._scalar(other)
        if c is None:
            return NotImplemented
        if c == 0:
            raise ZeroDivisionError("Estimate division by 0")
        return Estimate(self.mean / c, self.stderr / abs(c), self.n)

    def __rtruediv__(self, other) -> Estimate:
        c = self._scalar(other)
        if c is None:
            return NotImplemented
        if self.mean == 0:
            raise ZeroDivisionError("division by an Estimate whose mean is 0")
        # se(c/a) = |c| se_a / a^2
        return Estimate(c / self.mean, abs(c) * self.stderr / self.mean**2, self.n)


def estimate(samples: np.ndarray, axis: int | None = None) -> Estimate:
    """The mean and its standard error (sample std with ddof=1 over sqrt(n)) of i.i.d. draws.

    Args:
        samples: the draws (any shape).
        axis: the axis along which the draws lie; ``None`` (default) pools every entry.

    Raises:
        ValueError: fewer than 2 draws (no standard error).
    """
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
