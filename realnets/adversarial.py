r"""FGSM adversarial inputs for adversarial batch-size training (seed 003, ABSA, Alg. 1).

Fast gradient sign method (Goodfellow, Shlens and Szegedy 2015, as used by seed 003 sec. 3):

.. math::

    x_{\mathrm{adv}} = \operatorname{clip}\big(x + \epsilon\,\operatorname{sign}(\nabla_x L(f(x), y)),
    \; a, \; b\big),

with :math:`L` the batch's mean loss (seed 003: cross-entropy; any ``loss_fn`` here, the sign does not depend
on the 1/b of the mean). The authors' code (github.com/amirgholami/HessianFlow
``hessianflow/optimizer/optm_utils.py``, ``fgsm``) clips to :math:`a=\min(x)`, :math:`b=\max(x)` over the whole
(sub-)batch tensor it perturbs (``clip="tensor"``, the default here); ``clip="data"`` clips each element to a
data range :math:`[a, b]` given by the caller, ``clip=None`` not at all.

ABSA (HessianFlow ``hessianflow/optimizer/absa.py``) builds FGSM versions of the first
:math:`k = \lfloor b_0\gamma\rfloor` samples of each base mini-batch of :math:`b_0` samples (model in eval mode
so that BatchNorm statistics are not polluted) and *replaces* those samples by them: :class:`FGSMTransform`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from realnets.objectives import InputTransform, register_transform

__all__ = ["CLIP_MODES", "FGSMTransform", "fgsm"]

CLIP_MODES = ("tensor", "data", None)
LossFn = Callable[[Tensor, Tensor], Tensor]


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"Invalid eps: {eps!r} (expected a finite number >= 0)")
    return float(eps)


def _check_clip(clip, data_min, data_max) -> None:
    if clip not in CLIP_MODES:
        raise ValueError(f"Invalid clip: {clip!r} (expected 'tensor', 'data' or None)")
    if clip == "data":
        if data_min is None or data_max is None:
            raise ValueError(
                f"Invalid data range: [{data_min!r}, {data_max!r}] (expected both bounds with clip='data')"
            )
        if bool(torch.any(torch.as_tensor(data_min) > torch.as_tensor(data_max))):
            raise ValueError(
                f"Invalid data range: [{data_min!r}, {data_max!r}] (expected data_min <= data_max)"
            )


def fgsm(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    eps: float,
    *,
    clip: str | None = "tensor",
    data_min: float | Tensor | None = None,
    data_max: float | Tensor | None = None,
) -> Tensor:
    r"""FGSM inputs :math:`\operatorname{clip}(x + \epsilon\operatorname{sign}\nabla_x L, a, b)` (module docstring).

    ``loss_fn(model(x), y)`` may return the mean or per-sample losses (then averaged). The model runs in
    ``eval()`` mode for this one forward and backward (to the input only), then every module's training flag
    and every parameter's ``.grad`` are restored exactly. The result is detached (no gradient flows into it).
    ``eps=0`` returns a copy of ``x`` (after the clip) without any pass.
    """
    eps = _check_eps(eps)
    _check_clip(clip, data_min, data_max)
    if not x.is_floating_point():
        raise ValueError(f"Invalid x: dtype {x.dtype} (expected floating-point inputs)")
    if x.dim() == 0 or x.shape[0] == 0:
        raise ValueError(f"Invalid batch: {tuple(x.shape)} (expected at least one sample)")
    x = x.detach()
    if eps == 0.0:
        adv = x.clone()
    else:
        modes = [(m, m.training) for m in model.modules()]
        grads = [(p, p.grad) for p in model.parameters()]
        try:
            model.eval()
            with torch.enable_grad():
                x_in = x.clone().requires_grad_(True)
                loss = loss_fn(model(x_in), y)
                loss = loss if loss.dim() == 0 else loss.mean()
                (grad_x,) = torch.autograd.grad(loss, x_in)
        finally:
            for m, mode in modes:
                m.training = mode
            for p, g in grads:
                p.grad = g
        adv = x + eps * torch.sign(grad_x)
    if clip == "tensor":
        adv = torch.clamp(adv, x.min(), x.max())
    elif clip == "data":
        lo = torch.as_tensor(data_min, dtype=x.dtype, device=x.device)
        hi = torch.as_tensor(data_max, dtype=x.dtype, device=x.device)
        adv = torch.clamp(adv, lo, hi)
    return adv.detach()


class FGSMTransform(InputTransform):
    r"""Replace the first :math:`k = \max(\lfloor b_0\gamma\rfloor, 1)` rows of a batch by their FGSM versions.

    Seed 003's ABSA (Alg. 1; HessianFlow ``absa.py``) trains on a batch whose first :math:`k` samples are
    replaced (not appended: the batch size is unchanged) by :func:`fgsm` inputs built from those :math:`k`
    samples; :math:`\gamma` is halved each time the batch grows and set to 0 at the end (the caller updates
    :attr:`gamma`). ``gamma = 0`` leaves the batch unchanged (no pass).

    Args:
        gamma: adversarial fraction in [0, 1).
        eps: FGSM step :math:`\epsilon \ge 0` (seed 003: 0.005 on inputs in [0, 1]).
        b0: the base batch size :math:`b_0` over which :math:`k` is computed (default: the batch's own size);
            :math:`k` is capped at the batch size.
        clip, data_min, data_max: as in :func:`fgsm` (the "tensor" clip uses the min/max of the k rows).

    ``per_base_batch=True`` (with ``b0``): the batch is read as consecutive base batches of :math:`b_0` rows (the
    :math:`r` accumulated mini-batches of ABSA, HessianFlow ``absa.py``) and the first :math:`k` rows of *each*
    are replaced (:math:`rk` in all for :math:`r b_0` rows; a trailing partial base batch of :math:`m` rows gets
    :math:`\min(k, m)`); the ``"tensor"`` clip then uses each base batch's own :math:`k` rows, as the original
    perturbs one mini-batch at a time. One forward and one backward serve all of them (in eval mode each row's
    input gradient depends on that row only).

    Difference from the original driver, on purpose: it only perturbs when :math:`b_0\gamma > 1` (so
    :math:`0 < b_0\gamma \le 1` gives no adversarial row there, one here).

    ``cost`` counts the passes made: ``{"fwd": .., "bwd": .., "rows": ..}`` (one forward and one backward to the
    input per :meth:`apply` with :math:`k > 0`, and the rows perturbed); :meth:`apply` returns the passes of that
    call with the batch (the :class:`~realnets.objectives.InputTransform` protocol; registered as ``"fgsm"``).
    ``timed=True`` adds the wall seconds spent in :meth:`apply` to :attr:`seconds` (synchronising a CUDA device
    around the call so the figure is real).
    """

    name = "fgsm"

    def __init__(
        self,
        gamma: float,
        eps: float,
        *,
        b0: int | None = None,
        clip: str | None = "tensor",
        data_min: float | Tensor | None = None,
        data_max: float | Tensor | None = None,
        per_base_batch: bool = False,
        timed: bool = False,
    ) -> None:
        self.gamma = gamma
        self.eps = _check_eps(eps)
        if b0 is not None and (isinstance(b0, bool) or not isinstance(b0, int) or b0 < 1):
            raise ValueError(f"Invalid b0: {b0!r} (expected an integer >= 1 or None)")
        if per_base_batch and b0 is None:
            raise ValueError("Invalid per_base_batch: True (expected b0 with it)")
        _check_clip(clip, data_min, data_max)
        self.b0, self.clip, self.data_min, self.data_max = b0, clip, data_min, data_max
        self.per_base_batch = bool(per_base_batch)
        self.timed, self.seconds = bool(timed), 0.0
        self.cost = {"fwd": 0, "bwd": 0, "rows": 0}

    @property
    def gamma(self) -> float:
        """The adversarial fraction :math:`\\gamma \\in [0, 1)`."""
        return self._gamma

    @gamma.setter
    def gamma(self, value: float) -> None:
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and 0 <= value < 1
        if not ok:
            raise ValueError(f"Invalid gamma: {value!r} (expected a number in [0, 1))")
        self._gamma = float(value)

    def rows(self, batch_size: int) -> int:
        """:math:`k` for a batch of ``batch_size`` rows: 0 if :math:`\\gamma = 0`, else
        :math:`\\min(\\max(\\lfloor b_0\\gamma\\rfloor, 1), \\text{batch size})`."""
        if self._gamma == 0.0 or batch_size == 0:
            return 0
        b0 = batch_size if self.b0 is None else self.b0
        return min(max(math.floor(b0 * self._gamma), 1), batch_size)

    def row_index(self, batch_size: int) -> Tensor:
        """The rows replaced in a batch of ``batch_size``: the first :meth:`rows` of it, or with
        ``per_base_batch`` the first :math:`\\min(k, m)` of each consecutive base batch of :math:`m \\le b_0` rows."""
        if not self.per_base_batch:
            return torch.arange(self.rows(batch_size))
        k = self.rows(self.b0)
        if k == 0:
            return torch.zeros(0, dtype=torch.long)
        starts = torch.arange(0, batch_size, self.b0)
        offsets = torch.arange(k)
        index = (starts[:, None] + offsets[None, :]).reshape(-1)
        return index[index < batch_size]

    def apply(self, model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> tuple[Tensor, dict[str, int]]:
        """``(x', passes)``: the batch with the rows of :meth:`row_index` replaced by FGSM inputs (the other rows
        are ``x``'s own, the very tensor when nothing is replaced) and ``{"fwd": .., "bwd": ..}`` of this call."""
        before = (self.cost["fwd"], self.cost["bwd"])
        if self.timed:
            _synchronize(x.device)
            start = time.perf_counter()
        out = self._replace(model, loss_fn, x, y)
        if self.timed:
            _synchronize(x.device)
            self.seconds += time.perf_counter() - start
        return out, {"fwd": self.cost["fwd"] - before[0], "bwd": self.cost["bwd"] - before[1]}

    def _replace(self, model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> Tensor:
        if not self.per_base_batch:
            k = self.rows(x.shape[0])
            if k == 0:
                return x
            adv = self._fgsm(model, loss_fn, x[:k], y[:k], self.clip)
            self._count(k)
            return torch.cat([adv.to(x.dtype), x[k:]])
        index = self.row_index(x.shape[0]).to(x.device)
        if index.numel() == 0:
            return x
        rows = x[index]
        clip = None if self.clip == "tensor" else self.clip
        adv = self._fgsm(model, loss_fn, rows, y[index], clip)
        if self.clip == "tensor":  # each base batch's own min and max, as when perturbed one at a time
            chunk = index // self.b0
            shape = (-1,) + (1,) * (rows.dim() - 1)
            flat = rows.reshape(rows.shape[0], -1)
            count = int(chunk.max()) + 1
            lo = torch.full((count,), float("inf"), dtype=rows.dtype, device=rows.device)
            hi = torch.full((count,), float("-inf"), dtype=rows.dtype, device=rows.device)
            lo = lo.scatter_reduce(0, chunk, flat.min(dim=1).values, reduce="amin")
            hi = hi.scatter_reduce(0, chunk, flat.max(dim=1).values, reduce="amax")
            adv = torch.maximum(torch.minimum(adv, hi[chunk].reshape(shape)), lo[chunk].reshape(shape))
        self._count(int(index.numel()))
        out = x.clone()
        out[index] = adv.to(x.dtype)
        return out

    def _fgsm(self, model, loss_fn, x, y, clip):
        return fgsm(model, loss_fn, x, y, self.eps, clip=clip, data_min=self.data_min, data_max=self.data_max)

    def _count(self, rows: int) -> None:
        if self.eps > 0:
            self.cost["fwd"] += 1
            self.cost["bwd"] += 1
        self.cost["rows"] += rows

    def __call__(self, model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> Tensor:
        """The transformed batch only (:meth:`apply` without the pass counts)."""
        return self.apply(model, loss_fn, x, y)[0]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


register_transform("fgsm", FGSMTransform)
