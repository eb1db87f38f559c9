r"""Gradient-noise statistics of every prefix of a look-ahead block, from one forward and one backward pass.

Seed 000's Algorithm 1 grows the batch :math:`\mathcal Y_t` by :math:`m_0` fresh samples at a time and asks,
after each round, for the statistics of the samples drawn so far (lines 7-9). Run literally, every round costs a
forward and a backward pass of :math:`m_0` samples, which on a small model costs about as much as a plain SGD
step on the whole batch. The rounds' statistics only depend on the samples' order, not on when they were drawn,
so :class:`PrefixStats` takes a *look-ahead block* of :math:`L` samples (the next :math:`L` samples of the
sampler, drawn at once) and answers the statistics of any prefix of :math:`n \le L` rows:

* one forward pass and one backward pass of the block to the outputs of its ``Linear``/``Conv`` layers (no
  weight gradients: autograd is asked for the output gradients :math:`\delta_j` only), keeping each layer's
  input :math:`a_j` and output gradient :math:`\delta_j` per sample;
* the prefix sums :math:`\sum_{j<n} g_j` (and, for ``diag``, :math:`\sum_{j<n} g_j^2`) advance row by row
  from these pairs (a ``Linear`` weight gradient is :math:`\delta^\top a`, a convolution's is the weight part
  of its backward), so the successive prefixes of one update cost one weight-gradient pass in all;
* ``exact`` :math:`\sigma^2` needs the directional derivatives :math:`d_j = \hat f_n^\top g_j` along the
  prefix's mean gradient: for a 2-D ``Linear`` layer from the Gram matrix
  :math:`G_{ij} = (\delta_i\cdot\delta_j)(a_i\cdot a_j + 1)` (:math:`d_j = \frac1n\sum_{i<n}G_{ij}`, built once
  per block), for other layers by evaluating the layer along :math:`\hat f_n` on the prefix's rows. When every
  layer is a 2-D ``Linear`` layer (an MLP), the statistics of *all* prefixes follow from the row-cumulative sums
  :math:`R_{n,j} = \sum_{i<n} G_{ij}` at once (:math:`d^{(n)}_j = R_{n,j}/n`, so
  :math:`\hat f_n^\top\hat f_n = \sum_{j<n} R_{n,j}/n^2` and :math:`\sum_{j<n} (d^{(n)}_j)^2 = \sum_{j<n}
  R_{n,j}^2/n^2`), in float64, with one host transfer per block; the rounds then cost no tensor work at all,
  and the mean gradient is formed once, for the prefix the update takes (:meth:`PrefixStats.mean_grad`).

The statistics of a prefix are those of :class:`~realnets.probes.gradstats.GradStatsAccumulator` on the same
rows (tests compare them, and the batch-size sequences of whole runs); the engine returns the unused rows of
the block to its sampler, so the decisions and the sample order are those of the sequential rule.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn import grad as nn_grad

from realnets.probes.gradstats import (
    _LAYER_TYPES,
    _check_per_sample_safe,
    _layer_apply,
    _layer_route_possible,
    _layer_square_sums,
    _trainable,
)

__all__ = ["PrefixResult", "PrefixStats", "prefix_supported", "trainable_parameters"]

_GRAM_MAX_ROWS = 4096
_MODES = ("exact", "diag")


def prefix_supported(model: nn.Module, mode: str) -> bool:
    """True when :class:`PrefixStats` can serve ``mode`` for ``model``: ``exact`` or ``diag``, every trainable
    parameter in a ``Linear``/``Conv`` layer (zero padding), and no BatchNorm in training mode."""
    if mode not in _MODES or not _layer_route_possible(model):
        return False
    try:
        _check_per_sample_safe(model, reruns_forward=False)
    except ValueError:
        return False
    return True


_ANALYSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _signature(params: list[Tensor], watched: list[nn.Module]) -> tuple:
    """What the analysis depends on: which parameters train, and the training flags of normalisation layers.
    (Parameters added to the model after its first analysis are not noticed.)"""
    return tuple(p.requires_grad for p in params) + tuple(m.training for m in watched)


def _analysis(model: nn.Module) -> tuple[list[Tensor], list[nn.Module]]:
    """The trainable parameters and the Linear/Conv layers of ``model``, checked once and cached per model
    (BA builds a :class:`PrefixStats` every update; walking the modules each time cost 5 % of a small MLP's
    update). The cache is keyed weakly by the model and re-checked when its parameters or the training flags
    of its BatchNorm layers change."""
    cached = _ANALYSES.get(model)
    if cached is not None and cached[0] == _signature(cached[4], cached[3]):
        return cached[1], cached[2]
    if not _layer_route_possible(model):
        raise ValueError(
            "Invalid model for prefix statistics: some trainable parameter is outside a Linear/Conv layer "
            "(expected Linear/Conv layers only; use GradStatsAccumulator)"
        )
    _check_per_sample_safe(model, reruns_forward=False)
    params = [p for _, p in _trainable(model)]
    layers = [
        m
        for m in model.modules()
        if isinstance(m, _LAYER_TYPES) and any(p.requires_grad for p in m.parameters(False))
    ]
    watched = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    every = list(model.parameters())
    _ANALYSES[model] = (_signature(every, watched), params, layers, watched, every)
    return params, layers


def trainable_parameters(model: nn.Module) -> list[Tensor]:
    """The trainable parameters in the order :class:`PrefixStats` uses (cached per model; raises ValueError for
    a model it cannot serve)."""
    return list(_analysis(model)[0])


@dataclass(frozen=True)
class PrefixResult:
    """Statistics of the first ``n`` rows of the block.

    Attributes:
        n: rows in the prefix.
        loss: their mean per-sample loss.
        grad_sq_norm: :math:`\\hat f_n^\\top \\hat f_n`.
        sigma2: :math:`\\hat f_n^\\top \\hat\\Sigma_n \\hat f_n` (``exact``) or its diagonal approximation
            (``diag``); None when ``n < 2``.
        dot: :math:`\\hat f_n^\\top v` for the ``direction`` :math:`v` given to :class:`PrefixStats` (None
            without one).
    """

    n: int
    loss: float
    grad_sq_norm: float
    sigma2: float | None
    dot: float | None = None


class _Record:
    """One call of a layer on one added chunk: the chunk's first row, the layer input and output gradient."""

    __slots__ = ("start", "a", "delta", "flat")

    def __init__(self, start: int, a: Tensor, delta: Tensor) -> None:
        self.start, self.a, self.delta = start, a, delta
        self.flat: Tensor | None = None  # per-sample gradients (weight, then bias), for a convolution's Gram

    def rows(self, lo: int, hi: int) -> tuple[Tensor, Tensor] | None:
        """This record's inputs and output gradients of the block rows ``[lo, hi)`` (None: no overlap)."""
        n = self.a.shape[0]
        i, j = max(lo - self.start, 0), min(hi - self.start, n)
        if i >= j:
            return None
        return self.a[i:j], self.delta[i:j]


class PrefixStats:
    """Statistics of every prefix of a block of samples (see the module docstring).

    Args:
        model: the network; its parameters and ``p.grad`` are not modified.
        loss_fn: per-sample loss ``(outputs, targets) -> (n,)``.
        mode: ``"exact"`` (default) or ``"diag"``.
        direction: an optional vector :math:`v` (one tensor or None per trainable parameter, None meaning zero)
            whose product with each prefix's mean gradient :meth:`prefix` also returns (BA-Momentum's
            :math:`\\hat f^\\top \\mathrm{buf}`).

    Example:
        >>> stats = PrefixStats(model, loss_fn)                 # doctest: +SKIP
        >>> stats.add(x[:128], y[:128])                         # doctest: +SKIP
        >>> stats.prefix(32).sigma2, stats.prefix(64).sigma2    # doctest: +SKIP
    """

    def __init__(
        self, model: nn.Module, loss_fn, *, mode: str = "exact", direction: list[Tensor | None] | None = None
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"Invalid stat mode for prefix statistics: {mode!r} (expected one of {_MODES})")
        self.model, self.loss_fn, self.mode = model, loss_fn, mode
        self._params, self._layers = _analysis(model)
        self._index = {id(p): i for i, p in enumerate(self._params)}
        self.forwards = self.backwards = 0
        self.rows = 0
        self._records: dict[nn.Module, list[_Record]] = {m: [] for m in self._layers}
        self._losses: list[Tensor] = []
        self._loss_cum: Tensor | None = None
        self._done = 0  # rows already in the prefix sums
        # prefix sums in float64, one flat buffer (per-parameter views), so a round's numbers are a few kernels
        self._flat_sum: Tensor | None = (
            None  # created at the first _advance (the table route may never need it)
        )
        self._flat_sq: Tensor | None = None
        self._sum: list[Tensor] = []
        self._sq: list[Tensor] | None = None
        self._flat_direction: Tensor | None = None
        self._gram: Tensor | None = None
        self._gram_layers: list[nn.Module] | None = None  # decided at the first add
        self._direction = direction
        self._dots: list[Tensor] = []  # per-sample g_j . v (the table route)
        self._table: list[list[float]] | None = None  # per-prefix numbers (the table route)
        self._all_linear = mode == "exact" and all(isinstance(m, nn.Linear) for m in self._layers)
        self._f: tuple[int, list[Tensor]] | None = None  # the last mean gradient formed

    @property
    def params(self) -> list[Tensor]:
        """The trainable parameters, in the order of :attr:`PrefixResult.mean_grad`."""
        return list(self._params)

    # ---------------------------------------------------------------------------------------------- add
    def add(self, x: Tensor, y: Tensor) -> None:
        """Append rows to the block: one forward and one backward pass (to the layer outputs) of ``x``."""
        if len(x) == 0:
            raise ValueError("Invalid chunk: 0 samples (expected at least 1)")
        captured: list[tuple[nn.Module, Tensor, Tensor]] = []

        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            if torch.is_grad_enabled() and output.requires_grad:
                captured.append((module, inputs[0].detach(), output))

        handles = [m.register_forward_hook(hook) for m in self._layers]
        try:
            losses = self.loss_fn(self.model(x), y)
        finally:
            for handle in handles:
                handle.remove()
        if losses.shape != (len(x),):
            raise ValueError(
                f"Invalid loss_fn output shape: {tuple(losses.shape)} (expected per-sample losses of shape ({len(x)},))"
            )
        if not captured:
            raise ValueError("Invalid model: no Linear/Conv layer was used in the forward pass")
        deltas = torch.autograd.grad(losses.sum(), [o for _, _, o in captured], allow_unused=True)
        self.forwards += 1
        self.backwards += 1
        start = self.rows
        for (module, a, out), delta in zip(captured, deltas):
            delta = torch.zeros_like(out) if delta is None else delta.detach()
            self._records[module].append(_Record(start, a, delta))
        self.rows += len(x)
        self._losses.append(losses.detach().double())
        self._loss_cum = torch.cat(self._losses).cumsum(0)
        self._table = None
        if self.mode == "exact":
            self._extend_gram(start, len(x))
        if self._gram is not None and set(self._gram_layers) == set(self._layers):
            if self._direction is not None:
                self._dots.append(self._directional_rows(self._direction, start, self.rows).double())
            self._table = self._tabulate()

    # -------------------------------------------------------------------------------------------- gram
    def _gram_eligible(self, module: nn.Module, rows: int) -> bool:
        """Whether the layer's part of the Gram matrix is built (else the layer is evaluated along each round's
        mean gradient). The layer must be called once per chunk with all its parameters trainable, and:

        * ``Linear`` on 2-D input: :math:`G_{ij} = (\\delta_i\\cdot\\delta_j)(a_i\\cdot a_j + 1)` costs
          rows (in + out) per row, evaluating it costs in out per row and round; taken when cheaper than about
          two rounds, and always in an all-Linear model (whose every prefix then comes from the table);
        * ``Conv2d`` (one group, numeric padding): from per-sample gradients (unfolded input times output
          gradient), :math:`G = P P^\\top` costs rows D per row against D H'W' per row and round for the
          evaluation (H'W' output positions), so it is taken when rows < 2 H'W' and P fits in 256 MB.
        """
        records = self._records[module]
        if len(records) != 1 or not all(p.requires_grad for p in module.parameters(recurse=False)):
            return False
        a, delta = records[0].a, records[0].delta
        if isinstance(module, nn.Linear):
            if a.dim() != 2:
                return False
            return self._all_linear or rows * (module.in_features + module.out_features + 1) < (
                2 * module.in_features * module.out_features
            )
        if type(module) is nn.Conv2d and module.groups == 1 and not isinstance(module.padding, str):
            positions = delta.shape[2] * delta.shape[3]
            size = sum(p.numel() for p in module.parameters(recurse=False))
            return rows < 2 * positions and rows * size * delta.element_size() <= 256 * 2**20
        return False

    def _extend_gram(self, start: int, chunk: int) -> None:
        if self._gram_layers is None:
            self._gram_layers = [m for m in self._layers if self._gram_eligible(m, chunk)]
        if not self._gram_layers:
            return
        if self.rows > _GRAM_MAX_ROWS:
            self._gram_layers, self._gram = [], None
            return
        block: Tensor | None = None
        for module in self._gram_layers:
            records = self._records[module]
            if not records or records[-1].start != start or len({r.start for r in records}) != len(records):
                self._gram_layers, self._gram = [], None  # called more than once per chunk: evaluate instead
                return
            new = records[-1]
            with torch.no_grad():
                if isinstance(module, nn.Conv2d):
                    new.flat = _conv2d_per_sample(module, new.a, new.delta)
                    p_all = torch.cat([r.flat for r in records]) if len(records) > 1 else new.flat
                    part = new.flat @ p_all.t()
                else:
                    a_all = torch.cat([r.a for r in records]) if len(records) > 1 else new.a
                    d_all = torch.cat([r.delta for r in records]) if len(records) > 1 else new.delta
                    inner = new.a @ a_all.t()
                    if module.bias is not None:
                        inner = inner + 1.0
                    part = (new.delta @ d_all.t()) * inner
            block = part if block is None else block + part
        gram = block.new_empty(self.rows, self.rows)
        if start > 0:
            gram[:start, :start] = self._gram
            gram[:start, start:] = block[:, :start].t()
        gram[start:, :] = block
        self._gram = gram

    # ------------------------------------------------------------------------------------------ prefix
    def _ensure_sums(self) -> None:
        if self._flat_sum is None:
            self._flat_sum = _flat_zeros(self._params)
            self._sum = _views(self._flat_sum, self._params)
            if self.mode == "diag":
                self._flat_sq = _flat_zeros(self._params)
                self._sq = _views(self._flat_sq, self._params)

    def _advance(self, n: int) -> None:
        """Bring the prefix sums to the first ``n`` rows (only forward: prefixes of one block grow)."""
        if n < self._done:
            raise ValueError(f"Invalid prefix: {n} rows after {self._done} (expected a growing prefix)")
        lo, hi = self._done, n
        if lo == hi:
            return
        self._ensure_sums()
        with torch.no_grad():
            for module, record, (w_i, w_grad), (b_i, b_grad) in self._record_sums(lo, hi):
                if w_i is not None:
                    self._sum[w_i].add_(w_grad)
                if b_i is not None:
                    self._sum[b_i].add_(b_grad)
                if self._sq is not None:
                    w_sq, b_sq = _layer_square_sums(module, *record.rows(lo, hi))
                    if w_i is not None:
                        self._sq[w_i].add_(w_sq)
                    if b_i is not None:
                        self._sq[b_i].add_(b_sq)
        self._done = n

    def _tabulate(self) -> list[list[float]]:
        """``[loss, grad_sq_norm, sigma2, dot]`` of every prefix (rows 1..L) from the Gram matrix, in float64."""
        rows = self.rows
        r = self._gram.double().cumsum(0).tril()  # r[n-1, j] = sum_{i<n} G_ij for j < n
        n = torch.arange(1, rows + 1, dtype=torch.float64, device=r.device)
        grad_sq = r.sum(1) / n.square()
        squares = r.square().sum(1) / n.square()
        sigma2 = (squares - n * grad_sq.square()) / (n - 1).clamp(min=1)
        columns = [self._loss_cum / n, grad_sq, sigma2]
        if self._direction is not None:
            columns.append(torch.cat(self._dots).cumsum(0) / n)
        return torch.stack(columns, 1).tolist()  # one host sync

    def mean_grad(self, n: int) -> list[Tensor]:
        """:math:`\\hat f_n`, the mean gradient of the first ``n`` rows (fresh tensors, one per trainable
        parameter; successive calls take growing ``n``)."""
        if self._f is not None and self._f[0] == n:
            return self._f[1]
        self._check_rows(n)
        if self._table is not None and self._done == 0:  # the table route: one float32 pass over the rows
            f = self._grad_sums(n)
            f = [t.div_(n) for t in f]
            self._f = (n, f)
            return f
        self._advance(n)
        f = [(s / n).to(p.dtype) for s, p in zip(self._sum, self._params)]
        self._f = (n, f)
        return f

    def _record_sums(self, lo: int, hi: int):
        """``(module, record, (weight index, weight sum), (bias index, bias sum))`` for every layer record that
        overlaps the rows ``[lo, hi)`` (an index is None for a frozen or absent parameter)."""
        index = self._index
        for module, records in self._records.items():
            w_i = index.get(id(module.weight))
            b_i = None if module.bias is None else index.get(id(module.bias))
            for record in records:
                sums = _record_grad_sums(module, record, lo, hi)
                if sums is not None:
                    yield module, record, (w_i, sums[0]), (b_i, sums[1])

    def _grad_sums(self, n: int) -> list[Tensor]:
        """The gradient sums of the first ``n`` rows, in the parameters' dtype (fresh tensors)."""
        sums: list[Tensor | None] = [None] * len(self._params)
        with torch.no_grad():
            for _, _, *parts in self._record_sums(0, n):
                for i, g in parts:
                    if i is not None:
                        sums[i] = g if sums[i] is None else sums[i] + g
        return [torch.zeros_like(p) if t is None else t for t, p in zip(sums, self._params)]

    def prefix(self, n: int) -> PrefixResult:
        """Statistics of the first ``n`` rows (``1 <= n <= rows``; successive calls take growing ``n``)."""
        self._check_rows(n)
        if self._table is not None:
            loss, grad_sq, sigma2, *dot = self._table[n - 1]
            return PrefixResult(
                n=n,
                loss=loss,
                grad_sq_norm=grad_sq,
                sigma2=max(sigma2, 0.0) if n >= 2 else None,
                dot=dot[0] if dot else None,
            )
        self._advance(n)
        total = self._flat_sum  # n f_n, in float64: reductions over it, with no temporary besides its square
        total2 = total.square()
        numbers = [total2.sum() / n**2, self._loss_cum[n - 1] / n]
        if n >= 2:
            if self.mode == "diag":
                # sum_i f_i^2 (q_i - n f_i^2) / (n - 1) with f = S / n:  (S^2 . q - S^2 . S^2 / n) / (n^2 (n - 1))
                numbers.append(
                    (torch.dot(total2, self._flat_sq) - torch.dot(total2, total2) / n) / (n**2 * (n - 1))
                )
            else:
                numbers.append(self._directional(self.mean_grad(n), n).double().var(unbiased=True))
        if self._direction is not None:
            if self._flat_direction is None:
                self._flat_direction = torch.cat(
                    [_entry(self._direction, self._index, p).reshape(-1).double() for p in self._params]
                )
            numbers.append(torch.dot(total, self._flat_direction) / n)
        values = torch.stack([v.to(torch.float64) for v in numbers]).tolist()  # one host sync
        sigma2 = max(values[2], 0.0) if n >= 2 else None
        dot = values[-1] if self._direction is not None else None
        return PrefixResult(n=n, loss=values[1], grad_sq_norm=values[0], sigma2=sigma2, dot=dot)

    def _check_rows(self, n: int) -> None:
        if not 1 <= n <= self.rows:
            raise ValueError(f"Invalid prefix: {n} rows (expected 1 <= n <= {self.rows})")

    def _directional(self, f: list[Tensor], n: int) -> Tensor:
        """:math:`d_j = \\hat f_n^\\top g_j` for the first ``n`` rows."""
        gram_layers = set(self._gram_layers or ()) if self._gram is not None else set()
        total = self._gram[:n, :n].sum(1) / n if gram_layers else None
        rest = self._directional_rows(f, 0, n, skip=gram_layers)
        if rest is None:
            return total
        return rest if total is None else total + rest

    def _directional_rows(
        self, v: list[Tensor | None], lo: int, hi: int, skip: set[nn.Module] | frozenset = frozenset()
    ) -> Tensor | None:
        """:math:`v^\\top g_j` for the rows ``[lo, hi)``, by evaluating each layer (not in ``skip``) along v."""
        total: Tensor | None = None
        index = self._index
        with torch.no_grad():
            for module, records in self._records.items():
                if module in skip:
                    continue
                weight = _entry(v, index, module.weight)
                bias = None if module.bias is None else _entry(v, index, module.bias)
                by_start: dict[int, list[Tensor]] = {}
                for record in records:
                    part = record.rows(lo, hi)
                    if part is None:
                        continue
                    a, delta = part
                    d = (delta * _layer_apply(module, a, weight, bias)).flatten(1).sum(1)
                    by_start.setdefault(record.start, []).append(d)
                if not by_start:
                    continue
                d = torch.cat([sum(parts) for _, parts in sorted(by_start.items())])
                total = d if total is None else total + d
        return total


def _flat_zeros(params: list[Tensor]) -> Tensor:
    return torch.zeros(sum(p.numel() for p in params), dtype=torch.float64, device=params[0].device)


def _views(flat: Tensor, params: list[Tensor]) -> list[Tensor]:
    return [t.view(p.shape) for t, p in zip(flat.split([p.numel() for p in params]), params)]


def _entry(v: list[Tensor | None], index: dict[int, int], param: Tensor) -> Tensor:
    """The part of ``v`` for ``param`` (zeros when the parameter is frozen or the entry is None)."""
    i = index.get(id(param))
    t = None if i is None else v[i]
    return torch.zeros_like(param) if t is None else t


def _conv2d_per_sample(module: nn.Conv2d, a: Tensor, delta: Tensor) -> Tensor:
    """Per-sample gradients of a Conv2d layer, flattened: ``(rows, weight size [+ bias size])``."""
    cols = F.unfold(a, module.kernel_size, module.dilation, module.padding, module.stride)  # (n, in k k, P)
    d = delta.flatten(2)  # (n, out, P)
    weight = torch.bmm(d, cols.transpose(1, 2)).flatten(1)
    return weight if module.bias is None else torch.cat([weight, d.sum(2)], 1)


def _record_grad_sums(module: nn.Module, record: _Record, lo: int, hi: int):
    """The layer's weight and bias gradient sums over the block rows ``[lo, hi)`` of one record (None: none)."""
    if record.flat is not None:
        i, j = max(lo - record.start, 0), min(hi - record.start, record.flat.shape[0])
        if i >= j:
            return None
        total = record.flat[i:j].sum(0)
        w = module.weight.numel()
        bias = None if module.bias is None else total[w:]
        return total[:w].view_as(module.weight), bias
    part = record.rows(lo, hi)
    return None if part is None else _layer_grad_sums(module, *part)


def _layer_grad_sums(module: nn.Module, a: Tensor, delta: Tensor) -> tuple[Tensor, Tensor | None]:
    """The layer's weight and bias gradients summed over the rows of ``(a, delta)`` (closed forms)."""
    if isinstance(module, nn.Linear):
        a2, d2 = a.reshape(-1, a.shape[-1]), delta.reshape(-1, delta.shape[-1])
        return d2.t() @ a2, d2.sum(0)
    bias = delta.sum(dim=[0, *range(2, delta.dim())])
    if isinstance(module.padding, str):  # "same"/"valid": let autograd find the weight part of the backward
        with torch.enable_grad():
            weight = module.weight.detach().requires_grad_(True)
            (w,) = torch.autograd.grad((delta * _layer_apply(module, a, weight, None)).sum(), weight)
        return w, bias
    weight_grad = _CONV_WEIGHT_GRAD[type(module)]
    w = weight_grad(
        a, module.weight.shape, delta, module.stride, module.padding, module.dilation, module.groups
    )
    return w, bias


_CONV_WEIGHT_GRAD = {
    nn.Conv1d: nn_grad.conv1d_weight,
    nn.Conv2d: nn_grad.conv2d_weight,
    nn.Conv3d: nn_grad.conv3d_weight,
}
