"""Checkpoint files: atomic writes, weights-only loading, clear errors, RNG state round trips."""

from __future__ import annotations

import pytest
import torch

from realnets.checkpoint import CHECKPOINT_NAME, load_checkpoint, rng_states, save_checkpoint, set_rng_states


def test_round_trip_of_tensors_numbers_and_nested_dicts(tmp_path):
    payload = {
        "model": {"w": torch.arange(6.0).reshape(2, 3)},
        "step": 7,
        "lr": 0.125,
        "name": "sgd",
        "policy_state": {"history": [1, 2, 3], "mu": torch.tensor([0.5, -1.0])},
    }
    path = save_checkpoint(tmp_path / CHECKPOINT_NAME, payload)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], payload["model"]["w"])
    assert torch.equal(loaded["policy_state"]["mu"], payload["policy_state"]["mu"])
    assert (loaded["step"], loaded["lr"], loaded["name"]) == (7, 0.125, "sgd")
    assert loaded["policy_state"]["history"] == [1, 2, 3]


def test_write_is_atomic_and_replaces_the_old_file(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, {"step": 1})
    save_checkpoint(path, {"step": 2})
    assert load_checkpoint(tmp_path)["step"] == 2  # a run directory is accepted too
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_NAME]


def test_missing_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="Invalid checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")


def test_corrupt_file_is_a_value_error(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="could not be read"):
        load_checkpoint(path)


class _Arbitrary:
    pass


def test_arbitrary_objects_are_refused_by_weights_only_loading(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    torch.save({"format_version": 1, "thing": _Arbitrary()}, path)
    with pytest.raises(ValueError, match="could not be read"):
        load_checkpoint(path)


def test_foreign_format_is_refused(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    torch.save({"model": {}}, path)
    with pytest.raises(ValueError, match="format version"):
        load_checkpoint(path)


def test_rng_states_restore_the_same_random_stream(tmp_path):
    device = torch.device("cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        save_checkpoint(tmp_path / CHECKPOINT_NAME, {"rng": rng_states(device)})
        expected = torch.rand(5)
        torch.manual_seed(999)
        set_rng_states(load_checkpoint(tmp_path)["rng"], device)
        assert torch.equal(torch.rand(5), expected)


def test_a_full_disk_keeps_the_previous_checkpoint_and_no_partial_file(tmp_path, monkeypatch):
    import realnets.checkpoint as checkpoint

    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, {"step": 1})
    real_save = torch.save

    def full_disk(obj, stream):
        real_save(obj, stream)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(
        OSError,
        match=r"could not write checkpoint .*checkpoint.pt \(No space left on device\); "
        r"the previous checkpoint is kept",
    ):
        save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_NAME]


def test_an_interrupted_write_removes_the_partial_file(tmp_path, monkeypatch):
    import realnets.checkpoint as checkpoint

    def interrupted(obj, stream):
        stream.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / CHECKPOINT_NAME, {"step": 2})
    assert list(tmp_path.iterdir()) == []


def test_check_run_state_names_the_missing_or_mistyped_key(tmp_path):
    from realnets.checkpoint import check_run_state

    good = {
        "config": {},
        "model": {"w": torch.zeros(2)},
        "optimizer": {"state": {}, "param_groups": []},
        "policy_state": {},
        "step": 3,
        "samples": 96,
        "evals_done": 1,
        "metric_lines": 4,
        "totals": {"fwd": 3, "bwd": 3},
        "elapsed": 0.5,
        "rng": {"torch": torch.get_rng_state()},
    }
    check_run_state(good, tmp_path)
    with pytest.raises(ValueError, match=r"missing 'samples'"):
        check_run_state({k: v for k, v in good.items() if k != "samples"}, tmp_path)
    for key, bad in [("step", True), ("metric_lines", 2.5), ("elapsed", -1.0), ("model", {"w": 1.0})]:
        with pytest.raises(ValueError, match=rf"^Invalid checkpoint: .* \({key}: expected"):
            check_run_state({**good, key: bad}, tmp_path)
