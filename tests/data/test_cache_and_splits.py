from __future__ import annotations

import numpy as np
import pytest

from eegkit.data.cache import ArrayCache, cache_key
from eegkit.data.splits import group_holdout, lodo_splits
from eegkit.data.types import DataError


def test_cache_roundtrip_is_memory_mapped(tmp_path):
    cache = ArrayCache(tmp_path)
    key = cache_key(dataset="x", sfreq=100)
    calls = []

    def build():
        calls.append(1)
        return {"X": np.arange(12, dtype=np.float32).reshape(3, 4)}, {"n": 3}

    arrays, meta = cache.get_or_build("demo", key, build)
    again, _ = cache.get_or_build("demo", key, build)
    assert len(calls) == 1 and meta == {"n": 3}
    assert isinstance(again["X"], np.memmap)
    np.testing.assert_array_equal(again["X"], arrays["X"])


def test_cache_key_changes_with_config():
    assert cache_key(a=1, b=2) == cache_key(b=2, a=1)
    assert cache_key(a=1) != cache_key(a=2)


def test_interrupted_build_leaves_nothing_that_loads(tmp_path):
    cache = ArrayCache(tmp_path)

    class Interrupted(Exception):
        pass

    class Exploding(dict):
        def items(self):
            yield "X", np.zeros(3)
            raise Interrupted  # dies half-way through writing

    with pytest.raises(Interrupted):
        cache.save("demo", "k", Exploding())
    assert not cache.exists("demo", "k")
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind
    cache.save("demo", "k", {"X": np.ones(3)})
    assert cache.exists("demo", "k")


def test_lodo_and_group_holdout():
    folds = lodo_splits(["a", "b", "c"])
    assert folds[1] == (["a", "c"], "b")
    with pytest.raises(DataError):
        lodo_splits(["a"])
    groups = np.repeat(np.arange(10), 5)
    keep, held = group_holdout(groups, 0.2, seed=0)
    assert len(np.intersect1d(groups[keep], groups[held])) == 0
    assert len(np.unique(groups[held])) == 2 and len(keep) + len(held) == 50
