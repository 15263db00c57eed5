"""Learning-rate schedules by name: one table for every task, stepped once per optimiser step.

=========== =================================================================================
name        schedule over the run's ``total`` optimiser steps
=========== =================================================================================
``none``    constant rate
``cosine``  cosine annealing from the rate to 0 (SleepDIFFormer, the baselines)
``linear``  linear warm-up over a ``warmup`` fraction, then linear decay to 0 (AdaCE)
``onecycle`` one cycle: cosine warm-up from ``start_lr`` to the rate over a ``warmup``
            fraction, then cosine annealing (EEGDM's LFT)
=========== =================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, LRScheduler, OneCycleLR


def warmup_linear_decay(step: int, total_steps: int, warmup_steps: int) -> float:
    """Learning-rate factor: ``step / warmup`` during warm-up, then linear decay to 0.

    Examples
    --------
    >>> [warmup_linear_decay(s, 10, 2) for s in (0, 1, 2, 6, 10)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    if step < warmup_steps:
        return step / warmup_steps
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def _linear(opt: Optimizer, total: int, warmup: float, start_lr: float | None) -> LRScheduler:
    lam = partial(warmup_linear_decay, total_steps=total, warmup_steps=int(round(warmup * total)))
    return LambdaLR(opt, lam)


def _onecycle(opt: Optimizer, total: int, warmup: float, start_lr: float | None) -> LRScheduler:
    peak = [g["lr"] for g in opt.param_groups]
    if start_lr is None:
        raise ValueError("the 'onecycle' schedule needs start_lr")
    return OneCycleLR(opt, max_lr=peak, total_steps=max(2, total), pct_start=warmup,
                      div_factor=peak[0] / start_lr, anneal_strategy="cos")


#: Schedule name → ``(optimizer, total_steps, warmup_fraction, start_lr) -> scheduler``.
SCHEDULES: dict[str, Callable[..., LRScheduler | None]] = {
    "none": lambda opt, total, warmup, start_lr: None,
    "cosine": lambda opt, total, warmup, start_lr: CosineAnnealingLR(opt, T_max=total),
    "linear": _linear,
    "onecycle": _onecycle,
}


def check_schedule(name: str, allowed: tuple[str, ...] = tuple(SCHEDULES)) -> None:
    """Raise ``ValueError`` naming the choices when ``name`` is not one of ``allowed``."""
    if name not in allowed:
        raise ValueError(f"scheduler must be one of {list(allowed)}, got {name!r}")


def with_schedule(opt: Optimizer, name: str, total_steps: int, warmup: float = 0.0,
                  start_lr: float | None = None) -> Optimizer | dict:
    """What ``configure_optimizers`` returns: ``opt`` alone, or with the named schedule stepped
    every optimiser step."""
    check_schedule(name)
    sched = SCHEDULES[name](opt, max(1, int(total_steps)), warmup, start_lr)
    if sched is None:
        return opt
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


#: Optimiser name → class (decoupled weight decay, or L2 as in the SleepDIFFormer paper).
OPTIMIZERS: dict[str, type[Optimizer]] = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}


__all__ = ["OPTIMIZERS", "SCHEDULES", "check_schedule", "warmup_linear_decay", "with_schedule"]
