"""EEGDM Lightning stages end to end on a tiny Bonn-format folder, and the latent cache."""

from __future__ import annotations

import csv

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from lightning.pytorch.callbacks import EarlyStopping
from torch.utils.data import DataLoader

from eegkit.cli.predict import main as predict_main
from eegkit.data.datamodules.windows import WindowDataModule
from eegkit.data.pipelines.events import CHBMIT_TCP_INDEX
from eegkit.data.types import DataError
from eegkit.diffusion import mu_law_encode
from eegkit.inference import load_model
from eegkit.metrics import seed_summary
from eegkit.models import create_model
from eegkit.models.eegdm_lft import extract_latents
from eegkit.reports import format_seed_table
from eegkit.tasks.eegdm import (
    EMBEDDED_BACKBONE,
    DelayedEarlyStopping,
    EEGDMFinetuneTask,
    EEGDMPretrainTask,
    load_backbone,
)
from eegkit.tasks.eegdm_latents import EEGDMLatentDataModule, cached_latents
from tests._edf_fixtures import noise, write_recording
from tests.conftest import REPO

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
            (root / s / f"{s}{i:03d}{ext}").write_text(
                "".join(f"{v}\n" for v in x.astype(int)))
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
    # the pretraining input transform travels with the backbone
    assert (backbone.scale, backbone.mu, backbone.train_sfreq) == (0.01, 255.0, 200.0)
    for a, b in zip(backbone.parameters(), task.ema.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert not any(p.requires_grad for p in backbone.parameters())
    sample = task.sample(2, 64, generator=torch.Generator().manual_seed(0))
    assert sample.shape == (2, 1, 64) and torch.isfinite(sample).all()


def test_checkpoints_with_the_old_last_residual_projection_still_load(pretrained, tmp_path):
    _, ckpt = pretrained
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=False)
    for prefix in ("backbone", "ema.model"):  # as written before the projection was removed
        checkpoint["state_dict"][f"{prefix}.blocks.1.res_proj.weight"] = torch.zeros(8, 8)
        checkpoint["state_dict"][f"{prefix}.blocks.1.res_proj.bias"] = torch.zeros(8)
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    backbone, _ = load_backbone(old)
    for a, b in zip(backbone.parameters(), load_backbone(ckpt)[0].parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_a_bad_backbone_checkpoint_is_named_with_the_problem(pretrained, tmp_path):
    _, ckpt = pretrained
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(ckpt.read_bytes()[:2000])
    with pytest.raises(DataError, match="cut.ckpt: not a readable checkpoint"):
        load_backbone(cut)
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=False)
    classifier = tmp_path / "classifier.ckpt"  # hyper-parameters of another task
    torch.save({**checkpoint, "hyper_parameters": {"n_outputs": 5}}, classifier)
    with pytest.raises(DataError, match="classifier.ckpt: not an EEGDM pretraining checkpoint "
                                        r"\(hyper-parameters lack n_chans, sfreq"):
        load_backbone(classifier)
    no_ema = tmp_path / "no_ema.ckpt"
    torch.save({**checkpoint, "state_dict": {k: v for k, v in checkpoint["state_dict"].items()
                                             if not k.startswith("ema.")}}, no_ema)
    with pytest.raises(DataError, match="no_ema.ckpt: .* \\(no EMA backbone weights\\)"):
        load_backbone(no_ema)


def test_a_zero_step_checkpoint_holds_the_untrained_backbone(bonn_folder, tmp_path):
    """The random-init control of benchmarks/eegdm_bonn.py: fit for 0 steps, then save."""
    dm = WindowDataModule("bonn", str(bonn_folder), "group", 0.25, 0.25, batch_size=8,
                          reader_kwargs={"chunk": CHUNK}, cache_dir=str(tmp_path / "cache"))
    kw = {"n_chans": dm.n_chans, "sfreq": dm.sfreq, "scale": 0.01, "crop": 256}
    L.seed_everything(3)
    task = EEGDMPretrainTask(TINY_BACKBONE, **kw)
    trainer = _trainer(tmp_path, max_steps=0, limit_val_batches=0, num_sanity_val_steps=0,
                       enable_checkpointing=False)
    trainer.fit(task, dm)
    trainer.save_checkpoint(tmp_path / "random.ckpt")
    backbone, hp = load_backbone(tmp_path / "random.ckpt")
    L.seed_everything(3)
    init = EEGDMPretrainTask(TINY_BACKBONE, **kw).backbone
    for a, b in zip(backbone.parameters(), init.parameters(), strict=True):
        assert torch.equal(a, b)
    assert (backbone.scale, hp["crop"]) == (0.01, 256)


def test_latent_cache_is_float16_memmapped_and_keyed(pretrained, tmp_path):
    _, ckpt = pretrained
    backbone, _ = load_backbone(ckpt)
    X = np.random.default_rng(0).standard_normal((3, 1, 400)).astype(np.float32) * 50
    kw = {"sfreq": 200.0, "data_key": {"name": "x"}, "cache_dir": tmp_path}
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
    raw = torch.from_numpy(np.asarray(dm.windows.X[:4], dtype=np.float32))
    on_the_fly = task.latents(raw)
    torch.testing.assert_close(on_the_fly, torch.from_numpy(
        np.asarray(dm.latents[:4], dtype=np.float32)), atol=2e-3, rtol=1e-2)
    out = trainer.predict(task, dm)
    y_true = torch.cat([o["y_true"] for o in out])
    assert set(y_true.tolist()) <= {0, 1} and 1 in y_true.tolist()
    proba = torch.cat([o["proba"] for o in out])
    assert proba.shape == (len(y_true), 2)
    torch.testing.assert_close(proba.sum(-1), torch.ones(len(y_true)))
    assert torch.equal(torch.cat([o["y_pred"] for o in out]), proba.argmax(-1))
    # a new recording has no labels: the same probabilities, no y_true
    unlabelled = task.predict_step({"x": raw}, 0)
    assert "y_true" not in unlabelled and unlabelled["proba"].shape == (4, 2)
    # val_fraction=0 (a refit): the same test split, training on train + validation
    refit = EEGDMLatentDataModule(str(ckpt), "bonn", str(bonn_folder), protocol="group",
                                  val_fraction=0.0, test_fraction=0.25, batch_size=8,
                                  reader_kwargs={"chunk": CHUNK}, cache_dir=str(tmp_path / "cache"))
    refit.setup()
    assert not refit.has_validation and refit.val_dataloader() == []
    split = dm.split_index
    assert np.array_equal(refit.split_index["test"], split["test"])
    assert len(refit.train_labels) == len(split["train"]) + len(split["val"])


def test_eegkit_predict_applies_a_finetuned_eegdm_checkpoint_to_an_edf(bonn_folder, pretrained,
                                                                      tmp_path):
    """The LFT checkpoint records its input (one channel "EEG" at 173.61 Hz, 870 samples) and
    labels new recordings through the backbone it was trained on, which it carries; an old
    checkpoint without that copy says which backbone file is missing."""
    _, ckpt = pretrained
    dm = _datamodule(bonn_folder, ckpt, tmp_path / "cache")
    task = EEGDMFinetuneTask(str(ckpt), lft_kwargs=TINY_LFT, merge_classes=[0, 0, 0, 0, 1],
                             class_names=["rest", "seizure"])
    trainer = _trainer(tmp_path, max_steps=1, enable_checkpointing=False)
    trainer.fit(task, dm)
    lft_ckpt = tmp_path / "lft.ckpt"
    trainer.save_checkpoint(lft_ckpt)

    model = load_model(lft_ckpt)
    assert isinstance(model, EEGDMFinetuneTask) and not model.training
    assert (model.hparams.n_chans, model.hparams.ch_names) == (1, ["EEG"])
    edf = write_recording(tmp_path / "new.edf", {"EEG": noise(12 * 200, 1, 50e-6)}, sfreq=200.0)
    written = predict_main(["--ckpt", str(lft_ckpt), "--input", str(edf),
                            "--out", str(tmp_path / "out")])
    assert [p.name for p in written] == ["new_windows.csv", "new_windows.edf"]
    rows = list(csv.DictReader(open(tmp_path / "out" / "new_windows.csv")))
    assert len(rows) == 3  # two 5.01-s windows and one aligned to the end of the 12 s
    assert {r["label"] for r in rows} <= {"rest", "seizure"}
    for r in rows:
        assert abs(float(r["p_rest"]) + float(r["p_seizure"]) - 1) < 1e-3

    # on another machine the recorded backbone path does not exist: the copy the checkpoint
    # carries is used, and gives the same probabilities
    saved = torch.load(lft_ckpt, weights_only=False)
    saved["hyper_parameters"]["backbone_ckpt"] = str(tmp_path / "moved.ckpt")
    torch.save(saved, tmp_path / "moved_lft.ckpt")
    moved = load_model(tmp_path / "moved_lft.ckpt")
    assert moved.hparams.backbone_ckpt != str(tmp_path / "moved.ckpt")
    x = torch.randn(3, 1, 870) * 50e-6
    with torch.no_grad():
        assert torch.equal(moved(x), model(x))
    # a checkpoint without the copy (written before eegkit embedded it) names the missing file
    del saved[EMBEDDED_BACKBONE]
    torch.save(saved, tmp_path / "orphan.ckpt")
    with pytest.raises(DataError, match="orphan.ckpt.*backbone checkpoint .*moved.ckpt"):
        load_model(tmp_path / "orphan.ckpt")


def test_registered_eegdm_takes_backbone_and_transform_from_the_checkpoint(pretrained):
    """Scale (µV → 100 µV), µ-law and the S4D rate come from the pretraining hyper-parameters."""
    _, ckpt = pretrained
    model = create_model("eegdm", n_chans=1, n_outputs=2, n_times=400, sfreq=200.0,
                         backbone_ckpt=str(ckpt), lft_kwargs=TINY_LFT)
    backbone, _ = load_backbone(ckpt)
    torch.manual_seed(0)
    uv = torch.randn(2, 1, 400) * 50
    uv[0, 0, 100] = 400.0  # 4 units of 100 µV: compressed by the staged µ-law
    # pretrained on 173.61-Hz windows, applied at 200 Hz: rate 200 / 200, not backbone.rate
    reference = extract_latents(backbone, mu_law_encode(uv * 0.01), 200, rate=1.0)
    torch.testing.assert_close(model.latents(uv), reference)
    assert model(uv).shape == (2, 2)


class _Scripted(L.LightningModule):
    """Logs ``val/kappa = values[epoch]`` and counts the epochs it trained."""

    def __init__(self, values):
        super().__init__()
        self.values, self.epochs = values, 0
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch).sum()

    def on_train_epoch_end(self):
        self.epochs += 1

    def validation_step(self, batch, batch_idx):
        self.log("val/kappa", self.values[self.current_epoch])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def test_early_stopping_counts_patience_only_from_start_epoch(tmp_path):
    # best at epoch 1; from epoch 5 on, best at 5 and no improvement for three epochs
    values = [0.5, 0.9, 0.3, 0.3, 0.3, 0.4, 0.35, 0.35, 0.35] + [0.35] * 6
    data = DataLoader(torch.zeros(1, 1))

    def run(callback, **kw):
        module = _Scripted(values)
        _trainer(tmp_path, max_epochs=len(values), callbacks=[callback],
                 enable_checkpointing=False, **kw).fit(module, data, data)
        return module.epochs

    # Lightning's EarlyStopping with min_epochs counts patience from the start: its patience
    # ran out at epoch 4 already, so it stops as soon as min_epochs allows
    plain = EarlyStopping(monitor="val/kappa", mode="max", patience=3)
    assert run(plain, min_epochs=5) == 5
    delayed = DelayedEarlyStopping(monitor="val/kappa", mode="max", patience=3, start_epoch=5)
    assert run(delayed) == 9  # epochs 0-8: best at 5, then 6, 7, 8 without improvement
    assert delayed.best_score.item() == pytest.approx(0.4)  # epoch 1's 0.9 was not seen


def _count_ema_updates(task, monkeypatch):
    steps = []
    update = task.ema.update
    monkeypatch.setattr(task.ema, "update",
                        lambda model, step: (steps.append(step), update(model, step)))
    return steps


def test_ema_updates_once_per_optimiser_step(pretrained, tmp_path, monkeypatch):
    _, ckpt = pretrained
    L.seed_everything(0)
    batches = [{"x": torch.randn(1, 200), "y": torch.tensor(i % 2)} for i in range(8)]
    tasks = (
        lambda: EEGDMPretrainTask(TINY_BACKBONE, n_chans=1, sfreq=200.0, ema_start=0,
                                  ema_every=1),
        lambda: EEGDMFinetuneTask(str(ckpt), n_outputs=2, n_times=200, sfreq=200.0,
                                  lft_kwargs=TINY_LFT, ema_start=0, ema_every=1),
    )
    for make in tasks:
        task = make()
        steps = _count_ema_updates(task, monkeypatch)
        _trainer(tmp_path, max_epochs=1, accumulate_grad_batches=2, enable_checkpointing=False,
                 limit_val_batches=0).fit(task, DataLoader(batches, batch_size=2))
        assert steps == [1, 2]  # 4 micro-batches, 2 optimiser steps
    # the LFT's average follows the spec: exact copy for 100 steps, then every 10 steps
    default = EEGDMFinetuneTask(str(ckpt), n_outputs=2, n_times=200, sfreq=200.0,
                                lft_kwargs=TINY_LFT)
    assert (default.ema.start_step, default.ema.every) == (100, 10)


def test_bce_with_pos_weight_from_the_training_split(bonn_folder, pretrained, tmp_path):
    _, ckpt = pretrained
    dm = _datamodule(bonn_folder, ckpt, tmp_path / "cache")
    L.seed_everything(0)
    task = EEGDMFinetuneTask(str(ckpt), lft_kwargs=TINY_LFT, merge_classes=[0, 0, 0, 0, 1],
                             loss="bce", pos_weight="auto", label_smoothing=0.1)
    trainer = _trainer(tmp_path, max_epochs=1, enable_checkpointing=False)
    trainer.fit(task, dm)
    seizure = dm.train_labels == 4  # set S, merged to the positive class
    assert 0 < seizure.sum() < len(seizure)
    assert task.pos_weight == pytest.approx((~seizure).sum() / seizure.sum())
    assert task.lft.head.out_features == 1  # one logit
    for name in ("val/bacc", "val/auroc", "val/auprc"):
        assert name in trainer.callback_metrics
    logits, y = torch.tensor([[2.0], [-1.0]]), torch.tensor([1, 0])
    expected = F.binary_cross_entropy_with_logits(
        logits[:, 0], torch.tensor([0.95, 0.05]), pos_weight=torch.tensor(task.pos_weight))
    torch.testing.assert_close(task._loss(logits, y), expected)
    assert task._decide(logits)[0].tolist() == [1, 0]
    proba = task.probabilities(logits)
    torch.testing.assert_close(proba[:, 1], torch.sigmoid(logits[:, 0]))
    torch.testing.assert_close(proba.sum(-1), torch.ones(2))
    with pytest.raises(ValueError, match="needs two classes"):
        EEGDMFinetuneTask(str(ckpt), n_outputs=5, n_times=870, sfreq=173.61, loss="bce")


def test_eegdm_configs_chbmit_protocol_and_no_outside_paths():
    configs = sorted((REPO / "configs" / "eegdm").glob("*.yaml"))
    for path in configs:
        text = path.read_text()
        assert "../shared" not in text and "specs/" not in text, path.name
        assert "path:" not in yaml.safe_load(text)["data"]["init_args"], path.name
    chbmit = yaml.safe_load((REPO / "configs/eegdm/chbmit_finetune.yaml").read_text())
    model, data = chbmit["model"]["init_args"], chbmit["data"]["init_args"]
    assert "tuev_pretrain" in model["backbone_ckpt"] == data["backbone_ckpt"]
    assert model["channel_map"] == data["channel_map"] == list(CHBMIT_TCP_INDEX)
    assert (model["loss"], model["pos_weight"]) == ("bce", "auto")
    assert chbmit["checkpoint"]["monitor"] == "val/bacc"
    (stopper,) = chbmit["trainer"]["callbacks"]
    assert stopper["class_path"].endswith("DelayedEarlyStopping")
    assert stopper["init_args"]["monitor"] == "val/bacc"
    assert data["protocol"] == "official" and data["reader_kwargs"]["test_subjects"]
    tuev = yaml.safe_load((REPO / "configs/eegdm/tuev_pretrain.yaml").read_text())
    assert tuev["data"]["init_args"]["reader_kwargs"] == {"unique_events": True}


@pytest.mark.parametrize("name", ["tuev_pretrain", "tuev_finetune", "chbmit_finetune"])
def test_gpu_sized_eegdm_configs_parse_and_need_a_data_path(name, tmp_path, monkeypatch):
    from eegkit.cli.app import make_cli

    monkeypatch.chdir(tmp_path)
    config = ["--config", str(REPO / "configs" / "eegdm" / f"{name}.yaml")]
    cli = make_cli(args=[*config, "--data.init_args.path", str(tmp_path),
                         "--trainer.logger", "false"])
    if name.endswith("finetune"):  # patience counted only from epoch 20
        assert isinstance(cli.trainer.early_stopping_callback, DelayedEarlyStopping)
        assert cli.trainer.early_stopping_callback.start_epoch == 20
    with pytest.raises(SystemExit):  # the data path has no default
        make_cli(args=config)


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

    from eegkit.cli.evaluate import evaluate
    from eegkit.cli.fit import train
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
