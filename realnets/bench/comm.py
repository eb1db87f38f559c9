r"""``realnets bench --sections comm``: gloo all-reduce on loopback against the fitted ring model.

For P = 2 and 4 processes (``torch.multiprocessing`` spawn, gloo, 127.0.0.1 and a free port only) and
float32 messages of 1 KB to 16 MB, each all-reduce is timed after a barrier; a repetition's time is the
slowest rank's, and the median over repetitions is kept. :math:`\alpha` and :math:`\beta` are then fitted
by linear least squares (non-negative: a negative coefficient is refitted at 0) to the ring model of
:func:`realnets.comm.ring_allreduce_time` with :math:`\gamma = 0`,

.. math::

    T(P, n) = 2(P-1)\,\alpha + 2\frac{P-1}{P}\,n\,\beta,

and every case reports the modelled time (ours) against the measured one (peer). On a shared machine with
few cores the processes compete with everything else: the fit is noisy and only a sanity check of the
model's shape (latency-bound small messages, bandwidth-bound large ones), not a measurement of a network.

Bounded: a fixed number of sizes and repetitions, each process joined with a timeout and terminated if it
is still alive.
"""

from __future__ import annotations

import math
import os
import socket
import statistics
import time
from datetime import timedelta
from typing import Any

import numpy as np
import torch

from realnets import comm
from realnets.bench import register_section

__all__ = [
    "DP_BATCHES",
    "SIZES",
    "WORLD_SIZES",
    "comm_section",
    "data_parallel_section",
    "fit_ring",
    "measure_allreduce",
    "measure_data_parallel",
]

#: Message sizes (bytes) and process counts of the section.
SIZES = (1 << 10, 1 << 14, 1 << 18, 1 << 20, 1 << 22, 1 << 24)
WORLD_SIZES = (2, 4)
_TIMEOUT_S = 120.0
_TARGET = "0.5 <= peer/ours <= 2 (fit quality; shared CPUs: noisy)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(rank: int, world: int, port: int, sizes: tuple[int, ...], repeats: int, queue) -> None:
    import torch.distributed as dist

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=_TIMEOUT_S),
    )
    try:
        results = {}
        for size in sizes:
            tensor = torch.ones(size // 4, dtype=torch.float32)
            dist.all_reduce(tensor)  # warm-up: connections and buffers
            times = []
            for _ in range(repeats):
                dist.barrier()
                start = time.perf_counter()
                dist.all_reduce(tensor)
                times.append(time.perf_counter() - start)
            slowest = torch.tensor(times, dtype=torch.float64)
            dist.all_reduce(slowest, op=dist.ReduceOp.MAX)  # an all-reduce ends when its slowest rank does
            results[size] = float(statistics.median(slowest.tolist()))
        if rank == 0:
            queue.put(results)
    finally:
        dist.destroy_process_group()


def measure_allreduce(world: int, sizes: tuple[int, ...] = SIZES, repeats: int = 5) -> dict[int, float]:
    """Median seconds of one gloo all-reduce of each size (bytes) on ``world`` loopback processes."""
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=_worker, args=(rank, world, port, sizes, repeats, queue), daemon=True)
        for rank in range(world)
    ]
    try:
        for proc in procs:
            proc.start()
        results = queue.get(timeout=_TIMEOUT_S)
    finally:
        for proc in procs:
            proc.join(timeout=30)
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    return results


def fit_ring(measured: dict[tuple[int, int], float]) -> tuple[float, float]:
    r"""Least-squares :math:`(\alpha, \beta) \ge 0` of :math:`T = 2(P-1)\alpha + 2\frac{P-1}{P}n\beta` to ``{(P, n): T}``.

    Relative residuals (each equation divided by its T), so 1 KB and 16 MB cases weigh alike.
    """
    keys = list(measured)
    t = np.array([measured[k] for k in keys])
    a = np.array([[2.0 * (p - 1), 2.0 * (p - 1) / p * n] for p, n in keys]) / t[:, None]
    b = np.ones(len(keys))
    coef = np.linalg.lstsq(a, b, rcond=None)[0]
    if np.any(coef < 0):  # refit with the negative coefficient at 0 (the non-negative optimum has it at 0)
        keep = int(np.argmax(coef))
        only = np.linalg.lstsq(a[:, [keep]], b, rcond=None)[0][0]
        coef = np.zeros(2)
        coef[keep] = max(only, 0.0)
    return float(coef[0]), float(coef[1])


def _size_text(n: int) -> str:
    return f"{n >> 20} MB" if n >= 1 << 20 else f"{n >> 10} KB"


@register_section("comm")
def comm_section(device: torch.device, repeats: int) -> list[dict[str, Any]]:
    """gloo all-reduce on loopback (P = 2, 4; 1 KB-16 MB) against the ring model with fitted alpha, beta."""
    reps = max(1, min(int(repeats), 5))
    measured = {}
    for world in WORLD_SIZES:
        for size, seconds in measure_allreduce(world, SIZES, reps).items():
            measured[(world, size)] = seconds
    alpha, beta = fit_ring(measured)
    rows = []
    for (world, size), seconds in measured.items():
        model = comm.ring_allreduce_time(workers=world, n_bytes=size, alpha=alpha, beta=beta)
        rows.append(
            {
                "section": "comm",
                "case": f"gloo P={world} n={_size_text(size)}",
                "ours": f"ring model (alpha={alpha:.3g} s, beta={beta:.3g} s/B)",
                "peer": "gloo all_reduce on 127.0.0.1",
                "unit": "ms",
                "ours_value": 1e3 * model,
                "peer_value": 1e3 * seconds,
                "ratio": seconds / model if model > 0 else math.inf,
                "target": _TARGET,
                "alpha_s": alpha,
                "beta_s_per_byte": beta,
            }
        )
    return rows


# --------------------------------------------------------------------------------- data-parallel training
#: Global batches of the data-parallel section (digits MLP, momentum).
DP_BATCHES = (256, 1024)
_DP_STEPS = 20


def _dp_worker(rank: int, world: int, port: int, batch: int, steps: int, queue) -> None:
    """Time ``steps`` training updates of the engine (after 3 warm-up ones) on ``world`` processes."""
    from pathlib import Path

    from realnets import distributed
    from realnets.config import make_config
    from realnets.engine.loop import Run

    torch.set_num_threads(1)
    env = {
        "WORLD_SIZE": str(world),
        "RANK": str(rank),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        distributed.ENV_TIMEOUT: str(_TIMEOUT_S),
    }
    collective = distributed.init_from_env(env)
    try:
        config = make_config(
            {"algo": "momentum", "batch_size": batch, "device": "cpu", "progress": False, "threads": 1}
        )
        torch.manual_seed(config.seed)
        run = Run(config, torch.device("cpu"), Path("unused"), collective)
        run.budget = 10**12  # time updates, not epochs
        run.trainer.budget = run.budget
        for _ in range(3):
            run.trainer.run()
        collective.barrier()
        start = time.perf_counter()
        for _ in range(steps):
            run.trainer.run()
        elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
        if collective.active:
            import torch.distributed as dist

            dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
        if rank == 0:
            queue.put(float(elapsed) / steps)
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def measure_data_parallel(world: int, batch: int, steps: int = _DP_STEPS) -> float:
    """Seconds per training update (slowest rank) of the digits MLP at global batch ``batch`` on ``world``
    gloo processes (1: one process, no group)."""
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=_dp_worker, args=(rank, world, port, batch, steps, queue), daemon=True)
        for rank in range(world)
    ]
    try:
        for proc in procs:
            proc.start()
        return float(queue.get(timeout=_TIMEOUT_S))
    finally:
        for proc in procs:
            proc.join(timeout=30)
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)


@register_section("dp")
def data_parallel_section(device: torch.device, repeats: int) -> list[dict[str, Any]]:
    """Training throughput on 2 gloo processes against 1 process at the same global batch (CPU, digits MLP).

    ``ours`` is the 2-process time per update, ``peer`` the 1-process one (ratio = speed-up); the per-update
    data-parallel overhead is the 2-process time minus half the 1-process time (a perfect split).
    """
    reps = max(1, min(int(repeats), 3))
    rows = []
    for batch in DP_BATCHES:
        one = statistics.median(measure_data_parallel(1, batch) for _ in range(reps))
        two = statistics.median(measure_data_parallel(2, batch) for _ in range(reps))
        rows.append(
            {
                "section": "dp",
                "case": f"momentum digits-mlp B={batch}",
                "ours": "2 gloo processes (explicit gradient all-reduce)",
                "peer": "1 process",
                "unit": "ms/update",
                "ours_value": 1e3 * two,
                "peer_value": 1e3 * one,
                "ratio": one / two if two > 0 else math.inf,
                "target": "speed-up peer/ours (2 processes on a shared 2-core CPU)",
                "samples_per_s_one": batch / one,
                "samples_per_s_two": batch / two,
                "overhead_ms_per_update": 1e3 * (two - one / 2),
            }
        )
    return rows
