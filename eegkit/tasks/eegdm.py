"""EEGDM training: diffusion pretraining of the SSMDP backbone, then the LFT on its latents.

- :class:`EEGDMPretrainTask`: every channel of every ``(B, C, T)`` window is one single-channel
  training item (``B * C`` items, each tagged with its channel index); amplitudes are scaled
  to units of 100 µV and staged-µ-law compressed; v-prediction DDPM loss; weight EMA.
- latents of the frozen EMA backbone are cached by :mod:`eegkit.tasks.eegdm_latents`
  (:class:`~eegkit.tasks.eegdm_latents.EEGDMLatentDataModule`).
- :class:`EEGDMFinetuneTask`: the Latent Fusion Transformer on latents (from the latent
  datamodule, or computed on the fly from raw windows), with Cohen's κ, balanced accuracy and
  weighted F1 (plus AUROC / AUPRC for binary tasks), label smoothing (cross-entropy, or BCE
  with a positive-class weight for binary tasks such as CHB-MIT), one-cycle schedule, EMA.
- :class:`DelayedEarlyStopping`: EEGDM's "patience 3 after epoch 20".
- mean ± sd over seeds: :func:`eegkit.metrics.seed_summary`.

Both tasks update their weight EMA once per optimiser step, so gradient accumulation does not
multiply the updates.

Sampling rate: the backbone's S4D layers measure time in samples of ``train_sfreq`` (200 Hz,
EEGDM's rate). A window at another rate is fed as it is with ``rate = train_sfreq / sfreq``
(no resampling), and latents are pooled over 1-s windows of ``round(sfreq)`` samples.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import EarlyStopping
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision

from eegkit.diffusion import EMA, GaussianDiffusion
from eegkit.metrics import classification_metrics
from eegkit.models.eegdm_lft import LatentFusionTransformer, raw_latents
from eegkit.models.eegdm_ssmdp import SSMDP, backbone_record, load_backbone
from eegkit.tasks.classification import (
    dims_from_datamodule,
    merge_targets,
    merged_classes,
    training_labels,
)
from eegkit.tasks.schedules import with_schedule


class DelayedEarlyStopping(EarlyStopping):
    """Early stopping that neither counts patience nor stops before ``start_epoch``.

    EEGDM stops "with patience 3 after epoch 20". Lightning's ``EarlyStopping`` with
    ``Trainer(min_epochs=20)`` is not that: it counts patience (and keeps its best score) from
    the first epoch and only defers the stop, so a run whose best epoch was early stops at once
    at epoch 20. Here epochs ``0 .. start_epoch - 1`` (Lightning's 0-based ``current_epoch``)
    are not looked at; tracking of the best score and patience begin at ``start_epoch``.

    Parameters
    ----------
    monitor, mode, patience
        As for :class:`lightning.pytorch.callbacks.EarlyStopping`.
    start_epoch : int
        First epoch that is checked.
    **kwargs
        Other :class:`~lightning.pytorch.callbacks.EarlyStopping` options.
    """

    def __init__(self, monitor: str, mode: str = "min", patience: int = 3,
                 start_epoch: int = 20, **kwargs: Any):
        super().__init__(monitor=monitor, mode=mode, patience=patience, **kwargs)
        self.start_epoch = start_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch >= self.start_epoch:
            super().on_train_epoch_end(trainer, pl_module)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch >= self.start_epoch:
            super().on_validation_end(trainer, pl_module)


class _StepEMATask(L.LightningModule):
    """Updates ``self.ema`` (if any) from the module named by :attr:`ema_of` once per step.

    ``on_train_batch_end`` runs per micro-batch; with ``accumulate_grad_batches > 1`` only some
    micro-batches end with an optimiser step, so the average is updated only when
    ``global_step`` (the count of optimiser steps done) has moved since the last update.
    """

    ema_of: str  # attribute holding the averaged module
    ema: EMA | None
    _ema_step = 0  # global_step of the last update

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None and self.global_step != self._ema_step:
            self._ema_step = self.global_step
            self.ema.update(getattr(self, self.ema_of), self.global_step)


# --------------------------------------------------------------------------------------------
# Stage 1: diffusion pretraining
# --------------------------------------------------------------------------------------------


class EEGDMPretrainTask(_StepEMATask):
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
        Staged µ-law constant (None: no companding). ``scale``, ``mu`` and ``train_sfreq`` are
        stored on the backbone (:meth:`SSMDP.prepare_input`), so every later use of it
        transforms its input the same way.
    crop : int, optional
        Train on a random crop of this many samples per batch (None: whole windows).
    n_steps, schedule, prediction
        Diffusion settings (:class:`~eegkit.diffusion.GaussianDiffusion`).
    lr, weight_decay, betas
        AdamW settings.
    ema_decay, ema_start, ema_every
        Weight EMA (:class:`~eegkit.diffusion.EMA`), updated once per optimiser step; its copy
        is the backbone used downstream.
    """

    ema_of = "backbone"

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
                              scale=hp.scale, mu=hp.mu, train_sfreq=hp.train_sfreq,
                              **(hp.backbone_kwargs or {}))
        self.ema = EMA(self.backbone, hp.ema_decay, hp.ema_start, hp.ema_every)

    def configure_model(self) -> None:
        if self.backbone is not None:
            return
        dims_from_datamodule(self, ("n_chans", "sfreq"), optional=())
        self._build()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Checkpoints written before the last block lost its residual projection hold its
        # (never trained) weights; drop them so that they load.
        last = f".blocks.{self.backbone.n_blocks - 1}.res_proj."
        state = checkpoint["state_dict"]
        for key in [k for k in state if last in k]:
            del state[key]

    def single_channel_items(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, T)`` windows → ``(B*C, 1, T')`` scaled items and their channel indices."""
        hp = self.hparams
        if hp.crop is not None and x.shape[-1] > hp.crop:
            start = int(torch.randint(0, x.shape[-1] - hp.crop + 1, ()))
            x = x[..., start:start + hp.crop]
        b, c, n = x.shape
        items = self.backbone.prepare_input(x).reshape(b * c, 1, n)
        return items, torch.arange(c, device=x.device).repeat(b)

    def training_step(self, batch, batch_idx):
        items, channels = self.single_channel_items(batch["x"])
        loss = self.diffusion.loss(self.backbone, items, channel=channels)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(items))
        return loss

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


def eegdm_metrics(n_classes: int, prefix: str = "") -> tuple[MetricCollection, MetricCollection]:
    """Label metrics (κ, balanced accuracy, weighted F1, ...) and score metrics.

    The score collection holds AUROC and AUPRC of the positive class for binary tasks and is
    empty otherwise.
    """
    scores = {}
    if n_classes == 2:
        scores = {"auroc": BinaryAUROC(), "auprc": BinaryAveragePrecision()}
    return classification_metrics(n_classes, prefix), MetricCollection(scores, prefix=prefix)


#: Checkpoint key of the frozen backbone an EEGDM LFT checkpoint carries.
EMBEDDED_BACKBONE = "eegdm_backbone"


class EEGDMFinetuneTask(_StepEMATask):
    """The LFT on backbone latents: EEGDM's classification stage.

    Batches hold either latents ``(B, C, layers, pools, width)`` (from
    :class:`~eegkit.tasks.eegdm_latents.EEGDMLatentDataModule`) or raw windows ``(B, C, T)``,
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
        Cross-entropy weight per (merged) class (``loss="ce"``).
    loss : {"ce", "bce"}
        Cross-entropy over ``n_classes`` logits, or (binary tasks) binary cross-entropy on one
        logit, the positive class weighted by ``pos_weight``.
    pos_weight : float or "auto" or None
        BCE positive-class weight; ``"auto"``: negatives / positives of the training split
        (from the datamodule's ``train_labels``, after ``merge_classes``).
    label_smoothing, lr, start_lr, warmup, weight_decay, betas
        Label smoothing ε (BCE: targets ``y (1 - ε) + ε / 2``, the two-class analogue) and
        AdamW with a one-cycle schedule from ``start_lr`` to the peak ``lr`` over a ``warmup``
        fraction of the steps; biases, norms and tokens get no weight decay.
    ema_decay, ema_start, ema_every
        Weight EMA of the LFT (evaluated with the EMA weights), updated once per optimiser
        step: an exact copy for the first ``ema_start`` steps, then averaged every
        ``ema_every`` steps; ``ema_decay=None`` disables it.
    t_extract : int
        Diffusion step for on-the-fly latents.
    channel_map : list of int, optional
        Backbone channel-embedding index of every data channel for on-the-fly latents (default:
        the position), e.g. :data:`eegkit.data.pipelines.events.CHBMIT_TCP_INDEX` for CHB-MIT
        windows on a TUEV-pretrained backbone.
    n_chans, ch_names, preprocessing : optional
        The input the model was trained on (read from the datamodule when ``None``), so that
        ``eegkit predict`` reads the same channels and repeats the conditioning
        (:func:`eegkit.inference.predict_windows`).
    """

    ema_of = "lft"

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
        loss: str = "ce",
        pos_weight: float | str | None = None,
        label_smoothing: float = 0.1,
        lr: float = 5e-4,
        start_lr: float = 1e-5,
        warmup: float = 0.1,
        weight_decay: float = 0.05,
        betas: tuple[float, float] = (0.9, 0.98),
        ema_decay: float | None = 0.999,
        ema_start: int = 100,
        ema_every: int = 10,
        t_extract: int = 1,
        channel_map: list[int] | None = None,
        n_chans: int | None = None,
        ch_names: list[str] | None = None,
        preprocessing: dict[str, Any] | None = None,
    ):
        super().__init__()
        if loss not in ("ce", "bce"):
            raise ValueError(f"loss must be 'ce' or 'bce', got {loss!r}")
        self.save_hyperparameters()
        self.backbone: SSMDP | None = None
        self.lft: LatentFusionTransformer | None = None
        self.ema: EMA | None = None
        if None not in (n_outputs, n_times, sfreq):
            self._build()

    def _build(self) -> None:
        hp = self.hparams
        backbone, self._backbone_hparams = load_backbone(hp.backbone_ckpt)
        # Kept outside the module tree: frozen and not trained; checkpoints carry it apart
        # from the LFT's weights (on_save_checkpoint).
        self.__dict__["backbone"] = backbone
        if hp.loss == "bce" and self.n_classes != 2:
            raise ValueError(f"loss 'bce' needs two classes, got {self.n_classes}")
        self.pos_weight = self._pos_weight()
        pool_size = int(round(hp.sfreq))
        self.lft = LatentFusionTransformer(
            1 if hp.loss == "bce" else self.n_classes, n_layers=backbone.n_blocks,
            n_pools=hp.n_times // pool_size, width=backbone.width, **(hp.lft_kwargs or {}))
        if hp.ema_decay is not None:
            self.ema = EMA(self.lft, hp.ema_decay, hp.ema_start, hp.ema_every)
        self.val_metrics, self.val_scores = eegdm_metrics(self.n_classes, "val/")
        self.test_metrics, self.test_scores = eegdm_metrics(self.n_classes, "test/")

    @property
    def n_classes(self) -> int:
        return merged_classes(self.hparams.n_outputs, self.hparams.merge_classes)

    def _pos_weight(self) -> float | None:
        """The BCE positive-class weight (``"auto"``: from the training split's labels)."""
        weight = self.hparams.pos_weight
        if self.hparams.loss != "bce" or weight != "auto":
            return None if weight is None else float(weight)
        y = training_labels(self, self.hparams.merge_classes, "pos_weight='auto'")
        n_pos = int(y.sum())
        if n_pos == 0:
            raise ValueError("pos_weight='auto': the training split has no positive window")
        return (len(y) - n_pos) / n_pos

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # the frozen backbone travels with the LFT: eegkit.inference.load_model uses it when
        # the backbone_ckpt path does not exist (another machine, a moved run folder)
        if self.backbone is not None:
            checkpoint[EMBEDDED_BACKBONE] = backbone_record(self.backbone,
                                                            self._backbone_hparams)

    def configure_model(self) -> None:
        if self.lft is not None:
            return
        dims_from_datamodule(self, ("n_outputs", "n_times", "sfreq"),
                             ("class_names", "n_chans", "ch_names", "preprocessing"))
        self._build()

    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """Pass latents through; compute them from raw windows ``(B, C, T)``."""
        if x.dim() == 5:
            return x
        self.backbone.to(x.device)
        with torch.no_grad():
            return raw_latents(self.backbone, x, self.hparams.sfreq, self.hparams.t_extract,
                               self.hparams.channel_map)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits; the EMA weights outside training when EMA is on."""
        lft = self.ema.model if (self.ema is not None and not self.training) else self.lft
        return lft(self.latents(x))

    def _targets(self, y: torch.Tensor) -> torch.Tensor:
        return merge_targets(y, self.hparams.merge_classes)

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        hp = self.hparams
        if hp.loss == "bce":
            target = y.to(logits.dtype) * (1 - hp.label_smoothing) + hp.label_smoothing / 2
            pos_weight = (None if self.pos_weight is None else
                          torch.tensor(self.pos_weight, dtype=logits.dtype, device=logits.device))
            return F.binary_cross_entropy_with_logits(logits[:, 0], target, pos_weight=pos_weight)
        weight = hp.class_weights
        if weight is not None:
            weight = torch.as_tensor(weight, dtype=logits.dtype, device=logits.device)
        return F.cross_entropy(logits, y, weight=weight, label_smoothing=hp.label_smoothing)

    def _decide(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted classes and the positive-class probability (binary tasks)."""
        if self.hparams.loss == "bce":
            return (logits[:, 0] > 0).long(), torch.sigmoid(logits[:, 0])
        return logits.argmax(-1), logits.softmax(-1)[:, 1]

    def training_step(self, batch, batch_idx):
        y = self._targets(batch["y"])
        loss = self._loss(self(batch["x"]), y)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(y))
        return loss

    def _evaluate(self, batch, labels: MetricCollection, scores: MetricCollection):
        y = self._targets(batch["y"])
        logits = self(batch["x"])
        predicted, positive = self._decide(logits)
        labels.update(predicted, y)
        if len(scores):
            scores.update(positive, y)
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

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, n_classes)``; a BCE head's one logit gives ``[1 - p, p]``."""
        if self.hparams.loss == "bce":
            positive = torch.sigmoid(logits[:, 0])
            return torch.stack([1 - positive, positive], dim=-1)
        return logits.softmax(-1)

    def predict_step(self, batch, batch_idx):
        """``y_pred`` and class probabilities ``proba`` per window, plus ``y_true`` when the
        batch has labels (a new recording has none), as every eegkit task returns them."""
        logits = self(batch["x"])
        out = {"y_pred": self._decide(logits)[0], "proba": self.probabilities(logits)}
        if "y" in batch:
            out["y_true"] = self._targets(batch["y"])
        return out

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
        return with_schedule(opt, "onecycle", self.trainer.estimated_stepping_batches,
                             hp.warmup, hp.start_lr)
