"""The one place that decides where snippets run, and how they are made repeatable.

``REFKIT_DEVICE`` chooses: ``auto`` (the default: CUDA when torch sees a GPU, else the CPU),
``cpu`` or ``cuda``. Torch is imported only when a device is actually asked for, so importing
this module stays cheap.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEVICE_CHOICES",
    "DEVICE_ENV",
    "DeviceUnavailableError",
    "get_device",
    "gpu_visible",
    "requested_device",
    "seed_everything",
]

DEVICE_ENV = "REFKIT_DEVICE"
DEVICE_CHOICES = ("auto", "cpu", "cuda")


class DeviceUnavailableError(RuntimeError):
    """The device asked for through ``REFKIT_DEVICE`` does not exist on this machine."""


def gpu_visible(environ: Mapping[str, str] | None = None) -> bool:
    """Whether an NVIDIA GPU is visible to this process, checked without importing torch.

    What every part of refkit asks (the cache key of ``device: auto``, a ``cuda`` setting, a
    ``cuda`` environment's sync): ``CUDA_VISIBLE_DEVICES`` set to ``""`` or ``-1`` hides every
    GPU, as CUDA reads it; else the driver's files tell at no cost on Linux; where they are
    absent (WSL 2 shows GPUs through ``/dev/dxg``), ``nvidia-smi -L`` is asked, once a process.

    Args:
        environ: The environment to read; ``os.environ`` when omitted.

    Examples:
        >>> gpu_visible({"CUDA_VISIBLE_DEVICES": "-1"})
        False
    """
    env = os.environ if environ is None else environ
    if env.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    if Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists():
        return True
    return _nvidia_smi_lists_a_gpu()


@functools.lru_cache(maxsize=1)
def _nvidia_smi_lists_a_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        listed = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def requested_device(environ: dict[str, str] | None = None) -> str:
    """Return the validated value of ``REFKIT_DEVICE`` (``auto`` when unset).

    Args:
        environ: The environment to read; ``os.environ`` when omitted.

    Returns:
        One of ``auto``, ``cpu``, ``cuda``.

    Raises:
        ValueError: When the variable holds anything else.

    Examples:
        >>> requested_device({})
        'auto'
        >>> requested_device({"REFKIT_DEVICE": " CPU "})
        'cpu'
        >>> requested_device({"REFKIT_DEVICE": "tpu"})
        Traceback (most recent call last):
        ...
        ValueError: REFKIT_DEVICE='tpu' is not one of auto, cpu, cuda
    """
    env = os.environ if environ is None else environ
    raw = env.get(DEVICE_ENV, "auto")
    choice = raw.strip().lower() or "auto"
    if choice not in DEVICE_CHOICES:
        raise ValueError(f"{DEVICE_ENV}={raw!r} is not one of {', '.join(DEVICE_CHOICES)}")
    return choice


def get_device() -> torch.device:
    """Return the torch device snippets should put their tensors and models on.

    Raises:
        DeviceUnavailableError: ``REFKIT_DEVICE=cuda`` on a machine where torch sees no GPU,
            with what to do instead, rather than a traceback from deep inside torch.

    Examples:
        >>> get_device().type in {"cpu", "cuda"}
        True
    """
    import torch

    choice = requested_device()
    if choice == "cpu":
        return torch.device("cpu")
    has_cuda = torch.cuda.is_available()
    if choice == "cuda" and not has_cuda:
        raise DeviceUnavailableError(
            f"{DEVICE_ENV}=cuda, but torch {torch.__version__} sees no CUDA device "
            "(torch.cuda.is_available() is False). Set REFKIT_DEVICE=cpu or auto, "
            "or install a CUDA build of torch on a machine with an NVIDIA GPU."
        )
    return torch.device("cuda" if has_cuda else "cpu")


def seed_everything(seed: int = 0, threads: int = 1) -> None:
    """Make torch repeatable: fixed seed and a fixed intra-op thread count.

    A fixed thread count matters because float reductions split across a different number of
    threads may round differently in the last digits.

    Args:
        seed: The seed for torch's CPU and CUDA generators.
        threads: Intra-op threads torch may use.

    Examples:
        >>> import torch
        >>> seed_everything(3); a = torch.rand(2)
        >>> seed_everything(3); b = torch.rand(2)
        >>> bool((a == b).all())
        True
    """
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
