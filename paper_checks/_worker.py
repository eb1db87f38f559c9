"""The worker-process side of ``python -m paper_checks --jobs N``.

It lives outside ``paper_checks/__main__.py`` because a "spawn" worker cannot import the functions of a
``__main__`` module run with ``python -m``.
"""

from __future__ import annotations

import contextlib
import signal
import time
import traceback
from typing import Any

from paper_checks.registry import Claim, Outcome, all_claims

# In a worker process: the claims it may be asked to run, by id.
_CLAIMS: dict[str, Claim] = {}


def run_one(claim: Claim) -> tuple[Outcome | None, float, str]:
    """Run one check: ``(outcome, seconds, "")``, or ``(None, seconds, traceback)`` when it raised."""
    start = time.perf_counter()
    try:
        outcome = claim.run()
    except Exception:  # noqa: BLE001 - reported in the table and the exit status
        return None, time.perf_counter() - start, traceback.format_exc()
    return outcome, time.perf_counter() - start, ""


def limit_threads(threads: int) -> contextlib.AbstractContextManager[Any]:
    """torch's intra-op threads and numpy's BLAS/OpenMP pools (``threadpoolctl``, which scikit-learn brings)
    set to ``threads`` for the block, restored after: the same numbers in one process as in the workers
    (a BLAS sum over more threads differs in the last bits)."""
    import torch

    stack = contextlib.ExitStack()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    stack.callback(torch.set_num_threads, before)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # then only the environment variables set for the workers limit BLAS
        return stack
    stack.enter_context(threadpool_limits(limits=threads))
    return stack


def init(threads: int, tiers: tuple[str, ...]) -> None:
    """Worker start-up: Ctrl-C left to the parent (it stops the workers), the threads, the claims."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads).__enter__()  # for the worker's life
    _CLAIMS.update((c.id, c) for c in all_claims(tiers))


def run(ids: tuple[str, ...]) -> list[tuple[str, Outcome | None, float, str]]:
    """Run claims by id in this worker (the claim objects stay here: a check may be a closure)."""
    return [(claim_id, *run_one(_CLAIMS[claim_id])) for claim_id in ids]
