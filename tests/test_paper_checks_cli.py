"""``python -m paper_checks``: output paths checked before any claim runs, ``--only ''`` refused, and the
report's header, legend, citations and per-seed summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paper_checks.__main__ import main


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_unwritable_json_is_refused_before_running(capsys):
    assert main(["--json", "/dev/full", "--only", "000.appD"]) == 2
    err = _one_line(capsys)
    assert "Invalid --json: '/dev/full'" in err
    assert "000.appD" not in capsys.readouterr().out  # nothing ran


def test_report_in_a_missing_folder_is_refused(tmp_path, capsys):
    assert main(["--report", str(tmp_path / "nope" / "r.md")]) == 2
    assert "Invalid --report" in _one_line(capsys)


def test_empty_only_is_refused(capsys):
    assert main(["--only", ""]) == 2
    assert "Invalid --only: ''" in _one_line(capsys)


def test_report_has_header_legend_citations_and_seed_summary(tmp_path, capsys):
    report, data = tmp_path / "r.md", tmp_path / "r.json"
    assert (
        main(["--only", "000.appD", "--only", "001.fig1-", "--report", str(report), "--json", str(data)]) == 0
    )
    out = capsys.readouterr().out
    assert "commit" in out and "Verdicts:" in out and "Fengli Gao and Huicai Zhong" in out
    assert "seed 001: 1 claims, 0 checked" in out and "001.fig1-generalization-gap: needs" in out
    text = report.read_text()
    for fragment in ("## Papers", "## Verdicts", "refuted at this scale", "## Summary by seed", "Command: `"):
        assert fragment in text
    records = json.loads(data.read_text())
    needs = [r for r in records if r["verdict"].startswith("needs")]
    assert needs and all(r["command"] for r in needs)
    assert not (tmp_path / "unused.md").exists()


def test_probe_does_not_leave_a_file_when_the_run_fails_early(tmp_path, capsys):
    target = tmp_path / "r.md"
    assert main(["--report", str(target), "--only", "no-such-claim"]) == 2
    assert not target.exists()
