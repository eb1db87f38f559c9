"""``python -m paper_checks``: run the checks and print one verdict line per paper claim.

Exit status: 0 when every selected check ran (a refuted claim is a finding, not a failure), 1 when a
check raised an error, 2 for bad command-line input.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from paper_checks.registry import CITATIONS, LEGEND, PAPERS, Claim, Outcome, all_claims

_COLUMNS = (("id", 30), ("kind", 13), ("data", 14), ("paper", 26), ("ours", 34), ("verdict", 24))
_DATA_LABELS = (
    ("fashion-mnist", "fashion-mnist"),
    ("mnist", "mnist (real)"),
    ("digits", "digits (real)"),
    ("synthetic", "synthetic"),
)  # first match wins; "+" marks real data mixed with synthetic


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
    start = time.perf_counter()
    try:
        outcome = claim.run()
    except Exception:  # noqa: BLE001 - reported in the table and the exit status
        return Result(claim, None, time.perf_counter() - start, traceback.format_exc())
    return Result(claim, outcome, time.perf_counter() - start)


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
        help="torch threads for the training claims (default 1: the models are too small to gain "
        "from more, and two jobs side by side do not oversubscribe the cores)",
    )
    return p


def _threads_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected an integer from 1 to 1024)")
    return value


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


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


def _run_and_print(c: Claim, verbose: bool) -> Result:
    """Run one claim and print its line as soon as it finishes (progress on long runs)."""
    if c.tier != "quick":  # slow work: say what is running before the line that reports it
        print(f"running {c.id} ({c.tier} tier) ...", file=sys.stderr, flush=True)
    r = run_claim(c)
    ours = r.outcome.ours if r.outcome else r.error.strip().splitlines()[-1]
    print(_row([c.id, c.kind, data_label(r), c.paper_value, ours, _verdict_text(r)]), flush=True)
    if verbose and r.outcome:
        print(f"    evidence: {r.outcome.evidence}", flush=True)
        if r.outcome.corrected:
            print(f"    corrected: {r.outcome.corrected}", flush=True)
    return r


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
    _set_threads(args.threads)
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
    results = [_run_and_print(c, args.verbose) for c in claims]

    counts = Counter(
        "needs" if r.outcome is not None and r.outcome.verdict == "needs" else _verdict_text(r)
        for r in results
    )
    total = sum(r.seconds for r in results)
    print(
        f"\n{len(results)} claims in {total:.1f} s: "
        + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
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
