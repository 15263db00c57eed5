"""Sequence-to-sequence sleep staging: SleepDIFFormer and the braindecode baselines.

One harness trains every registered model with ``input="sequence"`` on batches of
``(B, E, C, T)`` sequences of 30-s epochs with one label per epoch. A model that has
``forward_train`` (SleepDIFFormer) returns logits, aligned features and a reconstruction and is
trained with :class:`eegkit.losses.sleepdifformer.SleepDIFFormerLoss`; the others return logits
only and are trained with label-smoothed cross-entropy.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from eegkit.losses.sleepdifformer import SleepDIFFormerLoss
from eegkit.models import model_info
from eegkit.tasks.classification import ClassificationTask


class SleepStagingTask(ClassificationTask):
    """Sleep staging of ``(B, E, C, T)`` sequences with a registered sequence model.

    Batches are dicts with ``x`` ``(B, E, C, T)``, ``y`` ``(B, E)`` and ``domain`` ``(B,)``
    (plus ``recording`` and ``position`` for hypnograms at prediction time). Dimensions not given
    are read from the datamodule (see :class:`~eegkit.tasks.classification.ClassificationTask`).

    Parameters
    ----------
    model : str
        A registered model with ``input="sequence"``. Models tagged ``"single_channel"``
        (AttnSleep) are built with one channel and get the first channel of ``x`` (the EEG).
    model_kwargs : dict, optional
        Extra constructor arguments of the model.
    w_align, w_rec : float
        Weights of the domain-alignment and reconstruction terms (SleepDIFFormer only; 0 turns a
        term off).
    label_smoothing : float
        Cross-entropy label smoothing.
    lr, weight_decay : float
        Optimiser settings.
    optimizer : {"adam", "adamw"}
        Adam by default (weight decay as an L2 penalty, as in the paper).
    scheduler : {"cosine", "none"}
        Cosine annealing over all training steps, or a constant rate.
    n_chans, n_outputs, n_times, sfreq : optional
        braindecode's constructor contract (``n_times`` is one epoch); taken from the datamodule
        when ``None``.
    class_names : list of str, optional
    ch_names, preprocessing : optional
        See :class:`~eegkit.tasks.classification.ClassificationTask`.
    seq_len : int, optional
        Epochs per training sequence; taken from the datamodule when ``None`` (prediction on a
        new recording groups its epochs the same way).
    """

    _FROM_DATA = (*ClassificationTask._FROM_DATA, "seq_len")

    def __init__(
        self,
        model: str = "sleepdifformer",
        model_kwargs: dict[str, Any] | None = None,
        w_align: float = 0.5,
        w_rec: float = 0.5,
        label_smoothing: float = 0.1,
        lr: float = 5e-4,
        weight_decay: float = 5e-5,
        scheduler: str = "cosine",
        optimizer: str = "adam",
        n_chans: int | None = None,
        n_outputs: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        class_names: list[str] | None = None,
        ch_names: list[str] | None = None,
        preprocessing: dict[str, Any] | None = None,
        seq_len: int | None = None,
    ):
        info = model_info(model)
        if info.get("input") != "sequence":
            raise ValueError(
                f"model {model!r} takes input={info.get('input')!r}; sleep staging needs a "
                "model registered with input='sequence' (e.g. 'attn_sleep_seq', 'usleep')"
            )
        self.single_channel = "single_channel" in info.get("tags", ())
        super().__init__(
            model=model, model_kwargs=model_kwargs, n_chans=n_chans, n_outputs=n_outputs,
            n_times=n_times, sfreq=sfreq, lr=lr, weight_decay=weight_decay,
            label_smoothing=label_smoothing, scheduler=scheduler, class_names=class_names,
            optimizer=optimizer, ch_names=ch_names, preprocessing=preprocessing,
        )

    def model_dims(self) -> dict[str, Any]:
        # a single-channel model is built with the EEG channel only; the hyper-parameters keep
        # the datamodule's channel count
        return {**super().model_dims(), **({"n_chans": 1} if self.single_channel else {})}

    def _build(self) -> None:
        super()._build()
        self.criterion = None
        if hasattr(self.net, "forward_train"):
            self.criterion = SleepDIFFormerLoss(
                self.hparams.w_align, self.hparams.w_rec, self.hparams.label_smoothing
            )

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :1] if self.single_channel else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, E, n_outputs)`` for a batch of sequences ``(B, E, C, T)``."""
        return self.net(self._input(x))

    def _step(self, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        x, y = self._input(batch["x"]), batch["y"]
        if self.criterion is None:
            logits = self.net(x)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(),
                                   label_smoothing=self.hparams.label_smoothing)
            return loss, {"ce": loss}, logits
        out = self.net.forward_train(x)
        loss, parts = self.criterion(out, y, batch["domain"], x)
        return loss, parts, out["logits"]

    def _log_losses(self, stage: str, loss, parts, batch_size: int) -> None:
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=batch_size,
                 sync_dist=stage == "val")
        self.log_dict({f"{stage}/{k}": v for k, v in parts.items()}, batch_size=batch_size,
                      sync_dist=stage == "val")

    def training_step(self, batch, batch_idx):
        loss, parts, _ = self._step(batch)
        self._log_losses("train", loss, parts, len(batch["y"]))
        return loss

    def validation_step(self, batch, batch_idx):
        loss, parts, logits = self._step(batch)
        # Metrics over every epoch of every sequence.
        self.val_metrics.update(logits.argmax(-1).flatten(), batch["y"].flatten())
        self._log_losses("val", loss, parts, len(batch["y"]))

    def test_step(self, batch, batch_idx):
        logits = self(batch["x"])
        self.test_metrics.update(logits.argmax(-1).flatten(), batch["y"].flatten())

    def predict_step(self, batch, batch_idx):
        """Per-epoch predictions, flattened, with where each epoch comes from.

        Returns ``y_pred`` and ``proba`` (class probabilities, ``(n, n_outputs)``), ``y_true``
        when the batch has labels (a new recording has none), ``recording`` and ``domain``
        (one entry per epoch) and ``position`` (an order key of the epoch within its
        recording) when the batch has them.
        """
        x = batch["x"]
        e = x.shape[1]
        proba = self(x).softmax(-1).flatten(0, 1)
        out = {"y_pred": proba.argmax(-1), "proba": proba}
        if "y" in batch:
            out["y_true"] = batch["y"].flatten()
        for key in ("recording", "domain"):
            if key in batch:
                out[key] = _per_epoch(batch[key], e).flatten()
        if "position" in batch:
            pos = batch["position"]
            if pos.dim() == 1:  # one start index per sequence: epochs follow in order
                pos = pos[:, None] * e + torch.arange(e, device=pos.device)
            out["position"] = pos.flatten()
        return out


def _per_epoch(value: torch.Tensor, n_epochs: int) -> torch.Tensor:
    value = torch.as_tensor(value)
    return value[:, None].expand(-1, n_epochs) if value.dim() == 1 else value
