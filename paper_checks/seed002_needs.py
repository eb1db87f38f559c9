"""Seed 002 (Golmant et al.): the paper's real-network measurements, registered as "needs" with the
``realnets sweep`` command that would measure them. The model-level statements are in
``seed002_derivations.py`` and ``seed002_simulations.py``; these are the verdicts on the paper itself."""

from __future__ import annotations

from paper_checks.registry import register_needs

_SWEEP = "python -m realnets sweep --device cuda --seeds 0,1,2 --batch-sizes 16,32,...,16384"
for _id, _where, _statement, _value, _needs, _cmd in [
    (
        "002.lstm-drn-plateaus",
        "Sec. 4.1, Fig. 1",
        "The LSTM and DRN speed-up curves plateau near batch 32 and 64.",
        "plateaus near 32 / 64",
        "the LSTM (language model) and DRN (segmentation) tasks",
        _SWEEP + " --model lstm|drn --strategies lsr",
    ),
    (
        "002.fig2-right",
        "Sec. 4.2, Fig. 2 (right)",
        "The linear approximation error of LSR at the end of training "
        "goes with a lower final test accuracy (ResNet-34, CIFAR-10).",
        "larger error, lower accuracy",
        "LSR sweeps with the linear approximation error measured",
        _SWEEP + " --strategies lsr",
    ),
    (
        # Fig. 3 (left), architectures, is measured on digits in seed002_sweep.py (002.fig3-architectures-measured)
        "002.fig3-right-datasets",
        "Sec. 4.3, Fig. 3 (right)",
        "ResNet-34 shows different speed-up curves (rates of convergence) on CIFAR-10, CIFAR-100 and SVHN: "
        "data complexity shapes the curve.",
        "dataset-dependent curves",
        "ResNet sweeps on CIFAR-10, CIFAR-100 and SVHN (the package's resnet18-cifar; the paper's ResNet-34)",
        _SWEEP + " --model resnet18-cifar --dataset cifar10|cifar100|svhn --strategies blr",
    ),
    (
        "002.training-longer-does-not-help",
        "Sec. 2 (techniques: training longer)",
        "In some problems training "
        "longer (Hoffer et al.) does not lead to minima with better generalization (as found in the experiments).",
        "no better generalization from longer training",
        "large-batch runs at two budgets with test losses",
        _SWEEP + " --budget-epochs 2x",
    ),
    (
        "002.fig1-batch-8196",
        "Sec. 4.1, Fig. 1",
        "At batch 8196 ResNet-34 on CIFAR-10 does not reach the lowest training loss within the budget.",
        "lowest loss not reached",
        "ResNet-34/CIFAR-10 at batch 8192",
        _SWEEP + " --dataset cifar10 --model resnet34 --batch-sizes 8192",
    ),
]:
    register_needs(
        id=_id,
        seed="002",
        where=_where,
        kind="training",
        statement=_statement,
        paper_value=_value,
        needs=_needs,
        reason="real-network batch sweeps (11 batch sizes x seeds x strategies) are "
        "GPU-days; the package measures them with `realnets sweep`",
        command=_cmd,
    )
