"""Second sweep of bad inputs (issue 13): each case below was a traceback, a hang, a silent acceptance or a
message over several lines before its fix. Library cases must raise one line ``Invalid <name>: ...`` at once;
command-line cases must exit 2 with one line on stderr and write nothing.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from sim import convex, least_squares, quadratic, sde
from sim import grad_shrinkage as gs
from theory import ba_momentum, critical_batch, curvature
from theory import grad_shrinkage as tgs


def _one_line_error(call, pattern: str) -> str:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=pattern) as info:
        call()
    assert time.perf_counter() - start < 2.0  # refused up front, not after the work
    message = str(info.value)
    assert "\n" not in message and message.startswith("Invalid ")
    return message


# --------------------------------------------------------------------------------------------------
# sim

SIM_CASES = [
    # strings and bools where numbers are expected (float("0.1") and float(True) succeed)
    (
        lambda: quadratic.simulate([1.0], lr="0.1", batch_size=1, steps=3, runs=2, seed=0),
        r"^Invalid lr: '0.1'",
    ),
    (lambda: quadratic.simulate([1.0], lr=True, batch_size=1, steps=3, runs=2, seed=0), r"^Invalid lr: True"),
    (
        lambda: quadratic.simulate([True], lr=0.1, batch_size=1, steps=3, runs=2, seed=0),
        r"^Invalid h: \[True\]",
    ),
    (
        lambda: quadratic.simulate([1.0], lr=0.1, batch_size=1, steps=3, runs=2, seed=True),
        r"^Invalid seed: True",
    ),
    (lambda: sde.noise_scale(lr=True, n_train=100, batch_size=10), r"^Invalid lr: True"),
    (
        lambda: convex.simulate_adaptive_sgd(
            convex.ridge_problem(np.eye(2), np.ones(2), reg=0.1), [True, 2], eta0=0.1, runs=2, seed=0
        ),
        r"^Invalid batch_sizes: \[True, 2\]",
    ),
    (lambda: sde.noise_scale(lr=0.1, n_train="100", batch_size=10), r"^Invalid n_train: '100'"),
    (lambda: sde.step_schedule(0.1, 5.0, "ab"), r"^Invalid milestones: 'ab'"),
    # an array's repr spans several lines
    (lambda: convex.ridge_problem(np.full((4, 4), np.nan), np.ones(4), reg=0.1), r"^Invalid X: array"),
    # numpy's own messages named no parameter
    (lambda: gs.finite_population([[1.0, 2.0], [3.0]]), r"^Invalid values: \[\[1.0, 2.0\], \[3.0\]\]"),
    (lambda: gs.finite_population("abc"), r"^Invalid values: 'abc'"),
    (lambda: gs.finite_population([True, False]), r"^Invalid values: \[True, False\]"),
    (
        lambda: sde.compare_schedules(np.eye(3), np.ones(3), {"a": (0.1,)}, epochs=2, runs=2, seed=0),
        r"^Invalid schedules\['a'\]: \(0.1,\)",
    ),
    (lambda: sde.updates_per_schedule(100, lambda e: 0, 3), r"^Invalid batch_size\(0\): 0"),
    # accepted silently
    (lambda: gs.batch_means(gs.finite_population([1.0, 2.0, 3.0]), 3, 10, replace="no"), r"^Invalid replace"),
    (lambda: convex.geometric_batches(4, 2.0, 5, 2), r"^Invalid b0: 4 \(expected at most b_max = 2\)"),
    (lambda: quadratic.critical_batch_from_speedup([1, 2], [1.0], 1.0), r"^Invalid speedup: shape \(1,\)"),
    (lambda: quadratic.critical_batch_from_speedup([1, 2], [1.0, 2.0], 1.0, level=2.0), r"^Invalid level"),
    (lambda: quadratic.critical_batch_from_speedup([4, 2], [1.0, 2.0], 1.0), r"^Invalid batch_sizes"),
    (lambda: sde.step_schedule(0.1, 5.0, [30, 6]), r"^Invalid milestones: \[30, 6\]"),
    (lambda: sde.smith_schedules(0.1, 32, milestones=[5, 5]), r"^Invalid milestones: \[5, 5\]"),
    (
        lambda: sde.simulate_quadratic_sde([1.0], coefficient=0.1, time=1.0, dt=2.0, runs=2, seed=0),
        r"^Invalid dt: 2.0 \(expected at most time = 1.0\)",
    ),
    (
        lambda: sde.simulate_least_squares_sde(
            np.eye(3), np.ones(3), coefficient=0.1, time=1.0, dt=2.0, runs=2, seed=0
        ),
        r"^Invalid dt: 2.0",
    ),
    # absurd sizes: out of memory or for ever
    (lambda: gs.sample_finite_population(10**12, 1.0), r"^Invalid size: about 1e\+12"),
    (lambda: least_squares.make_least_squares(10**10, [1.0]), r"^Invalid n_samples: about .* GiB"),
    (lambda: sde.updates_per_schedule(100, lambda e: 10, 10**12), r"^Invalid epochs: about"),
]


@pytest.mark.parametrize(("call", "pattern"), SIM_CASES, ids=[p for _, p in SIM_CASES])
def test_sim_refuses_in_one_line(call, pattern):
    _one_line_error(call, pattern)


def test_sim_still_accepts_good_values():
    np.testing.assert_array_equal(convex.geometric_batches(2, 2.0, 4, 8), [2, 4, 8, 8])
    assert sde.updates_per_schedule(100, lambda e: 10.0, 3) == 30  # float batch sizes still count
    assert sde.step_schedule(0.1, 5.0, [2, 4])(3) == pytest.approx(0.5)
    curve = quadratic.critical_batch_from_speedup([1, 2, 4], [1.0, 1.2, 1.3], 1.0)
    assert 1 < curve < 4
    X, y, _ = least_squares.make_least_squares(20, [1.0, 0.5], seed=0)
    assert X.shape == (20, 2) and y.shape == (20,)
    pop = gs.sample_finite_population(50, 1.0, seed=0)
    assert pop.values.shape == (50, 1)


# --------------------------------------------------------------------------------------------------
# theory (files outside the keyword-only conversion)

THEORY_CASES = [
    (lambda: tgs.expected_abs_mean(1.0, 10**400), r"^Invalid n: 1000"),  # OverflowError traceback
    (lambda: critical_batch.least_squares_constants(np.full((3, 2), np.nan)), r"^Invalid X: array"),
    (lambda: curvature.element_curvature_radius([1.0, 2.0], [1.0], 0.0), r"^Invalid grad: shape \(1,\)"),
    (lambda: ba_momentum.buffer_recurrence_exprs(10**6), r"^Invalid steps: 1000000"),  # hours of sympy
    (lambda: ba_momentum.buffer_closed_form_exprs(10**6), r"^Invalid steps: 1000000"),
    (lambda: ba_momentum.mean_recursion_gap_expr(10**6), r"^Invalid steps: 1000000"),
    (lambda: ba_momentum.momentum_decrease_moments_expr(dim=10**4), r"^Invalid dim: 10000"),
]


@pytest.mark.parametrize(("call", "pattern"), THEORY_CASES, ids=[p for _, p in THEORY_CASES])
def test_theory_refuses_in_one_line(call, pattern):
    _one_line_error(call, pattern)


def test_theory_small_symbolic_sizes_still_work():
    assert len(ba_momentum.buffer_recurrence_exprs(3)) == 4
    np.testing.assert_allclose(curvature.element_curvature_radius([1.0, 2.0], [0.5, 0.5]), [2.0, 4.0])


# --------------------------------------------------------------------------------------------------
# realnets.probes.gradstats


@pytest.fixture
def tiny():
    torch = pytest.importorskip("torch")
    from torch.nn import functional as F

    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Linear(3, 2)
    x = torch.randn(6, 3, generator=gen)
    y = torch.tensor([0, 1, 0, 1, 1, 0])
    return model, (lambda out, target: F.cross_entropy(out, target, reduction="none")), x, y


def test_gradstats_refuses_bad_arguments_in_one_line(tiny):
    import torch

    from realnets.probes import gradstats

    model, loss, x, y = tiny
    cases = [
        (lambda: gradstats.gradient_stats(model, loss, x, y, chunk_size=2.5), r"^Invalid chunk_size: 2.5"),
        (lambda: gradstats.gradient_stats(model, loss, "x", y), r"^Invalid x: 'x' \(expected a tensor"),
        (lambda: gradstats.per_sample_gradients(model, loss, x[:0], y[:0]), r"^Invalid x: 0 samples"),
        (lambda: gradstats.per_sample_gradients(model, loss, x, y[:3]), r"^Invalid y: 3 targets"),
        (
            lambda: gradstats.stats_from_per_sample_gradients(torch.ones(4, 3), torch.ones(4), diag="yes"),
            r"^Invalid diag: 'yes'",
        ),
        (
            lambda: gradstats.stats_from_per_sample_gradients([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0]),
            r"^Invalid per_sample: list",
        ),
    ]
    for call, pattern in cases:
        _one_line_error(call, pattern)
    assert gradstats.gradient_stats(model, loss, x, y, chunk_size=4).n == 6


# --------------------------------------------------------------------------------------------------
# the command line

TINY = [
    "--dataset",
    "synthetic-classification",
    "--dataset-option",
    "num_train=60",
    "--dataset-option",
    "num_test=20",
    "--model",
    "logreg",
    "--budget-epochs",
    "0.5",
    "--device",
    "cpu",
    "--no-progress",
    "--threads",
    "1",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from realnets.cli import main

    run = tmp_path_factory.mktemp("sweep") / "run"
    assert main(["train", *TINY, "--no-plots", "--out-dir", str(run)]) == 0
    return run


def _cli_one_line(capsys, argv) -> str:
    from realnets.cli import main

    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["plot", ""], "Invalid run directory: ''"),  # read as the current folder: every run below it
        (["export", "", "--csv"], "Invalid run directory: ''"),  # wrote CSVs into every run below it
        (["plot", "{run}", "--out", ""], "Invalid out: ''"),  # fell back to the default path
        (["bench", "--out", "", "--sections", "engine"], "Invalid out: ''"),  # ran and wrote nothing
        (["bench", "--sections", ""], "Invalid section: ''"),  # ran every section
        (
            ["train", *TINY, "--dataset-option", "num_train=100000000000", "--out-dir", "{tmp}/x"],
            "Invalid num_train: 100000000000 (with num_test=20 and dim=20",  # out of memory after the start
        ),
        (
            ["compare", "--algos", "sgd;sgd:lr=0.05", *TINY, "--seeds", "0", "--out-dir", "{tmp}/c"],
            "Invalid algos: 'sgd' and 'sgd:lr=0.05' are the same run",  # two identical rows
        ),
    ],
)
def test_cli_refuses_in_one_line(run_dir, tmp_path, monkeypatch, capsys, argv, fragment):
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{run}", str(run_dir)).replace("{tmp}", str(tmp_path)) for a in argv]
    assert fragment in _cli_one_line(capsys, argv)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="no /dev/full")
def test_plot_to_a_device_file_is_refused(run_dir, capsys):
    # savefig to /dev/full reported success (exit 0) and wrote nothing
    assert "(expected a regular file path)" in _cli_one_line(
        capsys, ["plot", str(run_dir), "--out", "/dev/full"]
    )


def test_an_out_dir_that_cannot_be_created_is_refused_before_the_data(run_dir, tmp_path, capsys, monkeypatch):
    # As root, os.access says "writable" for a read-only mount or /proc; the run then failed with exit 1 after
    # loading its data. The folder is now probed by creating (and removing) a temporary folder in it.
    import tempfile

    import realnets.data as data

    loaded = []
    monkeypatch.setattr(data, "load_dataset", lambda *a, **k: loaded.append(a))

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    line = _cli_one_line(capsys, ["train", *TINY, "--out-dir", str(tmp_path / "run")])
    assert "expected a writable folder" in line and "Read-only file system" in line
    assert loaded == [] and list(tmp_path.iterdir()) == []
    line = _cli_one_line(capsys, ["plot", str(run_dir), "--out", str(tmp_path / "figure.png")])
    assert "Invalid out" in line and "expected a writable folder" in line


def test_compare_checks_every_spec_on_the_model_before_the_first_run(tmp_path, capsys, monkeypatch):
    # ba-sgd:stat=full cannot run on the 85,002-parameter digits MLP; the grid trained sgd first, then failed.
    import realnets.compare as compare

    trained = []
    monkeypatch.setattr(compare, "train", lambda config, **_: trained.append(config))
    argv = ["compare", "--algos", "sgd;ba-sgd:stat=full", "--seeds", "0", "--budget-epochs", "0.1"]
    line = _cli_one_line(capsys, [*argv, "--device", "cpu", "--out-dir", str(tmp_path / "grid")])
    assert "Invalid stat mode: 'full'" in line
    assert trained == [] and not (tmp_path / "grid").exists()


# --------------------------------------------------------------------------------------------------
# damaged run states: readable checkpoints with missing or mistyped parts ended in TypeError,
# AttributeError or a torch RuntimeError traceback


def _edit_model(payload):
    import torch

    payload["model"] = {k: torch.zeros(3) for k in payload["model"]}


@pytest.mark.parametrize(
    ("key", "edit", "fragment"),
    [
        ("model", _edit_model, "its weights do not fit its model: size mismatch"),
        ("metric_lines", lambda p: p.update(metric_lines="abc"), "(metric_lines: expected an integer >= 0)"),
        ("metric_lines", lambda p: p.update(metric_lines=-5), "(metric_lines: expected an integer >= 0)"),
        ("samples", lambda p: p.update(samples="x"), "(samples: expected an integer >= 0)"),
        ("config", lambda p: p.update(config="x"), "(config: expected a table of settings)"),
        ("rng", lambda p: p.update(rng={"torch": __import__("torch").zeros(3)}), "(rng: expected the torch"),
        ("elapsed", lambda p: p.update(elapsed="x"), "(elapsed: expected a number of seconds"),
        ("totals", lambda p: p.update(totals=5), "(totals: expected fwd/bwd counts)"),
        ("optimizer", lambda p: p.pop("optimizer"), "missing 'optimizer'"),
    ],
)
@pytest.mark.parametrize("print_config", [False, True])
def test_a_damaged_run_state_is_one_line_and_touches_nothing(
    run_dir, tmp_path, capsys, key, edit, fragment, print_config
):
    import shutil

    from realnets.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint

    if print_config and key == "model":
        pytest.skip("--print-config does not build the model")
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    payload = load_checkpoint(run)
    edit(payload)
    payload.pop("format_version")
    save_checkpoint(run / CHECKPOINT_NAME, payload)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    argv = ["train", "--resume", str(run), *(["--print-config"] if print_config else [])]
    line = _cli_one_line(capsys, argv)
    assert f"Invalid checkpoint: {str(run)!r}" in line and fragment in line
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_full_disk_at_a_checkpoint_is_one_line_exit_1_and_keeps_the_previous_one(
    tmp_path, capsys, monkeypatch
):
    # Item 3 end to end: the first checkpoint (after the initial evaluation) is written, the next one fails.
    import realnets.checkpoint as checkpoint
    from realnets.cli import main

    real_save, calls = checkpoint.torch.save, []

    def full_disk(obj, stream):  # best.pt goes through save_checkpoint too: count checkpoint.pt only
        if str(stream.name).endswith("checkpoint.pt.tmp"):
            calls.append(obj["step"])
        if len(calls) > 1 and str(stream.name).endswith("checkpoint.pt.tmp"):
            stream.write(b"partial")
            raise OSError(28, "No space left on device")
        real_save(obj, stream)

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    run = tmp_path / "run"
    argv = ["train", *TINY, "--no-plots", "--budget-epochs", "2", "--out-dir", str(run)]
    capsys.readouterr()
    assert main(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert (
        len(lines) == 1
        and "No space left on device" in lines[0]
        and "previous checkpoint is kept" in lines[0]
    )
    assert checkpoint.load_checkpoint(run)["step"] == 0
    assert not list(run.glob("*.tmp"))


def test_a_taken_default_name_is_the_one_printed_and_named_on_ctrl_c(tmp_path, capsys, monkeypatch):
    # The default run directory of a repeated command is <name>-2; --print-config showed <name>, and Ctrl-C said
    # "resume with --resume <name>", which would have continued the earlier, finished run.
    import json

    import realnets.engine as engine
    from realnets.cli import main

    monkeypatch.chdir(tmp_path)
    argv = ["train", *TINY, "--no-plots"]
    assert main(argv) == 0
    first = tmp_path / "runs" / "momentum-logreg-synthetic-classification-seed0"
    assert (first / "checkpoint.pt").is_file()
    capsys.readouterr()
    assert main([*argv, "--print-config"]) == 0
    assert (
        json.loads(capsys.readouterr().out)["out_dir"]
        == "runs/momentum-logreg-synthetic-classification-seed0-2"
    )

    def interrupted(config, **_):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "train", interrupted)
    assert main(argv) == 130
    line = capsys.readouterr().err.strip()
    assert "nothing to resume" in line and str(first) not in line
