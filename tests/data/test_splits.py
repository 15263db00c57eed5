from __future__ import annotations

import numpy as np
import pytest

from eegkit.data.splits import group_holdout, lodo_splits
from eegkit.data.types import DataError


def test_lodo_and_group_holdout():
    folds = lodo_splits(["a", "b", "c"])
    assert folds[1] == (["a", "c"], "b")
    with pytest.raises(DataError):
        lodo_splits(["a"])
    groups = np.repeat(np.arange(10), 5)
    keep, held = group_holdout(groups, 0.2, seed=0)
    assert len(np.intersect1d(groups[keep], groups[held])) == 0
    assert len(np.unique(groups[held])) == 2 and len(keep) + len(held) == 50
    keep, held = group_holdout(groups, 0.0)
    assert np.array_equal(keep, np.arange(50)) and len(held) == 0
