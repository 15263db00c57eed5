"""One table of learning-rate schedules for every task."""

import pytest
import torch

from eegkit.tasks.schedules import SCHEDULES, with_schedule


def _opt(lr=1e-3):
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def _lrs(out, steps):
    opt, sched = out["optimizer"], out["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_none_returns_the_optimizer_and_every_other_schedule_steps_per_optimizer_step():
    opt = _opt()
    assert with_schedule(opt, "none", 10) is opt
    for name in set(SCHEDULES) - {"none"}:
        out = with_schedule(_opt(), name, 10, warmup=0.2, start_lr=1e-5)
        assert out["lr_scheduler"]["interval"] == "step"


def test_schedule_shapes():
    cosine = _lrs(with_schedule(_opt(), "cosine", 10), 10)
    assert cosine[0] == pytest.approx(1e-3) and cosine == sorted(cosine, reverse=True)
    linear = _lrs(with_schedule(_opt(), "linear", 10, warmup=0.2), 10)
    assert linear[:3] == pytest.approx([0.0, 5e-4, 1e-3])  # 2 warm-up steps, then decay
    onecycle = _lrs(with_schedule(_opt(), "onecycle", 10, warmup=0.3, start_lr=1e-5), 10)
    assert onecycle[0] == pytest.approx(1e-5) and max(onecycle) == pytest.approx(1e-3, rel=0.05)


def test_unknown_schedule_and_onecycle_without_start_lr_are_errors():
    with pytest.raises(ValueError, match="scheduler must be one of"):
        with_schedule(_opt(), "step", 10)
    with pytest.raises(ValueError, match="start_lr"):
        with_schedule(_opt(), "onecycle", 10, warmup=0.1)
