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
    "StrideReading",
    "mean_abs_gradient_sweep",
    "per_sample_moments",
    "weighted_loglog_fit",
]

LossFn = Callable[[Tensor, Tensor], Tensor]
_set_grad_enabled = torch._C._set_grad_enabled


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
    batch gradient :math:`g`) and :meth:`after` (or :meth:`after_deferred`) just after it. :meth:`after`
    returns, per layer ``<name>``:

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

    How the move is measured. Without ``optimizer`` (or with one whose update is not known exactly), as
    :math:`|w_{after} - w_{before}|`: :meth:`before` copies the parameters into one preallocated buffer.
    With ``torch.optim.SGD`` passed to :meth:`before` the move is known from the optimizer's own direction
    and nothing is copied before the step: :math:`\Delta w = -lr_{group}\,g` for plain SGD (no momentum, no
    weight decay) and :math:`\Delta w = -lr_{group}\,v` with the updated momentum buffer :math:`v` for
    heavy-ball momentum (any weight decay and dampening; torch.optim.SGD, ``_single_tensor_sgd``). This is
    the exact move; the difference of the stored float32 weights carries their rounding (relative
    ``~1e-7 |w| / |lr g|`` per coordinate), so the two agree to that rounding. Nesterov, plain SGD with weight
    decay, a tensor learning rate, a parameter without a gradient or one the optimizer does not hold use the
    difference.

    Cost: all layers at once in a few device ops (|dw| or |d| into a zero-padded flat buffer, one sum per
    256-coordinate chunk into a preallocated block of rows; the per-layer segment sums of a whole block of
    updates when they are read), no host sync: :meth:`after_deferred` returns a :class:`StrideReading`
    whose :meth:`~StrideReading.to_dict` reads the numbers back when they are logged. The curvature radii
    (medians over all coordinates, each several steps' worth of work on a small net) only on every
    ``radius_every``-th update.
    """

    def __init__(self, radius_every: int = 1) -> None:
        if isinstance(radius_every, bool) or not isinstance(radius_every, int) or radius_every < 0:
            raise ValueError(f"Invalid radius_every: {radius_every!r} (expected an integer >= 0)")
        #: the radii (medians over coordinates, the costly part) on every ``radius_every``-th update; 0: never
        self.radius_every = radius_every
        self.updates = 0
        self._layout: _FlatLayout | None = None
        self._pending: _FlatLayout | None = None  # the layout between before() and after()
        self._mode = "difference"  # or "grad" / "buffer": the move read from the optimizer's direction
        self._optimizer: Any = None
        # the radii of this update: (layer, key, 0-d tensor on the device)
        self._extra: list[tuple[int, str, Tensor]] = []

    def _radius_due(self) -> bool:
        return self.radius_every > 0 and self.updates % self.radius_every == 0

    def _layout_of(self, model: nn.Module) -> _FlatLayout:
        layout = self._layout
        if layout is None or layout.model is not model or not layout.current():
            layout = self._layout = _FlatLayout(model)
        return layout

    def before(
        self,
        model: nn.Module,
        hessian_diagonal: dict[str, Tensor] | None = None,
        radii: bool | None = None,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> None:
        """Prepare the measurement of the next step (call just before ``optimizer.step()``).

        ``hessian_diagonal``: optional ``{name: diag H}`` (shaped like each parameter) for the Hessian radius.
        The radii are computed here (from ``w`` and ``g`` before the step) only on updates whose radii are due:
        ``radii`` says so explicitly (the engine passes its own update counter, so that a resumed run keeps
        the schedule), None follows ``radius_every``. ``optimizer``: the optimizer about to step; a
        ``torch.optim.SGD`` lets the move be read from its direction instead of a copy of the parameters
        (see the class docstring).
        """
        due = self._radius_due() if radii is None else bool(radii)
        layout = self._layout_of(model)
        self._extra = []
        grad_mode = torch.is_grad_enabled()
        _set_grad_enabled(False)  # not ``with torch.no_grad()``: on small nets its cost shows
        try:
            if due:
                diagonal = hessian_diagonal or {}
                for layer, (name, p) in enumerate(zip(layout.names, layout.params)):
                    if p.grad is None:
                        continue
                    g = p.grad.detach()
                    self._extra += [(layer, k, v) for k, v in _radii(name, p.detach(), g)]
                    h = diagonal.get(name)
                    if h is not None:
                        self._extra.append((layer, f"radius_hessian_median/{name}", _hessian_radius(g, h)))
            self._mode = _direction_mode(optimizer, layout)
            self._optimizer = optimizer
            if self._mode == "difference" and layout.params:
                torch._foreach_copy_(layout.views, layout.params)
        finally:
            _set_grad_enabled(grad_mode)
        self._pending = layout

    def after_deferred(self, model: nn.Module, lr: float) -> StrideReading:
        """The strides and radii of the update since :meth:`before`, left on the device (no host sync): read
        them with :meth:`StrideReading.to_dict` (or :meth:`StrideReading.read_all` for many) when logging."""
        if self._pending is None:
            raise RuntimeError("StrideProbe.after called without StrideProbe.before")
        if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"Invalid lr: {lr!r} (expected a finite number > 0)")
        layout = self._pending
        grad_mode = torch.is_grad_enabled()
        _set_grad_enabled(False)
        try:
            if self._mode == "difference":
                divisors = [float(lr)] * len(layout.params)
                if layout.params:
                    torch._foreach_sub_(layout.views, layout.params)
                block, row = layout.chunk_sums(absolute=True)
            else:
                optimizer = self._optimizer
                group_lr = [group["lr"] for group in optimizer.param_groups]
                divisors = [lr / group_lr[k] for k in layout.group_index(optimizer)]
                if self._mode == "grad":
                    directions = [p.grad for p in layout.params]
                else:
                    state = optimizer.state
                    directions = [state[p]["momentum_buffer"] for p in layout.params]
                if layout.abs_into:  # CPU: |d| straight into the buffer, one pass fewer
                    for direction, view in zip(directions, layout.views):
                        torch.abs(direction, out=view)
                    block, row = layout.chunk_sums(absolute=False)
                else:  # one multi-tensor copy instead of a kernel per layer
                    torch._foreach_copy_(layout.views, directions)
                    block, row = layout.chunk_sums(absolute=True)
        finally:
            _set_grad_enabled(grad_mode)
        reading = StrideReading(layout, block, row, divisors, self._extra)
        self._pending, self._extra, self._optimizer = None, [], None
        self.updates += 1
        return reading

    def after(
        self, model: nn.Module, loss_before: float, loss_after: float | None, lr: float
    ) -> dict[str, float]:
        """The strides and radii of the update since :meth:`before` (see the class docstring), read back now;
        no ``loss_stride`` when ``loss_after`` is None (it needs one more forward pass)."""
        out = self.after_deferred(model, lr).to_dict()
        if loss_after is not None:
            out["loss_stride"] = (float(loss_before) - float(loss_after)) / lr
        return out


class StrideReading:
    """One update's strides and radii from :meth:`StrideProbe.after_deferred`, still on the device.

    :meth:`to_dict` gives the dictionary :meth:`StrideProbe.after` returns (without ``loss_stride``);
    :meth:`read_all` reads many readings back at once (the per-layer sums of all of them in one reduction and
    one device-to-host transfer per block of updates)."""

    __slots__ = ("_block", "_divisors", "_extra", "_layout", "_row")

    def __init__(
        self,
        layout: _FlatLayout,
        block: Tensor,
        row: int,
        divisors: list[float],
        extra: list[tuple[int, str, Tensor]],
    ) -> None:
        self._layout, self._block, self._row = layout, block, row
        self._divisors, self._extra = divisors, extra

    def _values(self, sums: list[float], extra: list[float]) -> dict[str, float]:
        layout, divisors = self._layout, self._divisors
        radii: dict[int, list[tuple[str, float]]] = {}
        for (layer, key, _), value in zip(self._extra, extra):
            radii.setdefault(layer, []).append((key, value))
        if radii:
            out: dict[str, float] = {}
            for layer, (key, value, n, d) in enumerate(zip(layout.keys, sums, layout.numels, divisors)):
                out[key] = value / max(n, 1) / d  # the layer's mean |dw| / lr
                out.update(radii.get(layer, ()))
        else:
            out = {key: v / max(n, 1) / d for key, v, n, d in zip(layout.keys, sums, layout.numels, divisors)}
        count = max(layout.numel_total, 1)
        if all(d == divisors[0] for d in divisors):
            out["param_stride"] = sum(sums) / count / (divisors[0] if divisors else 1.0)
        else:
            out["param_stride"] = sum(v / d for v, d in zip(sums, divisors)) / count
        return out

    def to_dict(self) -> dict[str, float]:
        """The values as Python floats (one host sync)."""
        return StrideReading.read_all([self])[0]

    @staticmethod
    def read_all(readings: Sequence[StrideReading]) -> list[dict[str, float]]:
        """:meth:`to_dict` of each reading: per block of updates one segment sum over the layers and one
        device-to-host transfer, and one more for all the radii."""
        used: dict[int, tuple[StrideReading, int]] = {}  # per block: a reading of it, rows in use
        for r in readings:
            seen = used.get(id(r._block))
            used[id(r._block)] = (r, max(r._row + 1, seen[1] if seen else 0))
        sums = {key: r._layout.layer_sums(r._block[:rows]).tolist() for key, (r, rows) in used.items()}
        extras = [v.reshape(-1) for r in readings for _, _, v in r._extra]
        flat = torch.cat([v.to(extras[0].device, torch.float64) for v in extras]).tolist() if extras else []
        out, at = [], 0
        for r in readings:
            k = len(r._extra)
            out.append(r._values(sums[id(r._block)][r._row], flat[at : at + k]))
            at += k
        return out


#: coordinates per chunk of the flat buffer (each layer is padded with zeros to whole chunks)
_CHUNK = 256
#: updates per block of chunk sums (the engine reads the readings back every 64 updates)
_BLOCK_ROWS = 64


class _FlatLayout:
    """A model's trainable parameters laid out in one zero-padded flat buffer on their device.

    Built once and reused while every parameter is the same tensor with the same ``requires_grad`` (a
    replaced or (un)frozen parameter rebuilds it)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.slots: list[tuple[nn.Module, str, Tensor, bool]] = []
        for name, p in model.named_parameters():
            prefix, _, attr = name.rpartition(".")
            self.slots.append((model.get_submodule(prefix), attr, p, p.requires_grad))
        named = _trainable(model)
        self.names = [name for name, _ in named]
        self.keys = [f"param_stride/{name}" for name in self.names]
        self.params = [p for _, p in named]
        self.numels = [p.numel() for p in self.params]
        self.numel_total = sum(self.numels)
        devices = {p.device for p in self.params}
        if len(devices) > 1:
            raise ValueError(
                f"Invalid model: parameters on {len(devices)} devices "
                f"({', '.join(sorted(map(str, devices)))}; expected one device)"
            )
        device = devices.pop() if devices else torch.device("cpu")
        dtypes = {p.dtype for p in self.params}
        dtype = torch.float32 if dtypes <= {torch.float16, torch.bfloat16, torch.float32} else torch.float64
        chunks = [max(1, -(-n // _CHUNK)) for n in self.numels]
        self.flat = torch.zeros(sum(chunks) * _CHUNK, dtype=dtype, device=device)
        self.views, offset = [], 0
        for p, n, c in zip(self.params, self.numels, chunks):
            self.views.append(self.flat[offset : offset + n].view(p.shape))
            offset += c * _CHUNK
        self.lengths = torch.tensor(chunks, device=device)
        self._chunks = self.flat.view(-1, _CHUNK)
        #: write |d| with one abs per layer (CPU, one dtype); else a multi-tensor copy and an abs_ of the buffer
        self.abs_into = device.type == "cpu" and dtypes == {dtype}
        self._block = self.flat.new_empty((0, 0))
        self._rows: list[Tensor] = []
        self._row = _BLOCK_ROWS  # a block is allocated at the first update
        # (optimizer, the group of each parameter or None, the optimizer's group sizes when it was looked at)
        self._groups: tuple[Any, list[int] | None, list[int]] | None = None

    def current(self) -> bool:
        """Whether the model still has exactly these parameters."""
        for module, attr, p, requires_grad in self.slots:
            if module._parameters.get(attr) is not p or p.requires_grad != requires_grad:
                return False
        return True

    def group_index(self, optimizer: torch.optim.Optimizer) -> list[int] | None:
        """The optimizer's parameter group of each parameter; None unless it holds exactly these."""
        cached = self._groups
        groups = optimizer.param_groups
        if cached is not None and cached[0] is optimizer and cached[2] == [len(g["params"]) for g in groups]:
            return cached[1]
        index = {id(p): k for k, group in enumerate(groups) for p in group["params"]}
        held = sum(len(group["params"]) for group in groups)
        found = [index.get(id(p)) for p in self.params]
        result = None if held != len(self.params) or None in found else found
        self._groups = (optimizer, result, [len(g["params"]) for g in groups])
        return result

    def chunk_sums(self, absolute: bool) -> tuple[Tensor, int]:
        """Sum the buffer (its absolute values first, in place, when ``absolute``) over each chunk into the
        next row of the current block of chunk sums: ``(block, row)``. Blocks of :data:`_BLOCK_ROWS` rows are
        allocated as they fill; a block lives as long as a reading refers to it."""
        if self._row == _BLOCK_ROWS:
            self._block = self.flat.new_empty((_BLOCK_ROWS, self.flat.numel() // _CHUNK))
            self._rows = list(self._block.unbind(0))  # row views, made once per block
            self._row = 0
        row = self._row
        if absolute:
            self.flat.abs_()
        torch.sum(self._chunks, 1, out=self._rows[row])
        self._row += 1
        return self._block, row

    def layer_sums(self, chunk_sums: Tensor) -> Tensor:
        """Per-layer sums ``(rows, layers)`` of rows of chunk sums ``(rows, chunks)``."""
        if not self.params:
            return chunk_sums.new_zeros((chunk_sums.shape[0], 0))
        lengths = self.lengths.expand(chunk_sums.shape[0], -1).contiguous()
        return torch.segment_reduce(chunk_sums, "sum", lengths=lengths, axis=1)


def _direction_mode(optimizer: Any, layout: _FlatLayout) -> str:
    """How the step's move is read: ``grad`` (plain SGD: lr g), ``buffer`` (heavy ball: lr v) or
    ``difference`` (w_after - w_before, any other optimizer or case)."""
    if type(optimizer) is not torch.optim.SGD or not layout.params:
        return "difference"
    if (
        getattr(optimizer, "grad_scale", None) is not None
        or getattr(optimizer, "found_inf", None) is not None
    ):
        return "difference"  # a scaler may skip the step
    if layout.group_index(optimizer) is None:
        return "difference"
    plain = heavy = True
    for group in optimizer.param_groups:
        momentum, decay, lr = group["momentum"], group["weight_decay"], group["lr"]
        if (
            group["nesterov"]
            or isinstance(lr, Tensor)
            or isinstance(momentum, Tensor)
            or isinstance(decay, Tensor)
        ):
            return "difference"
        plain = plain and momentum == 0 and decay == 0
        heavy = heavy and momentum != 0
    if not (plain or heavy):
        return "difference"
    for p in layout.params:
        grad = p.grad
        if grad is None or grad.is_sparse:  # torch skips the parameter (or the copy is not dense)
            return "difference"
    return "grad" if plain else "buffer"


def _median_where(values: Tensor, keep: Tensor) -> Tensor:
    """torch.median of ``values[keep]`` (the lower middle value) without a host sync; inf when none kept."""
    med = torch.nanmedian(torch.where(keep, values, torch.full_like(values, math.nan)))
    return torch.where(keep.any(), med, torch.full_like(med, math.inf))


def _radii(name: str, w: Tensor, g: Tensor) -> list[tuple[str, Tensor]]:
    """The three radii of eq. 17 and 20 as 0-d float64 tensors (no host sync). The medians of |w| and |g| are
    taken in the parameters' own dtype (a cast to float64 is monotone: the same order statistic), the
    ratios w / g in float64."""
    w_abs, g_abs = w.abs().reshape(-1), g.abs().reshape(-1)
    nonzero = g_abs > 0
    radius = w_abs.double() / torch.where(nonzero, g_abs, torch.ones_like(g_abs)).double()
    count = nonzero.sum()
    mean = torch.where(nonzero, radius, torch.zeros_like(radius)).sum() / count.clamp_min(1)
    med_g = g_abs.median().double()
    inf = torch.full_like(med_g, math.inf)
    return [
        (f"radius_median/{name}", _median_where(radius, nonzero)),
        (f"radius_mean/{name}", torch.where(count > 0, mean, inf)),
        (f"radius_of_medians/{name}", torch.where(med_g > 0, w_abs.median().double() / med_g, inf)),
    ]


def _hessian_radius(g: Tensor, h: Tensor) -> Tensor:
    curv = h.detach().double().abs().reshape(-1).to(g.device)
    keep = curv > 0
    radius = (1 + g.double().reshape(-1).pow(2)).pow(1.5) / torch.where(keep, curv, torch.ones_like(curv))
    return _median_where(radius, keep)
