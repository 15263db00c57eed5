"""EEGDM training: diffusion pretraining of the SSMDP backbone, then the LFT on its latents.

- :class:`EEGDMPretrainTask`: every channel of every ``(B, C, T)`` window is one single-channel
  training item (``B * C`` items, each tagged with its channel index); amplitudes are scaled
  to units of 100 µV and staged-µ-law compressed; v-prediction DDPM loss; weight EMA.
- latents of the frozen EMA backbone are cached by :mod:`eegkit.data.eegdm_latents`
  (:class:`~eegkit.data.eegdm_latents.EEGDMLatentDataModule`).
- :class:`EEGDMFinetuneTask`: the Latent Fusion Transformer on latents (from the latent
  datamodule, or computed on the fly from raw windows), with Cohen's κ, balanced accuracy and
  weighted F1 (plus AUROC / AUPRC for binary tasks), label smoothing, one-cycle schedule, EMA.
- mean ± sd over seeds: :func:`eegkit.metrics.seed_summary`.

Sampling rate: the backbone's S4D layers measure time in samples of ``train_sfreq`` (200 Hz,
EEGDM's rate). A window at another rate is fed as it is with ``rate = train_sfreq / sfreq``
(no resampling), and latents are pooled over 1-s windows of ``round(sfreq)`` samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision

from eegkit.diffusion import EMA, GaussianDiffusion
from eegkit.diffusion.mulaw import to_backbone_scale
from eegkit.metrics import classification_metrics
from eegkit.models.eegdm_lft import LatentFusionTransformer, extract_latents
from eegkit.models.eegdm_ssmdp import SSMDP
from eegkit.tasks.classification import dims_from_datamodule

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
        dims_from_datamodule(self, ("n_chans", "sfreq"), optional=())
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
    :class:`~eegkit.data.eegdm_latents.EEGDMLatentDataModule`) or raw windows ``(B, C, T)``,
    whose latents are then computed on the fly with the frozen backbone of ``backbone_ckpt``.

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
        dims_from_datamodule(self, ("n_outputs", "n_times", "sfreq"))
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
