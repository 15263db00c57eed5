"""EEGDM training: diffusion pretraining of the SSMDP backbone, then the LFT on its latents.

- :class:`EEGDMPretrainTask`: every channel of every ``(B, C, T)`` window is one single-channel
  training item (``B * C`` items, each tagged with its channel index); amplitudes are scaled
  to units of 100 µV and staged-µ-law compressed; v-prediction DDPM loss; weight EMA.
- :func:`cached_latents` / :class:`EEGDMLatentDataModule`: the frozen EMA backbone's latents
  of every window, computed once and kept on disk in float16, memory-mapped.
- :class:`EEGDMFinetuneTask`: the Latent Fusion Transformer on latents (from the latent
  datamodule, or computed on the fly from raw windows), with Cohen's κ, balanced accuracy and
  weighted F1 (plus AUROC / AUPRC for binary tasks), label smoothing, one-cycle schedule, EMA.
- :func:`seed_summary` / :func:`format_seed_table`: mean ± sd over seeds.

Sampling rate: the backbone's S4D layers measure time in samples of ``train_sfreq`` (200 Hz,
EEGDM's rate). A window at another rate is fed as it is with ``rate = train_sfreq / sfreq``
(no resampling), and latents are pooled over 1-s windows of ``round(sfreq)`` samples.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision

from eegkit.data.cache import ArrayCache, cache_key
from eegkit.diffusion import EMA, GaussianDiffusion, mu_law_encode
from eegkit.metrics import classification_metrics
from eegkit.models.eegdm_lft import LatentFusionTransformer, extract_latents
from eegkit.models.eegdm_ssmdp import SSMDP

#: Bump when the latent extraction changes, to invalidate cached latents.
LATENT_CACHE_VERSION = 1
REPORT_METRICS = ("kappa", "bacc", "weighted_f1")


def to_backbone_scale(x: torch.Tensor, scale: float, mu: float | None = 255.0) -> torch.Tensor:
    """Signals in the backbone's input units: ``x * scale`` (→ 100 µV), then staged µ-law."""
    x = x * scale
    return x if mu is None else mu_law_encode(x, mu)


def backbone_digest(backbone: torch.nn.Module) -> str:
    """A hash of the backbone's weights (part of the latent cache key)."""
    h = hashlib.sha256()
    for name, value in sorted(backbone.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Stage 1: diffusion pretraining
# --------------------------------------------------------------------------------------------


class EEGDMPretrainTask(L.LightningModule):
    """DDPM pretraining of the SSMDP backbone on single channels of ``(B, C, T)`` windows.

    Parameters
    ----------
    backbone_kwargs : dict, optional
        :class:`~eegkit.models.eegdm_ssmdp.SSMDP` settings (width, n_blocks, d_state, ...).
    n_chans, sfreq : optional
        Channel-embedding size and input rate; read from the datamodule when ``None``.
    train_sfreq : float
        The rate the S4D time constants refer to (rate = ``train_sfreq / sfreq``).
    scale : float
        Multiplier taking the data's units to 100 µV (1e4 for volts, 0.01 for µV).
    mu : float or None
        Staged µ-law constant (None: no companding).
    crop : int, optional
        Train on a random crop of this many samples per batch (None: whole windows).
    n_steps, schedule, prediction
        Diffusion settings (:class:`~eegkit.diffusion.GaussianDiffusion`).
    lr, weight_decay, betas
        AdamW settings.
    ema_decay, ema_start, ema_every
        Weight EMA (:class:`~eegkit.diffusion.EMA`); its copy is the backbone used downstream.
    """

    def __init__(
        self,
        backbone_kwargs: dict[str, Any] | None = None,
        n_chans: int | None = None,
        sfreq: float | None = None,
        train_sfreq: float = 200.0,
        scale: float = 1e4,
        mu: float | None = 255.0,
        crop: int | None = None,
        n_steps: int = 50,
        schedule: str = "squaredcos_cap_v2",
        prediction: str = "v",
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.99, 0.999),
        ema_decay: float = 0.999,
        ema_start: int = 100,
        ema_every: int = 10,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.diffusion = GaussianDiffusion(n_steps, schedule, prediction)
        self.backbone: SSMDP | None = None
        self.ema: EMA | None = None
        if n_chans is not None and sfreq is not None:
            self._build()

    def _build(self) -> None:
        hp = self.hparams
        self.backbone = SSMDP(n_channels=hp.n_chans, rate=hp.train_sfreq / hp.sfreq,
                              **(hp.backbone_kwargs or {}))
        self.ema = EMA(self.backbone, hp.ema_decay, hp.ema_start, hp.ema_every)

    def configure_model(self) -> None:
        if self.backbone is not None:
            return
        dm = getattr(self.trainer, "datamodule", None)
        for d in ("n_chans", "sfreq"):
            if getattr(self.hparams, d) is None:
                value = getattr(dm, d, None)
                if value is None:
                    raise ValueError(f"{d} is not set on the model and the datamodule has none")
                self.hparams[d] = value
        self._build()

    def single_channel_items(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, T)`` windows → ``(B*C, 1, T')`` scaled items and their channel indices."""
        hp = self.hparams
        if hp.crop is not None and x.shape[-1] > hp.crop:
            start = int(torch.randint(0, x.shape[-1] - hp.crop + 1, ()))
            x = x[..., start:start + hp.crop]
        b, c, n = x.shape
        items = to_backbone_scale(x, hp.scale, hp.mu).reshape(b * c, 1, n)
        return items, torch.arange(c, device=x.device).repeat(b)

    def training_step(self, batch, batch_idx):
        items, channels = self.single_channel_items(batch["x"])
        loss = self.diffusion.loss(self.backbone, items, channel=channels)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(items))
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.ema.update(self.backbone, self.global_step)

    def validation_step(self, batch, batch_idx):
        # Fixed steps and noise per batch: validation losses are comparable across epochs.
        items, channels = self.single_channel_items(batch["x"])
        g = torch.Generator(device=items.device).manual_seed(batch_idx)
        t = torch.randint(0, self.diffusion.n_steps, (len(items),), generator=g,
                          device=items.device)
        noise = torch.randn(items.shape, generator=g, device=items.device)
        loss = self.diffusion.loss(self.ema.model, items, t=t, noise=noise, channel=channels)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(items))

    def configure_optimizers(self):
        hp = self.hparams
        return torch.optim.AdamW(self.backbone.parameters(), lr=hp.lr,
                                 weight_decay=hp.weight_decay, betas=tuple(hp.betas))

    @torch.no_grad()
    def sample(self, n: int, length: int, channel: int = 0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` signals of ``length`` samples from the EMA backbone (backbone units)."""
        channels = torch.full((n,), channel, dtype=torch.long, device=self.device)
        return self.diffusion.sample(self.ema.model, (n, 1, length), generator=generator,
                                     device=self.device, channel=channels)


def load_backbone(checkpoint: str | Path) -> tuple[SSMDP, dict[str, Any]]:
    """The frozen EMA backbone of a pretraining checkpoint and the task's hyper-parameters."""
    task = EEGDMPretrainTask.load_from_checkpoint(checkpoint, map_location="cpu")
    backbone = task.ema.model.requires_grad_(False).eval()
    return backbone, dict(task.hparams)


# --------------------------------------------------------------------------------------------
# Latent extraction and cache
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def cached_latents(
    backbone: SSMDP,
    X: np.ndarray,
    sfreq: float,
    data_key: dict[str, Any],
    scale: float,
    mu: float | None = 255.0,
    train_sfreq: float = 200.0,
    t_extract: int = 1,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
) -> np.ndarray:
    """Latents ``(N, C, n_blocks, n_pools, width)`` float16 of windows ``X`` (N, C, T).

    Computed once, then memory-mapped from an :class:`~eegkit.data.cache.ArrayCache` entry keyed
    by ``data_key`` (what identifies ``X``: dataset, files, reader options), the backbone's
    weights and the extraction settings. The build streams through a temporary memory-mapped
    file, so it never holds all latents in memory.
    """
    pool_size = int(round(sfreq))
    rate = train_sfreq / sfreq
    settings = {"scale": scale, "mu": mu, "rate": rate, "t": t_extract, "pool": pool_size}
    key = cache_key(kind="eegdm-latents", data=data_key, shape=list(X.shape),
                    backbone=backbone_digest(backbone),
                    settings=settings, version=LATENT_CACHE_VERSION)
    cache = ArrayCache(cache_dir)

    def build():
        backbone.eval()
        n, c, length = X.shape
        shape = (n, c, backbone.n_blocks, length // pool_size, backbone.width)
        cache.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".eegdm-latents-", suffix=".npy", dir=cache.root)
        os.close(fd)
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=shape)
            for start in range(0, n, batch_size):
                x = torch.tensor(np.asarray(X[start:start + batch_size], dtype=np.float32))
                lat = extract_latents(backbone, to_backbone_scale(x, scale, mu), pool_size,
                                      t_extract, rate=rate)
                out[start:start + len(x)] = lat.numpy().astype(np.float16)
            out.flush()
            cache.save("eegdm-latents", key, {"latents": out}, {"shape": shape, **settings})
        finally:
            Path(tmp).unlink(missing_ok=True)
        return cache.load("eegdm-latents", key)

    arrays, _ = (cache.load("eegdm-latents", key) if cache.exists("eegdm-latents", key)
                 else build())
    return arrays["latents"]


class LatentDataset(Dataset):
    """Dict items ``{"x": latents (C, layers, pools, width) float32, "y", "subject"}``."""

    def __init__(self, latents: np.ndarray, y: np.ndarray, subject_code: np.ndarray,
                 index: np.ndarray):
        self.latents, self.y, self.subject_code, self.index = latents, y, subject_code, index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        j = self.index[i]
        return {
            "x": torch.from_numpy(np.asarray(self.latents[j], dtype=np.float32)),
            "y": torch.tensor(int(self.y[j]), dtype=torch.long),
            "subject": torch.tensor(int(self.subject_code[j]), dtype=torch.long),
        }


class EEGDMLatentDataModule(L.LightningDataModule):
    """A :class:`~eegkit.data.window_datamodule.WindowDataModule`'s splits, as backbone latents.

    Parameters
    ----------
    backbone_ckpt : str
        Pretraining checkpoint (:class:`EEGDMPretrainTask`); its EMA backbone, scale, µ and
        ``train_sfreq`` are used.
    dataset, path, protocol, val_fraction, test_fraction, seed, reader_kwargs, cache_dir
        As for the window datamodule (same split).
    batch_size, num_workers : int
    t_extract : int
        Diffusion step given to the backbone (EEGDM: 1, clean input).
    """

    def __init__(
        self,
        backbone_ckpt: str,
        dataset: str,
        path: str,
        protocol: str = "official",
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
        reader_kwargs: dict[str, Any] | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        t_extract: int = 1,
        cache_dir: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self._windows = None
        self.latents: np.ndarray | None = None
        self._datasets: dict[str, LatentDataset] = {}

    @property
    def windows(self):
        """The underlying window datamodule (same split), built on first use."""
        if self._windows is None:
            # Not built in __init__: Lightning's save_hyperparameters would read our frame.
            from eegkit.data.window_datamodule import WindowDataModule

            hp = self.hparams
            self._windows = WindowDataModule(
                hp.dataset, hp.path, hp.protocol, hp.val_fraction, hp.test_fraction,
                hp.batch_size, hp.num_workers, hp.seed, hp.reader_kwargs, normalize="none",
                cache_dir=hp.cache_dir)
        return self._windows

    n_chans = property(lambda self: self.windows.n_chans)
    n_times = property(lambda self: self.windows.n_times)
    sfreq = property(lambda self: self.windows.sfreq)
    n_outputs = property(lambda self: self.windows.n_outputs)
    class_names = property(lambda self: self.windows.class_names)

    def setup(self, stage: str | None = None) -> None:
        if self._datasets:
            return
        hp = self.hparams
        self.windows.setup(stage)
        w = self.windows.windows
        backbone, pre = load_backbone(hp.backbone_ckpt)
        data_key = {"dataset": hp.dataset, "path": str(Path(hp.path).resolve()),
                    "reader": hp.reader_kwargs or {}, "n": len(w)}
        self.latents = cached_latents(
            backbone, w.X, w.sfreq, data_key, pre["scale"], pre["mu"], pre["train_sfreq"],
            hp.t_extract, cache_dir=hp.cache_dir)
        _, subject_code = np.unique(w.subject, return_inverse=True)
        self._datasets = {name: LatentDataset(self.latents, w.y, subject_code, idx)
                          for name, idx in self.windows.split_index.items()}

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """``(C, n_layers, n_pools, width)`` of one item."""
        self.setup()
        return tuple(self.latents.shape[1:])

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        self.setup()
        return DataLoader(self._datasets[name], batch_size=self.hparams.batch_size,
                          shuffle=shuffle, num_workers=self.hparams.num_workers)

    def train_dataloader(self):
        return self._loader("train", True)

    def val_dataloader(self):
        return self._loader("val", False)

    def test_dataloader(self):
        return self._loader("test", False)

    def predict_dataloader(self):
        return self._loader("test", False)


# --------------------------------------------------------------------------------------------
# Stage 2: Latent Fusion Transformer
# --------------------------------------------------------------------------------------------


def eegdm_metrics(n_classes: int, prefix: str = "") -> tuple[MetricCollection, MetricCollection]:
    """Label metrics (κ, balanced accuracy, weighted F1, ...) and score metrics.

    The score collection holds AUROC and AUPRC of the positive class for binary tasks and is
    empty otherwise.
    """
    scores = {}
    if n_classes == 2:
        scores = {"auroc": BinaryAUROC(), "auprc": BinaryAveragePrecision()}
    return classification_metrics(n_classes, prefix), MetricCollection(scores, prefix=prefix)


class EEGDMFinetuneTask(L.LightningModule):
    """The LFT on backbone latents: EEGDM's classification stage.

    Batches hold either latents ``(B, C, layers, pools, width)`` (from
    :class:`EEGDMLatentDataModule`) or raw windows ``(B, C, T)``, whose latents are then
    computed on the fly with the frozen backbone of ``backbone_ckpt``.

    Parameters
    ----------
    backbone_ckpt : str
        Pretraining checkpoint: sizes the LFT, and extracts latents from raw windows.
    n_outputs, n_times, sfreq : optional
        Classes and window layout; read from the datamodule when ``None``.
    lft_kwargs : dict, optional
        :class:`~eegkit.models.eegdm_lft.LatentFusionTransformer` settings.
    merge_classes : list of int, optional
        New class of every original class (``[0, 0, 0, 0, 1]``: the last one against the rest).
    class_names : list of str, optional
    class_weights : list of float, optional
        Cross-entropy weight per (merged) class, e.g. a positive-class weight for rare seizures.
    label_smoothing, lr, start_lr, warmup, weight_decay, betas
        Cross-entropy and AdamW with a one-cycle schedule from ``start_lr`` to the peak ``lr``
        over a ``warmup`` fraction of the steps; biases, norms and tokens get no weight decay.
    ema_decay : float or None
        Weight EMA of the LFT (evaluated with the EMA weights); None disables it.
    t_extract : int
        Diffusion step for on-the-fly latents.
    """

    def __init__(
        self,
        backbone_ckpt: str,
        n_outputs: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        lft_kwargs: dict[str, Any] | None = None,
        merge_classes: list[int] | None = None,
        class_names: list[str] | None = None,
        class_weights: list[float] | None = None,
        label_smoothing: float = 0.1,
        lr: float = 5e-4,
        start_lr: float = 1e-5,
        warmup: float = 0.1,
        weight_decay: float = 0.05,
        betas: tuple[float, float] = (0.9, 0.98),
        ema_decay: float | None = 0.999,
        t_extract: int = 1,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.backbone: SSMDP | None = None
        self.lft: LatentFusionTransformer | None = None
        self.ema: EMA | None = None
        if None not in (n_outputs, n_times, sfreq):
            self._build()

    def _build(self) -> None:
        hp = self.hparams
        backbone, pre = load_backbone(hp.backbone_ckpt)
        # Kept outside the module tree: frozen, not trained, not saved in our checkpoints.
        self.__dict__["backbone"] = backbone
        self.pretrain_hparams = pre
        pool_size = int(round(hp.sfreq))
        self.lft = LatentFusionTransformer(
            self.n_classes, n_layers=backbone.n_blocks, n_pools=hp.n_times // pool_size,
            width=backbone.width, **(hp.lft_kwargs or {}))
        if hp.ema_decay is not None:
            self.ema = EMA(self.lft, hp.ema_decay, start_step=0, every=1)
        self.val_metrics, self.val_scores = eegdm_metrics(self.n_classes, "val/")
        self.test_metrics, self.test_scores = eegdm_metrics(self.n_classes, "test/")

    @property
    def n_classes(self) -> int:
        merge = self.hparams.merge_classes
        return self.hparams.n_outputs if merge is None else max(merge) + 1

    def configure_model(self) -> None:
        if self.lft is not None:
            return
        dm = getattr(self.trainer, "datamodule", None)
        for d in ("n_outputs", "n_times", "sfreq", "class_names"):
            if getattr(self.hparams, d) is None:
                value = getattr(dm, d, None)
                if value is None and d != "class_names":
                    raise ValueError(f"{d} is not set on the model and the datamodule has none")
                self.hparams[d] = value
        self._build()

    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """Pass latents through; compute them from raw windows ``(B, C, T)``."""
        if x.dim() == 5:
            return x
        pre = self.pretrain_hparams
        self.backbone.to(x.device)
        with torch.no_grad():
            scaled = to_backbone_scale(x, pre["scale"], pre["mu"])
            return extract_latents(self.backbone, scaled, int(round(self.hparams.sfreq)),
                                   self.hparams.t_extract,
                                   rate=pre["train_sfreq"] / self.hparams.sfreq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits; the EMA weights outside training when EMA is on."""
        lft = self.ema.model if (self.ema is not None and not self.training) else self.lft
        return lft(self.latents(x))

    def _targets(self, y: torch.Tensor) -> torch.Tensor:
        merge = self.hparams.merge_classes
        return y if merge is None else torch.as_tensor(merge, device=y.device)[y]

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        weight = self.hparams.class_weights
        if weight is not None:
            weight = torch.as_tensor(weight, dtype=logits.dtype, device=logits.device)
        return F.cross_entropy(logits, y, weight=weight,
                               label_smoothing=self.hparams.label_smoothing)

    def training_step(self, batch, batch_idx):
        y = self._targets(batch["y"])
        loss = self._loss(self(batch["x"]), y)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(y))
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.ema is not None:
            self.ema.update(self.lft, self.global_step)

    def _evaluate(self, batch, labels: MetricCollection, scores: MetricCollection):
        y = self._targets(batch["y"])
        logits = self(batch["x"])
        labels.update(logits.argmax(-1), y)
        if len(scores):
            scores.update(logits.softmax(-1)[:, 1], y)
        return self._loss(logits, y)

    def validation_step(self, batch, batch_idx):
        loss = self._evaluate(batch, self.val_metrics, self.val_scores)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch["y"]))

    def on_validation_epoch_end(self):
        self.log_dict({**self.val_metrics.compute(), **self.val_scores.compute()}, prog_bar=True)
        self.val_metrics.reset()
        self.val_scores.reset()

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, self.test_metrics, self.test_scores)

    def on_test_epoch_end(self):
        self.log_dict({**self.test_metrics.compute(), **self.test_scores.compute()})
        self.test_metrics.reset()
        self.test_scores.reset()

    def predict_step(self, batch, batch_idx):
        return {"y_true": self._targets(batch["y"]), "y_pred": self(batch["x"]).argmax(-1)}

    def configure_optimizers(self):
        hp = self.hparams
        decay, no_decay = [], []
        for name, p in self.lft.named_parameters():
            # fusion tokens, positional embedding, biases and norm scales are not decayed
            (no_decay if p.dim() < 2 or "token" in name or "embedding" in name
             else decay).append(p)
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": hp.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}], lr=hp.lr, betas=tuple(hp.betas))
        steps = max(2, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=hp.lr, total_steps=steps, pct_start=hp.warmup,
            div_factor=hp.lr / hp.start_lr, anneal_strategy="cos")
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


# --------------------------------------------------------------------------------------------
# Reporting over seeds
# --------------------------------------------------------------------------------------------


def seed_summary(results: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """Mean and sample standard deviation of every metric over runs (one dict per seed)."""
    if not results:
        raise ValueError("no results to summarise")
    keys = [k for k in results[0] if all(k in r for r in results)]
    out = {}
    for k in keys:
        values = np.array([r[k] for r in results], dtype=np.float64)
        out[k] = (float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0)
    return out


def format_seed_table(rows: dict[str, dict[str, tuple[float, float]]],
                      metrics: tuple[str, ...] = REPORT_METRICS) -> str:
    """A markdown table: one row per method, ``mean ± sd`` in % per metric."""
    lines = ["| method | " + " | ".join(metrics) + " |",
             "|---|" + "---|" * len(metrics)]
    for name, summary in rows.items():
        cells = [f"{100 * summary[m][0]:.2f} ± {100 * summary[m][1]:.2f}" if m in summary
                 else "–" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
