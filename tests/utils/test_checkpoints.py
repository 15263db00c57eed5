"""read_checkpoint: the same checkpoint whether read or memory-mapped; bad files named."""

from __future__ import annotations

import pickle

import pytest
import torch

from eegkit.data.types import DataError
from eegkit.utils.checkpoints import read_checkpoint


def test_memory_mapped_read_gives_the_same_checkpoint(tmp_path):
    path = tmp_path / "model.ckpt"
    weights = {"net.weight": torch.randn(4, 3), "net.bias": torch.arange(4.0)}
    torch.save({"state_dict": weights, "hyper_parameters": {"preprocessing": {"mean": [1.5]}},
                "epoch": 3}, path)
    read, mapped = read_checkpoint(path), read_checkpoint(path, mmap=True)
    assert mapped["hyper_parameters"] == read["hyper_parameters"] == {
        "preprocessing": {"mean": [1.5]}}
    assert mapped["epoch"] == 3
    for name, tensor in weights.items():
        assert torch.equal(mapped["state_dict"][name], tensor)
        assert torch.equal(read["state_dict"][name], tensor)


@pytest.mark.parametrize("mmap", [False, True])
def test_bad_files_are_named_with_the_problem(tmp_path, mmap):
    with pytest.raises(DataError, match="nope.ckpt: no such checkpoint file"):
        read_checkpoint(tmp_path / "nope.ckpt", mmap=mmap)
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, good)
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(good.read_bytes()[:500])
    with pytest.raises(DataError, match="cut.ckpt: not a readable checkpoint"):
        read_checkpoint(cut, mmap=mmap)
    legacy = tmp_path / "pickled.ckpt"  # not a torch zip file at all
    legacy.write_bytes(pickle.dumps({"state_dict": {}}))
    with pytest.raises(DataError, match="pickled.ckpt: not a readable checkpoint"):
        read_checkpoint(legacy, mmap=mmap)
    foreign = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, foreign)
    with pytest.raises(DataError, match="weights.pt: not a Lightning checkpoint"):
        read_checkpoint(foreign, mmap=mmap)
