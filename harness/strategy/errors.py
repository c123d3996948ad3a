"""Error classification: is this an out-of-memory error, a transient one, or a row's fault?"""
from __future__ import annotations

import re
from typing import Iterable

import torch

#: Messages that mean an accelerator or allocator ran out of memory, whatever the exception type.
_OOM_PATTERNS = re.compile(
    "|".join(
        [
            r"CUDA out of memory",
            r"CUDA error: out of memory",
            r"CUBLAS_STATUS_ALLOC_FAILED",
            r"CUDNN_STATUS_ALLOC_FAILED",
            r"cuDNN error: CUDNN_STATUS_NOT_ENOUGH_WORKSPACE",
            r"HIP out of memory",
            r"hipErrorOutOfMemory",
            r"MPS backend out of memory",
            r"DefaultCPUAllocator: (?:can't|not enough memory)",
            r"XPU out of memory",
            r"\bout of memory\b",
        ]
    ),
    re.IGNORECASE,
)


def is_oom(error: BaseException) -> bool:
    """True for torch.OutOfMemoryError, MemoryError, or a message in any known OOM wording."""
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    return bool(_OOM_PATTERNS.search(str(error)))


#: Device failures that are not OOMs: the device is marked unhealthy and its work moves.
_DEVICE_ERROR_PATTERNS = re.compile(
    r"CUDA error: (?!out of memory)|device-side assert|an illegal memory access|"
    r"CUDA driver error|NCCL error|DeviceLostError|unspecified launch failure|ECC error",
    re.IGNORECASE,
)


class DeviceLostError(RuntimeError):
    """A device stopped working (raised by injected faults; real drivers say 'CUDA error: ...')."""


def is_device_error(error: BaseException) -> bool:
    """True when the device itself failed (not an OOM): its work must move elsewhere."""
    if isinstance(error, DeviceLostError):
        return True
    return not is_oom(error) and bool(_DEVICE_ERROR_PATTERNS.search(str(error)))


def _qualified_names(error: BaseException) -> set[str]:
    names = set()
    for klass in type(error).__mro__:
        names.add(klass.__name__)
        names.add(f"{klass.__module__}.{klass.__qualname__}")
    return names


def is_transient(error: BaseException, transient_errors: Iterable[str]) -> bool:
    """True when the error's class (or a base class) is named in ``transient_errors``."""
    return not _qualified_names(error).isdisjoint(transient_errors)
