"""Timing of training and inference steps, shared by the scripts in ``benchmarks/``.

CUDA launches kernels asynchronously: a step is timed between two synchronisations, so that
the figure is the step's device time and not the time to queue it.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable

import torch

#: ``--dtype`` names of the benchmarks and the autocast precision they mean (None: float32).
DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def autocast(device: torch.device | str, dtype: str) -> contextlib.AbstractContextManager:
    """Mixed precision ``dtype`` (a key of :data:`DTYPES`) on ``device``; float32 is a no-op."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; known: {list(DTYPES)}")
    if DTYPES[dtype] is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[dtype])


def synchronize(device: torch.device | str) -> None:
    """Wait for the work queued on ``device`` (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_step_seconds(step: Callable[[], object], steps: int, warmup: int,
                        device: torch.device | str = "cpu") -> float:
    """Median wall time of ``steps`` calls of ``step`` after ``warmup`` untimed ones."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
