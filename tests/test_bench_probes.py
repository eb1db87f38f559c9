"""``realnets bench --sections probes``: the rows it reports, and that the timed probe really measures."""

from __future__ import annotations

import pytest
import torch

from realnets.bench import probes as bench_probes


def test_probe_rows_report_three_variants_against_the_plain_step():
    rows = bench_probes.probe_rows("mlp", (8,), {"width": 8}, 16, 3, torch.device("cpu"), 1)
    assert [r["case"] for r in rows] == ["mlp B=16"] * 3
    assert [r["target"].split()[0] for r in rows] == ["<=", "reported", "reported"]
    assert "radii" not in rows[0]["ours"] and "radii every" in rows[1]["ours"] and "loss" in rows[2]["ours"]
    for r in rows:
        assert r["ours_value"] > 0 and r["peer_value"] > 0
        assert r["ratio"] == pytest.approx(r["ours_value"] / r["peer_value"], rel=1e-9)


def test_stride_block_trains_as_the_plain_block_and_reads_every_stride_back(monkeypatch):
    from realnets.probes import magnitudes

    read = []
    original = magnitudes.StrideReading.read_all

    def spy(readings):
        values = original(readings)
        read.extend(values)
        return values

    monkeypatch.setattr(magnitudes.StrideReading, "read_all", staticmethod(spy))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    plain = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    plain.load_state_dict(model.state_dict())
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    bench_probes.stride_block(model, x, y, 70, probe=True, loss_stride=True, radius_every=50)()
    bench_probes.stride_block(plain, x, y, 70, probe=False)()
    for a, b in zip(model.parameters(), plain.parameters()):
        assert torch.equal(a, b)  # the probe does not change training
    assert len(read) == 70  # 64 at the engine's sync point, then the rest at the end of the block
    assert [("radius_median/0.weight" in v) for v in read].count(True) == 2  # updates 0 and 50
    assert all(v["param_stride/0.weight"] > 0 for v in read)
    assert read[0]["loss_stride"] > 0  # the first step down the gradient lowers the batch's loss
