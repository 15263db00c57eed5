"""EEGDM Lightning stages end to end on a tiny Bonn-format folder, and the latent cache."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from eegkit.data.eegdm_latents import EEGDMLatentDataModule, cached_latents
from eegkit.metrics import format_seed_table, seed_summary
from eegkit.tasks.eegdm import EEGDMFinetuneTask, EEGDMPretrainTask, load_backbone

TINY_BACKBONE = {"width": 8, "n_blocks": 2, "d_state": 4, "cond_dim": 16}
TINY_LFT = {"n_fusion_tokens": 2, "n_heads": 2, "ffn_dim": 16, "n_cls_blocks": 1}
CHUNK = 870  # 5.01 s at 173.61 Hz → 5 one-second pools of round(173.61) = 174 samples


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def bonn_folder(tmp_path_factory):
    """Four segments per set, in Bonn's layout (one integer per line, set N upper-case)."""
    root = tmp_path_factory.mktemp("bonn")
    rng = np.random.default_rng(0)
    t = np.arange(4097) / 173.61
    for k, s in enumerate("ZONFS"):
        (root / s).mkdir()
        for i in range(1, 5):
            x = 40 * (k + 1) * np.sin(2 * np.pi * (3 + 2 * k) * t) + 20 * rng.standard_normal(4097)
            ext = ".TXT" if s == "N" else ".txt"
            (root / s / f"{s}{i:03d}{ext}").write_text("\n".join(map(str, x.astype(int))))
    return root


def _trainer(tmp_path, **kw):
    return L.Trainer(default_root_dir=tmp_path, accelerator="cpu", logger=False,
                     enable_progress_bar=False, enable_model_summary=False, **kw)


def _datamodule(folder, ckpt, cache_dir):
    return EEGDMLatentDataModule(str(ckpt), "bonn", str(folder), protocol="group",
                                 val_fraction=0.25, test_fraction=0.25, batch_size=8,
                                 reader_kwargs={"chunk": CHUNK}, cache_dir=str(cache_dir))


@pytest.fixture(scope="module")
def pretrained(bonn_folder, tmp_path_factory):
    from eegkit.data.window_datamodule import WindowDataModule

    tmp = tmp_path_factory.mktemp("pretrain")
    torch.set_num_threads(1)
    L.seed_everything(0)
    dm = WindowDataModule("bonn", str(bonn_folder), "group", 0.25, 0.25, batch_size=8,
                          reader_kwargs={"chunk": CHUNK}, cache_dir=str(tmp / "cache"))
    task = EEGDMPretrainTask(TINY_BACKBONE, scale=0.01, crop=256, lr=1e-3, ema_start=2,
                             ema_every=1)
    trainer = _trainer(tmp, max_steps=4, limit_val_batches=1, enable_checkpointing=False)
    trainer.fit(task, dm)
    ckpt = tmp / "pretrain.ckpt"
    trainer.save_checkpoint(ckpt)
    return task, ckpt


def test_pretraining_flattens_channels_and_keeps_ema(pretrained):
    task, ckpt = pretrained
    x = torch.randn(3, 2, 300) * 100
    items, channels = task.single_channel_items(x)
    assert items.shape == (6, 1, 256)  # cropped
    assert channels.tolist() == [0, 1, 0, 1, 0, 1]
    backbone, hp = load_backbone(ckpt)
    assert hp["sfreq"] == pytest.approx(173.61) and hp["n_chans"] == 1
    assert backbone.rate == pytest.approx(200 / 173.61)  # S4D rate, no resampling
    for a, b in zip(backbone.parameters(), task.ema.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert not any(p.requires_grad for p in backbone.parameters())
    sample = task.sample(2, 64, generator=torch.Generator().manual_seed(0))
    assert sample.shape == (2, 1, 64) and torch.isfinite(sample).all()


def test_latent_cache_is_float16_memmapped_and_keyed(pretrained, tmp_path):
    _, ckpt = pretrained
    backbone, _ = load_backbone(ckpt)
    X = np.random.default_rng(0).standard_normal((3, 1, 400)).astype(np.float32) * 50
    kw = {"sfreq": 200.0, "data_key": {"name": "x"}, "scale": 0.01, "cache_dir": tmp_path}
    lat = cached_latents(backbone, X, **kw)
    assert isinstance(lat, np.memmap) and lat.dtype == np.float16
    assert lat.shape == (3, 1, 2, 2, 8)  # (N, C, blocks, 2 one-second pools, width)
    entries = sorted(p.name for p in tmp_path.iterdir())
    assert len(entries) == 1 and entries[0].startswith("eegdm-latents-")  # no temp left over
    again = cached_latents(backbone, X, **kw)
    assert np.array_equal(np.asarray(lat), np.asarray(again))
    with pytest.raises(ValueError, match="embeds only 1"):
        cached_latents(backbone, np.concatenate([X, X], axis=1), **kw)
    cached_latents(backbone, X, **{**kw, "data_key": {"name": "y"}})
    assert len(list(tmp_path.iterdir())) == 2  # another key, another entry


def test_finetune_on_cached_latents_and_on_the_fly(bonn_folder, pretrained, tmp_path):
    _, ckpt = pretrained
    dm = _datamodule(bonn_folder, ckpt, tmp_path / "cache")
    assert dm.latent_shape == (1, 2, 5, 8)
    L.seed_everything(0)
    task = EEGDMFinetuneTask(str(ckpt), lft_kwargs=TINY_LFT, merge_classes=[0, 0, 0, 0, 1],
                             class_names=["rest", "seizure"])
    trainer = _trainer(tmp_path, max_epochs=1, enable_checkpointing=False)
    trainer.fit(task, dm)
    logged = trainer.callback_metrics
    for name in ("val/kappa", "val/bacc", "val/weighted_f1", "val/auroc", "val/auprc"):
        assert name in logged
    assert set(task.hparams.class_names) == {"rest", "seizure"}
    # the same model on raw windows computes identical latents on the fly
    task.eval()
    raw = torch.from_numpy(np.asarray(dm.windows.windows.X[:4], dtype=np.float32))
    on_the_fly = task.latents(raw)
    torch.testing.assert_close(on_the_fly, torch.from_numpy(
        np.asarray(dm.latents[:4], dtype=np.float32)), atol=2e-3, rtol=1e-2)
    out = trainer.predict(task, dm)
    y_true = torch.cat([o["y_true"] for o in out])
    assert set(y_true.tolist()) <= {0, 1} and 1 in y_true.tolist()


def test_seed_summary_and_table():
    runs = [{"kappa": 0.5, "bacc": 0.6}, {"kappa": 0.7, "bacc": 0.8}]
    summary = seed_summary(runs)
    assert summary["kappa"][0] == pytest.approx(0.6)
    assert summary["kappa"][1] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    table = format_seed_table({"EEGDM": summary}, ("kappa", "bacc", "weighted_f1"))
    assert "| EEGDM | 60.00 ± 14.14 | 70.00 ± 14.14 | – |" in table


@pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
def test_bonn_configs_train_and_evaluate_through_the_cli(bonn_folder, tmp_path):
    import json

    from eegkit.cli import evaluate, train
    from tests.conftest import REPO

    common = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary",
              "false", "--trainer.logger", "false",
              "--data.init_args.path", str(bonn_folder),
              "--data.init_args.val_fraction", "0.25", "--data.init_args.test_fraction", "0.25",
              "--data.init_args.cache_dir", str(tmp_path / "cache")]
    pre = tmp_path / "pre"
    train(args=["--config", str(REPO / "configs/eegdm/bonn_pretrain.yaml"), *common,
                "--out_dir", str(pre), "--trainer.max_steps", "3",
                "--model.init_args.backbone_kwargs", json.dumps(TINY_BACKBONE)])
    ckpt = pre / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    fine = ["--config", str(REPO / "configs/eegdm/bonn_finetune_binary.yaml"), *common,
            "--out_dir", str(tmp_path / "fine"), "--model.init_args.backbone_ckpt", str(ckpt),
            "--data.init_args.backbone_ckpt", str(ckpt),
            "--model.init_args.lft_kwargs", json.dumps(TINY_LFT)]
    train(args=[*fine, "--trainer.max_epochs", "1"])
    summary = evaluate(args=[*fine, "--ckpt_path",
                             str(tmp_path / "fine" / "checkpoints" / "last.ckpt")])
    assert summary["n"] == 20  # 5 test segments x 4 windows
    assert set(summary["per_class_f1"]) == {"rest", "seizure"}
