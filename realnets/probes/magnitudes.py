r"""Per-layer gradient magnitudes and update strides of a real network (seed 001, sec. 2, figs. 2-5 and 7).

Mean absolute batch gradient (seed 001, eq. 1-4, fig. 3). Seed 001 models the per-sample gradient of a
coordinate as :math:`g_i^k \sim N(0, \sigma)` and predicts for the batch mean :math:`g_i` of :math:`n` samples

.. math::

    E|g_i| = \frac{2\sigma}{\sqrt{\pi}}\frac{1}{\sqrt n} \quad\text{(seed 001, eq. 4)}.

The half-normal mean is :math:`E|Z| = \sigma_n\sqrt{2/\pi}` for :math:`Z \sim N(0, \sigma_n^2)`, so the correct
zero-mean prediction is :math:`\sqrt{2/\pi}\,\sigma/\sqrt n`, a factor :math:`\sqrt 2` below eq. 4. A batch
drawn *without replacement* from a finite training set of :math:`N` samples has
:math:`\operatorname{Var} g_i = \frac{\sigma_i^2}{n}\frac{N-n}{N-1}` (:math:`\sigma_i^2` the population variance
over the :math:`N` samples, divisor :math:`N`), so the prediction used here is

.. math::

    E|g_i| \approx \sqrt{\tfrac{2}{\pi}}\,\sigma_i \sqrt{\tfrac{N-n}{(N-1)\,n}},

averaged over the coordinates of a layer with each coordinate's own measured :math:`\sigma_i`. On a network
the full-batch gradient :math:`\mu_i` is not zero, so :func:`mean_abs_gradient_sweep` also gives the folded-
normal mean :math:`E|N(\mu_i, s_i^2)| = s_i\sqrt{2/\pi}\,e^{-\mu_i^2/2s_i^2} + \mu_i(1 - 2\Phi(-\mu_i/s_i))`,
which flattens at :math:`|\mu_i|` for large :math:`n` (the 1/sqrt(n) law then fails).

Strides (seed 001, eq. 5-8, figs. 4, 5, 7; curvature radius eq. 17 and 20, fig. 2): :class:`StrideProbe`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "GradMagnitudeSweep",
    "StrideProbe",
    "mean_abs_gradient_sweep",
    "per_sample_moments",
    "weighted_loglog_fit",
]

LossFn = Callable[[Tensor, Tensor], Tensor]


def _trainable(model: nn.Module) -> list[tuple[str, Tensor]]:
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]


def _check_batch(x: Tensor, y: Tensor) -> int:
    if x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise ValueError(
            f"Invalid batch: {x.shape[0]} inputs and {y.shape[0]} targets "
            "(expected the same number, at least 2)"
        )
    return int(x.shape[0])


def per_sample_moments(
    model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, *, chunk_size: int = 256
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    r"""Mean :math:`\mu_i = \frac1N\sum_k g_i^k` and population std :math:`\sigma_i` (divisor :math:`N`) of every
    coordinate's per-sample gradient over all of ``(x, y)``, in chunks of ``chunk_size`` samples
    (``torch.func.vmap(grad)``; float64 accumulation). Returns ``(mean, std)`` keyed by parameter name."""
    from realnets.probes.gradstats import per_sample_gradients

    n = _check_batch(x, y)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"Invalid chunk_size: {chunk_size!r} (expected an integer >= 1)")
    sums: dict[str, Tensor] = {}
    squares: dict[str, Tensor] = {}
    for start in range(0, n, chunk_size):
        grads = per_sample_gradients(
            model, loss_fn, x[start : start + chunk_size], y[start : start + chunk_size]
        )
        for name, g in grads.items():
            g = g.detach().double()
            sums[name] = sums.get(name, 0) + g.sum(0)
            squares[name] = squares.get(name, 0) + g.pow(2).sum(0)
    mean = {name: s / n for name, s in sums.items()}
    std = {name: (squares[name] / n - mean[name].pow(2)).clamp_min(0).sqrt() for name in sums}
    return mean, std


def _batch_gradient(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    named = _trainable(model)
    with torch.enable_grad():
        loss = loss_fn(model(x), y).mean()
        grads = torch.autograd.grad(loss, [p for _, p in named])
    return {name: g.detach() for (name, _), g in zip(named, grads)}


@dataclass
class LogLogFit:
    r"""Weighted least squares :math:`\log E|g| = c + a \log n`, weights :math:`1/\operatorname{Var}\log y`.

    ``slope_se``/``intercept_se`` are scaled by the Birge ratio :math:`\sqrt{\chi^2/\text{dof}}` when it exceeds
    one (the points scatter more than their standard errors say, as when the law bends)."""

    slope: float
    slope_se: float
    intercept: float
    intercept_se: float
    chi2_per_dof: float


def weighted_loglog_fit(n: Sequence[float], y: Sequence[float], y_se: Sequence[float]) -> LogLogFit:
    """Fit ``log y = c + a log n`` by weighted least squares with ``se(log y) = y_se / y`` (delta method)."""
    n_t = torch.as_tensor(list(n), dtype=torch.float64)
    y_t = torch.as_tensor(list(y), dtype=torch.float64)
    se_t = torch.as_tensor(list(y_se), dtype=torch.float64)
    if n_t.numel() < 2 or not bool((y_t > 0).all()) or not bool((n_t > 0).all()):
        raise ValueError(f"Invalid fit data: {n_t.numel()} points (expected at least 2 with n > 0 and y > 0)")
    log_se = (se_t / y_t).clamp_min(1e-6)  # a relative error floor keeps the normal equations well posed
    w = log_se.pow(-2)
    design = torch.stack([torch.ones_like(n_t), n_t.log()], dim=1)
    normal = design.t() @ (w[:, None] * design)
    cov = torch.linalg.inv(normal)
    coef = cov @ (design.t() @ (w * y_t.log()))
    resid = y_t.log() - design @ coef
    dof = n_t.numel() - 2
    chi2 = float((w * resid.pow(2)).sum() / dof) if dof > 0 else float("nan")
    scale = max(1.0, chi2) if dof > 0 else 1.0
    return LogLogFit(
        slope=float(coef[1]),
        slope_se=math.sqrt(float(cov[1, 1]) * scale),
        intercept=float(coef[0]),
        intercept_se=math.sqrt(float(cov[0, 0]) * scale),
        chi2_per_dof=chi2,
    )


@dataclass
class GradMagnitudeSweep:
    r"""Result of :func:`mean_abs_gradient_sweep`; per layer (parameter tensor) lists aligned with ``batch_sizes``.

    Attributes:
        batch_sizes: the batch sizes :math:`n`.
        n_population: :math:`N`, the number of samples the batches are drawn from.
        replacement: whether batches were drawn with replacement (then no finite-population factor).
        mean_abs: measured :math:`E|g_i|`, mean over the coordinates of the layer and over batches.
        stderr: its standard error over the batches (one number per batch: the layer's mean |g|).
        predicted: :math:`\sqrt{2/\pi}\,\overline{\sigma_i}\sqrt{f/n}` with :math:`f = (N-n)/(N-1)` (1 with
            replacement): the zero-mean Gaussian prediction with the measured per-coordinate sigma.
        predicted_folded: the folded-normal mean with the measured full-batch mean :math:`\mu_i` too.
        paper_predicted: seed 001, eq. 4: :math:`2\overline{\sigma_i}/\sqrt{\pi n}` (no population factor).
        mean_abs_centred: measured :math:`E|g_i - \mu_i|` (the batch gradient minus the full-population
            gradient), which is zero-mean by construction: the quantity eq. 4 models, so the constant of
            eq. 4 can be tested on a network whose mean gradient is not zero.
        stderr_centred: its standard error over the batches.
        sigma_mean: :math:`\overline{\sigma_i}`, the layer mean of the per-sample gradient std.
        fit: weighted log-log fit of ``mean_abs`` against ``n`` (slope, constant, standard errors).
    """

    batch_sizes: list[int]
    n_population: int
    replacement: bool
    batches_per_size: int
    mean_abs: dict[str, list[float]] = field(default_factory=dict)
    stderr: dict[str, list[float]] = field(default_factory=dict)
    predicted: dict[str, list[float]] = field(default_factory=dict)
    predicted_folded: dict[str, list[float]] = field(default_factory=dict)
    paper_predicted: dict[str, list[float]] = field(default_factory=dict)
    mean_abs_centred: dict[str, list[float]] = field(default_factory=dict)
    stderr_centred: dict[str, list[float]] = field(default_factory=dict)
    sigma_mean: dict[str, float] = field(default_factory=dict)
    fit: dict[str, LogLogFit] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["fit"] = {name: dict(f.__dict__) for name, f in self.fit.items()}
        return out


def _folded_normal_mean(mu: Tensor, s: Tensor) -> Tensor:
    safe = s.clamp_min(torch.finfo(s.dtype).tiny)
    z = mu / safe
    normal = torch.distributions.Normal(torch.zeros((), dtype=mu.dtype), torch.ones((), dtype=mu.dtype))
    folded = safe * math.sqrt(2 / math.pi) * torch.exp(-0.5 * z.pow(2)) + mu * (1 - 2 * normal.cdf(-z))
    return torch.where(s > 0, folded, mu.abs())


def _check_sizes(batch_sizes: Sequence[int], n: int, replacement: bool) -> list[int]:
    sizes = list(batch_sizes)
    if not sizes:
        raise ValueError("Invalid batch_sizes: [] (expected at least one batch size)")
    for b in sizes:
        if isinstance(b, bool) or not isinstance(b, int) or b < 1 or (not replacement and b > n):
            limit = "" if replacement else f" and <= N = {n}"
            raise ValueError(f"Invalid batch size: {b!r} (expected an integer >= 1{limit})")
    return sizes


def mean_abs_gradient_sweep(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    batch_sizes: Sequence[int],
    *,
    batches_per_size: int = 8,
    generator: torch.Generator | None = None,
    replacement: bool = False,
    chunk_size: int = 256,
) -> GradMagnitudeSweep:
    r"""Per-layer :math:`E|g_i|` of the batch gradient at fixed parameters over a sweep of batch sizes (seed 001,
    fig. 3), with the zero-mean, folded-normal and paper (eq. 4) predictions and a weighted log-log fit.

    Args:
        model, loss_fn: the network and its per-sample loss ``loss_fn(outputs, targets) -> (n,)``.
        x, y: the population of :math:`N` samples (e.g. the whole training set); batches are drawn from it.
        batch_sizes: the sizes :math:`n` (at most :math:`N` without replacement).
        batches_per_size: independent batches per size (at least 2, for a standard error).
        generator: draws the batches (a fresh one seeded 0 when None); global RNG state is never used.
        replacement: draw with replacement (iid samples, no finite-population factor).
        chunk_size: per-sample gradients for sigma are computed this many at a time.
    """
    n_pop = _check_batch(x, y)
    sizes = _check_sizes(batch_sizes, n_pop, replacement)
    if isinstance(batches_per_size, bool) or not isinstance(batches_per_size, int) or batches_per_size < 2:
        raise ValueError(f"Invalid batches_per_size: {batches_per_size!r} (expected an integer >= 2)")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    mu, sigma = per_sample_moments(model, loss_fn, x, y, chunk_size=chunk_size)
    names = list(mu)
    result = GradMagnitudeSweep(sizes, n_pop, replacement, batches_per_size)
    result.sigma_mean = {name: float(sigma[name].mean()) for name in names}
    for name in names:
        for key in (
            "mean_abs",
            "stderr",
            "predicted",
            "predicted_folded",
            "paper_predicted",
            "mean_abs_centred",
            "stderr_centred",
        ):
            getattr(result, key)[name] = []
    for b in sizes:
        per_batch: dict[str, list[float]] = {name: [] for name in names}
        centred: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(batches_per_size):
            if replacement:
                idx = torch.randint(n_pop, (b,), generator=gen)
            else:
                idx = torch.randperm(n_pop, generator=gen)[:b]
            idx = idx.to(x.device)
            grads = _batch_gradient(model, loss_fn, x[idx], y[idx])
            for name in names:
                per_batch[name].append(float(grads[name].double().abs().mean()))
                centred[name].append(float((grads[name].double() - mu[name]).abs().mean()))
        factor = 1.0 if replacement else (n_pop - b) / (n_pop - 1)
        for name in names:
            values = torch.tensor(per_batch[name], dtype=torch.float64)
            result.mean_abs[name].append(float(values.mean()))
            result.stderr[name].append(float(values.std(unbiased=True) / math.sqrt(batches_per_size)))
            values_c = torch.tensor(centred[name], dtype=torch.float64)
            result.mean_abs_centred[name].append(float(values_c.mean()))
            result.stderr_centred[name].append(
                float(values_c.std(unbiased=True) / math.sqrt(batches_per_size))
            )
            s = sigma[name] * math.sqrt(factor / b)
            result.predicted[name].append(float(math.sqrt(2 / math.pi) * s.mean()))
            result.predicted_folded[name].append(float(_folded_normal_mean(mu[name], s).mean()))
            result.paper_predicted[name].append(2 * result.sigma_mean[name] / math.sqrt(math.pi * b))
    for name in names:
        # n = N without replacement is no sample at all (every batch is the whole set): not part of the fit
        ok = [
            i
            for i, v in enumerate(result.mean_abs[name])
            if v > 0 and result.stderr[name][i] > 0 and (replacement or sizes[i] < n_pop)
        ]
        if len(ok) >= 2:
            result.fit[name] = weighted_loglog_fit(
                [sizes[i] for i in ok],
                [result.mean_abs[name][i] for i in ok],
                [result.stderr[name][i] for i in ok],
            )
    return result


class StrideProbe:
    r"""Per-update strides and curvature radii (seed 001, figs. 2, 4, 5, 7), as opt-in engine hooks.

    Call :meth:`before` just before ``optimizer.step()`` (after the backward pass, so ``p.grad`` holds the
    batch gradient :math:`g`) and :meth:`after` just after it. :meth:`after` returns, per layer ``<name>``:

    * ``param_stride/<name>``: normalised parameter stride :math:`E|\Delta w_i| / lr` (seed 001, eq. 6, fig. 4;
      times ``lr`` it is fig. 5's stride), the mean over the layer's coordinates;
    * ``radius_median/<name>``: median over coordinates of the curvature radius :math:`|w_i / g_i|` (eq. 17)
      (this and the other radii only on every ``radius_every``-th update: medians are the costly part);
    * ``radius_mean/<name>``: its mean over the coordinates with :math:`g_i \ne 0` (eq. 17 fails as
      :math:`g_i \to 0`, eq. 19; the mean is dominated by those coordinates, the median is not);
    * ``radius_of_medians/<name>``: :math:`|\operatorname{med}|w| / \operatorname{med}|g||`, MCLR's :math:`R_m`
      (eq. 20, read as medians of magnitudes);

    * ``radius_hessian_median/<name>`` (only when :meth:`before` got ``hessian_diagonal``): median over
      coordinates of the curvature radius of the loss curve :math:`(1 + g_i^2)^{3/2} / |H_{ii}|` (seed 001,
      eq. 9-10, the radius CBLR uses; coordinates with :math:`H_{ii} = 0` are left out), the "Hessian probe"
      variant of fig. 2 (:func:`realnets.probes.hessian.hessian_diagonal` gives the diagonal);

    and for the whole network ``param_stride`` (all coordinates) and ``loss_stride`` :math:`\Delta L / lr`
    with :math:`\Delta L` = ``loss_before - loss_after`` (eq. 8, fig. 7; positive when the loss fell). ``w`` and
    ``g`` are taken before the step. Optimizers with momentum or weight decay move :math:`w` by more than
    :math:`lr\,g`; the stride is what they moved.
    """

    def __init__(self, radius_every: int = 1) -> None:
        if isinstance(radius_every, bool) or not isinstance(radius_every, int) or radius_every < 0:
            raise ValueError(f"Invalid radius_every: {radius_every!r} (expected an integer >= 0)")
        #: the radii (medians over coordinates, the costly part) on every ``radius_every``-th update; 0: never
        self.radius_every = radius_every
        self.updates = 0
        self._w: dict[str, Tensor] = {}
        self._g: dict[str, Tensor | None] = {}
        self._h: dict[str, Tensor] = {}

    def _radius_due(self) -> bool:
        return self.radius_every > 0 and self.updates % self.radius_every == 0

    def before(
        self, model: nn.Module, hessian_diagonal: dict[str, Tensor] | None = None, radii: bool | None = None
    ) -> None:
        """Snapshot the parameters and their gradients (call just before ``optimizer.step()``).

        ``hessian_diagonal``: optional ``{name: diag H}`` (shaped like each parameter) for the Hessian radius.
        The gradients are copied only on updates whose radii are due: ``radii`` says so explicitly (the
        engine passes its own update counter, so that a resumed run keeps the schedule), None follows
        ``radius_every``.
        """
        due = self._radius_due() if radii is None else bool(radii)
        named = _trainable(model)
        copies = torch._foreach_mul([p.detach() for _, p in named], 1.0) if named else []  # one fused copy
        self._w = {name: w for (name, _), w in zip(named, copies)}
        self._g = {
            name: None if (p.grad is None or not due) else p.grad.detach().clone() for name, p in named
        }
        self._h = dict(hessian_diagonal or {}) if due else {}

    def after(
        self, model: nn.Module, loss_before: float, loss_after: float | None, lr: float
    ) -> dict[str, float]:
        """The strides and radii of the update since :meth:`before` (see the class docstring); no
        ``loss_stride`` when ``loss_after`` is None (it needs one more forward pass)."""
        if not self._w:
            raise RuntimeError("StrideProbe.after called without StrideProbe.before")
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"Invalid lr: {lr!r} (expected a finite number > 0)")
        out: dict[str, float] = {}
        named = _trainable(model)
        names = [name for name, _ in named]
        count = sum(p.numel() for _, p in named)
        with torch.no_grad():
            # fused: the L1 norm of every layer's step in a handful of kernels, one device sync for all layers
            steps = torch._foreach_sub([p.detach() for _, p in named], [self._w[n] for n in names])
            norms = torch._foreach_norm(steps, 1) if steps else []
            values = torch.stack([v.double() for v in norms]).tolist() if norms else []
            for name, p, total in zip(names, (p for _, p in named), values):
                out[f"param_stride/{name}"] = total / max(p.numel(), 1) / lr
                g = self._g.get(name)
                if g is not None:
                    w0 = self._w[name]
                    out.update(_radii(name, w0.double(), g.double()))
                    h = self._h.get(name)
                    if h is not None:
                        curv = h.detach().double().abs().reshape(-1)
                        keep = curv > 0
                        radius = (1 + g.double().reshape(-1)[keep].pow(2)).pow(1.5) / curv[keep]
                        out[f"radius_hessian_median/{name}"] = (
                            float(radius.median()) if radius.numel() else math.inf
                        )
        out["param_stride"] = sum(values) / max(count, 1) / lr
        if loss_after is not None:
            out["loss_stride"] = (float(loss_before) - float(loss_after)) / lr
        self._w, self._g, self._h = {}, {}, {}
        self.updates += 1
        return out


def _radii(name: str, w: Tensor, g: Tensor) -> dict[str, float]:
    w_abs, g_abs = w.abs().reshape(-1), g.abs().reshape(-1)
    nonzero = g_abs > 0
    radius = w_abs[nonzero] / g_abs[nonzero]
    med_g = float(g_abs.median())
    return {
        f"radius_median/{name}": float(radius.median()) if radius.numel() else math.inf,
        f"radius_mean/{name}": float(radius.mean()) if radius.numel() else math.inf,
        f"radius_of_medians/{name}": float(w_abs.median()) / med_g if med_g > 0 else math.inf,
    }
