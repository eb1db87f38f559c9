"""``realnets.config``: layers, config-file keys, the settings of the experiment, and the ranges of values."""

from __future__ import annotations

import json
import math

import pytest

from realnets.config import (
    MAX_BATCH_SIZE,
    MAX_SCHEDULE_PRODUCT,
    TrainConfig,
    default_threads,
    load_config_file,
    make_config,
)


def test_config_file_keys_are_the_flag_names(tmp_path):
    # `m0 = 32` and `stat = "diag"` had to sit under [hp]; dashes as in the flags work too.
    path = tmp_path / "run.toml"
    path.write_text('algo = "ba-sgd"\nm0 = 16\nstat = "diag"\nbudget-epochs = 3\n[hp]\ns_star = 0.5\n')
    config = make_config(load_config_file(path))
    assert config.hp == {"m0": 16, "stat": "diag", "s_star": 0.5}
    assert config.budget_epochs == 3


def test_later_layers_win_also_for_top_level_hyperparameters():
    config = make_config({"algo": "ba-sgd", "m0": 16}, {"hp": {"m0": 64}}, {"m0": 8})
    assert config.hp["m0"] == 8


def test_unknown_key_is_named():
    with pytest.raises(ValueError, match="Invalid setting: 'colour'"):
        make_config({"colour": 3})


def test_progress_and_overwrite_are_not_part_of_the_stored_config():
    stored = make_config({"progress": False, "overwrite": True}).to_dict()
    assert "progress" not in stored and "overwrite" not in stored
    assert make_config(stored) == make_config({})  # config.json round-trips
    assert json.loads(json.dumps(stored)) == stored


def test_new_settings_default_off_and_round_trip():
    config = TrainConfig()
    assert (
        config.amp,
        config.compile,
        config.grad_clip,
        config.augment,
        config.val_fraction,
        config.threads,
        config.overwrite,
        config.sampling,
        config.tensorboard,
    ) == ("off", False, None, False, 0.0, None, False, "epoch", False)
    on = make_config(
        {
            "device": "cuda",
            "amp": "fp16",
            "compile": True,
            "grad_clip": 1.0,
            "dataset": "cifar10",
            "augment": True,
            "val_fraction": 0.1,
            "threads": 2,
            "sampling": "fresh",
            "tensorboard": True,
        }
    )
    assert make_config(on.to_dict()) == on


@pytest.mark.parametrize(
    "layer,fragment",
    [
        ({"lr": 1e308}, "Invalid lr: 1e+308"),
        ({"hp": {"lr": 1e308}}, "Invalid lr: 1e+308"),
        ({"lr": math.inf}, "Invalid lr: inf"),
        ({"hp": {"weight_decay": 1e308}}, "Invalid weight_decay: 1e+308"),
        ({"hp": {"weight_decay": -1e-3}}, "Invalid weight_decay: -0.001"),
        ({"algo": "increase-batch", "hp": {"factor": 1e308, "milestones": "0.1"}}, "Invalid factor: 1e+308"),
        ({"algo": "hybrid", "hp": {"factor": 1e300}}, "Invalid factor: 1e+300"),
        ({"algo": "decay-lr", "hp": {"factor": 1e-300}}, "Invalid factor: 1e-300"),
        ({"algo": "ba-sgd", "hp": {"s_star": 1e308}}, "Invalid s_star: 1e+308"),
        ({"algo": "ba-sgd", "hp": {"s_star": -1.0}}, "Invalid s_star: -1.0"),
        ({"algo": "ba-sgd", "m0": 10**12}, "Invalid m0: 1000000000000"),
        ({"algo": "hybrid", "hp": {"max_batch_size": 2**40}}, "Invalid max_batch_size"),
        (
            {"algo": "sgd", "hp": {"momentum": 5}},
            "Invalid momentum: 5 (the sgd optimizer of sgd has no momentum",
        ),
        ({"algo": "adam", "hp": {"momentum": 0.5}}, "the adam optimizer of adam has no momentum"),
        ({"algo": "manual", "hp": {"optimizer": "sgd", "momentum": 0.5}}, "the sgd optimizer of manual"),
        ({"out_dir": ""}, "Invalid out_dir: ''"),
        ({"data_dir": "  "}, "Invalid data_dir: '  '"),
        ({"amp": "fp8"}, "Invalid amp: 'fp8'"),
        ({"amp": "bf16", "device": "cpu"}, "Invalid amp: 'bf16'"),
        ({"grad_clip": 0}, "Invalid grad_clip: 0"),
        ({"grad_clip": 1e9}, "Invalid grad_clip: 1000000000.0"),
        ({"val_fraction": 0.75}, "Invalid val_fraction: 0.75"),
        ({"val_fraction": -0.1}, "Invalid val_fraction: -0.1"),
        ({"threads": 0}, "Invalid threads: 0"),
        ({"threads": 1.5}, "Invalid threads: 1.5"),
        ({"sampling": "replacement"}, "Invalid sampling: 'replacement'"),
        ({"augment": True}, "Invalid augment: True"),
        ({"compile": "yes"}, "Invalid compile: 'yes'"),
        ({"overwrite": 1}, "Invalid overwrite: 1"),
    ],
)
def test_out_of_range_values_are_one_line_naming_the_value(layer, fragment):
    with pytest.raises(ValueError, match=None) as error:
        make_config(layer)
    message = str(error.value)
    assert fragment in message and "\n" not in message, message


def test_the_limits_admit_what_the_papers_use():
    # seed 004: eps up to ~10 with momentum 0.9, factor 5 at three milestones; divergence tests use lr 1e12.
    make_config({"algo": "increase-batch", "lr": 10.0, "hp": {"factor": 5.0, "milestones": "6,12,16"}})
    make_config({"algo": "sgd", "lr": 1e12})
    make_config({"algo": "sgd", "hp": {"weight_decay": 5e-4}})
    make_config({"algo": "ba-sgd", "hp": {"s_star": 0.0, "m0": 32}})
    make_config({"algo": "momentum", "hp": {"momentum": 0.9}})
    make_config({"algo": "manual", "hp": {"optimizer": "sgd"}})  # the default momentum is not the user's


def test_schedule_product_bound_is_exact_at_the_edge():
    count = 3
    edge = MAX_SCHEDULE_PRODUCT ** (1 / count)
    make_config({"algo": "increase-batch", "hp": {"factor": edge * (1 - 1e-9), "milestones": "1,2,3"}})
    with pytest.raises(ValueError, match="Invalid factor"):
        make_config({"algo": "increase-batch", "hp": {"factor": edge * (1 + 1e-6), "milestones": "1,2,3"}})


def test_sample_count_cap_matches_the_cli():
    make_config({"algo": "ba-sgd", "hp": {"m0": MAX_BATCH_SIZE}})
    with pytest.raises(ValueError, match="Invalid m0"):
        make_config({"algo": "ba-sgd", "hp": {"m0": MAX_BATCH_SIZE + 1}})


def test_default_threads_is_one_for_small_steps():
    assert default_threads(85_002, 32) == 1  # the digits MLP at its default batch (measured: no gain)
    assert default_threads(85_002, 128) is None  # measured: 2 threads faster
    assert default_threads(50_000_000) is None


def test_non_utf8_config_names_the_file(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'algo = "caf\xe9"\n')
    with pytest.raises(ValueError, match=r"latin1.toml.*not UTF-8"):
        load_config_file(path)
