"""Throughput of the simulators against the bare NumPy normal-draw rate, measured in the same run.

``python -m sim.bench`` times each simulator and, beside it, ``rng.standard_normal(out=buffer)`` drawing the
same number of float64 normal variates into a preallocated array. The ratio (simulator rate / bare rate)
says how much of the time goes into anything but the random numbers: 1.0 would mean the simulator is as fast
as drawing its noise. Peak memory comes from a separate short pass under ``tracemalloc`` (NumPy reports its
allocations there), so the timed passes run untraced.

Cases:

* ``rebound_walk.fixed``: the walk with rebound (seed 000 eq. 6), one fixed batch, 1 normal per walker-step.
* ``rebound_walk.ba``: the BA policy on the quadratic die (utility maximised per walker every step) with the
  fast maximiser (the closed-form stationary condition of u, ``solver="fast"``).
* ``rebound_walk.ba_exact``: the same game with the reference maximiser (grid + golden section, about 50
  utility evaluations per walker per step; on a tenth of the walkers).
* ``grad_shrinkage.gaussian``: batch means of Gaussian per-sample gradients (normals consumed = n * batches).
* ``grad_shrinkage.without_replacement``: batch means of a finite population (uniform keys consumed).
* ``quadratic.sgd``: SGD on the noisy quadratic model of :mod:`sim.quadratic` (1 normal per run-dimension-step).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sim import grad_shrinkage, rebound_walk

__all__ = ["BenchRow", "bare_normal_rate", "main", "run_benchmarks"]

REPEATS = 3  # best of REPEATS for every timing: the machine is shared, the minimum is the least disturbed


@dataclass(frozen=True)
class BenchRow:
    """One simulator's throughput beside the bare normal-draw rate of the same run."""

    case: str
    unit: str
    work: int
    seconds: float
    rate: float
    bare_rate: float
    ratio: float
    peak_mib: float
    note: str = ""


def _best_time(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bare_normal_rate(size: int, draws: int, seed: int = 0) -> float:
    """Normal variates per second of ``rng.standard_normal(out=buffer)`` into a float64 buffer of ``size``.

    Args:
        size: length of the buffer filled per draw.
        draws: fills per timed repetition.
        seed: seed of the numpy Generator.
    """
    rng = np.random.default_rng(seed)
    buffer = np.empty(size)

    def draw() -> None:
        for _ in range(draws):
            rng.standard_normal(out=buffer)

    return size * draws / _best_time(draw)


def _peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def _row(
    case: str,
    unit: str,
    work: int,
    run: Callable[[], object],
    memory_run: Callable[[], object],
    bare: float,
    note: str = "",
) -> BenchRow:
    seconds = _best_time(run)
    rate = work / seconds
    return BenchRow(case, unit, work, seconds, rate, bare, rate / bare, _peak_mib(memory_run), note)


def _walk_fixed(walkers: int, steps: int, bare: float) -> BenchRow:
    def game(budget: int) -> Callable[[], object]:
        return lambda: rebound_walk.play(
            rebound_walk.fixed_policy(1),
            budget=budget,
            s0=1.0,
            eta=0.1,
            mu=1.0,
            sigma=3.0,
            walkers=walkers,
            seed=1,
        )

    return _row(
        "rebound_walk.fixed",
        "walker-steps/s",
        walkers * steps,
        game(steps),
        game(2),
        bare,
        f"{walkers} walkers x {steps} steps, m=1, constant die",
    )


def _walk_ba(walkers: int, steps: int, bare: float, solver: str = "fast") -> BenchRow:
    def game(budget: int) -> Callable[[], object]:
        return lambda: rebound_walk.play(
            rebound_walk.ba_policy(solver=solver),
            budget=budget,
            s0=1.0,
            eta=0.2,
            dice=rebound_walk.quadratic_dice(1.0, 3.0),
            walkers=walkers,
            seed=2,
        )

    # BA with budget = steps: every walker picks m* = 1 far from the floor, so rounds = steps at most.
    return _row(
        "rebound_walk.ba" if solver == "fast" else f"rebound_walk.ba_{solver}",
        "walker-steps/s",
        walkers * steps,
        game(steps),
        game(2),
        bare,
        f"{walkers} walkers, budget {steps} samples, quadratic die (argmax of u per walker per step, {solver})",
    )


def _walk_ba_exact(walkers: int, steps: int, bare: float) -> BenchRow:
    return _walk_ba(walkers, steps, bare, solver="exact")


def _shrinkage_gaussian(walkers: int, steps: int, bare: float) -> BenchRow:
    n, pop = 64, grad_shrinkage.gaussian_population(1.0)
    batches = max(2, walkers * steps // n)

    def run(count: int) -> Callable[[], object]:
        return lambda: grad_shrinkage.batch_means(pop, n, count, seed=3)

    return _row(
        "grad_shrinkage.gaussian",
        "normals/s",
        batches * n,
        run(batches),
        run(batches),
        bare,
        f"{batches} batches of n={n}, d=1",
    )


def _shrinkage_finite(walkers: int, steps: int, bare: float) -> BenchRow:
    size, n = 1000, 100
    pop = grad_shrinkage.sample_finite_population(size, 1.0, seed=4)
    batches = max(2, walkers * steps // size // 4)

    def run(count: int) -> Callable[[], object]:
        return lambda: grad_shrinkage.batch_means(pop, n, count, replace=False, seed=5)

    return _row(
        "grad_shrinkage.without_replacement",
        "uniform keys/s",
        batches * size,
        run(batches),
        run(batches),
        bare,
        f"{batches} batches of n={n} from N={size}; keys are uniforms, cheaper than normals",
    )


def _quadratic_sgd(walkers: int, steps: int, bare: float) -> BenchRow | str:
    try:
        from sim import quadratic
    except ImportError as error:
        return f"quadratic.sgd skipped: sim.quadratic cannot be imported ({error})"
    simulate = getattr(quadratic, "simulate", None)
    if simulate is None:
        return "quadratic.sgd skipped: sim.quadratic has no simulate() function"

    def run(count: int) -> Callable[[], object]:
        return lambda: simulate(
            np.ones(1), lr=0.1, batch_size=1, steps=count, runs=walkers, seed=6, record_every=count
        )

    return _row(
        "quadratic.sgd",
        "run-steps/s",
        walkers * steps,
        run(steps),
        run(2),
        bare,
        f"{walkers} runs x {steps} steps, d=1, plain SGD (1 normal per run-step)",
    )


CASES = {
    "rebound_walk.fixed": _walk_fixed,
    "rebound_walk.ba": _walk_ba,
    "rebound_walk.ba_exact": _walk_ba_exact,
    "grad_shrinkage.gaussian": _shrinkage_gaussian,
    "grad_shrinkage.without_replacement": _shrinkage_finite,
    "quadratic.sgd": _quadratic_sgd,
}
#: Cases run on a fraction of the walkers: the reference BA maximiser evaluates u about 50 times per walker
#: per step.
WALKER_FRACTION = {"rebound_walk.ba_exact": 0.1}


def run_benchmarks(
    walkers: int, steps: int, cases: list[str] | None = None
) -> tuple[list[BenchRow], list[str]]:
    """Time the selected cases; returns the rows and any skip messages.

    Args:
        walkers: walkers per case (the cases in ``WALKER_FRACTION`` use that fraction of them).
        steps: steps (or rounds) per walker.
        cases: names from ``CASES`` to run, or None for all.
    """
    bare = bare_normal_rate(walkers, steps)
    rows, skipped = [], []
    for name in cases or list(CASES):
        count = max(2, int(walkers * WALKER_FRACTION.get(name, 1.0)))
        result = CASES[name](count, steps, bare)
        (skipped if isinstance(result, str) else rows).append(result)
    return rows, skipped


def _format(rows: list[BenchRow]) -> str:
    header = f"{'case':36} {'rate':>12} {'unit':16} {'bare normals/s':>15} {'ratio':>6} {'peak MiB':>9}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.case:36} {r.rate:12.4g} {r.unit:16} {r.bare_rate:15.4g} {r.ratio:6.2f} {r.peak_mib:9.1f}"
        )
    return "\n".join(lines)


def _positive(value: str) -> int:
    number = int(value)
    if number < 2:
        raise argparse.ArgumentTypeError(f"Invalid value: {value} (expected an integer >= 2)")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--walkers", type=_positive, default=1_000_000, help="parallel walkers / runs (default: 1000000)"
    )
    parser.add_argument("--steps", type=_positive, default=50, help="steps per timed pass (default: 50)")
    parser.add_argument("--quick", action="store_true", help="10^5 walkers and 10 steps (default: off)")
    parser.add_argument(
        "--case", action="append", choices=sorted(CASES), help="run only this case; repeatable (default: all)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("sim_bench.json"),
        help="where to write the results (default: sim_bench.json)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write JSON; returns the exit status.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).
    """
    args = _parser().parse_args(argv)
    walkers, steps = (100_000, 10) if args.quick else (args.walkers, args.steps)
    rows, skipped = run_benchmarks(walkers, steps, args.case)
    print(_format(rows))
    for message in skipped:
        print(message, file=sys.stderr)
    payload = {
        "walkers": walkers,
        "steps": steps,
        "numpy": np.__version__,
        "rows": [asdict(r) for r in rows],
        "skipped": skipped,
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
