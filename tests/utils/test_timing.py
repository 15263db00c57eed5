"""eegkit.utils.timing: the step timer and precision of the benchmark scripts."""

from __future__ import annotations

import pytest
import torch

from eegkit.utils.timing import autocast, median_step_seconds


def test_median_step_seconds_runs_warmup_then_timed_steps():
    calls = []
    seconds = median_step_seconds(lambda: calls.append(1), steps=3, warmup=2)
    assert len(calls) == 5
    assert 0 <= seconds < 1


def test_median_step_seconds_needs_a_timed_step():
    with pytest.raises(ValueError, match="at least 1"):
        median_step_seconds(lambda: None, steps=0, warmup=1)


def test_autocast_bfloat16_runs_matmuls_in_bfloat16_and_float32_is_untouched():
    a = torch.randn(4, 4)
    with autocast("cpu", "bfloat16"):
        assert (a @ a).dtype == torch.bfloat16
    with autocast("cpu", "float32"):
        assert (a @ a).dtype == torch.float32
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        autocast("cpu", "fp8")
