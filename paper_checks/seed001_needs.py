"""Seed 001 (Gao & Zhong): the AlexNet/Cifar-10 measurements of Figs. 1-16, registered as "needs" with the
command that would run them (the measurement protocols are another part of the package)."""

from __future__ import annotations

from paper_checks.registry import register_needs

_CMD = "python -m realnets train --dataset cifar10 --model alexnet --device cuda"
for _id, _where, _statement, _value, _needs, _cmd in [
    (
        "001.fig1-generalization-gap",
        "Fig. 1",
        "Large batches deteriorate AlexNet's accuracy on Cifar-10.",
        "accuracy falls with batch size",
        "AlexNet on Cifar-10 at batch sizes 32-49152",
        _CMD + " --algo sgd",
    ),
    (
        "001.fig2-layer-curvature",
        "Fig. 2",
        "The curvature radius varies across the layers of AlexNet.",
        "layer-wise radii differ",
        "per-layer curvature probes during AlexNet training",
        _CMD + " --algo mclr",
    ),
    (
        "001.fig5-parameter-stride",
        "Fig. 5",
        "The parameter update stride per epoch over training (its area, the 'searching space') shrinks with "
        "the batch size (Fig. 4, the first epoch, is measured in seed001_measured.py).",
        "stride ∝ lr/√n",
        "per-layer strides on AlexNet",
        _CMD + " --algo sgd",
    ),
]:
    register_needs(
        id=_id,
        seed="001",
        where=_where,
        kind="training",
        statement=_statement,
        paper_value=_value,
        needs=_needs,
        reason="a real-network measurement at a scale (AlexNet, Cifar-10, batches up to "
        "49152) beyond 2 CPU cores; the measurement protocols are not wired into paper_checks yet",
        command=_cmd,
    )
