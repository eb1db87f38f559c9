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
from collections.abc import Callable

import torch
from torch import Tensor, nn

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


class FGSMTransform:
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

    Differences from the original driver, on purpose: it only perturbs when :math:`b_0\gamma > 1` (so
    :math:`0 < b_0\gamma \le 1` gives no adversarial row there, one here), and with gradient accumulation over
    :math:`r` base batches it perturbs the first :math:`k` rows of *each* base batch (:math:`rk` in all); here
    pass ``b0`` and apply the transform per base batch to reproduce that.

    ``cost`` counts the passes made: ``{"fwd": .., "bwd": .., "rows": ..}`` (one forward and one backward to the
    input per :meth:`apply` with :math:`k > 0`, and the rows perturbed).
    """

    def __init__(
        self,
        gamma: float,
        eps: float,
        *,
        b0: int | None = None,
        clip: str | None = "tensor",
        data_min: float | Tensor | None = None,
        data_max: float | Tensor | None = None,
    ) -> None:
        self.gamma = gamma
        self.eps = _check_eps(eps)
        if b0 is not None and (isinstance(b0, bool) or not isinstance(b0, int) or b0 < 1):
            raise ValueError(f"Invalid b0: {b0!r} (expected an integer >= 1 or None)")
        _check_clip(clip, data_min, data_max)
        self.b0, self.clip, self.data_min, self.data_max = b0, clip, data_min, data_max
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

    def apply(self, model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> Tensor:
        """The batch with its first :meth:`rows` rows replaced by FGSM inputs; the other rows are ``x``'s own."""
        k = self.rows(x.shape[0])
        if k == 0:
            return x
        adv = fgsm(
            model,
            loss_fn,
            x[:k],
            y[:k],
            self.eps,
            clip=self.clip,
            data_min=self.data_min,
            data_max=self.data_max,
        )
        if self.eps > 0:
            self.cost["fwd"] += 1
            self.cost["bwd"] += 1
        self.cost["rows"] += k
        return torch.cat([adv.to(x.dtype), x[k:]])

    __call__ = apply
