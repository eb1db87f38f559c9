"""Gradient-noise statistics of a batch for batch-adaptive training (seed 000), without per-sample gradients.

For a batch :math:`\\mathcal Y` of :math:`m` samples with per-sample gradients :math:`g_j` the batch-adaptive
rules of seed 000 need the mean gradient :math:`\\hat f = \\frac1m\\sum_j g_j`, its squared norm
:math:`\\mu = \\hat f^\\top\\hat f` and the variance of the loss decrease along it,

.. math::

    \\sigma^2 = \\hat f^\\top \\hat\\Sigma \\hat f, \\qquad
    \\hat\\Sigma = \\frac{1}{m-1}\\sum_j (g_j-\\hat f)(g_j-\\hat f)^\\top \\quad\\text{(seed 000, eq. 4)}.

The quadratic form only needs the per-sample directional derivatives :math:`d_j = \\hat f^\\top g_j`:
:math:`\\sigma^2 = \\frac{1}{m-1}\\sum_j (d_j - \\bar d)^2` with :math:`\\bar d = \\hat f^\\top\\hat f`, the sample
variance of :math:`d`. Three statistic modes:

``exact``
    :math:`\\sigma^2` from the directional derivatives, never materialising a per-sample gradient. For
    layers whose output is linear in their parameters (``Linear``, ``Conv1d/2d/3d``) the input :math:`a_j`
    and the output gradient :math:`\\delta_j` that the batch's own backward pass produces give
    :math:`d_j = \\sum_{\\text{layers}} \\langle \\delta_j, \\operatorname{layer}(a_j; \\hat f_{\\text{layer}})\\rangle`
    at the cost of one forward of those layers. Other models use one forward-mode pass
    (``torch.func.jvp``), or reverse-over-reverse where forward mode is not implemented (LSTM).
``diag``
    The paper's (and the original code's) diagonal approximation
    :math:`\\sigma^2 \\approx \\sum_i \\hat f_i^2 \\hat\\Sigma_{ii}` from per-parameter sums of squared
    per-sample gradients (closed form for ``Linear`` and ``Conv2d``, ``torch.func`` per-sample gradients
    otherwise).
``full``
    Per-sample gradients materialised with ``torch.func.vmap(grad)``: the full covariance, for tiny models.

Statistics grow incrementally (:class:`GradStatsAccumulator`): BA-SGD adds chunks of fresh samples to the
batch; the mean gradient and the diagonal sums are additive, so each chunk costs one forward and one
backward of that chunk only. ``exact`` re-evaluates the directional derivatives of the whole batch along the
new mean gradient (one layer-forward per evaluation, no backward).

BatchNorm in training mode mixes the samples of a batch, so per-sample gradients (and :math:`\\hat\\Sigma`)
are undefined: the statistics refuse such a model with a clear error (use ``norm="none"`` or evaluate
in ``eval()`` mode). Dropout in training mode is fine for the layer route (it reuses the batch's own
activations) but not for the generic routes, which re-run the forward pass; they refuse it.

References:
    Seed 000 (batch adaptive training), eq. 1-4 and Algorithm 1; the original implementation computes one
    backward pass per sample (:func:`per_sample_backward_stats` reproduces it as the speed peer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "MODES",
    "GradStats",
    "GradStatsAccumulator",
    "gradient_stats",
    "per_sample_gradients",
    "per_sample_backward_stats",
    "stats_from_per_sample_gradients",
]

MODES = ("exact", "diag", "full")
LossFn = Callable[[Tensor, Tensor], Tensor]

_LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_FULL_MAX_PARAMS = 50_000
_GRAM_MAX_SAMPLES = 4096  # the exact route's Gram matrix is n x n; beyond this the layers are re-evaluated


@dataclass(frozen=True)
class GradStats:
    """Statistics of one batch.

    Attributes:
        n: number of samples in the batch (m).
        loss: mean per-sample loss on the batch (the state s_t of seed 000's Algorithm 1).
        grad_sq_norm: :math:`\\hat f^\\top \\hat f` (mu of BA-SGD).
        sigma2: :math:`\\hat f^\\top\\hat\\Sigma\\hat f` (exact or full) or its diagonal approximation (diag).
        mode: ``"exact"``, ``"diag"`` or ``"full"``.
        directional: the per-sample directional derivatives :math:`\\hat f^\\top g_j` (exact and full modes).
    """

    n: int
    loss: float
    grad_sq_norm: float
    sigma2: float
    mode: str
    directional: Tensor | None = None


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"Invalid stat mode: {mode!r} (expected one of {MODES})")


def _check_per_sample_safe(model: nn.Module, *, reruns_forward: bool) -> None:
    for name, module in model.named_modules():
        is_bn = isinstance(module, nn.modules.batchnorm._BatchNorm) or "BatchNorm" in type(module).__name__
        if is_bn and module.training:
            raise ValueError(
                f"Invalid model for gradient-noise statistics: {name or type(module).__name__} is BatchNorm in "
                "training mode, which mixes samples so per-sample gradients are undefined "
                "(expected a model without BatchNorm, e.g. norm='none', or model.eval())"
            )
        if (
            reruns_forward
            and isinstance(module, nn.modules.dropout._DropoutNd)
            and module.training
            and module.p > 0
        ):
            raise ValueError(
                f"Invalid model for these gradient-noise statistics: {name} is Dropout in training mode and this "
                "route re-runs the forward pass (expected no active dropout, or a Linear/Conv-only model)"
            )


def _trainable(model: nn.Module) -> list[tuple[str, Tensor]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def _layer_route_possible(model: nn.Module) -> bool:
    """True when every trainable parameter is the weight or bias of a Linear/Conv layer."""
    covered = 0
    for module in model.modules():
        own = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if not own:
            continue
        if not isinstance(module, _LAYER_TYPES):
            return False
        if isinstance(module, nn.modules.conv._ConvNd) and module.padding_mode != "zeros":
            return False
        covered += len(own)
    return covered == len(_trainable(model))


def _layer_apply(module: nn.Module, a: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """The layer's output for input ``a`` with parameters (weight, bias): linear in the parameters."""
    if isinstance(module, nn.Linear):
        return F.linear(a, weight, bias)
    conv = {nn.Conv1d: F.conv1d, nn.Conv2d: F.conv2d, nn.Conv3d: F.conv3d}[type(module)]
    return conv(a, weight, bias, module.stride, module.padding, module.dilation, module.groups)


class _LayerCapture:
    """Forward/backward hooks that keep each Linear/Conv layer's input and output gradient per call."""

    def __init__(self, layers: list[nn.Module]):
        self.records: dict[nn.Module, list[list[Tensor]]] = {module: [] for module in layers}
        self._handles = [module.register_forward_hook(self._forward_hook) for module in layers]

    def _forward_hook(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if not torch.is_grad_enabled() or not output.requires_grad:
            return
        pair: list[Tensor] = [inputs[0].detach()]
        self.records[module].append(pair)
        output.register_hook(lambda grad: pair.append(grad.detach()))

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


class GradStatsAccumulator:
    """Gradient statistics of a batch that grows chunk by chunk (seed 000, Algorithm 1, inner loop).

    Args:
        model: the network; its parameters are not modified and ``p.grad`` is left alone until
            :meth:`write_grad` is called.
        loss_fn: per-sample loss, ``loss_fn(outputs, targets) -> Tensor`` of shape ``(n,)``.
        mode: ``"exact"`` (default), ``"diag"`` or ``"full"``.
        route: ``"auto"`` (layer hooks when every parameter belongs to a Linear/Conv layer, else generic),
            ``"layers"`` or ``"generic"``.
        gram: keep the exact mode's Gram matrix when it is cheaper (default True); data-parallel statistics
            pass False, since they evaluate the directional derivatives along the global mean gradient.

    Example:
        >>> acc = GradStatsAccumulator(model, loss_fn)           # doctest: +SKIP
        >>> acc.add(x[:32], y[:32]); acc.add(x[32:64], y[32:64])  # doctest: +SKIP
        >>> acc.stats().sigma2                                    # doctest: +SKIP
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        *,
        mode: str = "exact",
        route: str = "auto",
        gram: bool = True,
    ):
        _check_mode(mode)
        self._gram_allowed = gram  # False: never keep the Gram matrix (directions other than the local mean)
        if route not in ("auto", "layers", "generic"):
            raise ValueError(f"Invalid route: {route!r} (expected 'auto', 'layers' or 'generic')")
        layer_ok = _layer_route_possible(model)
        if route == "layers" and not layer_ok:
            raise ValueError("Invalid route: 'layers' (the model has parameters outside Linear/Conv layers)")
        self.model, self.loss_fn, self.mode = model, loss_fn, mode
        self.route = (
            "generic" if mode == "full" else ("layers" if layer_ok and route != "generic" else "generic")
        )
        _check_per_sample_safe(model, reruns_forward=self.route == "generic" and mode != "diag")
        named = _trainable(model)
        if not named:
            raise ValueError("Invalid model: it has no trainable parameters")
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        if mode == "full" and sum(p.numel() for p in self._params) > _FULL_MAX_PARAMS:
            raise ValueError(
                f"Invalid stat mode: 'full' for a model of {sum(p.numel() for p in self._params)} parameters "
                f"(expected at most {_FULL_MAX_PARAMS}; use 'exact', which gives the same sigma^2)"
            )
        self._index = {id(p): i for i, p in enumerate(self._params)}
        self._layers = [
            module
            for module in model.modules()
            if isinstance(module, _LAYER_TYPES) and any(p.requires_grad for p in module.parameters(False))
        ]
        self.reset()

    @property
    def params(self) -> list[Tensor]:
        """The trainable parameters, in the order of :meth:`mean_grad`."""
        return list(self._params)

    def reset(self) -> None:
        """Forget all samples (start the next batch); the model analysis is kept, so reuse is cheap."""
        self._grad_sum = [torch.zeros_like(p) for p in self._params]
        self._sq_sum = [torch.zeros_like(p) for p in self._params] if self.mode == "diag" else None
        self._loss_sum = 0.0
        self.n = 0
        self._chunks: list[tuple[Tensor, Tensor]] = []  # generic exact: inputs kept to re-evaluate d_j
        self._per_sample: list[Tensor] = []  # full: flattened per-sample gradients
        self._layer_records: dict[nn.Module, list[list[Tensor]]] = {}
        # exact mode, layer route: Gram matrix G_ij = g_i^T g_j restricted to the Linear layers where it is
        # cheaper than re-evaluating the directional derivatives (see _extend_gram)
        self._gram: Tensor | None = None
        self._gram_layers: dict[nn.Module, list[Tensor]] = {}
        self._gram_on = self.mode == "exact" and self.route == "layers" and self._gram_allowed
        self.forwards = 0
        self.backwards = 0

    # ---------------------------------------------------------------------------------------------- add
    def add(self, x: Tensor, y: Tensor) -> Tensor:
        """Add a chunk of fresh samples; returns their per-sample losses (detached)."""
        if len(x) == 0:
            raise ValueError("Invalid chunk: 0 samples (expected at least 1)")
        # The stored layer inputs (and generic chunks) must not be views of a larger batch tensor: BA passes
        # the newest rows of a batch that is re-concatenated every round, and a view would keep every round's
        # whole batch alive (memory quadratic in the batch size).
        x, y = _own_storage(x), _own_storage(y)
        capture = _LayerCapture(self._layers) if self.route == "layers" else None
        try:
            losses = self._per_sample_losses(x, y)
            grads = torch.autograd.grad(losses.sum(), self._params, allow_unused=True)
        finally:
            if capture is not None:
                capture.remove()
        self.forwards += 1
        self.backwards += 1
        for acc, g in zip(self._grad_sum, grads):
            if g is not None:
                acc.add_(g)
        self._loss_sum += float(losses.detach().sum())
        self.n += len(x)
        if capture is not None:
            for module, pairs in capture.records.items():
                self._layer_records.setdefault(module, []).extend(pairs)
            if self._gram_on:
                self._extend_gram(capture.records, len(x))
        if self.mode == "diag":
            self._add_squares(x, y, capture)
        elif self.mode == "full":
            self._per_sample.append(_flat_per_sample_gradients(self.model, self.loss_fn, x, y, self._names))
        elif self.route == "generic":
            self._chunks.append((x, y))
        return losses.detach()

    def _per_sample_losses(self, x: Tensor, y: Tensor) -> Tensor:
        losses = self.loss_fn(self.model(x), y)
        if losses.shape != (len(x),):
            raise ValueError(
                f"Invalid loss_fn output shape: {tuple(losses.shape)} (expected per-sample losses of shape ({len(x)},))"
            )
        return losses

    def _add_squares(self, x: Tensor, y: Tensor, capture: _LayerCapture | None) -> None:
        if capture is None:
            per_sample = per_sample_gradients(self.model, self.loss_fn, x, y)
            for acc, name in zip(self._sq_sum, self._names):
                acc.add_(per_sample[name].pow(2).sum(0))
            return
        index = self._index
        for module, pairs in capture.records.items():
            for a, delta in pairs:
                w_sq, b_sq = _layer_square_sums(module, a, delta)
                if module.weight.requires_grad:  # a frozen weight next to a trainable bias has no sums
                    self._sq_sum[index[id(module.weight)]].add_(w_sq)
                if module.bias is not None and module.bias.requires_grad:
                    self._sq_sum[index[id(module.bias)]].add_(b_sq)
        # the layer pairs are not needed for diag; drop them to save memory
        self._layer_records.clear()

    # -------------------------------------------------------------------------------------------- gram
    def _gram_eligible(self, module: nn.Module, pairs: list[list[Tensor]], chunk: int) -> bool:
        """A Linear layer called once on 2-D input, with all its parameters trainable, where the Gram update
        (chunk * n * (in + out) per chunk) beats re-evaluating it (n * in * out per evaluation)."""
        if not isinstance(module, nn.Linear) or len(pairs) != 1 or pairs[0][0].dim() != 2:
            return False
        if not module.weight.requires_grad or (module.bias is not None and not module.bias.requires_grad):
            return False
        return chunk * (module.in_features + module.out_features) < module.in_features * module.out_features

    def _extend_gram(self, records: dict[nn.Module, list[list[Tensor]]], chunk: int) -> None:
        """Add the chunk's rows and columns to G_ij = sum over Gram layers of (delta_i.delta_j)(a_i.a_j + 1).

        With G, the directional derivatives along the mean gradient are d_j = (G 1)_j / n for those layers
        (per-sample gradient of a Linear layer: delta_j a_j^T, bias delta_j), without any layer evaluation.
        The matrix is n x n, so it is dropped (and the layer evaluation used) beyond _GRAM_MAX_SAMPLES.
        """
        first = self._gram is None
        if first:
            self._gram_layers = {
                m: [] for m, pairs in records.items() if self._gram_eligible(m, pairs, chunk)
            }
        if (
            not self._gram_layers
            or self.n > _GRAM_MAX_SAMPLES
            or any(len(records.get(m, [])) != 1 for m in self._gram_layers)
        ):
            self._gram_on, self._gram, self._gram_layers = False, None, {}
            return
        block: Tensor | None = None
        for module, stored in self._gram_layers.items():
            a_new, d_new = records[module][0]
            stored.append((a_new, d_new))
            a_all = torch.cat([a for a, _ in stored])
            d_all = torch.cat([d for _, d in stored])
            with torch.no_grad():
                inner = a_new @ a_all.t()
                if module.bias is not None:
                    inner = inner + 1.0
                part = (d_new @ d_all.t()) * inner
            block = part if block is None else block + part
        old = self.n - chunk
        gram = block.new_empty(self.n, self.n)
        if not first:
            gram[:old, :old] = self._gram
        gram[old:, :] = block
        gram[:old, old:] = block[:, :old].t()
        self._gram = gram

    # ------------------------------------------------------------------------------------------- stats
    def mean_grad(self) -> list[Tensor]:
        """The batch-mean gradient :math:`\\hat f`, one tensor per trainable parameter."""
        self._require_samples(1)
        return [g / self.n for g in self._grad_sum]

    def local_sums(self) -> tuple[list[Tensor], list[Tensor] | None]:
        """The running sums (not copies): per-parameter gradient sums, and the squared-gradient sums in diag
        mode (None otherwise). Data-parallel training all-reduces them (:mod:`realnets.probes.ba_stats`)."""
        return self._grad_sum, self._sq_sum

    def write_grad(self) -> None:
        """Set ``p.grad`` to the batch-mean gradient, ready for ``optimizer.step()``."""
        for p, f in zip(self._params, self.mean_grad()):
            p.grad = f  # mean_grad() returns fresh tensors

    def directional(self, direction: list[Tensor] | None = None) -> Tensor:
        """Per-sample directional derivatives :math:`v^\\top g_j` for all samples (v = mean gradient by default)."""
        if self.mode == "diag":
            raise ValueError(
                "Invalid request: directional derivatives need mode 'exact' or 'full' (got 'diag')"
            )
        self._require_samples(1)
        v = self.mean_grad() if direction is None else self._check_direction("direction", direction)
        if self.mode == "full":
            return torch.cat(self._per_sample) @ torch.cat([t.reshape(-1) for t in v])
        if self.route == "layers":
            return self._directional_layers(v)
        return torch.cat(
            [_directional_generic(self.model, self.loss_fn, x, y, self._names, v) for x, y in self._chunks]
        )

    def _directional_layers(self, v: list[Tensor], skip: dict | None = None) -> Tensor:
        index = self._index
        total: Tensor | None = None
        for module, pairs in self._layer_records.items():
            if skip and module in skip:
                continue
            # a frozen weight (next to a trainable bias) contributes nothing along v
            weight = (
                v[index[id(module.weight)]]
                if module.weight.requires_grad
                else torch.zeros_like(module.weight)
            )
            has_bias = module.bias is not None and module.bias.requires_grad
            bias = v[index[id(module.bias)]] if has_bias else None
            with torch.no_grad():
                parts = [
                    (delta * _layer_apply(module, a, weight, bias)).flatten(1).sum(1) for a, delta in pairs
                ]
            d = torch.cat(parts)
            total = d if total is None else total + d
        if total is None and not skip:
            raise ValueError("Invalid model: no Linear/Conv layer was used in the forward pass")
        return total

    def stats(self, mean_grad: list[Tensor] | None = None) -> GradStats:
        """Statistics of all samples added so far (at least 2 are needed for :math:`\\hat\\Sigma`).

        ``mean_grad`` may pass :meth:`mean_grad` when the caller already has it (saves recomputing it); it must
        be the batch-mean gradient (the Gram route of exact mode uses the per-sample gradients' own mean).
        """
        self._require_samples(2)
        f = self.mean_grad() if mean_grad is None else self._check_direction("mean_grad", mean_grad)
        # reductions accumulate in float64 and are summed on the device: one host sync per number
        grad_sq = float(torch.stack([(t * t).sum(dtype=torch.float64) for t in f]).sum())
        if self.mode == "diag":
            n = self.n
            terms = [_diag_term(ft, sq, n) for ft, sq in zip(f, self._sq_sum)]
            sigma2 = float(torch.stack(terms).sum()) / (n - 1)
            return GradStats(n, self._loss_sum / n, grad_sq, max(sigma2, 0.0), "diag")
        if self._gram_on and self._gram is not None:
            d = self._gram.sum(1) / self.n
            rest = self._directional_layers(f, skip=self._gram_layers)
            if rest is not None:
                d = d + rest
        else:
            d = self.directional(f)
        sigma2 = float(d.double().var(unbiased=True))
        return GradStats(self.n, self._loss_sum / self.n, grad_sq, sigma2, self.mode, d.detach())

    def _check_direction(self, name: str, value) -> list[Tensor]:
        """One tensor per trainable parameter, each of that parameter's shape."""
        shapes = [tuple(p.shape) for p in self._params]
        try:
            got = [tuple(t.shape) for t in value]
        except (TypeError, AttributeError):
            got = None
        if got != shapes:
            raise ValueError(
                f"Invalid {name}: shapes {got} (expected one tensor per trainable parameter, shapes {shapes})"
            )
        return list(value)

    def _require_samples(self, k: int) -> None:
        if self.n < k:
            raise ValueError(f"Invalid batch: {self.n} samples (expected at least {k} for these statistics)")


def _diag_term(f: Tensor, sq: Tensor, n: int) -> Tensor:
    """:math:`\\sum_i f_i^2 (\\sum_j g_{ji}^2 - n f_i^2)` in float64 (the centred form avoids cancellation)."""
    f2 = f.double().square()
    return (f2 * (sq.double() - n * f2)).sum()


def _own_storage(t: Tensor) -> Tensor:
    """``t`` itself when it owns its storage, else a compact copy."""
    if t.untyped_storage().nbytes() > t.numel() * t.element_size():
        return t.clone()
    return t


# ------------------------------------------------------------------------------------------ layer maths
def _layer_square_sums(module: nn.Module, a: Tensor, delta: Tensor) -> tuple[Tensor, Tensor | None]:
    """Sums over the batch of squared per-sample gradients of a layer's weight and bias (closed form)."""
    with torch.no_grad():
        if isinstance(module, nn.Linear):
            if a.dim() == 2:
                w_sq = delta.pow(2).t() @ a.pow(2)
                b_sq = delta.pow(2).sum(0)
                return w_sq, b_sq
            a2, d2 = a.flatten(1, -2), delta.flatten(1, -2)
            per_w = torch.einsum("nto,nti->noi", d2, a2)
            return per_w.pow(2).sum(0), d2.sum(1).pow(2).sum(0)
        if isinstance(module, nn.Conv2d) and module.groups == 1 and not isinstance(module.padding, str):
            cols = F.unfold(a, module.kernel_size, module.dilation, module.padding, module.stride)
            d = delta.flatten(2)
            per_w = torch.bmm(d, cols.transpose(1, 2))  # (n, out, in*k*k)
            return per_w.pow(2).sum(0).view_as(module.weight), d.sum(2).pow(2).sum(0)
        return _layer_square_sums_generic(module, a, delta)


def _layer_square_sums_generic(module: nn.Module, a: Tensor, delta: Tensor) -> tuple[Tensor, Tensor | None]:
    """Per-sample layer gradients by vmap over a vector-Jacobian product of the layer alone."""
    from torch.func import vjp, vmap

    has_bias = module.bias is not None

    def one(ai: Tensor, di: Tensor) -> tuple[Tensor, ...]:
        def out(w: Tensor, b: Tensor | None) -> Tensor:
            return _layer_apply(module, ai.unsqueeze(0), w, b)

        _, pull = vjp(out, module.weight.detach(), module.bias.detach() if has_bias else None)
        return pull(di.unsqueeze(0))

    grads = vmap(one)(a, delta)
    w_sq = grads[0].pow(2).sum(0)
    b_sq = grads[1].pow(2).sum(0) if has_bias else None
    return w_sq, b_sq


# -------------------------------------------------------------------------------------- generic routes
def per_sample_gradients(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Per-sample gradients ``{name: (n, *param.shape)}`` with ``torch.func.vmap(grad)`` (the test oracle)."""
    from torch.func import functional_call, grad, vmap

    _check_batch(x, y, minimum=1)

    params = {n: p.detach() for n, p in _trainable(model)}
    buffers = dict(model.named_buffers())

    def one(p: dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return loss_fn(out, yi.unsqueeze(0)).sum()

    try:
        return vmap(grad(one), in_dims=(None, 0, 0), randomness="different")(params, x, y)
    except RuntimeError:
        # Some fused kernels (the CPU LSTM among them) cannot be batched by vmap: loop over samples.
        return _per_sample_gradients_loop(model, loss_fn, x, y)


def _per_sample_gradients_loop(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    named = _trainable(model)
    rows = [
        torch.autograd.grad(loss_fn(model(x[i : i + 1]), y[i : i + 1]).sum(), [p for _, p in named])
        for i in range(len(x))
    ]
    return {name: torch.stack([r[k] for r in rows]) for k, (name, _) in enumerate(named)}


def _flat_per_sample_gradients(
    model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, names: list[str]
) -> Tensor:
    g = per_sample_gradients(model, loss_fn, x, y)
    return torch.cat([g[n].reshape(len(x), -1) for n in names], dim=1)


def _directional_generic(
    model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, names: list[str], v: list[Tensor]
) -> Tensor:
    """:math:`v^\\top g_j` for each sample: one forward-mode pass, or reverse-over-reverse if unsupported."""
    from torch.func import functional_call, jvp

    params = {n: p.detach() for n, p in _trainable(model)}
    tangents = dict(zip(names, v))

    def losses(p: dict[str, Tensor]) -> Tensor:
        return loss_fn(functional_call(model, p, (x,)), y)

    try:
        _, d = jvp(losses, (params,), (tangents,))
        return d.detach()
    except NotImplementedError:
        return _directional_double_backward(model, loss_fn, x, y, v)


def _directional_double_backward(
    model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, v: list[Tensor]
) -> Tensor:
    """J v by reverse-over-reverse: d/du [ (J^T u)^T v ] = J v, for layers without forward-mode AD."""
    params = [p for _, p in _trainable(model)]
    with torch.enable_grad():
        losses = loss_fn(model(x), y)
        u = torch.zeros_like(losses, requires_grad=True)
        g = torch.autograd.grad((u * losses).sum(), params, create_graph=True, allow_unused=True)
        inner = sum((gi * vi).sum() for gi, vi in zip(g, v) if gi is not None)
        (d,) = torch.autograd.grad(inner, u)
    return d.detach()


# ---------------------------------------------------------------------------------------- public helpers
def _check_batch(x: object, y: object, *, minimum: int) -> None:
    """``x`` and ``y`` are tensors with the same number of samples, at least ``minimum`` of them."""
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, Tensor) or value.ndim == 0:
            shown = " ".join(repr(value).split())[:60]
            raise ValueError(f"Invalid {name}: {shown} (expected a tensor with one row per sample)")
    if len(x) < minimum:
        what = "gradient statistics" if minimum >= 2 else "per-sample gradients"
        raise ValueError(f"Invalid x: {len(x)} samples (expected at least {minimum} for {what})")
    if len(y) != len(x):
        raise ValueError(f"Invalid y: {len(y)} targets (expected {len(x)}, one per sample of x)")


def gradient_stats(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    *,
    mode: str = "exact",
    chunk_size: int | None = None,
) -> GradStats:
    """Statistics of one batch (see the module docstring); ``chunk_size`` adds it in chunks.

    Raises:
        ValueError: for fewer than 2 samples (no covariance), ``x`` and ``y`` of different lengths, or a
            ``chunk_size`` below 1.
    """
    _check_batch(x, y, minimum=2)
    step = len(x) if chunk_size is None else chunk_size
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValueError(f"Invalid chunk_size: {chunk_size!r} (expected an integer >= 1)")
    acc = GradStatsAccumulator(model, loss_fn, mode=mode)
    for start in range(0, len(x), step):
        acc.add(x[start : start + step], y[start : start + step])
    return acc.stats()


def stats_from_per_sample_gradients(per_sample: Tensor, losses: Tensor, *, diag: bool = False) -> GradStats:
    """Reference statistics from materialised per-sample gradients ``(n, P)`` (the oracle's route).

    Raises:
        ValueError: unless ``per_sample`` is ``(n, P)`` with n >= 2 and ``losses`` has shape ``(n,)``.
    """
    for name, value in (("per_sample", per_sample), ("losses", losses)):
        if not isinstance(value, Tensor):
            raise ValueError(f"Invalid {name}: {type(value).__name__} (expected a tensor)")
    if not isinstance(diag, bool):
        raise ValueError(f"Invalid diag: {diag!r} (expected True or False)")
    if per_sample.ndim != 2:
        raise ValueError(f"Invalid per_sample: shape {tuple(per_sample.shape)} (expected (n, P))")
    n = per_sample.shape[0]
    if n < 2:
        raise ValueError(f"Invalid per_sample: {n} samples (expected at least 2 for a covariance)")
    if tuple(losses.shape) != (n,):
        raise ValueError(f"Invalid losses: shape {tuple(losses.shape)} (expected ({n},), one per sample)")
    per_sample = per_sample.double()
    f = per_sample.mean(0)
    centred = per_sample - f
    if diag:
        sigma2 = float((f.pow(2) * centred.pow(2).sum(0)).sum() / (n - 1))
        return GradStats(n, float(losses.mean()), float(f @ f), sigma2, "diag")
    cov = centred.t() @ centred / (n - 1)
    return GradStats(n, float(losses.mean()), float(f @ f), float(f @ cov @ f), "full", per_sample @ f)


def per_sample_backward_stats(
    model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, *, diag: bool = True
) -> GradStats:
    """The original implementation's approach: one backward pass per sample, each gradient copied to the host.

    Kept as the speed peer of ``realnets bench`` and as a second oracle. Seed 000's code uses the diagonal
    covariance by default; ``diag=False`` forms the full quadratic form from the stored gradients.

    Raises:
        ValueError: for fewer than 2 samples or ``x`` and ``y`` of different lengths.
    """
    _check_batch(x, y, minimum=2)
    params = [p for _, p in _trainable(model)]
    rows, losses = [], []
    for i in range(len(x)):
        loss = loss_fn(model(x[i : i + 1]), y[i : i + 1]).sum()
        grads = torch.autograd.grad(loss, params)
        rows.append(torch.cat([g.reshape(-1) for g in grads]).cpu().numpy())
        losses.append(float(loss.detach()))
    import numpy as np

    per_sample = torch.from_numpy(np.stack(rows))
    return stats_from_per_sample_gradients(per_sample, torch.tensor(losses, dtype=torch.float64), diag=diag)


def iter_chunks(n: int, chunk: int) -> Iterable[slice]:
    """Slices of ``range(n)`` in steps of ``chunk``."""
    for start in range(0, n, chunk):
        yield slice(start, min(start + chunk, n))
