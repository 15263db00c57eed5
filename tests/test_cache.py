"""The array cache: memory-mapped entries, content keys, streamed and atomic builds."""

from __future__ import annotations

import numpy as np
import pytest

from eegkit.cache import ArrayCache, cache_key


def test_cache_roundtrip_is_memory_mapped(tmp_path):
    cache = ArrayCache(tmp_path)
    key = cache_key(dataset="x", sfreq=100)
    calls = []

    def build(scratch):
        calls.append(1)
        return {"X": np.arange(12, dtype=np.float32).reshape(3, 4)}, {"n": 3}

    arrays, meta = cache.get_or_build("demo", key, build)
    again, _ = cache.get_or_build("demo", key, build)
    assert len(calls) == 1 and meta == {"n": 3}
    assert isinstance(again["X"], np.memmap)
    np.testing.assert_array_equal(again["X"], arrays["X"])


def test_cache_streams_a_build_through_its_scratch_file_and_removes_it(tmp_path):
    cache = ArrayCache(tmp_path)
    seen = []

    def build(scratch):
        seen.append(scratch)
        out = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.float32, shape=(5, 2))
        out[:] = np.arange(10, dtype=np.float32).reshape(5, 2)
        return {"X": out}, {}

    arrays, _ = cache.get_or_build("streamed", "k", build)
    np.testing.assert_array_equal(arrays["X"], np.arange(10).reshape(5, 2))
    assert seen[0].parent == tmp_path and not seen[0].exists()

    def failing(scratch):
        seen.append(scratch)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        cache.get_or_build("broken", "k", failing)
    assert not seen[1].exists() and not cache.exists("broken", "k")


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
