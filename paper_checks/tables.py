"""Numbers transcribed from the papers, each with its source (seed file, table or figure, row).

Plain constants and dicts only, so that other checks can import them and the lead can add rows. A value
the text extraction lost is not guessed here; it is left out and said so in a comment.

Seed files are those of :data:`paper_checks.registry.SEED_FILES`.
"""

from __future__ import annotations

__all__ = [
    "SEED003_C1_CIFAR10_ITERS",
    "SEED003_I3_IMAGENET",
    "SEED003_TABLE3",
]

# --------------------------------------------------------------------------------------------------
# Seed 003 (Yao et al., ABS/ABSA), 003_0b4fc1240e5e2018.txt
# --------------------------------------------------------------------------------------------------

#: Table 3 (App. C): simulated training time of I3 (ResNet-18) on ImageNet with 512 processes.
#: Columns: T_comp (forward/backward of one SGD update, s), T_comm (one all-reduce, s), T_Hess (one
#: complete top-eigenvalue computation including its communication, s), total training time (s).
#: Rows "BL", "GG", "ABS", "ABSA" of the table, in that order. The "(x faster)" ratios were lost in
#: extraction, as were the Cori2 α and β values and the total Hessian time quoted in the text.
SEED003_TABLE3: dict[str, dict[str, float]] = {
    "BL": {"t_comp": 2.2e-2, "t_comm": 1.5e-2, "t_hess": 0.0, "total": 16666.0},
    "GG": {"t_comp": 2.2e-2, "t_comm": 1.5e-2, "t_hess": 0.0, "total": 6150.0},
    "ABS": {"t_comp": 2.2e-2, "t_comm": 1.5e-2, "t_hess": 1.15, "total": 2666.0},
    "ABSA": {"t_comp": 3.6e-2, "t_comm": 1.5e-2, "t_hess": 1.15, "total": 3467.0},
}

#: The setting of Table 3, from the text of App. C and App. B (model I3). Values the extraction lost
#: (the BL and ABS/ABSA update counts of Fig. 2's caption text, the Hessian batch size) are absent.
SEED003_I3_IMAGENET: dict[str, object] = {
    # App. C: "simulation time of I3 on ImageNet on 512 processes".
    "processes": 512,
    # App. C: "The batch size per GPU core is set to 16 for SGD (and 8 for Hessian computation)".
    "batch_per_core_sgd": 16,
    "batch_per_core_hessian": 8,
    # App. C: "For GG, we assume it increases batch size by a factor of 10 at epoch 30, 60 and 80".
    "gg_factor": 10,
    "gg_milestones": (30, 60, 80),
    # App. B, I3: "We train it for 90 epochs ... decay a factor of 10 at epoch 30, 60 and 80".
    "epochs": 90,
    "lr_milestones": (30, 60, 80),
    # App. B, ImageNet: "a total of 1.2 million training images" (the ILSVRC-2012 train split has
    # 1,281,167; the text rounds it).
    "n_train_text": 1_200_000,
    # App. B, I3: "ResNet18 on ImageNet dataset".
    "model": "ResNet-18",
}

#: Table 5 (App. D): number of parameter updates of BL for C1 (ResNet-18, Cifar-10, 90 epochs,
#: 50,000 training images), by batch size; "BS" and "# Iters" columns of the BL block.
SEED003_C1_CIFAR10_ITERS: dict[int, int] = {
    128: 35156,
    640: 7031,
    3200: 1406,
    5120: 878,
    10240: 439,
    16000: 281,
}
