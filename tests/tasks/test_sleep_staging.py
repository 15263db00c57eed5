"""SleepStagingTask: losses, single-channel baselines, predictions, checkpointing and resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from eegkit.reports import hypnograms
from eegkit.tasks.sleep_staging import SleepStagingTask
from tests._sleep_fixtures import FakeSleepDataModule

DIMS = {"n_chans": 2, "n_outputs": 5, "n_times": 300, "sfreq": 10.0}
TINY_SDF = {"d_model": 16, "n_heads": 2, "n_layers": 1, "seq_heads": 2, "seq_mlp_dim": 32}


def _train_steps(task, batch, steps=20, lr=3e-3):
    opt = torch.optim.Adam(task.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss, parts, _ = task._step(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, parts


@pytest.fixture(scope="module")
def batch():
    dm = FakeSleepDataModule(batch_size=6)
    torch.manual_seed(0)
    return next(iter(dm.train_dataloader()))


def test_baseline_steps_reduce_cross_entropy(batch):
    torch.manual_seed(0)
    task = SleepStagingTask("chambon2018_seq", **DIMS)
    assert task.criterion is None  # logits only: label-smoothed cross-entropy
    losses, parts = _train_steps(task, batch)
    assert set(parts) == {"ce"}
    assert losses[-1] < 0.7 * losses[0]


def test_sleepdifformer_steps_reduce_loss_with_all_terms(batch):
    torch.manual_seed(0)
    task = SleepStagingTask("sleepdifformer", TINY_SDF, **DIMS)
    assert task.criterion is not None
    assert batch["domain"].unique().numel() >= 2  # alignment terms are active
    losses, parts = _train_steps(task, batch, steps=8)
    assert {"ce", "mean", "cov", "seq", "rec"} <= set(parts)
    assert parts["seq"] > 0 and parts["rec"] > 0
    assert losses[-1] < losses[0]


def test_alignment_weight_zero_removes_the_alignment_terms(batch):
    torch.manual_seed(0)
    task = SleepStagingTask("sleepdifformer", TINY_SDF, w_align=0.0, w_rec=0.0, **DIMS)
    task.eval()
    loss, parts, _ = task._step(batch)
    assert torch.allclose(loss, parts["ce"])


def test_single_channel_model_gets_the_eeg_channel_only(batch):
    task = SleepStagingTask("attn_sleep_seq", n_chans=2, n_outputs=5, n_times=3000, sfreq=100.0)
    assert task.hparams.n_chans == 2  # the datamodule's layout is kept for checkpoints
    first_conv = next(m for m in task.net.modules() if isinstance(m, torch.nn.Conv1d))
    assert first_conv.in_channels == 1
    x = torch.randn(2, 3, 2, 3000)
    task.eval()
    with torch.no_grad():
        ref = task(x)
        x[:, :, 1] = 0.0  # the EOG channel must not matter
        assert torch.equal(task(x), ref)
    assert ref.shape == (2, 3, 5)


def test_epoch_models_are_rejected():
    with pytest.raises(ValueError, match="input='sequence'"):
        SleepStagingTask("eegnet", **DIMS)


def test_predict_step_flattens_and_hypnograms_restore_order():
    dm = FakeSleepDataModule(held_out="b", seq_len=4)
    task = SleepStagingTask("chambon2018_seq", **{**DIMS}).eval()
    # Sequences in reverse order: hypnograms must sort them back by position.
    loader = list(dm.predict_dataloader())
    outputs = [task.predict_step(b, i) for i, b in enumerate(reversed(loader))]
    first = outputs[0]
    n = first["y_true"].numel()
    assert all(first[k].shape == (n,) for k in ("y_pred", "recording", "domain", "position"))
    nights = hypnograms(outputs)
    held = dm.arrays["domain"] == dm.domain_names.index("b")
    assert sorted(nights) == sorted(np.unique(dm.arrays["recording"][held]).tolist())
    for rec, night in nights.items():
        sel = held & (dm.arrays["recording"] == rec)
        expected = dm.arrays["y"][sel][np.argsort(dm.arrays["position"][sel])].ravel()
        np.testing.assert_array_equal(night["y_true"], expected)


@torch.no_grad()
def test_predict_step_needs_no_labels_and_gives_probabilities():
    """A new recording has no ``y``: predict_step used to fail on ``batch["y"]``."""
    from eegkit.tasks.classification import ClassificationTask

    torch.manual_seed(0)
    sleep = SleepStagingTask("chambon2018_seq", **DIMS).eval()
    x = torch.randn(3, 4, 2, 300)
    out = sleep.predict_step({"x": x}, 0)
    assert "y_true" not in out and out["y_pred"].shape == (12,)
    assert out["proba"].shape == (12, 5)
    torch.testing.assert_close(out["proba"].sum(-1), torch.ones(12))
    assert torch.equal(out["y_pred"], out["proba"].argmax(-1))
    assert torch.equal(out["y_pred"], sleep(x).argmax(-1).flatten())
    labelled = sleep.predict_step({"x": x, "y": torch.zeros(3, 4, dtype=torch.long)}, 0)
    assert labelled["y_true"].shape == (12,)
    windows = ClassificationTask("eegnet", n_chans=2, n_outputs=3, n_times=128,
                                 sfreq=64.0).eval()
    out = windows.predict_step({"x": torch.randn(5, 2, 128)}, 0)
    assert "y_true" not in out and out["proba"].shape == (5, 3) and out["y_pred"].shape == (5,)


def _config(tmp_path, max_epochs):
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
              "init_args": {"save_dir": str(tmp_path / "run")}}
    cfg = {
        "seed_everything": 0,
        "trainer": {"max_epochs": max_epochs, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False,
                    "gradient_clip_val": 1.0, "logger": logger},
        "model": {"class_path": "eegkit.tasks.sleep_staging.SleepStagingTask",
                  "init_args": {"model": "chambon2018_seq", "lr": 0.003}},
        "data": {"class_path": "tests._sleep_fixtures.FakeSleepDataModule",
                 "init_args": {"held_out": "c", "batch_size": 4}},
    }
    path = tmp_path / f"cfg{max_epochs}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_checkpoint_on_best_macro_f1_and_resume(tmp_path, capsys):
    from eegkit.cli.fit import train

    out = tmp_path / "run"
    cli = train(["--config", _config(tmp_path, 3), "--out_dir", str(out)])
    ckpt_cb = cli.trainer.checkpoint_callback
    assert ckpt_cb.monitor == "val/macro_f1" and ckpt_cb.mode == "max"
    scores = [float(v) for v in _logged(out, "val/macro_f1")]
    assert len(scores) == 3
    best = sorted((out / "checkpoints").glob("best-*.ckpt"))
    assert len(best) == 1
    assert float(ckpt_cb.best_model_score) == pytest.approx(max(scores))
    assert best[0].name == f"best-epoch={int(np.argmax(scores)):03d}.ckpt"
    steps = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]

    # A longer run with the same out_dir resumes from last.ckpt: the step count goes on.
    cli = train(["--config", _config(tmp_path, 4), "--out_dir", str(out)])
    assert "resuming from" in capsys.readouterr().out
    last = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["epoch"] == 3
    assert last["global_step"] == steps * 4 // 3


def _logged(out_dir, key):
    import csv

    rows = []
    for path in sorted(out_dir.glob("lightning_logs/version_*/metrics.csv")):
        with open(path) as f:
            rows += [r[key] for r in csv.DictReader(f) if r.get(key)]
    return rows


def test_optimizer_follows_the_paper_and_is_configurable():
    from eegkit.tasks.classification import ClassificationTask
    from eegkit.tasks.sleep_staging import SleepStagingTask

    dims = {"n_chans": 2, "n_outputs": 5, "n_times": 3000, "sfreq": 100.0}
    sleep = SleepStagingTask(model="chambon2018_seq", **dims)
    generic = ClassificationTask(model="eegnet", **dims)
    for task, expected in ((sleep, torch.optim.Adam), (generic, torch.optim.AdamW)):
        task.trainer = type("T", (), {"estimated_stepping_batches": 10})()
        opt = task.configure_optimizers()["optimizer"]
        assert type(opt) is expected
    with pytest.raises(ValueError, match="optimizer must be one of"):
        ClassificationTask(model="eegnet", optimizer="sgd", **dims)
