"""The run directory's files: ``metrics.jsonl``, ``summary.json``, atomic JSON writes, resume repair.

Guarantees (the README's "What a run directory guarantees"):

* every JSON file is written atomically (a temporary file in the same folder, flushed, then renamed);
* ``metrics.jsonl`` is appended in whole lines only at synchronisation points, and the checkpoint records how
  many lines it covers; on resume the file is checked against that count first: extra lines (written after
  the checkpoint, or cut mid-line by a crash) are dropped, fewer complete lines than the checkpoint counts
  is refused in one line naming the file (the history would be lost);
* an existing run directory is never replaced silently (see :func:`check_run_dir`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = [
    "ARTIFACTS",
    "check_run_dir",
    "clear_artifacts",
    "json_line",
    "last_epoch_record",
    "repair_metrics",
    "write_json",
]

#: Files a run writes into its directory (``--overwrite`` removes these and nothing else).
ARTIFACTS = (
    "config.json",
    "env.json",
    "metrics.jsonl",
    "summary.json",
    "checkpoint.pt",
    "best.pt",
    "plots.png",
    "steps.csv",
    "epochs.csv",
)


def _line_encoder():
    """The C encoder behind ``json.dumps`` with its default settings, built once (``json.dumps`` builds it
    again for every call: on a small model that is a visible part of each logged update)."""
    from json import encoder

    if encoder.c_make_encoder is None:  # no C accelerator: json.dumps itself
        return None
    try:
        encode = encoder.c_make_encoder(
            None,  # no circular check: records are flat
            json.JSONEncoder().default,  # the same TypeError for an object JSON cannot hold
            encoder.encode_basestring_ascii,
            None,
            ": ",
            ", ",
            False,
            False,
            True,  # NaN and Infinity as json.dumps writes them
        )
        sample = {"kind": "step", "é": [1, 2.5, None, True, float("nan"), float("-inf")], "x": {"y": "a\n"}}
        if "".join(encode(sample, 0)) == json.dumps(sample):
            return encode
    except TypeError:  # another Python's private signature
        pass
    return None


_ENCODE = _line_encoder()


def json_line(record: dict[str, Any]) -> str:
    """``json.dumps(record) + "\\n"``, the same text, faster."""
    if _ENCODE is None:
        return json.dumps(record) + "\n"
    return "".join(_ENCODE(record, 0)) + "\n"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON atomically (temporary file, fsync, rename); the temporary file never stays."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(data, indent=2, default=str) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        tmp.replace(path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise OSError(f"could not write {str(path)!r}: {error.strerror or error}") from None


def check_run_dir(run_dir: Path, *, overwrite: bool) -> None:
    """Refuse an existing non-empty run directory unless ``overwrite`` (one line naming it)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"Invalid out_dir: {str(run_dir)!r} (a file is there; expected a folder)")
    if run_dir.is_dir() and any(run_dir.iterdir()) and not overwrite:
        raise ValueError(
            f"Invalid out_dir: {str(run_dir)!r} (a run already exists there; expected "
            f"--resume {run_dir} to continue it, --overwrite to replace it, or another --out-dir)"
        )


def clear_artifacts(run_dir: Path) -> None:
    """Remove the files an earlier run wrote (only those: a user's other files stay)."""
    for name in ARTIFACTS:
        (run_dir / name).unlink(missing_ok=True)
    for tmp in run_dir.glob("*.tmp"):
        tmp.unlink(missing_ok=True)


def repair_metrics(path: Path, keep: int) -> None:
    """Cut ``metrics.jsonl`` to the first ``keep`` lines the checkpoint counts, or refuse in one line."""
    try:
        raw = path.read_bytes() if path.exists() else b""
    except OSError as error:
        raise ValueError(f"Invalid metrics: {str(path)!r} (could not be read: {error.strerror})") from None
    complete = raw.split(b"\n")[:-1]  # the last piece is b"" or a line cut mid-write
    good = 0
    for line in complete[:keep]:
        try:
            json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            break
        good += 1
    if good < keep:
        raise ValueError(
            f"Invalid metrics: {str(path)!r} (has {good} intact records, the checkpoint counts "
            f"{keep}; expected the run's own metrics.jsonl: restore it or start a new run)"
        )
    kept = b"".join(line + b"\n" for line in complete[:keep])
    if kept != raw:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(kept)
        tmp.replace(path)


def last_epoch_record(path: Path) -> dict[str, Any]:
    """The last ``epoch`` record of ``metrics.jsonl`` (empty when none)."""
    last: dict[str, Any] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("kind") == "epoch":
            last = record
    return last
