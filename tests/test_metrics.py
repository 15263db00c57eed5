"""eegkit.metrics: summaries over seeds and window-to-group aggregation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegkit.metrics import group_mean


def test_group_mean_averages_each_groups_windows():
    proba = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.3, 0.7]])
    y = torch.tensor([1, 0, 1, 0, 0])
    groups = np.array(["S002", "Z001", "S002", "Z001", "Z001"])
    mean, labels, names = group_mean(proba, y, groups)
    assert names.tolist() == ["S002", "Z001"]
    assert labels.tolist() == [1, 0]
    torch.testing.assert_close(mean, torch.tensor([[0.75, 0.25], [0.2, 0.8]]))


def test_group_mean_refuses_mixed_labels_and_mismatched_lengths():
    proba = torch.full((3, 2), 0.5)
    with pytest.raises(ValueError, match="'a' has windows with different labels"):
        group_mean(proba, torch.tensor([0, 1, 1]), ["a", "a", "b"])
    with pytest.raises(ValueError, match="3 probability rows, 2 labels"):
        group_mean(proba, torch.tensor([0, 1]), ["a", "a", "b"])
