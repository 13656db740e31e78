"""Is there a CUDA device for ``--device cuda``? Checked without starting any framework's
GPU runtime where possible."""

from __future__ import annotations

import os
import shutil
import subprocess

from catalogue.implementation import is_installed


def find_cuda_device() -> str | None:
    """A description of the CUDA device found, or None.

    ``CUDA_VISIBLE_DEVICES`` set to nothing (or ``-1``) hides every device, as it does
    from the frameworks; otherwise ``nvidia-smi -L`` lists them, and where it is missing
    torch (if installed) is asked.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return None
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is not None:
        listing = subprocess.run(
            [nvidia_smi, "-L"], capture_output=True, text=True, timeout=60, check=False
        )
        gpus = [line for line in listing.stdout.splitlines() if line.startswith("GPU")]
        if listing.returncode == 0 and gpus:
            return gpus[0]
    if is_installed("torch"):
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    return None
