r"""Data-parallel training: a collective that is a no-op on one process and ``torch.distributed`` under torchrun.

``torchrun --nproc-per-node N -m realnets train ...`` (and ``--nnodes`` for many machines) trains one run on
N processes; ``gloo`` reduces CPU tensors and ``nccl`` CUDA ones (both are set up when a GPU is present, so
``--device cpu`` works on a GPU machine too). The design:

* **Same sampling everywhere.** Every rank builds the same sampler from the shared seed and draws the same
  global indices; each drawn chunk of k rows is split into N contiguous parts (:func:`shard_bounds`: the first
  ``k mod N`` ranks take one row more, so uneven splits are fine), and a rank computes on its part only. A
  batch that grows (BA's ``Grow`` rounds) splits every increment, so incremental statistics stay local.
* **Explicit gradient all-reduce** rather than the ``DistributedDataParallel`` wrapper: each rank leaves the
  mean gradient of its rows, weighted by its share :math:`n_r/n`, and one all-reduce of the flattened
  gradient gives :math:`\frac1n\sum_j g_j`, the single-process batch gradient, whatever the split. This works
  with batch sizes that change every update and with statistics that produce the gradient themselves.
* **Policies see global statistics only.** BA's statistic (:mod:`realnets.probes.ba_stats`) all-reduces the
  gradient sums and the loss sum, so :math:`\hat f` is the global mean gradient, then the sums
  :math:`\sum_j (d_j - c)` and :math:`\sum_j (d_j - c)^2` of the per-sample directional derivatives
  :math:`d_j = \hat f^\top g_j` (shifted by :math:`c = \hat f^\top\hat f`, their mean, for precision), so
  :math:`\sigma^2` is the global sample variance. All-reduce results are identical on every rank, so every
  rank takes the same decision at every growth round. Scheduled probes run on every rank on the same data
  and give the same value.
* **Rank 0 writes**: metrics, summary, plots, checkpoints (with every rank's RNG state), while every rank
  runs the same loop (evaluations are sharded and all-reduced; divergence is seen by all). ``--resume``
  reads the checkpoint on rank 0 and broadcasts it; under ``torchrun --max-restarts`` a restarted worker
  group resumes from the run directory's checkpoint (an explicit ``--out-dir`` is needed).

A bad launch gets one line: a world size larger than the first batch, ranks with different configurations
(a hash of the resolved configuration is all-gathered and compared), a missing rendezvous (``WORLD_SIZE``
without ``MASTER_ADDR``/``MASTER_PORT``, or no peer within ``REALNETS_DIST_TIMEOUT`` seconds, default 600).
Algorithms whose statistics or optimizers would see only a rank's rows are refused in one line
(:func:`check_supported`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import torch

__all__ = [
    "DISTRIBUTED_STATISTICS",
    "ENV_TIMEOUT",
    "NULL",
    "Collective",
    "LaunchError",
    "TorchCollective",
    "check_batch",
    "check_supported",
    "config_hash",
    "current",
    "init_from_env",
    "launch_cli",
    "requested",
    "shard_bounds",
]

T = TypeVar("T")

#: Seconds to wait for the rendezvous and for each collective (environment variable, default 600).
ENV_TIMEOUT = "REALNETS_DIST_TIMEOUT"
_DEFAULT_TIMEOUT_S = 600.0

#: Statistics that reduce over every rank's rows (a policy needing another one is refused under torchrun).
DISTRIBUTED_STATISTICS = frozenset({"ba_stats_exact", "ba_stats_diag", "ba_stats_full"})


class LaunchError(ValueError):
    """A launch error every rank raised with the same message (only rank 0 prints it)."""

    agreed = True


def shard_bounds(count: int, world_size: int, rank: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous part of ``count`` rows split over ``world_size`` ranks.

    The first ``count % world_size`` ranks take one row more; a rank may get no row when ``count < world_size``.
    """
    base, extra = divmod(count, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def _flat(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors]) if len(tensors) > 1 else tensors[0].reshape(-1).clone()


def _unflat(flat: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    out, offset = [], 0
    for t in like:
        out.append(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()
    return out


class Collective:
    """One process: every collective is the identity (the engine's default)."""

    world_size = 1
    rank = 0
    local_rank = 0
    backend = "none"

    @property
    def active(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on the rank that writes (rank 0)."""
        return self.rank == 0

    def shard(self, count: int) -> tuple[int, int]:
        """This rank's ``(start, stop)`` of a chunk of ``count`` rows."""
        return shard_bounds(count, self.world_size, self.rank)

    def _all_reduce(self, flat: torch.Tensor) -> None:  # in place, sum
        return None

    def all_reduce_sum(self, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The element-wise sums over ranks of ``tensors`` (fresh tensors; one call per dtype and device)."""
        if not self.active:
            return [t.clone() for t in tensors]
        out: list[torch.Tensor | None] = [None] * len(tensors)
        groups: dict[tuple[torch.dtype, torch.device], list[int]] = {}
        for i, t in enumerate(tensors):
            groups.setdefault((t.dtype, t.device), []).append(i)
        for members in groups.values():
            flat = _flat([tensors[i] for i in members])
            self._all_reduce(flat)
            for i, part in zip(members, _unflat(flat, [tensors[i] for i in members])):
                out[i] = part
        return out  # type: ignore[return-value]

    def average_buffers(self, module: torch.nn.Module) -> None:
        """Floating-point buffers (BatchNorm running statistics) averaged over ranks, so ranks stay identical."""
        if not self.active:
            return
        buffers = [b for b in module.buffers() if b.is_floating_point()]
        if buffers:
            for b, total in zip(buffers, self.all_reduce_sum(buffers)):
                b.copy_(total / self.world_size)

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Parameters and buffers of rank 0 copied to every rank."""
        return None

    def all_gather_object(self, obj: T) -> list[T]:
        """``[obj of rank 0, obj of rank 1, ...]`` (picklable objects)."""
        return [obj]

    def broadcast_object(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank."""
        return obj

    def barrier(self) -> None:
        """Wait for every rank."""
        return None

    def agree(self, fn: Callable[[], T], what: str) -> T:
        """Run ``fn`` on rank 0 first (downloads, folder checks), then on the others; a ``ValueError`` or
        ``OSError`` on any rank is raised on every rank as one :class:`LaunchError` naming the rank."""
        if not self.active:
            return fn()
        result, error = None, None
        if self.is_main:
            result, error = _attempt(fn)
        first = self.broadcast_object(error)
        if first is not None:
            raise LaunchError(f"{first} [rank 0, {what}]")
        if not self.is_main:
            result, error = _attempt(fn)
        errors = self.all_gather_object(error)
        for rank, message in enumerate(errors):
            if message is not None:
                raise LaunchError(f"{message} [rank {rank}, {what}]")
        return result  # type: ignore[return-value]


def _attempt(fn: Callable[[], T]) -> tuple[T | None, str | None]:
    try:
        return fn(), None
    except (ValueError, OSError) as error:
        return None, " ".join(str(error).split())


NULL = Collective()


class TorchCollective(Collective):
    """``torch.distributed`` with the process group that :func:`init_from_env` set up."""

    def __init__(self) -> None:
        import torch.distributed as dist

        self._dist = dist
        self.world_size = dist.get_world_size()
        self.rank = dist.get_rank()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.backend = str(dist.get_backend())

    def _all_reduce(self, flat: torch.Tensor) -> None:
        self._dist.all_reduce(flat)

    def broadcast_module(self, module: torch.nn.Module) -> None:
        tensors = [t.data for t in module.parameters()] + list(module.buffers())
        if not tensors:
            return
        groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
        for t in tensors:
            groups.setdefault((t.dtype, t.device), []).append(t)
        with torch.no_grad():
            for members in groups.values():
                flat = _flat(members)
                self._dist.broadcast(flat, src=0)
                for t, part in zip(members, _unflat(flat, members)):
                    t.copy_(part)

    def all_gather_object(self, obj: T) -> list[T]:
        out: list[Any] = [None] * self.world_size
        self._dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: T) -> T:
        box = [obj]
        self._dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        self._dist.barrier()


def current() -> Collective:
    """The collective of this process: :class:`TorchCollective` once a process group of more than one
    process is initialised, else :data:`NULL`."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return TorchCollective()
    return NULL


# ------------------------------------------------------------------------------------------------ launch
def _env_int(env: dict[str, str], name: str) -> int:
    text = env.get(name, "")
    try:
        return int(text)
    except ValueError:
        raise LaunchError(
            f"Invalid launch: {name}={text!r} (expected an integer, as torchrun sets it)"
        ) from None


def requested(env: dict[str, str] | None = None) -> bool:
    """True when the environment asks for more than one process (``WORLD_SIZE`` > 1, as torchrun sets)."""
    env = dict(os.environ) if env is None else env
    return "WORLD_SIZE" in env and _env_int(env, "WORLD_SIZE") > 1


def _timeout(env: dict[str, str]) -> float:
    text = env.get(ENV_TIMEOUT, "")
    if not text:
        return _DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise LaunchError(f"Invalid launch: {ENV_TIMEOUT}={text!r} (expected seconds > 0)")
    return value


def init_from_env(env: dict[str, str] | None = None) -> Collective:
    """Join the process group that torchrun's environment describes (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``; ``LOCAL_RANK`` picks the GPU). ``gloo`` for CPU tensors, plus ``nccl``
    for CUDA tensors when a GPU is present.

    Raises:
        LaunchError: a missing or bad variable, or no rendezvous within ``REALNETS_DIST_TIMEOUT`` seconds.
    """
    import torch.distributed as dist

    env = dict(os.environ) if env is None else env
    if not requested(env):
        return NULL
    world = _env_int(env, "WORLD_SIZE")
    missing = [name for name in ("RANK", "MASTER_ADDR", "MASTER_PORT") if not env.get(name)]
    if missing:
        raise LaunchError(
            f"Invalid launch: WORLD_SIZE={world} but {', '.join(missing)} not set (no rendezvous; "
            f"expected a launch by torchrun, or RANK, MASTER_ADDR and MASTER_PORT set on every process)"
        )
    rank = _env_int(env, "RANK")
    if not 0 <= rank < world:
        raise LaunchError(f"Invalid launch: RANK={rank} (expected 0 <= RANK < WORLD_SIZE={world})")
    if not dist.is_available():
        raise LaunchError("Invalid launch: this torch build has no torch.distributed (expected one process)")
    timeout = _timeout(env)
    backend = "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(int(env.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        backend = "cpu:gloo,cuda:nccl"
    where = f"{env['MASTER_ADDR']}:{env['MASTER_PORT']}"
    try:
        dist.init_process_group(
            backend,
            init_method=f"tcp://{where}",
            world_size=world,
            rank=rank,
            timeout=timedelta(seconds=timeout),
        )
    except (RuntimeError, ValueError, OSError) as error:
        first = " ".join(str(error).split())[:160]
        raise LaunchError(
            f"Invalid launch: no rendezvous of {world} processes at {where} within {timeout:g} s "
            f"(rank {rank}: {first}; expected every rank started with the same MASTER_ADDR and MASTER_PORT)"
        ) from None
    return TorchCollective()


def launch_cli(command: Callable[[Any], int], args: Any) -> int:
    """Run a CLI command in a process group set up from the environment, and tear it down after.

    Only rank 0 prints to stdout and prints the errors every rank agreed on; a rank whose peers failed ends
    with one line instead of a traceback. Under ``torchrun --max-restarts`` (``TORCHELASTIC_RESTART_COUNT``
    > 0) a restarted training with an explicit ``--out-dir`` that holds a checkpoint resumes from it.
    """
    import torch.distributed as dist

    collective = init_from_env()
    try:
        args = _restart_resumes(args)
        quiet = (
            contextlib.redirect_stdout(io.StringIO()) if not collective.is_main else contextlib.nullcontext()
        )
        with quiet:
            try:
                status = command(args)
                # every rank finished: meet before rank 0 (which hosts the rendezvous store) tears down
                dist.barrier()
                return status
            except LaunchError:
                # every rank raises the same launch error (its checks are agreed or all-gathered): meet
                # before rank 0, which hosts the rendezvous store, tears down
                with contextlib.suppress(Exception):
                    dist.barrier()
                if collective.is_main:
                    raise
                return 2
            except RuntimeError as error:
                if _peer_lost(error):
                    raise ConnectionError(
                        f"rank {collective.rank} lost its peers (another rank stopped; see its message)"
                    ) from None
                raise
    finally:
        if dist.is_initialized():
            with contextlib.suppress(Exception):
                dist.destroy_process_group()


def _peer_lost(error: BaseException) -> bool:
    text = str(error)
    return any(s in text for s in ("Connection closed by peer", "Connection reset", "Broken pipe")) or (
        type(error).__name__ in ("DistBackendError", "DistNetworkError")
    )


def _restart_resumes(args: Any) -> Any:
    """Under a torchrun restart, the arguments of ``train --resume`` for an ``--out-dir`` with a checkpoint."""
    import argparse
    from pathlib import Path

    if int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) <= 0:
        return args
    given = vars(args)
    out_dir = given.get("out_dir")
    if given.get("resume", "") is not None or not out_dir or not (Path(out_dir) / "checkpoint.pt").is_file():
        return args
    keep = {"command", "func", "plots", "print_config", "out_dir", "device"}
    return argparse.Namespace(**{k: v for k, v in given.items() if k in keep}, resume="")


# ------------------------------------------------------------------------------------------------ checks
def config_hash(config: dict[str, Any]) -> str:
    """A short SHA-256 of a configuration dict (JSON with sorted keys)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def check_same_config(collective: Collective, config: dict[str, Any]) -> None:
    """Every rank trains the same resolved configuration (hashes all-gathered); else one line."""
    if not collective.active:
        return
    hashes = collective.all_gather_object(config_hash(config))
    odd = [rank for rank, h in enumerate(hashes) if h != hashes[0]]
    if odd:
        raise LaunchError(
            f"Invalid launch: ranks {', '.join(map(str, odd))} have a different configuration from rank 0 "
            f"(config hashes {', '.join(f'{r}:{h}' for r, h in enumerate(hashes))}; expected the same "
            f"arguments on every rank)"
        )


def check_supported(name: str, policy: Any, optimizer: Any) -> None:
    """Refuse, in one line, an algorithm whose statistics, objective or optimizer would see one rank's rows."""
    reasons = []
    local = [need for need in getattr(policy, "needs", ()) if need not in DISTRIBUTED_STATISTICS]
    if local:
        reasons.append(f"its statistics {', '.join(local)} are not reduced over ranks")
    if getattr(policy, "drop_at", None) is not None:
        reasons.append("dropping the smallest losses needs the losses of the whole batch")
    if getattr(policy, "transform", None) is not None:
        reasons.append("its input transform perturbs the first rows of the whole batch")
    if getattr(optimizer, "needs_closure", False):
        reasons.append(f"the optimizer {type(optimizer).__name__} re-evaluates the batch in a closure")
    if reasons:
        raise LaunchError(
            f"Invalid algo for torchrun: {name!r} cannot run distributed yet ({'; '.join(reasons)}); "
            f"expected one process, or an algorithm such as sgd, momentum, ba-sgd, ba-momentum"
        )


def check_batch(collective: Collective, first_batch: int, name: str, m0: int | None = None) -> None:
    """Refuse a world size larger than the first batch (or than BA's increment ``m0``): ranks would idle."""
    if not collective.active:
        return
    smallest, what = first_batch, f"the first batch of {name} has {first_batch} samples"
    if m0 is not None and m0 < smallest:
        smallest, what = m0, f"{name} grows its batch by m0 = {m0} samples"
    if collective.world_size > smallest:
        raise LaunchError(
            f"Invalid launch: world size {collective.world_size} is larger than the batch ({what}; "
            f"expected at most {smallest} processes, or a larger batch)"
        )
