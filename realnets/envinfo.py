"""Environment facts for bug reports and run provenance (``realnets env``, ``env.json``)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

__all__ = ["collect_env", "format_env"]

_PACKAGES = ("batchsize-science", "torch", "numpy", "scipy", "sympy", "matplotlib", "scikit-learn")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_sha() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def collect_env(device: torch.device | None = None) -> dict[str, Any]:
    """Versions, platform, threads, CUDA devices and the git commit of the package."""
    cuda = torch.cuda.is_available()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cuda_available": cuda,
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if cuda
        else [],
        "cuda_bf16": bool(cuda and torch.cuda.is_bf16_supported()),  # what --amp bf16 needs
        "torch_interop_threads": torch.get_num_interop_threads(),
        "device": str(device) if device is not None else None,
        "git_sha": _git_sha(),
    }


def format_env(env: dict[str, Any]) -> str:
    """The facts as ``key: value`` lines."""
    lines = []
    for key, value in env.items():
        if isinstance(value, dict):
            lines += [f"{key}:"] + [f"  {k}: {v}" for k, v in value.items()]
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)
