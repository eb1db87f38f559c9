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
        "001.fig3-average-gradient",
        "Fig. 3",
        "The average gradient (L1 norm per parameter, first FC layer) falls as 1/√n with the batch size.",
        "∝ n^(-1/2)",
        "per-layer gradient magnitudes on AlexNet",
        _CMD + " --algo sgd --batch-size 32..49152",
    ),
    (
        "001.fig4-5-parameter-stride",
        "Figs. 4-5",
        "The normalised parameter update step length in the first epoch shrinks with the batch size.",
        "stride ∝ lr/√n",
        "per-layer strides on AlexNet",
        _CMD + " --algo sgd",
    ),
    (
        "001.fig7-loss-stride",
        "Fig. 7",
        "The first-epoch loss update length shrinks with the batch size.",
        "∝ lr/n",
        "loss-step measurements on AlexNet",
        _CMD + " --algo sgd",
    ),
    (
        "001.fig9-10-discard-small-loss",
        "Sec. 3.1, Figs. 9-10",
        "Discarding the 30% smallest-loss samples raises the "
        "average gradient and the training accuracy of large batches.",
        "higher accuracy with 30% discarded",
        "AlexNet on Cifar-10 with and without discarding",
        _CMD + " --algo discard-small-loss",
    ),
    (
        "001.fig13-14-first-epoch-batch",
        "Figs. 11-14",
        "Reducing the batch size in the first epoch removes the failures of batch-8192 training.",
        "stable curves",
        "repeated AlexNet runs at batch 8192",
        _CMD,
    ),
    (
        "001.fig16-median-curvature-vs-lars",
        "Sec. 4, Fig. 16",
        "The median-curvature rate trains as well as or better than LARS at batch 1024.",
        "MCLR ≥ LARS",
        "AlexNet on Cifar-10 with MCLR and LARS",
        _CMD + " --algo mclr|lars --batch-size 1024",
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
