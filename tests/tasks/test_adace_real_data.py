"""AdaCE end to end on the real Bonn data: train.py then evaluate.py with a shipped config.

A tiny random ViT replaces the pretrained backbone so that the run takes seconds; the config,
datamodule, class merging, adapter and report are the real ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from eegkit.cli.evaluate import evaluate
from eegkit.cli.fit import train  # noqa: E402
from eegkit.models.adace.model import TINY_VIT  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.real_data
def test_bonn_seizure_image_config_trains_and_evaluates(shared_data, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setattr("sys.argv", ["train.py"])
    model_kwargs = {"backbone": TINY_VIT, "image_size": 32, "row_length": 14}
    args = [
        "--config", "configs/adace/bonn_seizure_image_dinov2.yaml",
        "--data.init_args.path", str(shared_data / "bonn"),
        "--model.init_args.model_kwargs", json.dumps(model_kwargs),
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
        "--trainer.limit_val_batches", "2", "--trainer.accumulate_grad_batches", "1",
        "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
        "--out_dir", str(tmp_path),
    ]
    cli = train(args)
    assert cli.trainer.global_step == 3
    assert cli.datamodule.n_times == 178 and cli.model.n_classes == 2
    summary = evaluate([*args, "--trainer.limit_predict_batches", "4"])
    assert summary["n"] == 4 * 16
    assert set(summary["per_class_f1"]) == {"rest", "seizure"}
    assert (tmp_path / "report" / "metrics.json").is_file()
