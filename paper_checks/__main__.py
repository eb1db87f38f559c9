"""``python -m paper_checks``: run the checks and print one verdict line per paper claim.

Exit status: 0 when every selected check ran (a refuted claim is a finding, not a failure), 1 when a
check raised an error, 2 for bad command-line input, 130 when interrupted (Ctrl-C).

Claims run in ``--jobs`` worker processes (default: the usable cores, at most 8), each with ``--threads``
torch threads (default 1), so that the checks use the machine's cores without oversubscribing them; the
lines are printed in the registry order. ``--jobs 1`` runs every claim in this process.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import functools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from paper_checks import _worker
from paper_checks.registry import CITATIONS, LEGEND, PAPERS, Claim, Outcome, all_claims

_COLUMNS = (("id", 30), ("kind", 13), ("data", 14), ("paper", 26), ("ours", 34), ("verdict", 24))
_DATA_LABELS = (
    ("fashion-mnist", "fashion-mnist"),
    ("mnist", "mnist (real)"),
    ("digits", "digits (real)"),
    ("synthetic", "synthetic"),
)  # first match wins; "+" marks real data mixed with synthetic


#: ``--jobs``: at most this many worker processes by default (the claims are small; more workers mostly add
#: start-up time, about 3 s of imports each), and never more than this many at all.
MAX_DEFAULT_JOBS = 8
MAX_JOBS = 256
#: Fewer claims than this per worker: run them in this process (a worker's start-up would cost more than the
#: parallel run saves).
MIN_CLAIMS_PER_JOB = 4


class UsageError(Exception):
    """Bad command-line input: one line on stderr and exit status 2."""


@dataclass
class Result:
    claim: Claim
    outcome: Outcome | None
    seconds: float
    error: str = ""


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _cell(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _row(values: list[str]) -> str:
    return "  ".join(_cell(v, w).ljust(w) for v, (_, w) in zip(values, _COLUMNS))


def _verdict_text(result: Result) -> str:
    return "ERROR" if result.outcome is None else result.outcome.label


def header_lines() -> list[str]:
    """Package version, git commit and UTC date, for the top of every report."""
    try:
        from importlib.metadata import version

        pkg_version = version("batchsize-science")
    except Exception:  # noqa: BLE001 - not installed: say so rather than fail
        pkg_version = "unknown (not installed)"
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                cwd=Path(__file__).resolve().parent,
            ).stdout.strip()
            or "unknown"
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        commit = "unknown (no git)"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [f"batchsize-science paper checks, version {pkg_version}, commit {commit}, {date}"]


def legend_lines() -> list[str]:
    return ["Verdicts:"] + [f"  {v}: {text}" for v, text in LEGEND.items()]


def citation_lines(seeds: list[str]) -> list[str]:
    return ["Papers:"] + [f"  [{seed}] {CITATIONS[seed]}" for seed in seeds]


def seed_summary_lines(results: list[Result]) -> list[str]:
    """Per seed: claims, checked here, needing more (with their ids and what they need)."""
    lines = []
    for seed in sorted({r.claim.seed for r in results}):
        rows = [r for r in results if r.claim.seed == seed]
        needs = [r for r in rows if r.outcome is not None and r.outcome.verdict == "needs"]
        counts = Counter(_verdict_text(r) for r in rows if r not in needs)
        breakdown = f" ({', '.join(f'{n} {v}' for v, n in sorted(counts.items()))})" if counts else ""
        lines.append(
            f"seed {seed}: {len(rows)} claims, {len(rows) - len(needs)} checked{breakdown}, "
            f"{len(needs)} needing more" + (":" if needs else "")
        )
        lines += [f"    {r.claim.id}: needs {r.outcome.needs}" for r in needs]
    return lines


def data_label(result: Result) -> str:
    """A short name of the data a verdict rests on ("-" for derivations, which rest on none)."""
    if result.outcome is None or not result.outcome.data or result.outcome.verdict == "needs":
        return "-"
    text = result.outcome.data.lower()
    found = [label for key, label in _DATA_LABELS if key in text]
    if not found:
        return _cell(result.outcome.data, 14)
    mixed = found[0] != "synthetic" and "synthetic" in found
    return f"{found[0]}+" if mixed else found[0]


def run_claim(claim: Claim) -> Result:
    """Run one check, catching its errors so that one broken check does not hide the others."""
    return Result(claim, *_worker.run_one(claim))


def select(claims: list[Claim], only: list[str]) -> list[Claim]:
    if not only:
        return claims
    for o in only:
        if not o.strip():
            raise UsageError(
                f"Invalid --only: {o!r} (expected a non-empty prefix or part of a claim id; see --list)"
            )
    return [c for c in claims if any(c.id.startswith(o) or o in c.id for o in only)]


def write_markdown(results: list[Result], path: Path) -> None:
    seeds = sorted({r.claim.seed for r in results})
    lines = ["# Paper checks", "", *header_lines(), "", "## Papers", ""]
    lines += [f"- [{seed}] {CITATIONS[seed]}" for seed in seeds]
    lines += ["", "## Verdicts", ""] + [f"- **{v}**: {text}" for v, text in LEGEND.items()]
    lines += ["", "## Summary by seed", ""]
    lines += [
        f"  - {line.strip()}" if line.startswith(" ") else f"- {line}" for line in seed_summary_lines(results)
    ]
    lines.append("")
    lines += [
        "## Claims",
        "",
        "| id | source | kind | data | paper | ours | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ours = r.outcome.ours if r.outcome else "error"
        lines.append(
            f"| {r.claim.id} | {r.claim.source} | {r.claim.kind} | {data_label(r)} | {r.claim.paper_value} | "
            f"{ours} | {_verdict_text(r)} |"
        )
    for seed in sorted({r.claim.seed for r in results}):
        lines += ["", f"## Seed {seed}: {PAPERS[seed]}", ""]
        for r in (r for r in results if r.claim.seed == seed):
            lines += [f"### {r.claim.id} ({r.claim.where}, {r.claim.kind}): {_verdict_text(r)}", ""]
            lines.append(f"- Paper: {r.claim.statement} Printed value: {r.claim.paper_value}")
            if r.outcome is None:
                lines += ["- Error:", "", "```", r.error.rstrip(), "```"]
                continue
            lines.append(f"- Ours: {r.outcome.ours}")
            lines.append(f"- Evidence: {r.outcome.evidence}")
            if r.outcome.corrected:
                lines.append(f"- Corrected statement: {r.outcome.corrected}")
            if r.outcome.data:
                lines.append(f"- Data: {r.outcome.data}")
            if r.outcome.command:
                lines.append(f"- Command: `{r.outcome.command}`")
            lines.append(f"- Time: {r.seconds:.1f} s")
            lines.append("")
    path.write_text("\n".join(lines) + "\n")


def write_json(results: list[Result], path: Path) -> None:
    records = []
    for r in results:
        rec = {
            "id": r.claim.id,
            "seed": r.claim.seed,
            "seed_file": r.claim.seed_file,
            "where": r.claim.where,
            "kind": r.claim.kind,
            "tier": r.claim.tier,
            "statement": r.claim.statement,
            "paper_value": r.claim.paper_value,
            "verdict": _verdict_text(r),
            "seconds": round(r.seconds, 3),
        }
        if r.outcome is not None:
            rec.update(
                ours=r.outcome.ours,
                evidence=r.outcome.evidence,
                corrected=r.outcome.corrected,
                data=r.outcome.data,
                numbers=r.outcome.numbers,
                needs=r.outcome.needs,
                command=r.outcome.command,
            )
        else:
            rec["error"] = r.error
        records.append(rec)
    path.write_text(json.dumps(records, indent=2, default=float) + "\n")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints the usage block; one line is the house standard
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m paper_checks",
        description="Check the claims of the five batch-size papers and print one verdict per claim.",
    )
    p.add_argument(
        "--full", action="store_true", help="also run the slow claims, and GPU claims when CUDA is present"
    )
    p.add_argument("--list", action="store_true", help="list the claims without running them")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ID",
        help="run only claims whose id starts with or contains ID (repeatable), e.g. --only 001.",
    )
    p.add_argument("--report", type=_path_arg, metavar="PATH", help="write a Markdown report to PATH")
    p.add_argument("--json", type=_path_arg, metavar="PATH", help="write the results as JSON to PATH")
    p.add_argument("--verbose", "-v", action="store_true", help="print the evidence under each row")
    p.add_argument(
        "--threads",
        type=_threads_arg,
        default=1,
        metavar="N",
        help="torch threads per worker process (default 1: the models are too small to gain from more, "
        "and the workers, or a training run next to them, do not oversubscribe the cores)",
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=_jobs_arg,
        default=None,
        metavar="N",
        help=f"worker processes that run the claims (default: the usable cores, at most {MAX_DEFAULT_JOBS}; "
        f"1 below {MIN_CLAIMS_PER_JOB * 2} claims; 1: everything in this process)",
    )
    return p


def _int_in_range(text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected an integer from {low} to {high})")
    return value


def _threads_arg(text: str) -> int:
    return _int_in_range(text, 1, 1024)


def _jobs_arg(text: str) -> int:
    return _int_in_range(text, 1, MAX_JOBS)


def _tiers(full: bool) -> tuple[str, ...]:
    if not full:
        return ("quick",)
    return ("quick", "full", "gpu") if _cuda_available() else ("quick", "full")


def _print_list(claims: list[Claim]) -> None:
    for c in claims:
        print(f"{c.id:32s} {c.tier:6s} {c.kind:10s} {c.source}: {_cell(c.statement, 70)}")


def _path_arg(text: str) -> Path:
    if not text.strip():  # Path("") is the current folder
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected a non-empty file path)")
    return Path(text)


def _check_output_paths(args: argparse.Namespace) -> None:
    """Checked before any claim runs, so that a typo or an unwritable target does not cost a full run.

    A regular file (or a new one) must be creatable in a writable folder; any other target (a device such
    as /dev/full or /dev/null) gets one probe byte written and flushed, which is how /dev/full fails.
    """
    if args.report is not None and args.json is not None and args.report.absolute() == args.json.absolute():
        raise UsageError(f"Invalid --json: '{args.json}' (the same file as --report; expected another path)")
    for flag, path in (("--report", args.report), ("--json", args.json)):
        if path is None:
            continue
        if path.is_dir():
            raise UsageError(f"Invalid {flag}: '{path}' (expected a file path, not a folder)")
        if not path.absolute().parent.is_dir():
            raise UsageError(f"Invalid {flag}: '{path}' (expected a path in an existing folder)")
        try:
            if path.exists() and not path.is_file():
                with open(path, "w") as handle:
                    handle.write("\n")
                    handle.flush()
            else:
                existed = path.exists()
                with open(path, "a"):
                    pass
                if not existed:
                    path.unlink()
        except OSError as error:
            raise UsageError(
                f"Invalid {flag}: '{path}' (expected a writable file: {error.strerror or error})"
            ) from None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (callable in-process)."""
    try:
        return _main(argv)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    except UsageError as error:
        print(f"python -m paper_checks: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


def default_jobs(n_claims: int) -> int:
    """The ``--jobs`` default: the usable cores (``os.sched_getaffinity``, at most :data:`MAX_DEFAULT_JOBS`),
    but no more workers than one per :data:`MIN_CLAIMS_PER_JOB` claims (so a short ``--only`` run stays in
    this process)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_JOBS, n_claims // MIN_CLAIMS_PER_JOB))


def _print_result(r: Result, verbose: bool) -> None:
    c = r.claim
    ours = r.outcome.ours if r.outcome else (r.error.strip().splitlines() or ["error"])[-1]
    print(_row([c.id, c.kind, data_label(r), c.paper_value, ours, _verdict_text(r)]), flush=True)
    if verbose and r.outcome:
        print(f"    evidence: {r.outcome.evidence}", flush=True)
        if r.outcome.corrected:
            print(f"    corrected: {r.outcome.corrected}", flush=True)


def _run_and_print(c: Claim, verbose: bool) -> Result:
    """Run one claim and print its line as soon as it finishes (progress on long runs)."""
    if c.tier != "quick":  # slow work: say what is running before the line that reports it
        print(f"running {c.id} ({c.tier} tier) ...", file=sys.stderr, flush=True)
    r = run_claim(c)
    _print_result(r, verbose)
    return r


def _run_serial(claims: list[Claim], verbose: bool, done: list[Result]) -> list[Result]:
    """``--jobs 1``: every claim in this process, in the registry order (``done`` grows as they finish)."""
    for c in claims:
        done.append(_run_and_print(c, verbose))
    return done


# ---------------------------------------------------------------------------------------- worker processes
# BLAS/OpenMP pools of numpy and torch size themselves from these when first imported, in each worker.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# Seconds between two "still running" lines on stderr while the next claim in the registry order is running.
_PROGRESS_EVERY = 10.0


def _tasks(claims: list[Claim]) -> list[tuple[int, ...]]:
    """The claims (by index) as units of work: one claim each, except that the claims of a module holding a
    ``functools`` cache (one training run read by several checks) share one unit, so that one worker computes
    the cached run once. Units with training claims go first (they take longest), then the rest; the registry
    order is kept within each."""
    shared: dict[str, list[int]] = {}
    units: list[tuple[int, ...]] = []
    for i, c in enumerate(claims):
        module = getattr(c.run, "__module__", None)
        if module is not None and _holds_cache(module):
            shared.setdefault(module, []).append(i)
        else:
            units.append((i,))
    units += [tuple(indices) for indices in shared.values()]
    return sorted(units, key=lambda unit: (not any(claims[i].kind == "training" for i in unit), unit[0]))


@functools.cache
def _holds_cache(module_name: str) -> bool:
    module = sys.modules.get(module_name)
    return module is not None and any(  # functools.cache / lru_cache wrappers have cache_info
        callable(value) and hasattr(value, "cache_info") for value in vars(module).values()
    )


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread (a Ctrl-C waits until the end of the block); processes started inside
    inherit the blocked signal."""
    if not hasattr(signal, "pthread_sigmask"):  # not POSIX: the workers ignore SIGINT once started
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


#: Set when the executor could not be shut down within its time (see _stop_workers): the interrupted run then
#: leaves with os._exit, since the interpreter's exit would join the executor's stuck manager thread.
_UNCLEAN_STOP = False


def _stop_workers(executor: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop every worker now: terminate, then kill what is still alive after 5 s, then shut the executor
    down, waiting at most 10 s (a worker killed while the executor feeds it can leave the executor's manager
    thread waiting on a dead pipe, a known CPython race; the run must still end)."""
    global _UNCLEAN_STOP
    terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
    stopper = threading.Thread(
        target=executor.shutdown, kwargs={"wait": True, "cancel_futures": True}, daemon=True
    )
    stopper.start()
    stopper.join(timeout=10)
    _UNCLEAN_STOP = stopper.is_alive()


def _run_parallel(
    claims: list[Claim], jobs: int, threads: int, tiers: tuple[str, ...], verbose: bool, done: list[Result]
) -> list[Result]:
    """Run the claims in ``jobs`` spawned worker processes of ``threads`` torch threads each; print each line in
    the registry order as soon as it and the lines before it are in (``done`` grows in that order).

    "spawn", not "fork": forking a process that has started torch's thread pools is unsafe."""
    units = _tasks(claims)
    results: list[Result | None] = [None] * len(claims)
    executor = concurrent.futures.ProcessPoolExecutor(
        max_workers=min(jobs, len(units)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker.init,
        initargs=(threads, tiers),
    )
    try:
        # The workers start here; they inherit these variables and a blocked Ctrl-C (SIGINT), which is the
        # parent's to handle: it stops them.
        with _environment({name: str(threads) for name in _THREAD_VARIABLES}), _sigint_blocked():
            futures = {executor.submit(_worker.run, tuple(claims[i].id for i in u)): u for u in units}
        pending, finished, last_note = set(futures), 0, time.monotonic()
        while pending:
            ready, pending = concurrent.futures.wait(
                pending, timeout=_PROGRESS_EVERY, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in ready:
                unit = futures[future]
                try:
                    rows = future.result()
                except concurrent.futures.process.BrokenProcessPool as error:
                    rows = [(claims[i].id, None, 0.0, f"a worker process died: {error}") for i in unit]
                except Exception as error:  # noqa: BLE001 - e.g. a result that could not be sent back
                    text = "".join(traceback.format_exception(error))
                    rows = [(claims[i].id, None, 0.0, text) for i in unit]
                for i, (_, outcome, seconds, error_text) in zip(unit, rows):
                    results[i] = Result(claims[i], outcome, seconds, error_text)
                finished += len(unit)
            while len(done) < len(claims) and results[len(done)] is not None:
                done.append(results[len(done)])
                _print_result(done[-1], verbose)
            if pending and time.monotonic() - last_note >= _PROGRESS_EVERY:
                last_note = time.monotonic()
                print(
                    f"  ... {finished}/{len(claims)} claims done, waiting for {claims[len(done)].id}",
                    file=sys.stderr,
                    flush=True,
                )
    except BaseException:  # Ctrl-C included: no worker outlives the run
        _stop_workers(executor)
        raise
    executor.shutdown(wait=True)
    return done


def _write_outputs(results: list[Result], args: argparse.Namespace) -> bool:
    """Write the requested report and JSON; False (after one error line) when a write fails."""
    for flag, path, writer in (("--report", args.report, write_markdown), ("--json", args.json, write_json)):
        if path is None:
            continue
        try:
            writer(results, path)
        except OSError as error:
            print(
                f"python -m paper_checks: error: Invalid {flag}: '{path}' (could not write: "
                f"{error.strerror or error})",
                file=sys.stderr,
            )
            return False
        print(f"{'report' if flag == '--report' else 'json'} written to {path}")
    return True


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    _check_output_paths(args)
    claims = select(all_claims(_tiers(args.full)), args.only)
    if args.only and not claims:
        raise UsageError(
            f"Invalid --only: {', '.join(args.only)} (expected a prefix or part of a claim id; see --list)"
        )
    if args.list:
        _print_list(claims)
        return 0

    for line in header_lines() + citation_lines(sorted({c.seed for c in claims})) + legend_lines():
        print(line)
    print(flush=True)
    print(_row([name for name, _ in _COLUMNS]), flush=True)
    print("-" * (sum(w for _, w in _COLUMNS) + 2 * (len(_COLUMNS) - 1)), flush=True)
    jobs = args.jobs if args.jobs is not None else default_jobs(len(claims))
    start, results = time.perf_counter(), []
    try:
        if jobs == 1:
            with _worker.limit_threads(args.threads):
                _run_serial(claims, args.verbose, results)
        else:
            _run_parallel(claims, jobs, args.threads, _tiers(args.full), args.verbose, results)
    except KeyboardInterrupt:
        print(
            f"python -m paper_checks: interrupted after {len(results)} of {len(claims)} claims "
            "(no report written)",
            file=sys.stderr,
        )
        if _UNCLEAN_STOP:  # the workers are dead, but exiting normally would wait for the executor's thread
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        return 130
    wall = time.perf_counter() - start

    counts = Counter(
        "needs" if r.outcome is not None and r.outcome.verdict == "needs" else _verdict_text(r)
        for r in results
    )
    total = sum(r.seconds for r in results)
    print(
        f"\n{len(results)} claims in {wall:.1f} s ({total:.1f} s of checks, {jobs} "
        f"{'process' if jobs == 1 else 'worker processes'} of {args.threads} thread"
        f"{'' if args.threads == 1 else 's'}): " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    )
    for line in seed_summary_lines(results):
        print(line)
    if not _write_outputs(results, args):
        return 2
    errors = [r for r in results if r.outcome is None]
    for r in errors:
        print(f"\n{r.claim.id} raised:\n{r.error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
