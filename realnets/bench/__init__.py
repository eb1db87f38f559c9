"""``realnets bench``: timings of the engine against the obvious peer, measured in the same run.

Sections are registered by name (:func:`register_section`); each returns rows with our time, the peer's
time and their ratio. Repetitions of ours and the peer are interleaved (ABAB...) so that drifts in machine
load hit both, and the medians are reported.

Sections live in the modules of this package (``engine``, ``ba``, ``hessian``, ``optim``, ``comm``) and are
discovered like algorithms: each module registers its sections when imported.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = ["SECTIONS", "format_results", "interleaved_medians", "register_section", "run_bench"]

Section = Callable[[torch.device, int], list[dict[str, Any]]]
SECTIONS: dict[str, Section] = {}


def register_section(name: str) -> Callable[[Section], Section]:
    """Register ``fn(device, repeats) -> rows`` as bench section ``name`` (decorator)."""

    def register(fn: Section) -> Section:
        SECTIONS[name] = fn
        return fn

    return register


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(
    ours: Callable[[], None], peer: Callable[[], None], repeats: int, device: torch.device
) -> tuple[float, float]:
    """Median seconds of ``ours()`` and ``peer()`` over ``repeats`` interleaved repetitions (one warm-up each)."""
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for i in range(repeats + 1):
        # Alternate which one goes first so that neither always runs on a warmer cache.
        order = (("ours", ours), ("peer", peer)) if i % 2 == 0 else (("peer", peer), ("ours", ours))
        for name, fn in order:
            _synchronize(device)
            start = time.perf_counter()
            fn()
            _synchronize(device)
            if i > 0:
                times[name].append(time.perf_counter() - start)
    medians = statistics.median(times["ours"]), statistics.median(times["peer"])
    _case_done(*medians)
    return medians


# While run_bench(report=...) runs a section: its name, the cases timed so far, and where to report them.
_ACTIVE: dict[str, Any] = {}


def _case_done(ours: float, peer: float) -> None:
    """One timed case finished: a line through the active reporter (progress of a long bench)."""
    report = _ACTIVE.get("report")
    if report is None:
        return
    _ACTIVE["cases"] += 1
    ratio = peer / ours if ours > 0 else float("nan")
    report(
        f"bench: {_ACTIVE['section']} case {_ACTIVE['cases']} timed: ours {ours * 1e3:.4g} ms, "
        f"peer {peer * 1e3:.4g} ms (peer/ours {ratio:.3f}), {time.perf_counter() - _ACTIVE['start']:.0f}s"
    )


def run_bench(
    sections: Sequence[str] | None = None,
    device: str = "auto",
    repeats: int = 7,
    out: str | Path | None = "bench.json",
    report: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the named sections (all by default), write the rows to ``out`` as JSON, return them.

    ``report``: called with one line each time a case has been timed (``bench: engine case 3 timed: ours
    ... ms, peer ... ms``), so that a long bench shows its partial results as it goes."""
    from realnets.engine import resolve_device
    from realnets.envinfo import collect_env

    _import_section_modules()
    names = list(sections) if sections else list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise ValueError(f"Invalid section: {unknown[0]!r} (expected one of {', '.join(SECTIONS)})")
    if not (isinstance(repeats, int) and repeats >= 1):
        raise ValueError(f"Invalid repeats: {repeats!r} (expected an integer >= 1)")
    dev = resolve_device(device)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(0)
        rows = []
        for name in names:
            _ACTIVE.update(section=name, cases=0, report=report, start=time.perf_counter())
            try:
                rows += SECTIONS[name](dev, repeats)
            finally:
                _ACTIVE.clear()
    if out is not None:
        Path(out).write_text(
            json.dumps({"rows": rows, "repeats": repeats, "env": collect_env(dev)}, indent=2) + "\n"
        )
    return rows


def format_results(rows: Sequence[dict[str, Any]]) -> str:
    """One line per row: case, our time, the peer's time, the ratio."""
    lines = [f"{'section':<10} {'case':<34} {'ours':>12} {'peer':>12} {'ratio':>7}  unit / target"]
    for r in rows:
        lines.append(
            f"{r['section']:<10} {r['case']:<34} {r['ours_value']:>12.4g} {r['peer_value']:>12.4g} "
            f"{r['ratio']:>7.3f}  {r['unit']}; {r['ours']} vs {r['peer']}, target {r['target']}"
        )
    return "\n".join(lines)


def _import_section_modules() -> None:
    """Import every module of this package: each registers its sections when imported (no import cycle)."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
