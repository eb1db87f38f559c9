"""The run configuration: defaults, config files (TOML or JSON), command-line overrides, validation.

Precedence, lowest first: the defaults below, the ``--config`` file, the command-line flags. The resolved
configuration (with the algorithm's hyperparameters filled in) is written to ``config.json`` of the run.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["DEVICES", "TrainConfig", "load_config_file", "make_config", "parse_hparam"]

DEVICES = ("auto", "cpu", "cuda")
# Sanity ceilings: a budget of a million epochs or a batch of 2^31 samples is a typo, not an experiment
# (and larger budgets overflow the int64 sample counter).
MAX_BUDGET_EPOCHS = 1e6
MAX_BATCH_SIZE = 2**31 - 1


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on.

    Attributes:
        algo: registered algorithm name (``realnets list``).
        model: registered model name.
        dataset: registered dataset name.
        data_dir: where downloaded datasets live (None: the data package's default).
        seed: seeds the model initialisation, the sampler permutations and dropout.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        budget_epochs: the sample budget in epochs of the training set (may be fractional).
        lr, batch_size: shortcuts for the algorithm's ``lr`` and ``batch_size`` hyperparameters.
        hp: further algorithm hyperparameters (``--hp key=value``).
        model_options: options passed to ``build_model`` (``width``, ``ghost_batch_size``, ...).
        dataset_options: options passed to ``load_dataset`` (``num_train`` of the synthetic sets, ...).
        out_dir: the run directory (None: ``runs/<algo>-<model>-<dataset>-seed<seed>``).
        checkpoint_every: write a checkpoint every this many epochs (0: only at the end).
        eval_batch_size: chunk size for the per-epoch full-data evaluation.
        progress: show a progress bar on stderr.
    """

    algo: str = "momentum"
    model: str = "mlp"
    dataset: str = "digits"
    data_dir: str | None = None
    seed: int = 0
    device: str = "auto"
    budget_epochs: float = 20.0
    lr: float | None = None
    batch_size: int | None = None
    hp: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    out_dir: str | None = None
    checkpoint_every: int = 1
    eval_batch_size: int = 2048
    progress: bool = True

    def algo_overrides(self) -> dict[str, Any]:
        """The hyperparameter overrides for the algorithm factory (``lr``/``batch_size`` folded in)."""
        overrides = dict(self.hp)
        if self.lr is not None:
            overrides["lr"] = self.lr
        if self.batch_size is not None:
            overrides["batch_size"] = self.batch_size
        return overrides

    def run_dir(self) -> Path:
        """The run directory."""
        if self.out_dir is not None:
            return Path(self.out_dir)
        return Path("runs") / f"{self.algo}-{self.model}-{self.dataset}-seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = {f.name for f in fields(TrainConfig)}


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (``.toml``) or JSON file into a dict. Errors name the file and what was wrong."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Invalid config: {str(path)!r} (expected an existing .toml or .json file)")
    kind = "TOML" if path.suffix == ".toml" else "JSON"  # any other suffix is read as JSON
    try:
        text = path.read_text()
        data = tomllib.loads(text) if kind == "TOML" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"Invalid config: {str(path)!r} (not valid {kind}: {error})") from None
    except OSError as error:
        raise ValueError(f"Invalid config: {str(path)!r} (could not be read: {error.strerror})") from None
    if not isinstance(data, dict):
        raise ValueError(f"Invalid config: {str(path)!r} (expected a table of settings)")
    return data


def make_config(*layers: Mapping[str, Any]) -> TrainConfig:
    """Merge layers of settings (later wins; the option tables merge key by key) and validate."""
    merged: dict[str, Any] = {}
    for layer in layers:
        unknown = sorted(set(layer) - _FIELDS)
        if unknown:
            raise ValueError(f"Invalid setting: {unknown[0]!r} (expected one of {', '.join(sorted(_FIELDS))})")
        for key, value in layer.items():
            if key in ("hp", "model_options", "dataset_options"):
                merged[key] = {**merged.get(key, {}), **_mapping(key, value)}
            else:
                merged[key] = value
    config = replace(TrainConfig(), **merged)
    _validate(config)
    return config


def _mapping(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"Invalid {name}: {value!r} (expected a table of key = value)")
    return dict(value)


def parse_hparam(text: str, name: str = "hp") -> tuple[str, Any]:
    """``"key=value"`` -> ``(key, value)``; the value is read as JSON when it parses (numbers, true/false,
    lists), else kept as a string (``milestones=6,12,16`` stays a string). ``name`` is the setting named in
    the error message."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"Invalid {name}: {text!r} (expected key=value)")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().replace("-", "_"), value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ValueError(f"Invalid {name}: {value!r} (expected {expected})")


def _validate(c: TrainConfig) -> None:
    for name in ("algo", "model", "dataset"):
        _check(isinstance(getattr(c, name), str) and bool(getattr(c, name)), name, getattr(c, name), "a name")
    _check(_is_int(c.seed) and 0 <= c.seed < 2**63, "seed", c.seed, "an integer >= 0 and < 2**63")
    _check(c.device in DEVICES, "device", c.device, f"one of {', '.join(DEVICES)}")
    _check(_is_number(c.budget_epochs) and 0 < c.budget_epochs <= MAX_BUDGET_EPOCHS, "budget_epochs",
           c.budget_epochs, f"a number > 0 and <= {MAX_BUDGET_EPOCHS:g}")
    _check(c.lr is None or (_is_number(c.lr) and c.lr > 0), "lr", c.lr, "a number > 0")
    _check(c.batch_size is None or (_is_int(c.batch_size) and 1 <= c.batch_size <= MAX_BATCH_SIZE), "batch_size",
           c.batch_size, f"an integer >= 1 and <= {MAX_BATCH_SIZE}")
    _check(_is_int(c.checkpoint_every) and c.checkpoint_every >= 0, "checkpoint_every", c.checkpoint_every,
           "an integer >= 0")
    _check(_is_int(c.eval_batch_size) and c.eval_batch_size >= 1, "eval_batch_size", c.eval_batch_size,
           "an integer >= 1")
    _check(isinstance(c.progress, bool), "progress", c.progress, "true or false")
    for name in ("data_dir", "out_dir"):
        value = getattr(c, name)
        _check(value is None or isinstance(value, str), name, value, "a path")
