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

__all__ = [
    "AMP_MODES",
    "DEVICES",
    "SAMPLING_MODES",
    "TrainConfig",
    "default_threads",
    "load_config_file",
    "make_config",
    "parse_hparam",
    "split_layer",
]

DEVICES = ("auto", "cpu", "cuda")
AMP_MODES = ("off", "bf16", "fp16")
SAMPLING_MODES = ("epoch", "fresh")
# Datasets whose images random crop + horizontal flip suit (natural photographs; a flipped digit of SVHN or
# MNIST is another digit or none).
AUGMENTABLE_DATASETS = ("cifar10", "cifar100")
# Sanity ceilings: a budget of a million epochs or a batch of 2^31 samples is a typo, not an experiment
# (and larger budgets overflow the int64 sample counter).
MAX_BUDGET_EPOCHS = 1e6
MAX_BATCH_SIZE = 2**31 - 1
# Learning rate: the parameters are float32, and torch converts the step ``-lr * grad`` to float32, so an lr
# above 3.4e38 is an OverflowError traceback, not a divergence. The largest rates of the papers are ~10
# (seed 004's scaled eps); rates up to 1e12 are used on purpose to make a run diverge (the divergence tests),
# and 1e12 times any finite float32 gradient still rounds to inf/nan inside the step rather than raising.
MAX_LR = 1e12
# L2 weight decay: each step multiplies w by (1 - lr * wd); the papers use 5e-4 (seed 004) to 1e-2. With
# lr * wd > 2 every step doubles |w|, so 1e3 is already hopeless at lr = 0.01 yet far from float32 overflow.
MAX_WEIGHT_DECAY = 1e3
# Schedule factors: ``factor ** len(milestones)`` multiplies the batch (or divides the lr). Beyond 2^31 the
# batch exceeds MAX_BATCH_SIZE (and int(B * factor**k) overflows to infinity for factor ~ 1e308); below
# 2^-31 the lr is zero in float32 terms for any lr <= MAX_LR. The product must lie in [2^-31, 2^31].
MAX_SCHEDULE_PRODUCT = 2.0**31
# BA's S* is the lowest reachable training loss (seed 000, eq. of the rebound walk). The losses here are
# cross-entropy and squared error, >= 0, so S* < 0 is looser than 0; an S* of a million is above any initial
# loss of a normalised dataset (log C <= 7 for C <= 1000 classes), i.e. a typo.
MAX_S_STAR = 1e6
# Gradient clipping (max global L2 norm): clipping above 1e6 never triggers on a finite loss of a normalised
# network, so it is a typo; 0 or None is off.
MAX_GRAD_CLIP = 1e6
# Validation split: a fraction of the training set held out (stratified by the engine). More than half is no
# longer a training set.
MAX_VAL_FRACTION = 0.5
MAX_THREADS = 1024
# Hyperparameters that count samples: above 2^31 they are typos (the algorithms would silently clamp them to
# the training set), whether they come from a flag, --hp or a config file.
SAMPLE_COUNT_HPARAMS = (
    "batch_size",
    "m0",
    "max_batch_size",
    "base_batch_size",
    "ref_batch_size",
    "small_batch_size",
    "search_max",
)
# Below this much work per step (parameters x batch size) a second intra-op thread costs about what it saves.
# Measured on the digits MLP (85,002 parameters, SGD with momentum, 400 steps, 3 interleaved repetitions,
# shared 2-core machine, so noisy): B = 32: 1 thread 556-699 us/step, 2 threads 557-5603 us/step (no gain,
# large outliers); B = 128: 936-1106 vs 846-901; B = 512: 2511-2788 vs 1715-2224. The threshold lies between
# 85,002 x 32 = 2.7e6 (no gain) and 85,002 x 128 = 1.1e7 (gain).
SMALL_STEP_WORK = 5_000_000
# Settings that are not part of the experiment: not written to config.json (a resumed run or a rerun from
# config.json decides them afresh).
_NOT_STORED = ("progress", "overwrite")


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
        eval_every: also evaluate the full training and test loss every this many updates (records of kind
            ``eval`` in ``metrics.jsonl``; None: only at epoch ends). Seed 002 logs losses at fixed update
            intervals.
        stride_probe: log seed 001's per-update strides (:class:`realnets.probes.magnitudes.StrideProbe`)
            in every step record, with the curvature radii on every this-many updates (0: off).
        eval_batch_size: chunk size for the per-epoch full-data evaluation.
        progress: show progress on stderr (a bar on a terminal, one line per epoch otherwise).
        amp: mixed precision on CUDA: ``off``, ``bf16`` or ``fp16`` (autocast; fp16 with a grad scaler).
        compile: wrap the model in ``torch.compile``.
        grad_clip: clip the global gradient L2 norm to this value (None: off).
        augment: CIFAR random crop (4-pixel zero padding) and horizontal flip of each drawn batch.
        val_fraction: fraction of the training set held out for validation (0: none).
        train_fraction: train on this fraction of the training set, a stratified subset seeded by the run
            seed (1: all; seed 002's data fractions, ``realnets sweep --data-fraction``).
        threads: ``torch.set_num_threads`` for the run (None: :func:`default_threads`).
        overwrite: allow training into an existing run directory (replacing it).
        sampling: ``epoch`` (each sample once per epoch, the permutations of the engine) or ``fresh``
            (independent uniform draws, the i.i.d. sampling the theory assumes).
        tensorboard: also write TensorBoard event files to ``<run_dir>/tensorboard``.
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
    eval_every: int | None = None
    stride_probe: int = 0
    eval_batch_size: int = 2048
    progress: bool = True
    amp: str = "off"
    compile: bool = False
    grad_clip: float | None = None
    augment: bool = False
    val_fraction: float = 0.0
    train_fraction: float = 1.0
    threads: int | None = None
    overwrite: bool = False
    sampling: str = "epoch"
    tensorboard: bool = False

    def algo_overrides(self) -> dict[str, Any]:
        """The hyperparameter overrides for the algorithm factory (``lr``/``batch_size`` folded in; schedule
        points given as fractions of the budget, ``milestones = "30%,60%,80%"``, resolved to epochs)."""
        from realnets.algorithms.schedules import resolve_budget_fractions

        overrides = dict(self.hp)
        if self.lr is not None:
            overrides["lr"] = self.lr
        if self.batch_size is not None:
            overrides["batch_size"] = self.batch_size
        if isinstance(self.budget_epochs, (int, float)) and self.budget_epochs > 0:
            overrides = resolve_budget_fractions(overrides, float(self.budget_epochs))
        return overrides

    def run_dir(self) -> Path:
        """The run directory."""
        if self.out_dir is not None:
            return Path(self.out_dir)
        return Path("runs") / f"{self.algo}-{self.model}-{self.dataset}-seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        """The settings of the experiment (``config.json``): every field but the display ones (``progress``)."""
        return {key: value for key, value in asdict(self).items() if key not in _NOT_STORED}


def default_threads(num_parameters: int, batch_size: int = 32) -> int | None:
    """The intra-op thread count for a model of ``num_parameters`` trained at ``batch_size`` (None: leave torch's
    default). One thread when ``num_parameters * batch_size < SMALL_STEP_WORK`` (see there for the measurement):
    the digits MLP at its default batch of 32 gains nothing from a second thread. For batch-adaptive policies
    pass the first batch (``m0``).

    This is the one rule behind every ``--threads`` default: ``realnets train`` and ``realnets compare``
    apply it per run, ``realnets sweep`` per cell (but one thread per cell with ``--jobs`` > 1, the cells
    sharing the cores), and ``python -m paper_checks`` gives each worker one thread (its models are all small
    by this rule). ``realnets bench`` leaves torch's default: its sections time ours and the peer at the same
    setting. Why it matters: two runs at torch's default (every core each) side by side oversubscribe the
    cores and each becomes several times slower (``realnets bench --sections threads``)."""
    return 1 if num_parameters * max(1, batch_size) < SMALL_STEP_WORK else None


_FIELDS = {f.name for f in fields(TrainConfig)}


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (``.toml``) or JSON file into a dict. Errors name the file and what was wrong."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Invalid config: {str(path)!r} (expected an existing .toml or .json file)")
    kind = "TOML" if path.suffix == ".toml" else "JSON"  # any other suffix is read as JSON
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if kind == "TOML" else json.loads(text)
    except UnicodeDecodeError as error:
        raise ValueError(f"Invalid config: {str(path)!r} (not UTF-8 text: byte {error.start})") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"Invalid config: {str(path)!r} (not valid {kind}: {error})") from None
    except OSError as error:
        raise ValueError(f"Invalid config: {str(path)!r} (could not be read: {error.strerror})") from None
    if not isinstance(data, dict):
        raise ValueError(f"Invalid config: {str(path)!r} (expected a table of settings)")
    # Keys are the flag names: ``budget-epochs`` and ``budget_epochs`` both work.
    return {str(key).replace("-", "_"): value for key, value in data.items()}


def _hparam_names() -> set[str]:
    """Every hyperparameter some registered algorithm accepts (config files may set them at the top level)."""
    from realnets.registry import list_algorithms

    return {name for info in list_algorithms() for name in info.defaults}


def split_layer(layer: Mapping[str, Any]) -> dict[str, Any]:
    """``layer`` with its top-level hyperparameter keys (``m0 = 32``) moved into its ``hp`` table.

    Raises:
        ValueError: a key that is neither a setting nor a hyperparameter of any algorithm.
    """
    out: dict[str, Any] = {}
    hp_names: set[str] | None = None
    for key, value in layer.items():
        if key in _FIELDS:
            out[key] = {**out.get(key, {}), **_mapping(key, value)} if key == "hp" else value
            continue
        hp_names = _hparam_names() if hp_names is None else hp_names
        if key not in hp_names:
            raise ValueError(
                f"Invalid setting: {key!r} (expected one of {', '.join(sorted(_FIELDS))}, "
                f"or a hyperparameter of `realnets list algorithms`)"
            )
        out["hp"] = {**out.get("hp", {}), key: value}
    return out


def make_config(*layers: Mapping[str, Any]) -> TrainConfig:
    """Merge layers of settings (later wins; the option tables merge key by key) and validate.

    A key that is not a setting but a hyperparameter of some algorithm (``m0 = 32``, ``stat = "diag"``) is
    read as ``hp.<key>``, so config files use the flag names at the top level; ``[hp]`` still works.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in split_layer(layer).items():
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
    _check(
        _is_number(c.budget_epochs) and 0 < c.budget_epochs <= MAX_BUDGET_EPOCHS,
        "budget_epochs",
        c.budget_epochs,
        f"a number > 0 and <= {MAX_BUDGET_EPOCHS:g}",
    )
    _check(
        c.lr is None or (_is_number(c.lr) and 0 < c.lr <= MAX_LR),
        "lr",
        c.lr,
        f"a finite number > 0 and <= {MAX_LR:g}",
    )
    _check(
        c.batch_size is None or (_is_int(c.batch_size) and 1 <= c.batch_size <= MAX_BATCH_SIZE),
        "batch_size",
        c.batch_size,
        f"an integer >= 1 and <= {MAX_BATCH_SIZE}",
    )
    _check(
        _is_int(c.checkpoint_every) and c.checkpoint_every >= 0,
        "checkpoint_every",
        c.checkpoint_every,
        "an integer >= 0",
    )
    _check(
        _is_int(c.stride_probe) and c.stride_probe >= 0,
        "stride_probe",
        c.stride_probe,
        "an integer >= 0 (updates between curvature radii; 0: no stride probe)",
    )
    _check(
        c.eval_every is None or (_is_int(c.eval_every) and c.eval_every >= 1),
        "eval_every",
        c.eval_every,
        "an integer >= 1 (updates between evaluations)",
    )
    _check(
        _is_int(c.eval_batch_size) and c.eval_batch_size >= 1,
        "eval_batch_size",
        c.eval_batch_size,
        "an integer >= 1",
    )
    for name in ("progress", "compile", "augment", "overwrite", "tensorboard"):
        _check(isinstance(getattr(c, name), bool), name, getattr(c, name), "true or false")
    for name in ("data_dir", "out_dir"):
        value = getattr(c, name)
        _check(
            value is None or (isinstance(value, str) and value.strip() != "" and "\0" not in value),
            name,
            value,
            "a non-empty path",
        )
    _check(c.amp in AMP_MODES, "amp", c.amp, f"one of {', '.join(AMP_MODES)}")
    _check(
        c.amp == "off" or c.device != "cpu",
        "amp",
        c.amp,
        "off on --device cpu (autocast here is for CUDA; use --device cuda or auto)",
    )
    _check(c.sampling in SAMPLING_MODES, "sampling", c.sampling, f"one of {', '.join(SAMPLING_MODES)}")
    _check(
        c.grad_clip is None or (_is_number(c.grad_clip) and 0 < c.grad_clip <= MAX_GRAD_CLIP),
        "grad_clip",
        c.grad_clip,
        f"a number > 0 and <= {MAX_GRAD_CLIP:g}",
    )
    _check(
        _is_number(c.val_fraction) and 0 <= c.val_fraction <= MAX_VAL_FRACTION,
        "val_fraction",
        c.val_fraction,
        f"a number >= 0 and <= {MAX_VAL_FRACTION}",
    )
    _check(
        _is_number(c.train_fraction) and 0 < c.train_fraction <= 1,
        "train_fraction",
        c.train_fraction,
        "a number > 0 and <= 1",
    )
    _check(
        c.threads is None or (_is_int(c.threads) and 1 <= c.threads <= MAX_THREADS),
        "threads",
        c.threads,
        f"an integer >= 1 and <= {MAX_THREADS}",
    )
    _check(
        not c.augment or c.dataset in AUGMENTABLE_DATASETS,
        "augment",
        c.augment,
        f"only with --dataset {' or '.join(AUGMENTABLE_DATASETS)} (random crop and flip of photographs)",
    )
    _validate_hparams(c)


def _validate_hparams(c: TrainConfig) -> None:
    """Ranges of the hyperparameters shared by many algorithms (the limits above say why), before any algorithm
    code runs; the algorithms check their own finer rules when they are built."""
    hp = c.algo_overrides()
    if "lr" in hp:
        _check(
            _is_number(hp["lr"]) and 0 < hp["lr"] <= MAX_LR,
            "lr",
            hp["lr"],
            f"a finite number > 0 and <= {MAX_LR:g}",
        )
    if "weight_decay" in hp:
        _check(
            _is_number(hp["weight_decay"]) and 0 <= hp["weight_decay"] <= MAX_WEIGHT_DECAY,
            "weight_decay",
            hp["weight_decay"],
            f"a number >= 0 and <= {MAX_WEIGHT_DECAY:g}",
        )
    if "s_star" in hp:
        _check(
            _is_number(hp["s_star"]) and 0 <= hp["s_star"] <= MAX_S_STAR,
            "s_star",
            hp["s_star"],
            f"a number >= 0 and <= {MAX_S_STAR:g} (the lowest reachable training loss)",
        )
    for name in SAMPLE_COUNT_HPARAMS:
        value = hp.get(name)
        if _is_int(value) and value > MAX_BATCH_SIZE:
            raise ValueError(f"Invalid {name}: {value} (expected an integer <= {MAX_BATCH_SIZE})")
    if "factor" in hp or "milestones" in hp or "momentum" in hp:
        _validate_algorithm_hparams(c.algo, hp)


def _milestone_count(value: Any) -> int | None:
    if isinstance(value, str):
        return len([item for item in value.split(",") if item.strip()])
    if isinstance(value, (list, tuple)):
        return len(value)
    if _is_number(value):
        return 1
    return None  # the algorithm reports the bad value


def _validate_algorithm_hparams(algo: str, hp: Mapping[str, Any]) -> None:
    from realnets.registry import get_algorithm

    try:
        defaults = get_algorithm(algo).defaults
    except ValueError:
        return  # the unknown name is reported where the algorithm is built, with the list of names
    resolved = {**defaults, **hp}
    if "momentum" in hp and "optimizer" in resolved and resolved["optimizer"] in ("sgd", "adam"):
        raise ValueError(
            f"Invalid momentum: {hp['momentum']!r} (the {resolved['optimizer']} optimizer of {algo} "
            f"has no momentum; expected --optimizer momentum or nesterov, or no --momentum)"
        )
    factor, count = resolved.get("factor"), _milestone_count(resolved.get("milestones"))
    if "factor" in resolved and _is_number(factor) and factor > 0 and count:
        log_product = count * math.log(factor)
        bound = math.log(MAX_SCHEDULE_PRODUCT)
        _check(
            -bound <= log_product <= bound,
            "factor",
            factor,
            f"factor ** {count} milestones within [2**-31, 2**31], i.e. factor <= "
            f"{MAX_SCHEDULE_PRODUCT ** (1 / count):.4g}",
        )
