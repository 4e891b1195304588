"""Where training runs and at what precision, resolved on the machine that trains.

A profile asks for a device (`train.device`: "auto", "cpu", "cuda", "cuda:1", "mps") and a
precision (`train.precision`: "auto", "fp32", "bf16", "fp16"); store keys hold what it asks for,
and each result records what the trainer resolved (`RunResult.device`, `.precision`), so a driver
on a login node reads back what GPU workers trained. A profile that names a GPU on a machine
without one stops with `NoDevice` instead of training on the CPU for days; AUX_SELECT_ALLOW_CPU=1
(`reproduce --allow-cpu`) trains there anyway.
"""
from __future__ import annotations

import os
import shutil
import warnings

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
ALLOW_CPU = "AUX_SELECT_ALLOW_CPU"  # "1": a profile that names a GPU trains on the CPU where none is found


class NoDevice(RuntimeError):
    """The profile names a device this machine does not have."""


def _available(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index is None or device.index < torch.cuda.device_count())
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return True


def _warn_if_gpu_unusable() -> None:
    """"auto" found no GPU: say so where one seems to be there (a CPU-only torch, a driver too old)."""
    if shutil.which("nvidia-smi") is None:
        return
    why = ("this torch is built without CUDA (a `cpuonly` or CPU wheel)" if torch.version.cuda is None
           else "torch cannot use it (a driver older than this torch's CUDA, or CUDA_VISIBLE_DEVICES empty)")
    warnings.warn(f"device='auto' trains on the CPU: nvidia-smi is here, but {why}", stacklevel=3)


def pick_device(device: str = "auto") -> torch.device:
    """cuda, then mps, then cpu for "auto"; a named device as named, if this machine has it.
    A named GPU that is missing raises `NoDevice` (unless AUX_SELECT_ALLOW_CPU=1: the CPU, with a warning)."""
    if device == "auto":
        for candidate in ("cuda", "mps"):
            if _available(torch.device(candidate)):
                return torch.device(candidate)
        _warn_if_gpu_unusable()
        return torch.device("cpu")
    named = torch.device(device)
    if _available(named):
        return named
    if os.environ.get(ALLOW_CPU) == "1":
        warnings.warn(f"the profile asks for {device}, which this machine lacks: training on the CPU "
                      f"({ALLOW_CPU}=1); the result records device 'cpu'", stacklevel=2)
        return torch.device("cpu")
    raise NoDevice(f"the profile asks for device {device!r} and this machine has none (torch sees "
                   f"{torch.cuda.device_count()} CUDA devices), so a result that is not stored yet would train "
                   f"here: run on a machine with the device (a worker: --executor), or pass --allow-cpu "
                   f"(or set {ALLOW_CPU}=1) to train on this CPU anyway")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; choose one of {', '.join(PRECISIONS)}")


def resolve_precision(precision: str, device: torch.device) -> str:
    """"fp32", "bf16" or "fp16" on `device`. "auto": native bf16 (CUDA's own, not emulated as on V100
    or T4; a CPU whose oneDNN has bf16, e.g. AVX-512 bf16 or AMX), else fp16 with a gradient scaler
    on CUDA, else fp32. fp16 is for CUDA only."""
    check_precision(precision)
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"precision='fp16' needs a CUDA device (it trains with a gradient scaler); "
                         f"on {device.type} use bf16 or fp32")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if _native_cuda_bf16() else "fp16"
    if device.type == "cpu":
        native = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        return "bf16" if native else "fp32"
    return "fp32"


def _native_cuda_bf16() -> bool:
    """bf16 in the GPU's own units (Ampere and later), not emulated as on a V100 or T4."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # a torch before `including_emulation`: compute capability 8 or more is native
        return torch.cuda.is_bf16_supported() and torch.cuda.get_device_capability()[0] >= 8
