"""``python -m paper_checks --jobs N``: claims run in spawned worker processes, with the same verdicts and
numbers as in one process, printed in the registry order; a failing unit is reported, not lost; Ctrl-C
stops the workers and exits 130 with one line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from paper_checks import _worker
from paper_checks.__main__ import MAX_DEFAULT_JOBS, MIN_CLAIMS_PER_JOB, _tasks, default_jobs, main
from paper_checks.registry import _REGISTRY, Claim, Outcome, all_claims

# Fast claims (< 0.5 s each) of several kinds, some seeded simulations and a training claim among them.
ONLY = ["000.appD", "001.eq4-constant-sim", "001.gradient-vanishes-sim", "001.fig9", "004.g-", "004.linear"]
ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, jobs: int, capsys, extra: tuple[str, ...] = ()) -> tuple[list[dict], list[str], int]:
    path = tmp_path / f"jobs{jobs}.json"
    argv = [f"--only={o}" for o in (*ONLY, *extra)] + ["--jobs", str(jobs), "--json", str(path)]
    status = main(argv)
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if re.match(r"\d{3}\.", line)]
    return json.loads(path.read_text()), rows, status


def test_two_workers_give_the_same_results_in_the_registry_order_and_report_a_failing_unit(tmp_path, capsys):
    """Also: a claim registered only in this process is unknown to the spawned workers, so its unit raises
    there; that must give an ERROR line and exit status 1, not a lost claim or a hang."""
    one, _, status_one = _run(tmp_path, 1, capsys)

    def check() -> Outcome:
        return Outcome(ours="x", verdict="confirmed", evidence="e")

    ghost = Claim("004.zz-parent-only", "004", "eq. 0", "derivation", "s", "v", "confirmed", "quick", check)
    _REGISTRY[ghost.id] = ghost
    try:
        two, printed, status_two = _run(tmp_path, 2, capsys, extra=(ghost.id,))
    finally:
        del _REGISTRY[ghost.id]
    assert status_one == 0 and status_two == 1
    assert len(one) >= 2 * MIN_CLAIMS_PER_JOB
    failed = [r for r in two if r["id"] == ghost.id]
    assert len(failed) == 1 and failed[0]["verdict"] == "ERROR" and "KeyError" in failed[0]["error"]
    two = [r for r in two if r["id"] != ghost.id]
    assert [r["id"] for r in two] == [r["id"] for r in one]
    # table lines in the registry order, whatever finished first
    assert [i for i in printed if i != ghost.id] == [r["id"] for r in one] and ghost.id in printed
    for a, b in zip(one, two):
        assert (a["verdict"], a.get("ours"), a.get("numbers")) == (
            b["verdict"],
            b.get("ours"),
            b.get("numbers"),
        )
    expected = {c.id: c.expect for c in all_claims(("quick",))}
    assert all(
        r["verdict"] == expected[r["id"]] or expected[r["id"]] == "needs" == r["verdict"][:5] for r in two
    )


def test_run_one_catches_the_check_error():
    def broken() -> Outcome:
        raise ZeroDivisionError("boom")

    claim = Claim("004.zz-broken", "004", "eq. 0", "derivation", "s", "v", "confirmed", "quick", broken)
    outcome, seconds, error = _worker.run_one(claim)
    assert outcome is None and seconds >= 0 and "ZeroDivisionError: boom" in error


def test_default_jobs_follows_the_cores_and_the_claim_count():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_jobs(1000) == min(cores, MAX_DEFAULT_JOBS)
    assert default_jobs(MIN_CLAIMS_PER_JOB * 2 - 1) == 1  # a short --only run stays in-process
    assert default_jobs(0) == 1


def test_claims_sharing_a_cache_run_in_one_unit_training_first():
    claims = all_claims(("quick",))
    units = _tasks(claims)
    assert sorted(i for u in units for i in u) == list(range(len(claims)))  # each claim exactly once
    by_module: dict[str, set[int]] = {}
    for n, unit in enumerate(units):
        for i in unit:
            by_module.setdefault(claims[i].run.__module__, set()).add(n)
    # seed000_training caches its comparison runs across several claims: all of them in one unit
    assert len(by_module["paper_checks.seed000_training"]) == 1
    first_plain = next(n for n, u in enumerate(units) if all(claims[i].kind != "training" for i in u))
    assert all(all(claims[i].kind != "training" for i in u) for u in units[first_plain:])


@pytest.mark.parametrize("value", ["0", "-1", "x", "257"])
def test_bad_jobs_is_refused_in_one_line(value, capsys):
    assert main(["--jobs", value, "--list"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--jobs" in err and repr(value) in err


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signals")
def test_ctrl_c_stops_the_workers_and_exits_130(tmp_path):
    token = uuid.uuid4().hex  # inherited by every process of the run: finds leftover workers
    env = {**os.environ, "PAPER_CHECKS_TEST_TOKEN": token}
    process = subprocess.Popen(
        [sys.executable, "-m", "paper_checks", "--jobs", "2", "--only", "00"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as in a terminal
    )
    try:
        for line in process.stdout:  # the table header: the workers are being started
            if line.startswith("id "):
                break
        time.sleep(1.0)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole group
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1].startswith("python -m paper_checks: interrupted after")
    deadline = time.monotonic() + 15  # a loaded machine may take a moment to reap them
    while _processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_with(token), "worker processes outlived the run"


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if token.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
