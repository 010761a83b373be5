"""Where a trial trains: CUDA or CPU, mixed precision, and how many CPU threads."""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Any, ContextManager

import torch

from raytuner.spec.torch import TorchTrainableSpec

log = logging.getLogger("raytuner.torch")


def trial_threads(spec: TorchTrainableSpec, cpus: float) -> int:
    """torch threads for a trial: spec.threads, else the trial's CPUs (at least 1)."""
    return spec.threads or max(1, int(cpus))


def set_threads(n: int) -> int:
    """Match torch's intra-op threads to the trial's CPUs so trials don't oversubscribe."""
    torch.set_num_threads(n)
    return torch.get_num_threads()


def choose_device(spec: TorchTrainableSpec, gpus: float, *, ddp_device: Any = None) -> torch.device:
    """CUDA when the trial has GPUs (or device: cuda) and CUDA works; else CPU with a warning."""
    if spec.device == "cpu":
        return torch.device("cpu")
    want_cuda = spec.device == "cuda" or gpus > 0
    if not want_cuda:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        message = (
            f"the trial asked for CUDA (resources.gpu={gpus}, device={spec.device}) but "
            f"torch {torch.__version__} sees no CUDA device here; training on the CPU instead"
        )
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        log.warning(message)
        return torch.device("cpu")
    if ddp_device is not None:
        return ddp_device
    # Ray sets CUDA_VISIBLE_DEVICES to the trial's GPU(s): index 0 is ours.
    return torch.device("cuda", 0)


def amp_dtype(spec: TorchTrainableSpec, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None: AMP runs on CUDA only."""
    if not spec.amp:
        return None
    if device.type != "cuda":
        message = "amp is on but the trial trains on the CPU: mixed precision is off for it"
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        log.warning(message)
        return None
    if spec.amp == "fp16":
        return torch.float16
    if spec.amp == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> ContextManager[Any]:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> Any:
    """A GradScaler for fp16 (bf16 needs none); disabled otherwise."""
    return torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
