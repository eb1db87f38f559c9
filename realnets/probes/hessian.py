r"""Curvature probes of the mean batch loss: Hessian-vector products, top eigenvalues, trace and diagonal.

For a batch :math:`(x_i, y_i)_{i=1}^{b}` and parameters :math:`\theta` the probes look at the Hessian of the
mean loss

.. math::

    L(\theta) = \frac1b \sum_{i=1}^{b} \ell(f(x_i; \theta), y_i), \qquad H = \nabla^2_\theta L(\theta),

through Hessian-vector products only: :math:`Hv = \nabla_\theta \langle \nabla_\theta L, v\rangle` (double
backward, Pearlmutter's trick; one HVP costs about one extra backward pass, Martens 2010 as cited by seed 003
sec. 1). :class:`HessianOperator` builds the gradient graph :math:`\nabla_\theta L` once per batch and keeps
it, so that every further HVP is a single backward through the retained graph; the probes below reuse it:

* :func:`top_eigenvalues`: power iteration with deflation (the top Hessian eigenvalue that seed 003's ABS/ABSA
  algorithm, Alg. 1, tracks to grow the batch), or Lanczos (``scipy.sparse.linalg.eigsh``);
* :func:`hessian_trace`: Hutchinson's estimator :math:`\operatorname{tr} H = \mathbb E[z^\top H z]`;
* :func:`hessian_diagonal`: :math:`\operatorname{diag} H = \mathbb E[z \odot Hz]` (Bekas et al. 2007), or exact
  for tiny models.

Every probe runs with the model in ``eval()`` mode (BatchNorm uses its running statistics, dropout is off, as in
the authors' code: github.com/amirgholami/HessianFlow ``hessianflow/eigen.py``, ``get_eigen``), and restores
each module's training flag and every ``p.grad`` exactly afterwards: HVPs go through ``torch.autograd.grad``,
which never accumulates into ``.grad``.

Block Hessian (seed 003 sec. 4.3, Fig. 6): ``block="last:2"`` restricts :math:`\theta` to the parameters of the
last two modules that own parameters; the double backward then stops at those layers, which is what makes the
block cheaper. ``block`` may also be a list of parameter-name prefixes (module names), or ``params=`` an explicit
list of the model's parameters.

``dtype=torch.float64`` runs the probe on a float64 deep copy of the model (the batch is cast too): one extra
copy of the parameters and buffers in memory, and float64 arithmetic (a few times slower on CPU, 30-60x on
consumer GPUs). Vectors returned are then float64 and belong to the copy's parameter shapes (the same shapes).

Seed 003's constants (ABSA driver, github.com/amirgholami/HessianFlow ``hessianflow/optimizer/absa.py``):
``get_eigen(..., maxIter=10, tol=1e-2)`` with the relative criterion
:math:`|\lambda_t-\lambda_{t-1}|/|\lambda_{t-1}| < \mathrm{tol}` (``hessianflow/eigen.py``), a Gaussian start
vector; :data:`ABS_MAX_ITER` and :data:`ABS_TOL` hold them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = [
    "ABS_MAX_ITER",
    "ABS_TOL",
    "EXACT_DIAGONAL_LIMIT",
    "DiagonalEstimate",
    "EigenResult",
    "HessianOperator",
    "TraceEstimate",
    "hessian_diagonal",
    "hessian_trace",
    "hvp",
    "resolve_block",
    "top_eigenvalues",
]

#: Power-iteration constants of seed 003's ABSA driver (HessianFlow ``absa.py``: ``maxIter=10, tol=1e-2``).
ABS_MAX_ITER = 10
ABS_TOL = 1e-2
#: :func:`hessian_diagonal` with ``exact=True`` refuses models with more parameters than this (one HVP each).
EXACT_DIAGONAL_LIMIT = 20_000

LossFn = Callable[[Tensor, Tensor], Tensor]


# --------------------------------------------------------------------------------------------- helpers ---
def _dot(a: Sequence[Tensor], b: Sequence[Tensor]) -> Tensor:
    return sum(
        (torch.sum(u * w) for u, w in zip(a, b)), torch.zeros((), dtype=a[0].dtype, device=a[0].device)
    )


def _norm(a: Sequence[Tensor]) -> float:
    return math.sqrt(float(_dot(a, a)))


def _scale(a: Sequence[Tensor], s: float) -> list[Tensor]:
    return [u * s for u in a]


def _orthogonalize(v: list[Tensor], basis: Sequence[Sequence[Tensor]]) -> list[Tensor]:
    """Gram-Schmidt: remove from ``v`` its components along the orthonormal vectors of ``basis``."""
    for w in basis:
        c = _dot(v, w)
        v = [vi - c * wi for vi, wi in zip(v, w)]
    return v


def _check_int(name: str, value, low: int, high: int | None = None) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bound = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"Invalid {name}: {value!r} (expected {bound})")
    return value


def _check_tol(tol) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not math.isfinite(tol) or tol <= 0:
        raise ValueError(f"Invalid tol: {tol!r} (expected a finite number > 0)")
    return float(tol)


def _mean_loss(loss_fn: LossFn, outputs: Tensor, targets: Tensor) -> Tensor:
    """``loss_fn`` may return the batch mean (a scalar) or per-sample losses (then they are averaged)."""
    loss = loss_fn(outputs, targets)
    return loss if loss.dim() == 0 else loss.mean()


def _generator(generator: torch.Generator | None) -> torch.Generator:
    """The caller's generator, or a fresh one with torch's default seed (the global RNG is never touched)."""
    if generator is None:
        return torch.Generator()
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"Invalid generator: {generator!r} (expected a torch.Generator or None)")
    return generator


def _draw(shapes: Sequence[Tensor], kind: str, generator: torch.Generator) -> list[Tensor]:
    """Rademacher (+-1) or standard-normal tensors shaped like ``shapes``, from ``generator`` only."""
    gen = generator
    out = []
    for p in shapes:
        if kind == "rademacher":
            z = torch.randint(0, 2, p.shape, generator=gen, device=gen.device).to(p.dtype).mul_(2).sub_(1)
        else:
            z = torch.randn(p.shape, generator=gen, device=gen.device, dtype=p.dtype)
        out.append(z.to(p.device))
    return out


def _modules_with_params(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]


def resolve_block(
    model: nn.Module, block: str | Sequence[str] | None = None, params: Sequence[Tensor] | None = None
) -> list[str]:
    """Names of the parameters (in ``model.named_parameters()`` order) a probe differentiates.

    ``block=None`` and ``params=None``: every parameter that requires grad. ``block="last:n"``: the parameters of
    the last ``n`` modules that own parameters (seed 003's block Hessian, sec. 4.3). ``block`` a list/tuple of
    module names (parameter-name prefixes, matched at ``.`` boundaries). ``params``: an explicit list of the
    model's parameters. Unknown names raise ValueError listing the valid module names.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if params is not None and block is not None:
        raise ValueError("Invalid params/block: both given (expected at most one of them)")
    if params is not None:
        ids = {id(p): n for n, p in named}
        params = list(params)
        missing = [i for i, p in enumerate(params) if id(p) not in ids]
        if missing or not params:
            raise ValueError(
                f"Invalid params: entry {missing[0] if missing else 'list'} "
                f"(expected a non-empty list of the model's trainable parameters)"
            )
        chosen = {ids[id(p)] for p in params}
        return [n for n, _ in named if n in chosen]
    if block is None:
        if not named:
            raise ValueError(
                "Invalid model: no trainable parameters (expected at least one with requires_grad)"
            )
        return [n for n, _ in named]
    modules = _modules_with_params(model)
    if isinstance(block, str):
        head, _, count = block.partition(":")
        if head == "last" and count.isdigit() and int(count) >= 1:
            prefixes = modules[-int(count) :]
        else:
            raise ValueError(
                f"Invalid block: {block!r} (expected 'last:n' with n >= 1, or a list of module names "
                f"from {', '.join(repr(m) for m in modules)})"
            )
    else:
        prefixes = list(block)
        unknown = [
            b
            for b in prefixes
            if not isinstance(b, str) or not any(b == "" or n == b or n.startswith(b + ".") for n, _ in named)
        ]
        if unknown or not prefixes:
            raise ValueError(
                f"Invalid block: {unknown[0] if unknown else block!r} (expected module names from "
                f"{', '.join(repr(m) for m in modules)})"
            )
    names = [n for n, _ in named if any(b == "" or n == b or n.startswith(b + ".") for b in prefixes)]
    if not names:
        raise ValueError(f"Invalid block: {block!r} (selects no trainable parameter)")
    return names


class _ProbeState:
    """Save every module's training flag and every parameter's ``.grad``; restore them exactly."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.modes = [(m, m.training) for m in model.modules()]
        self.grads = [(p, p.grad) for p in model.parameters()]

    def restore(self) -> None:
        for m, mode in self.modes:
            m.training = mode
        for p, g in self.grads:
            p.grad = g


# ------------------------------------------------------------------------------------------- operator ---
class HessianOperator:
    r"""The Hessian :math:`H` of the mean batch loss as a linear operator, gradient graph built once.

    The constructor runs one forward pass (in ``eval()`` mode, then the training flags are restored) and
    :math:`g = \nabla_\theta L` with ``create_graph=True``; :meth:`matvec` then costs one backward pass through
    the retained graph: :math:`Hv = \nabla_\theta\langle g, v\rangle`. ``hvps`` counts the products made.

    Args:
        model, loss_fn, x, y: the batch loss ``loss_fn(model(x), y)`` (a scalar mean, or per-sample losses,
            then averaged).
        params, block: restrict :math:`\theta` (see :func:`resolve_block`).
        dtype: e.g. ``torch.float64``: work on a deep copy of the model in that dtype (the batch is cast).

    Call :meth:`close` (or use it as a context manager) to free the graph early. Do not update the parameters
    (or BatchNorm buffers) in place while the operator is in use: autograd would refuse the stale graph.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        x: Tensor,
        y: Tensor,
        *,
        params: Sequence[Tensor] | None = None,
        block: str | Sequence[str] | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if x.dim() == 0 or x.shape[0] == 0:
            raise ValueError(f"Invalid batch: {tuple(x.shape)} (expected at least one sample)")
        if y.dim() == 0 or y.shape[0] != x.shape[0]:
            raise ValueError(f"Invalid targets: shape {tuple(y.shape)} (expected {x.shape[0]} rows like x)")
        self.names = resolve_block(model, block, params)
        if dtype is not None:
            if not dtype.is_floating_point:
                raise ValueError(f"Invalid dtype: {dtype} (expected a floating-point dtype)")
            model = copy.deepcopy(model).to(dtype)
            if x.is_floating_point():
                x = x.to(dtype)
        lookup = dict(model.named_parameters())
        self.params: list[Tensor] = [lookup[n] for n in self.names]
        self.numel = sum(p.numel() for p in self.params)
        self.hvps = 0
        state = _ProbeState(model)
        try:
            model.eval()
            with torch.enable_grad():
                self.loss = _mean_loss(loss_fn, model(x), y)
                self._grads = torch.autograd.grad(
                    self.loss, self.params, create_graph=True, allow_unused=True
                )
        finally:
            state.restore()
        # Parameters the loss does not depend on have a zero gradient and zero Hessian rows.
        self._used = [g is not None for g in self._grads]
        self._graph_grads = [g for g in self._grads if g is not None]
        self._graph_params = [p for p, used in zip(self.params, self._used) if used]
        self._has_graph = [g.requires_grad for g in self._graph_grads]

    @property
    def gradient(self) -> list[Tensor]:
        """The batch gradient :math:`\\nabla_\\theta L` (detached), shaped like the parameters."""
        return [torch.zeros_like(p) if g is None else g.detach() for p, g in zip(self.params, self._grads)]

    def matvec(self, v: Sequence[Tensor]) -> list[Tensor]:
        """:math:`Hv` for ``v`` a list of tensors shaped like the parameters (one backward pass)."""
        if self._grads is None:
            raise ValueError("Invalid operator: closed (expected an open HessianOperator)")
        v = list(v)
        if len(v) != len(self.params) or any(a.shape != p.shape for a, p in zip(v, self.params)):
            raise ValueError(
                f"Invalid v: shapes {[tuple(a.shape) for a in v]} "
                f"(expected {[tuple(p.shape) for p in self.params]})"
            )
        v_used = [a.to(p.dtype) for a, p, used in zip(v, self.params, self._used) if used]
        pairs = [(g, a) for g, a, live in zip(self._graph_grads, v_used, self._has_graph) if live]
        self.hvps += 1
        if pairs:
            hv_used = torch.autograd.grad(
                [g for g, _ in pairs],
                self._graph_params,
                grad_outputs=[a for _, a in pairs],
                retain_graph=True,
                allow_unused=True,
            )
        else:  # the loss is linear in these parameters
            hv_used = [None] * len(self._graph_params)
        it = iter(hv_used)
        out = []
        for p, used in zip(self.params, self._used):
            h = next(it) if used else None
            out.append(torch.zeros_like(p) if h is None else h.detach())
        return out

    __call__ = matvec

    def flat_matvec(self, v: Tensor) -> Tensor:
        """:math:`Hv` on flattened vectors (the parameters concatenated in order)."""
        return torch.cat([h.reshape(-1) for h in self.matvec(self.unflatten(v))])

    def unflatten(self, v: Tensor) -> list[Tensor]:
        """Split a flat vector of length :attr:`numel` into tensors shaped like the parameters."""
        out, start = [], 0
        for p in self.params:
            out.append(v[start : start + p.numel()].reshape(p.shape).to(device=p.device, dtype=p.dtype))
            start += p.numel()
        return out

    def as_linear_operator(self):
        """A ``scipy.sparse.linalg.LinearOperator`` (float64, flat vectors) applying :meth:`matvec`."""
        import numpy as np
        from scipy.sparse.linalg import LinearOperator

        def mv(w):
            flat = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float64).reshape(-1))
            return self.flat_matvec(flat).detach().cpu().double().numpy()

        return LinearOperator((self.numel, self.numel), matvec=mv, dtype=np.float64)

    def close(self) -> None:
        """Free the retained gradient graph."""
        self._grads = self._graph_grads = None

    def __enter__(self) -> HessianOperator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def hvp(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    v: Sequence[Tensor],
    *,
    params: Sequence[Tensor] | None = None,
    block: str | Sequence[str] | None = None,
) -> list[Tensor]:
    r"""One Hessian-vector product :math:`Hv = \nabla_\theta\langle\nabla_\theta L, v\rangle` of the mean loss.

    ``v`` is a list of tensors shaped like the selected parameters (all trainable ones by default). For many
    products on one batch build a :class:`HessianOperator` once instead (one gradient graph for all).
    """
    with HessianOperator(model, loss_fn, x, y, params=params, block=block) as op:
        return op.matvec(v)


# ------------------------------------------------------------------------------------------ eigenvalues ---
@dataclass
class EigenResult:
    """Top Hessian eigenvalues.

    Attributes:
        values: eigenvalues (signed), in the order found: decreasing magnitude for power iteration,
            decreasing value for Lanczos ``which="LA"``.
        vectors: the unit eigenvectors, each a list of tensors shaped like the parameters.
        hvps: Hessian-vector products made (the cost: each is about one backward pass, plus one gradient
            graph build per call).
        iterations: power steps per eigenvalue (Lanczos: one entry, the operator applications).
        converged: every eigenvalue met ``tol`` within ``max_iter``.
        names: the parameter names the Hessian is taken over.
    """

    values: list[float]
    vectors: list[list[Tensor]]
    hvps: int
    iterations: list[int]
    converged: bool
    names: list[str]


def _power_iteration(op: HessianOperator, k: int, max_iter: int, tol: float, generator, start: str):
    values, vectors, iterations, converged = [], [], [], True
    for _ in range(k):
        v = _orthogonalize(_draw(op.params, start, generator), vectors)
        v = _scale(v, 1.0 / _norm(v))
        eig, done, steps = None, False, 0
        for _ in range(max_iter):
            steps += 1
            v = _orthogonalize(v, vectors)  # deflation: stay orthogonal to the eigenvectors found
            hv = op.matvec(v)
            lam = float(_dot(hv, v))
            size = _norm(hv)
            if size == 0.0:  # v lies in the null space: eigenvalue 0
                eig, done = 0.0, True
                break
            v = _scale(hv, 1.0 / size)
            if eig is not None and abs(lam - eig) / (abs(eig) + 1e-12) < tol:
                eig, done = lam, True
                break
            eig = lam
        values.append(eig)
        vectors.append(_scale(v, 1.0 / _norm(v)))
        iterations.append(steps)
        converged = converged and done
    return values, vectors, iterations, converged


def _lanczos(op: HessianOperator, k: int, max_iter: int, tol: float, generator, which: str):
    import numpy as np
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    before = op.hvps
    if k >= op.numel:  # ARPACK needs k < n: build the (tiny) dense matrix from n products instead
        eye = torch.eye(op.numel, dtype=torch.float64)
        dense = np.stack([op.flat_matvec(e).detach().cpu().double().numpy() for e in eye], axis=1)
        w, u = np.linalg.eigh((dense + dense.T) / 2)
        converged = True
    else:
        v0 = torch.cat([z.reshape(-1) for z in _draw(op.params, "normal", generator)]).cpu().double().numpy()
        try:
            w, u = eigsh(op.as_linear_operator(), k=k, which=which, v0=v0, tol=tol, maxiter=max_iter)
            converged = True
        except ArpackNoConvergence as err:
            w, u, converged = err.eigenvalues, err.eigenvectors, False
    order = np.argsort(-np.abs(w) if which == "LM" else (w if which == "SA" else -w))[:k]
    values = [float(w[i]) for i in order]
    vectors = [op.unflatten(torch.from_numpy(np.ascontiguousarray(u[:, i]))) for i in order]
    return values, vectors, [op.hvps - before], converged


def top_eigenvalues(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    k: int = 1,
    max_iter: int = 100,
    tol: float = 1e-3,
    generator: torch.Generator | None = None,
    params: Sequence[Tensor] | None = None,
    block: str | Sequence[str] | None = None,
    dtype: torch.dtype | None = None,
    *,
    method: str = "power",
    which: str = "LA",
    start: str = "normal",
) -> EigenResult:
    r"""The ``k`` top eigenvalues of the batch-loss Hessian, by power iteration with deflation or Lanczos.

    ``method="power"`` (PyHessian's ``eigenvalues()``, github.com/amirgholami/PyHessian
    ``pyhessian/hessian.py``; HessianFlow ``get_eigen``): from a random unit :math:`v` (``start``: ``"normal"``
    as the original, or ``"rademacher"``, drawn from ``generator``), repeat

    .. math::

        v \leftarrow v - \textstyle\sum_{j<i} \langle v, u_j\rangle u_j, \quad
        \lambda_t = v^\top H v, \quad v \leftarrow Hv / \|Hv\|,

    until :math:`|\lambda_t - \lambda_{t-1}| / |\lambda_{t-1}| < \mathrm{tol}` or ``max_iter`` products; then
    deflate (keep later vectors orthogonal to the eigenvectors :math:`u_j` found) for the next one. **Power
    iteration finds the eigenvalue of largest magnitude**, which is negative where negative curvature dominates
    (saddles, early training): it is returned signed, and a run that meets ``tol`` may still be far from the
    answer when the two largest magnitudes are close (the error shrinks like :math:`|\lambda_2/\lambda_1|^{2t}`).
    Seed 003's ABS uses ``max_iter=10, tol=1e-2`` (:data:`ABS_MAX_ITER`, :data:`ABS_TOL`).

    ``method="lanczos"``: ``scipy.sparse.linalg.eigsh`` (implicitly restarted Lanczos, ARPACK) on the operator;
    ``which="LA"`` gives the algebraically largest eigenvalues (the sharpest positive curvature, what a
    "top eigenvalue" usually means), ``"LM"`` the largest magnitudes (what power iteration approximates),
    ``"SA"`` the smallest (most negative). ``tol`` is ARPACK's relative accuracy and ``max_iter`` its restart
    limit; each restart costs up to ``ncv = max(2k+1, 20)`` products. Vectors are float64 on the CPU side
    converted back to the parameters' dtype.

    Every product runs through one :class:`HessianOperator` (one gradient graph per call); the model is probed
    in ``eval()`` mode and its training flags and ``.grad`` are restored.
    """
    _check_int("max_iter", max_iter, 1)
    tol = _check_tol(tol)
    if method not in ("power", "lanczos"):
        raise ValueError(f"Invalid method: {method!r} (expected 'power' or 'lanczos')")
    if which not in ("LA", "LM", "SA"):
        raise ValueError(f"Invalid which: {which!r} (expected 'LA', 'LM' or 'SA')")
    if start not in ("normal", "rademacher"):
        raise ValueError(f"Invalid start: {start!r} (expected 'normal' or 'rademacher')")
    generator = _generator(generator)
    with HessianOperator(model, loss_fn, x, y, params=params, block=block, dtype=dtype) as op:
        _check_int("k", k, 1, op.numel)
        if method == "power":
            values, vectors, iterations, converged = _power_iteration(op, k, max_iter, tol, generator, start)
        else:
            values, vectors, iterations, converged = _lanczos(op, k, max_iter, tol, generator, which)
        return EigenResult(values, vectors, op.hvps, iterations, converged, list(op.names))


# ------------------------------------------------------------------------------------------------ trace ---
@dataclass
class TraceEstimate:
    """Hutchinson estimate of :math:`\\operatorname{tr} H`: ``mean`` with its standard error ``stderr``
    (sample standard deviation of the probes over :math:`\\sqrt{n}`; NaN for one probe)."""

    mean: float
    stderr: float
    n_probes: int
    hvps: int


def hessian_trace(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    n_probes: int = 50,
    generator: torch.Generator | None = None,
    params: Sequence[Tensor] | None = None,
    block: str | Sequence[str] | None = None,
    dtype: torch.dtype | None = None,
) -> TraceEstimate:
    r"""Hutchinson's trace estimator with Rademacher probes :math:`z` (Hutchinson 1990; PyHessian ``trace()``):

    .. math::

        \operatorname{tr} H = \mathbb E[z^\top H z], \qquad
        \operatorname{Var}[z^\top H z] = 2\sum_{i\ne j} H_{ij}^2,

    averaged over ``n_probes`` draws from ``generator`` (one HVP each, one gradient graph in all).
    """
    _check_int("n_probes", n_probes, 1)
    generator = _generator(generator)
    with HessianOperator(model, loss_fn, x, y, params=params, block=block, dtype=dtype) as op:
        samples = []
        for _ in range(n_probes):
            z = _draw(op.params, "rademacher", generator)
            samples.append(float(_dot(z, op.matvec(z))))
        t = torch.tensor(samples, dtype=torch.float64)
        stderr = float(t.std() / math.sqrt(n_probes)) if n_probes > 1 else math.nan
        return TraceEstimate(float(t.mean()), stderr, n_probes, op.hvps)


# --------------------------------------------------------------------------------------------- diagonal ---
@dataclass
class DiagonalEstimate:
    """:math:`\\operatorname{diag} H` per parameter tensor, with the element-wise standard error of the
    Hutchinson mean (``None`` when ``exact``; NaN for one probe)."""

    values: list[Tensor]
    stderr: list[Tensor] | None
    n_probes: int
    hvps: int
    exact: bool
    names: list[str]


def hessian_diagonal(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    n_probes: int = 50,
    generator: torch.Generator | None = None,
    exact: bool = False,
    params: Sequence[Tensor] | None = None,
    block: str | Sequence[str] | None = None,
    dtype: torch.dtype | None = None,
) -> DiagonalEstimate:
    r"""The Hessian diagonal: Hutchinson (Bekas, Kokiopoulou and Saad 2007; AdaHessian's estimator)

    .. math::

        \operatorname{diag} H = \mathbb E[z \odot Hz], \qquad
        \operatorname{Var}[z_i (Hz)_i] = \sum_{j \ne i} H_{ij}^2

    over ``n_probes`` Rademacher draws, or ``exact=True``: :math:`H_{ii} = e_i^\top H e_i`, one HVP per
    coordinate, refused above :data:`EXACT_DIAGONAL_LIMIT` parameters.
    """
    if not exact:
        _check_int("n_probes", n_probes, 1)
    generator = _generator(generator)
    with HessianOperator(model, loss_fn, x, y, params=params, block=block, dtype=dtype) as op:
        if exact:
            if op.numel > EXACT_DIAGONAL_LIMIT:
                raise ValueError(
                    f"Invalid exact=True: {op.numel} parameters (expected at most "
                    f"{EXACT_DIAGONAL_LIMIT}; use the Hutchinson estimate or a block)"
                )
            values = [torch.empty_like(p) for p in op.params]
            for t, p in enumerate(op.params):
                for i in range(p.numel()):
                    e = [torch.zeros_like(q) for q in op.params]
                    e[t].view(-1)[i] = 1.0
                    values[t].view(-1)[i] = op.matvec(e)[t].reshape(-1)[i]
            return DiagonalEstimate(values, None, 0, op.hvps, True, list(op.names))
        total = [torch.zeros_like(p) for p in op.params]
        squares = [torch.zeros_like(p) for p in op.params]
        for _ in range(n_probes):
            z = _draw(op.params, "rademacher", generator)
            for s, q, zi, hi in zip(total, squares, z, op.matvec(z)):
                d = zi * hi
                s.add_(d)
                q.add_(d * d)
        mean = [s / n_probes for s in total]
        if n_probes > 1:
            var = [((q - n_probes * m * m) / (n_probes - 1)).clamp_min(0) for q, m in zip(squares, mean)]
            stderr = [(w / n_probes).sqrt() for w in var]
        else:
            stderr = [torch.full_like(m, math.nan) for m in mean]
        return DiagonalEstimate(mean, stderr, n_probes, op.hvps, False, list(op.names))
