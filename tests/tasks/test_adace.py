"""AdaCETask: learning rates of head and backbone, warm-up + linear decay, merged classes."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from eegkit.tasks.adace import AdaCETask
from eegkit.tasks.schedules import warmup_linear_decay

pytest.importorskip("transformers")

from eegkit.models.adace.model import TINY_BERT  # noqa: E402

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "adace").glob("*.yaml"))


def test_warmup_then_linear_decay_values():
    # 100 steps with 10 % warm-up, as in the authors' code
    values = [warmup_linear_decay(s, 100, 10) for s in (0, 5, 10, 55, 100, 120)]
    assert values == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0, 0.0])


def _task(**kw):
    return AdaCETask(model="adace_text", model_kwargs={"backbone": TINY_BERT, "precision": 1},
                     n_chans=1, n_times=4, sfreq=10.0, **kw)


def test_head_and_backbone_learning_rates():
    task = _task(n_outputs=3, lr=2e-5, head_lr=1e-3)
    backbone_group, head_group = task.param_groups()
    assert (backbone_group["lr"], head_group["lr"]) == (2e-5, 1e-3)
    assert len(head_group["params"]) == 2  # the new linear head: weight and bias
    n_backbone = sum(p.numel() for p in task.net.backbone.parameters())
    assert sum(p.numel() for p in backbone_group["params"]) == n_backbone
    frozen = AdaCETask(model="adace_text", n_chans=1, n_times=4, sfreq=10.0, n_outputs=3,
                       model_kwargs={"backbone": TINY_BERT, "finetune": "frozen"})
    assert [len(g["params"]) for g in frozen.param_groups()] == [2]


def test_merged_classes_map_the_targets():
    task = _task(merge_classes=[0, 0, 0, 0, 1], class_names=["rest", "seizure"])
    assert task.n_classes == 2 and task.hparams.scheduler == "linear"
    x = torch.randn(5, 1, 4)
    out = task.predict_step({"x": x, "y": torch.tensor([0, 1, 2, 3, 4])}, 0)
    assert out["y_true"].tolist() == [0, 0, 0, 0, 1]
    assert out["y_pred"].shape == (5,)
    with pytest.raises(ValueError, match="scheduler"):
        _task(n_outputs=2, scheduler="cosine")
    with pytest.raises(ValueError, match="merge_classes"):
        _task(n_outputs=5, merge_classes=[0, 0, 1])


class _LrLog(L.Callback):
    def __init__(self):
        self.lrs = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.lrs.append([g["lr"] for g in trainer.optimizers[0].param_groups])


def test_schedule_in_a_training_run_with_gradient_accumulation(tmp_path):
    data = [{"x": torch.randn(1, 4), "y": torch.tensor(i % 2)} for i in range(20)]
    task = _task(n_outputs=2, lr=1e-4, head_lr=1e-2, warmup_fraction=0.4)
    log = _LrLog()
    trainer = L.Trainer(max_epochs=1, accumulate_grad_batches=2, callbacks=[log],
                        default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, DataLoader(data, batch_size=2))
    # 10 batches, accumulation 2 -> 5 optimiser steps, 2 of warm-up
    factors = [warmup_linear_decay(s, 5, 2) for s in range(5)]
    assert factors == pytest.approx([0.0, 0.5, 1.0, 2 / 3, 1 / 3])
    expected = [(1e-4 * f, 1e-2 * f) for f in factors for _ in range(2)]
    assert [lr for lr, _ in log.lrs] == pytest.approx([lr for lr, _ in expected])
    assert [lr for _, lr in log.lrs] == pytest.approx([lr for _, lr in expected])


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_configs_parse_and_build(config, tmp_path, monkeypatch):
    from eegkit.cli.app import make_cli

    monkeypatch.setattr("sys.argv", ["train.py"])
    # the configs leave the data path to the user; parsing does not read it
    cli = make_cli(["--config", str(config), "--out_dir", str(tmp_path),
                    "--data.init_args.path", str(tmp_path)])
    assert isinstance(cli.model, AdaCETask)
    data = cli.datamodule.hparams
    assert data.dataset in ("uci_har", "bonn")
    if data.dataset == "bonn":  # the five sets merged into rest vs seizure
        assert cli.model.n_classes == 2 and data.protocol == "group"
