"""The step benchmarks that benchmarks/gpu.sh runs on a GPU work end to end, here on the CPU in
bfloat16 at tiny sizes (the GPU itself is only in the device runs)."""

from __future__ import annotations

import argparse

import pytest
import torch

from tests.benchmarks._load import load_benchmark


def test_sleepdifformer_training_step_under_bfloat16_autocast():
    bench = load_benchmark("sleepdifformer")
    args = argparse.Namespace(batch=1, epochs=2, steps=1, warmup=0, device="cpu",
                              dtype="bfloat16", threads=torch.get_num_threads())
    for name in ("sleepdifformer-fused", "sleepdifformer-eager"):
        row = bench._run(name, "train", args)
        assert row["s_per_step"] > 0 and row["params"] > 0


def test_eegdm_backbone_step_on_a_tiny_backbone(capsys):
    load_benchmark("eegdm").main(["--width", "8", "--blocks", "1", "--state", "4", "--cond",
                                  "16", "--length", "400", "--batch", "2", "--chans", "2",
                                  "--windows", "1", "--steps", "1", "--warmup", "0",
                                  "--threads", str(torch.get_num_threads()),
                                  "--dtype", "bfloat16"])
    out = capsys.readouterr().out
    assert "device cpu, bfloat16" in out and "train step: 2 items" in out


@pytest.mark.parametrize("finetune", ["full", "frozen"])
def test_adace_step_trains_the_chosen_weights(finetune, capsys):
    pytest.importorskip("transformers")
    result = load_benchmark("adace_step").main([
        "--image-size", "28", "--batch", "2", "--backbone-layers", "1", "--steps", "1",
        "--warmup", "0", "--dtype", "bfloat16", "--finetune", finetune,
        "--threads", str(torch.get_num_threads())])
    out = capsys.readouterr().out
    assert result["train_s"] > 0 and result["infer_s"] > 0
    assert (result["trained"] == result["params"]) == (finetune == "full")
    assert f'{result["trained"]:,} trained: {finetune}' in out
    assert "28 px, batch 2 x 9 x 128" in out
