"""train.py / evaluate.py end to end on a baseline config and real UCI HAR (tiny limits)."""

from __future__ import annotations

import json

import pytest
import torch

from eegkit.cli import evaluate, train
from tests.conftest import REPO

CONFIG = REPO / "configs" / "baselines" / "uci_har_eegnet.yaml"
TINY = ["--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--trainer.logger", "false", "--trainer.accelerator", "cpu"]


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
def test_train_evaluate_and_resume_uci_har(shared_data, tmp_path, capsys):
    har = shared_data / "uci-har" / "UCI HAR Dataset.zip"
    common = ["--config", str(CONFIG), "--data.init_args.path", str(har),
              "--out_dir", str(tmp_path), *TINY]
    cli = train(args=[*common, "--trainer.max_epochs", "1"])
    assert cli.datamodule.n_chans == 9 and cli.datamodule.n_outputs == 6
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert last.is_file() and list((tmp_path / "checkpoints").glob("best-*.ckpt"))
    first = torch.load(last, map_location="cpu", weights_only=False)
    assert (first["epoch"], first["global_step"]) == (0, 3)

    summary = evaluate(args=[*common, "--ckpt_path", str(last)])
    report = tmp_path / "report"
    assert (report / "confusion_matrix.png").stat().st_size > 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["n"] == summary["n"] == 2947  # the official test subjects
    assert len(metrics["per_class_f1"]) == 6 and 0.0 <= metrics["acc"] <= 1.0

    capsys.readouterr()
    resumed = train(args=[*common, "--trainer.max_epochs", "2"])
    assert "[eegkit] resuming from" in capsys.readouterr().out
    assert resumed.trainer.ckpt_path == str(last)
    second = torch.load(last, map_location="cpu", weights_only=False)
    assert (second["epoch"], second["global_step"]) == (1, 6)  # continued, not restarted
