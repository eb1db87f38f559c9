"""Monte-Carlo of batch-mean gradients: the 1/sqrt(n) shrinkage and the strides of seed 001 (eq. 1-8, 25-28).

Seed 001 models the per-sample gradient components of one layer as i.i.d. :math:`g_i^k \\sim \\mathcal N(\\mu,\\sigma^2)`
(eq. 1) and the batch gradient as their mean :math:`\\bar g_i = \\tfrac1n\\sum_k g_i^k` (eq. 2). Here the
per-sample gradients are drawn for real, from three kinds of population, and averaged:

* ``gaussian``: the paper's model;
* ``student-t``: heavy tails, Student-t with ``dof`` > 2 degrees of freedom rescaled to standard deviation σ;
* ``finite``: N fixed vectors of d dimensions, as in an epoch over a data set, sampled with replacement
  (i.i.d.) or without replacement (each batch is n distinct rows).

From the batch means come Monte-Carlo estimates with standard errors of :math:`\\mathbb E|\\bar g|` (eq. 4),
the parameter stride :math:`\\mathbb E|\\Delta w| = lr\\,\\mathbb E|\\bar g|` (eq. 6), the loss stride
:math:`lr\\,\\mathbb E\\bar g^2` (eq. 8), the exact loss decrease on the parabola of eq. 12 and the distance to
the minimum :math:`\\mathbb E|\\bar g|/(2a)` (eq. 28), and a weighted least-squares fit of
:math:`\\log\\mathbb E|\\bar g|` against :math:`\\log n`. Nothing here uses the closed forms of ``theory``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim._rng import as_generator
from sim._validate import MAX_WORK, brief, check_size, finite_float, int_at_least
from sim.estimate import Estimate, estimate

__all__ = [
    "Population",
    "PowerLawFit",
    "ShrinkageCurve",
    "abs_mean",
    "abs_mean_curve",
    "batch_means",
    "distance_to_minimum",
    "fit_power_law",
    "finite_population",
    "gaussian_population",
    "loss_stride",
    "loss_stride_on_parabola",
    "parameter_stride",
    "sample_finite_population",
    "sq_mean",
    "student_t_population",
]

# Largest number of float64 values one chunk of per-sample gradients (or random keys) may hold: 32 MiB.
_CHUNK_VALUES = 1 << 22


# --------------------------------------------------------------------------------------------------
# Populations of per-sample gradients
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Population:
    """Where per-sample gradients come from. Build with the ``*_population`` functions.

    Attributes:
        kind: ``"gaussian"``, ``"student-t"`` or ``"finite"``.
        dims: number of gradient components d (parameters of the layer).
        mu: per-sample mean μ. For a finite population, the mean of its entries (averaged over the
            d components; :attr:`mean` has them one by one).
        sigma: per-sample standard deviation σ. For a finite population, the root mean square over the
            components of the population standard deviation (divide by N), so exactly σ when every
            component has standard deviation σ; :attr:`std` has them one by one.
        dof: Student-t degrees of freedom.
        values: the ``(N, d)`` rows of a finite population.
    """

    kind: str
    dims: int
    mu: float = 0.0
    sigma: float = 1.0
    dof: float | None = None
    values: np.ndarray | None = None

    @property
    def size(self) -> int | None:
        """N for a finite population, None otherwise."""
        return None if self.values is None else self.values.shape[0]

    @property
    def mean(self) -> np.ndarray:
        """Per-component population mean, shape ``(d,)``."""
        if self.values is not None:
            return self.values.mean(axis=0)
        return np.full(self.dims, self.mu)

    @property
    def std(self) -> np.ndarray:
        """Per-component population standard deviation (divide by N for a finite population), shape ``(d,)``."""
        if self.values is not None:
            return self.values.std(axis=0)
        return np.full(self.dims, self.sigma)

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """I.i.d. per-sample gradients of shape ``shape + (d,)`` (rows drawn with replacement if finite)."""
        full = (*shape, self.dims)
        if self.kind == "gaussian":
            out = rng.standard_normal(full)
        elif self.kind == "student-t":
            # Var t_nu = nu/(nu-2); rescaling by sqrt((nu-2)/nu) gives unit variance.
            out = rng.standard_t(self.dof, full) * math.sqrt((self.dof - 2.0) / self.dof)
        else:
            return self.values[rng.integers(0, self.values.shape[0], shape)]
        out *= self.sigma
        out += self.mu
        return out


def gaussian_population(sigma: float, mu: float = 0.0, dims: int = 1) -> Population:
    """Per-sample gradients :math:`g_i^k \\sim \\mathcal N(\\mu, \\sigma^2)`, i.i.d. over k and i (seed 001 eq. 1).

    Args:
        sigma: the per-sample standard deviation (>= 0).
        mu: the per-sample mean.
        dims: the number of gradient components d.
    """
    return Population(
        "gaussian",
        int_at_least("dims", dims),
        finite_float("mu", mu),
        finite_float("sigma", sigma, nonnegative=True),
    )


def student_t_population(sigma: float, dof: float, mu: float = 0.0, dims: int = 1) -> Population:
    """Heavy-tailed per-sample gradients: :math:`\\mu + \\sigma\\sqrt{(\\nu-2)/\\nu}\\,T_\\nu`, variance σ².

    Args:
        sigma: the per-sample standard deviation (>= 0).
        dof: the degrees of freedom (> 2).
        mu: the per-sample mean.
        dims: the number of gradient components d.

    Raises:
        ValueError: unless ``dof > 2`` (the variance must exist).
    """
    dof = finite_float("dof", dof)
    if dof <= 2:
        raise ValueError(f"Invalid dof: {dof!r} (expected > 2 so that the variance exists)")
    return Population(
        "student-t",
        int_at_least("dims", dims),
        finite_float("mu", mu),
        finite_float("sigma", sigma, nonnegative=True),
        dof=dof,
    )


def finite_population(values) -> Population:
    """A finite population: the rows of ``values`` (shape ``(N,)`` or ``(N, d)``) are the per-sample gradients.

    Args:
        values: the N per-sample gradients, ``(N,)`` or ``(N, d)``; their moments become ``mu`` and ``sigma``.
    """
    try:
        raw = np.asarray(values)
        if raw.dtype.kind not in "iuf":  # bools, strings, ragged rows
            raise TypeError
        arr = np.array(raw, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"Invalid values: {brief(values)} (expected numbers of shape (N,) or (N, d))"
        ) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"Invalid values: shape {arr.shape} (expected (N,) or (N, d) with N, d >= 1)")
    if not np.all(np.isfinite(arr)):
        raise ValueError("Invalid values: non-finite entries (expected finite numbers)")
    arr.setflags(write=False)
    mu = float(arr.mean())
    sigma = float(np.sqrt(np.mean(arr.var(axis=0))))
    return Population("finite", arr.shape[1], mu=mu, sigma=sigma, values=arr)


def sample_finite_population(
    size: int,
    sigma: float,
    mu: float = 0.0,
    dims: int = 1,
    *,
    dof: float | None = None,
    exact_moments: bool = True,
    seed=None,
    max_work=MAX_WORK,
) -> Population:
    """Draw N rows from a Gaussian (or Student-t) population and freeze them as a finite population.

    Args:
        size: N.
        sigma, mu, dims: as for :func:`gaussian_population`.
        dof: draw from :func:`student_t_population` with these degrees of freedom instead.
        exact_moments: shift and rescale each component so that its population mean is exactly μ and its
            population standard deviation (divide by N) exactly σ.
        seed: int, numpy Generator or None.
        max_work: refuse populations of more than this many values (``size * dims``); ``None`` for no limit.
    """
    size = int_at_least("size", size, minimum=2)
    cells = float(size) * int_at_least("dims", dims)
    check_size(
        "size", work=cells, max_work=max_work, memory=24.0 * cells, detail=f"{size} rows x {dims} dims"
    )
    source = (
        gaussian_population(sigma, mu, dims) if dof is None else student_t_population(sigma, dof, mu, dims)
    )
    rows = source.draw((size,), as_generator(seed))
    if exact_moments:
        spread = rows.std(axis=0)
        rows = (rows - rows.mean(axis=0)) / np.where(spread > 0, spread, 1.0) * sigma + mu
    return finite_population(rows)


# --------------------------------------------------------------------------------------------------
# Batch means
# --------------------------------------------------------------------------------------------------


def _distinct_row_sums(values: np.ndarray, k: int, batches: int, rng: np.random.Generator) -> np.ndarray:
    """Sums of k distinct random rows, for ``batches`` batches: the k smallest of N uniform keys per batch."""
    if k == 0:
        return np.zeros((batches, values.shape[1]))
    keys = rng.random((batches, values.shape[0]))
    rows = np.argpartition(keys, k - 1, axis=1)[:, :k]
    return values[rows].sum(axis=1)


def _means_without_replacement(population: Population, n: int, batches: int, rng) -> np.ndarray:
    values = population.values
    size = values.shape[0]
    # For n > N/2 draw the N - n rows left out: fewer rows to gather, same distribution.
    complement = n > size - n
    k = size - n if complement else n
    sums = _distinct_row_sums(values, k, batches, rng)
    if complement:
        sums = values.sum(axis=0) - sums
    return sums / n


def _means_chunk(population: Population, n: int, batches: int, replace: bool, rng) -> np.ndarray:
    if population.kind == "finite" and not replace:
        return _means_without_replacement(population, n, batches, rng)
    return population.draw((batches, n), rng).mean(axis=1)


def batch_means(
    population: Population, n: int, batches: int, *, replace: bool = True, seed=None, max_work=MAX_WORK
) -> np.ndarray:
    """``batches`` independent batch gradients :math:`\\bar g = \\tfrac1n\\sum_{k=1}^n g^k` (seed 001 eq. 2).

    Args:
        population: where the per-sample gradients come from.
        n: batch size.
        batches: number of independent batches.
        replace: for a finite population, draw rows with replacement (i.i.d., the paper's model) or without
            (n distinct rows per batch, as within an epoch). Infinite populations are always i.i.d.
        seed: int, numpy Generator or None.
        max_work: refuse calls that would draw more than this many values (``batches * n * d``, or
            ``batches * N`` random keys without replacement); ``None`` for no limit.

    Returns:
        Array of shape ``(batches, d)``.

    Raises:
        ValueError: for ``n > N`` without replacement, counts below 1, or an absurd size.
    """
    if not isinstance(population, Population):
        raise ValueError(f"Invalid population: {population!r} (expected a sim.grad_shrinkage Population)")
    n, batches = int_at_least("n", n), int_at_least("batches", batches)
    if not isinstance(replace, (bool, np.bool_)):  # replace="no" is truthy: it would draw with replacement
        raise ValueError(f"Invalid replace: {replace!r} (expected True or False)")
    if population.kind == "finite" and not replace and n > population.size:
        raise ValueError(
            f"Invalid n: {n} (expected n <= population size {population.size} without replacement)"
        )
    per_batch = population.size if population.kind == "finite" and not replace else n * population.dims
    check_size(
        "batches",
        work=float(batches) * per_batch,
        max_work=max_work,
        memory=8.0 * batches * population.dims,
        detail=f"{batches} batches x {per_batch} values each",
    )
    rng = as_generator(seed)
    chunk = max(1, _CHUNK_VALUES // per_batch)
    parts = [
        _means_chunk(population, n, min(chunk, batches - start), replace, rng)
        for start in range(0, batches, chunk)
    ]
    return np.concatenate(parts, axis=0)


def _layer_estimate(per_component: np.ndarray) -> Estimate:
    # Components of one batch may be correlated (a finite population); averaging them first keeps the
    # batches as the independent replicates, so the standard error stays honest.
    return estimate(per_component.mean(axis=1))


_COMMON_ARGS = """
        population: where the per-sample gradients come from (a :class:`Population`).
        n: batch size.
        batches: number of independent batches (the Monte-Carlo replicates).
        replace: for a finite population, draw rows with replacement (i.i.d.) or without (as in an epoch).
        seed: int, numpy Generator or None.
        max_work: the size guard of :func:`batch_means`; ``None`` for no limit."""


def abs_mean(
    population: Population, n: int, *, batches: int = 4000, replace: bool = True, seed=None, max_work=MAX_WORK
) -> Estimate:
    """Monte-Carlo :math:`\\mathbb E|\\bar g_i|`, averaged over the layer's components (seed 001 eq. 4, Fig. 3).

    Args:{common}
    """
    g = batch_means(population, n, batches, replace=replace, seed=seed, max_work=max_work)
    return _layer_estimate(np.abs(g))


def sq_mean(
    population: Population, n: int, *, batches: int = 4000, replace: bool = True, seed=None, max_work=MAX_WORK
) -> Estimate:
    """Monte-Carlo :math:`\\mathbb E\\bar g_i^2`, averaged over the layer's components (seed 001 eq. 8).

    Args:{common}
    """
    g = batch_means(population, n, batches, replace=replace, seed=seed, max_work=max_work)
    return _layer_estimate(np.square(g))


def parameter_stride(
    population: Population,
    n: int,
    lr: float,
    *,
    batches: int = 4000,
    replace: bool = True,
    seed=None,
    max_work=MAX_WORK,
) -> Estimate:
    """Parameter update stride :math:`\\mathbb E|\\Delta w_i| = \\mathbb E|lr\\,\\bar g_i|` (seed 001 eq. 5-6).

    Divide by ``lr`` for the paper's "normalized parameter stride" (Fig. 4), which is :func:`abs_mean`.

    Args:
        lr: the learning rate (>= 0).{common}
    """
    lr = finite_float("lr", lr, nonnegative=True)
    return abs_mean(population, n, batches=batches, replace=replace, seed=seed, max_work=max_work) * lr


def loss_stride(
    population: Population,
    n: int,
    lr: float,
    *,
    batches: int = 4000,
    replace: bool = True,
    seed=None,
    max_work=MAX_WORK,
) -> Estimate:
    """First-order loss stride :math:`\\mathbb E\\Delta L_i = lr\\,\\mathbb E\\bar g_i^2` (seed 001 eq. 7-8).

    Args:
        lr: the learning rate (>= 0).{common}
    """
    lr = finite_float("lr", lr, nonnegative=True)
    return sq_mean(population, n, batches=batches, replace=replace, seed=seed, max_work=max_work) * lr


def loss_stride_on_parabola(
    population: Population,
    n: int,
    lr: float,
    a: float,
    *,
    batches: int = 4000,
    replace: bool = True,
    seed=None,
    max_work=MAX_WORK,
) -> Estimate:
    """Exact loss decrease of one SGD step on the parabola :math:`L = a(w-b)^2 + c` (seed 001 eq. 12-13).

    Each batch gradient is read as the slope at the parameter, :math:`\\bar g = 2a(w - b)` (eq. 13); the step
    :math:`w' = w - lr\\,\\bar g` is taken and :math:`L(w) - L(w')` is evaluated directly, with no Taylor expansion.

    Args:
        lr: the learning rate (>= 0).
        a: the curvature of the parabola (> 0).{common}
    """
    lr, a = finite_float("lr", lr, nonnegative=True), finite_float("a", a, positive=True)
    g = batch_means(population, n, batches, replace=replace, seed=seed, max_work=max_work)
    offset = g / (2.0 * a)
    decrease = a * (offset**2 - (offset - lr * g) ** 2)
    return _layer_estimate(decrease)


def distance_to_minimum(
    population: Population,
    n: int,
    a: float,
    *,
    batches: int = 4000,
    replace: bool = True,
    seed=None,
    max_work=MAX_WORK,
) -> Estimate:
    """:math:`\\mathbb E|d_i| = \\mathbb E|w_i - b_i|` with :math:`d_i = \\bar g_i/(2a)` (seed 001 eq. 25-28).

    Args:
        a: the curvature of the parabola (> 0).{common}
    """
    a = finite_float("a", a, positive=True)
    return abs_mean(population, n, batches=batches, replace=replace, seed=seed, max_work=max_work) / (2.0 * a)


for _fn in (abs_mean, sq_mean, parameter_stride, loss_stride, loss_stride_on_parabola, distance_to_minimum):
    _fn.__doc__ = _fn.__doc__.replace("{common}", _COMMON_ARGS)
del _fn


# --------------------------------------------------------------------------------------------------
# The shrinkage curve and its power-law fit
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLawFit:
    """Weighted least-squares fit :math:`\\log y = \\log C + b\\log n` with standard errors.

    Attributes:
        slope, slope_stderr: b and its standard error.
        constant, constant_stderr: C and its standard error (delta method).
        constant_at_half, constant_at_half_stderr: C with the slope held at -1/2 (the paper's law), the
            precision-weighted mean of :math:`y\\sqrt n`.
        chi2, dof: residual chi-square of the free fit and its degrees of freedom (points - 2).
    """

    slope: float
    slope_stderr: float
    constant: float
    constant_stderr: float
    constant_at_half: float
    constant_at_half_stderr: float
    chi2: float
    dof: int


def fit_power_law(ns: Sequence[float], estimates: Sequence[Estimate]) -> PowerLawFit:
    """Fit :math:`y = C n^b` to Monte-Carlo estimates by weighted least squares on the logs.

    The variance of :math:`\\log y_k` is :math:`(\\mathrm{se}_k / y_k)^2` (delta method); the weights are its
    inverse and the parameter covariance is :math:`(X^\\top W X)^{-1}` (known variances, not rescaled).

    Args:
        ns: the batch sizes n_k (> 0), at least 3.
        estimates: one :class:`~sim.estimate.Estimate` of y at each n (positive means and standard errors).

    Raises:
        ValueError: with fewer than 3 points, non-positive n or estimates, or a zero standard error.
    """
    x = np.log(np.asarray(ns, dtype=float))
    means = np.array([e.mean for e in estimates], dtype=float)
    errors = np.array([e.stderr for e in estimates], dtype=float)
    if x.size < 3 or x.size != means.size:
        raise ValueError(f"Invalid ns: {list(ns)!r} (expected at least 3 batch sizes, one per estimate)")
    if not (np.all(np.isfinite(x)) and np.all(means > 0) and np.all(errors > 0)):
        raise ValueError("Invalid estimates: (expected positive means and standard errors at positive n)")
    y = np.log(means)
    w = (means / errors) ** 2
    design = np.column_stack([np.ones_like(x), x])
    covariance = np.linalg.inv(design.T @ (w[:, None] * design))
    intercept, slope = covariance @ design.T @ (w * y)
    residual = y - design @ np.array([intercept, slope])
    scaled = means * np.sqrt(np.exp(x))
    scaled_w = 1.0 / (errors * np.sqrt(np.exp(x))) ** 2
    constant = math.exp(intercept)
    return PowerLawFit(
        slope=float(slope),
        slope_stderr=float(math.sqrt(covariance[1, 1])),
        constant=constant,
        constant_stderr=constant * float(math.sqrt(covariance[0, 0])),
        constant_at_half=float(np.sum(scaled_w * scaled) / np.sum(scaled_w)),
        constant_at_half_stderr=float(1.0 / math.sqrt(np.sum(scaled_w))),
        chi2=float(np.sum(w * residual**2)),
        dof=int(x.size - 2),
    )


@dataclass(frozen=True)
class ShrinkageCurve:
    """:math:`\\mathbb E|\\bar g|` against batch size n, with its power-law fit (seed 001 eq. 4, Fig. 3)."""

    ns: tuple[int, ...]
    estimates: tuple[Estimate, ...]
    fit: PowerLawFit


def abs_mean_curve(
    population: Population,
    ns: Sequence[int],
    *,
    batches: int = 4000,
    replace: bool = True,
    seed=None,
    max_work=MAX_WORK,
) -> ShrinkageCurve:
    """Estimate :math:`\\mathbb E|\\bar g|` at each n (independent streams) and fit :math:`C n^b` to them.

    Args:
        population: where the per-sample gradients come from (a :class:`Population`).
        ns: the batch sizes (at least 3, for the fit).
        batches: batches per batch size.
        replace: for a finite population, draw rows with replacement (i.i.d.) or without.
        seed: int, numpy Generator or None; each n gets its own spawned stream.
        max_work: the size guard of :func:`batch_means`, per batch size; ``None`` for no limit.
    """
    ns = tuple(int_at_least("n", n) for n in ns)
    children = as_generator(seed).spawn(len(ns))
    estimates = tuple(
        abs_mean(population, n, batches=batches, replace=replace, seed=child, max_work=max_work)
        for n, child in zip(ns, children)
    )
    return ShrinkageCurve(ns, estimates, fit_power_law(ns, estimates))
