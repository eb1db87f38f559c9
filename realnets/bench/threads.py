"""``realnets bench --sections threads``: two ``realnets train`` runs side by side against one alone.

Torch sizes its intra-op pool to every core. Two runs at once on the same cores then hold twice as many
spinning threads as there are cores, and each becomes several times slower. ``realnets train`` therefore
uses one thread for models too small to gain from more (:func:`realnets.config.default_threads`), and this
section measures what that buys: the default run (the digits MLP, momentum, batch 32) alone and two of them
started together, each in its own ``python -m realnets train`` process, and the same with ``--threads`` set
to every usable core (what torch would do by default).

Each side's time is the run's own ``wall_time`` (``summary.json``: the training loop, without the process's
start-up and imports, which differ from run to run). ``ours`` is the slower of the two concurrent runs,
``peer`` the run alone, ``ratio`` = ours / peer (1: no slow-down; 2: the two runs share one core's worth).
A first, control row does the same with two single-threaded pure-Python loops, which no thread setting
affects: its ratio is what the machine itself gives two processes (1.0 with two idle cores, more when other
work holds the cores), the floor for the rows after it.
Alone and pair are interleaved (alone, pair, alone, pair, ...) and the medians reported. Always on the CPU:
the contention measured is the CPU's.

Rows are a bench, not a test: the ratio depends on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from realnets.bench import _case_done, register_section

__all__ = [
    "CONTROL_ITERATIONS",
    "EPOCHS",
    "measure_control",
    "measure_pair",
    "threads_rows",
    "threads_section",
    "usable_cores",
]

#: Epochs of the digits MLP per run: about 3 s of training alone on one core of a quiet machine, so that
#: the two concurrent runs overlap for almost all of their training despite unequal start-up times.
EPOCHS = 40.0
_TIMEOUT_S = 600.0
_TARGET_DEFAULT = "<= 1.3 (slower of two / alone)"
_TARGET_ALL = "none: shows the oversubscription the default avoids"
_TARGET_CONTROL = "none: the machine's own slow-down of two processes (1.0 with 2 idle cores)"
#: Iterations of the control loop: about 2.5 s alone on one core.
CONTROL_ITERATIONS = 20_000_000
# Thread settings inherited from the caller (pytest workers set them) would change what "default" means.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def usable_cores() -> int:
    """The cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _command(out_dir: Path, epochs: float, threads: int | None) -> list[str]:
    argv = [sys.executable, "-m", "realnets", "train", "--device", "cpu", "--no-progress"]
    argv += ["--budget-epochs", f"{epochs:g}", "--checkpoint-every", "0", "--out-dir", str(out_dir)]
    return argv + ([] if threads is None else ["--threads", str(threads)])


def _wait(process: subprocess.Popen, out_dir: Path) -> float:
    try:
        _, err = process.communicate(timeout=_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuntimeError(f"realnets train did not finish within {_TIMEOUT_S:g} s") from None
    if process.returncode != 0:
        last = (err.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"realnets train failed (exit status {process.returncode}): {last}")
    return float(json.loads((out_dir / "summary.json").read_text())["wall_time"])


def measure_pair(count: int, epochs: float, threads: int | None, folder: Path, tag: str) -> list[float]:
    """Start ``count`` default ``realnets train`` runs together (``threads``: their ``--threads``, None: the
    default) and return each run's training wall time in seconds."""
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES}
    processes = []
    try:
        for i in range(count):
            out_dir = folder / f"{tag}-{i}"
            argv = _command(out_dir, epochs, threads)
            processes.append(
                (
                    subprocess.Popen(
                        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                    ),
                    out_dir,
                )
            )
        return [_wait(process, out_dir) for process, out_dir in processes]
    finally:
        for process, _ in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def measure_control(count: int, iterations: int = CONTROL_ITERATIONS) -> list[float]:
    """Start ``count`` single-threaded pure-Python loops together; each one's seconds (timed inside it)."""
    code = f"import time\nt = time.perf_counter()\nx = 0\nfor i in range({int(iterations)}):\n    x += i\n"
    code += "print(time.perf_counter() - t)"
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    try:
        return [float(p.communicate(timeout=_TIMEOUT_S)[0]) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _control_row(repeats: int, iterations: int) -> dict[str, Any]:
    alone, each = [], []
    for _ in range(max(1, int(repeats))):
        alone.append(measure_control(1, iterations)[0])
        each.append(measure_control(2, iterations))
    ours, peer = statistics.median(max(both) for both in each), statistics.median(alone)
    _case_done(ours, peer)
    return {
        "section": "threads",
        "case": "2 x pure-Python loop (control)",
        "ours": "slower of two concurrent loops",
        "peer": "one loop alone",
        "unit": "s",
        "ours_value": ours,
        "peer_value": peer,
        "ratio": ours / peer if peer > 0 else float("inf"),
        "target": _TARGET_CONTROL,
        "threads": 1,
        "usable_cores": usable_cores(),
        "alone_s": alone,
        "pair_s": each,
    }


def threads_rows(
    repeats: int = 3,
    epochs: float = EPOCHS,
    settings: tuple[int | None, ...] | None = None,
    control_iterations: int | None = CONTROL_ITERATIONS,
) -> list[dict[str, Any]]:
    """The control row (``control_iterations`` None: none), then one row per thread setting (default: the
    run's default, then every usable core): the slower of two concurrent runs against one alone, medians
    over ``repeats`` interleaved repetitions."""
    cores = usable_cores()
    settings = (None, cores) if settings is None else settings
    rows = [] if control_iterations is None else [_control_row(repeats, control_iterations)]
    with tempfile.TemporaryDirectory(prefix="realnets-bench-threads-") as tmp:
        for threads in settings:
            alone, pair, each = [], [], []
            for r in range(max(1, int(repeats))):
                name = "default" if threads is None else f"t{threads}"
                alone.append(measure_pair(1, epochs, threads, Path(tmp), f"{name}-alone-{r}")[0])
                both = measure_pair(2, epochs, threads, Path(tmp), f"{name}-pair-{r}")
                pair.append(max(both))
                each.append(both)
            ours, peer = statistics.median(pair), statistics.median(alone)
            _case_done(ours, peer)  # a progress line under `realnets bench`
            label = "default threads" if threads is None else f"--threads {threads} (all cores)"
            rows.append(
                {
                    "section": "threads",
                    "case": f"2 x train mlp digits, {label}",
                    "ours": "slower of two concurrent runs",
                    "peer": "one run alone",
                    "unit": "s (training wall time)",
                    "ours_value": ours,
                    "peer_value": peer,
                    "ratio": ours / peer if peer > 0 else float("inf"),
                    "target": _TARGET_DEFAULT if threads is None else _TARGET_ALL,
                    "threads": threads,
                    "usable_cores": cores,
                    "epochs": epochs,
                    "alone_s": alone,
                    "pair_s": each,
                }
            )
    return rows


@register_section("threads")
def threads_section(device: torch.device, repeats: int) -> list[dict[str, Any]]:
    del device  # CPU contention is what this section measures; the runs are on the CPU whatever the device
    return threads_rows(repeats=min(int(repeats), 3))
