"""A LightningModule that trains any registered model as a window classifier."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from eegkit.metrics import classification_metrics
from eegkit.models import create_model

_DIMS = ("n_chans", "n_outputs", "n_times", "sfreq")
_OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}


def dims_from_datamodule(module: L.LightningModule, required: tuple[str, ...],
                         optional: tuple[str, ...] = ("class_names",)) -> None:
    """Fill the module's unset hyper-parameters from its trainer's datamodule attributes.

    Called from ``configure_model``: what the config leaves out (``n_chans``, ``sfreq``...) is
    read from the data, then stored in the hyper-parameters so a checkpoint rebuilds itself.
    A module without a trainer (``load_from_checkpoint`` also calls ``configure_model``) has
    no datamodule to read.
    """
    dm = getattr(module._trainer, "datamodule", None)
    for name in (*required, *optional):
        # .get: under LightningCLI the hyper-parameters are the config's arguments, and a
        # subclass (AdaCE) may not take every optional one
        if module.hparams.get(name) is None:
            value = getattr(dm, name, None)
            if value is None and name in required:
                raise ValueError(f"{name} is not set on the model and the datamodule has none")
            module.hparams[name] = value


class ClassificationTask(L.LightningModule):
    """Supervised classification of ``(B, C, T)`` windows with a registered model.

    Input dimensions that are not given are read from the datamodule (its ``n_chans``,
    ``n_times``, ``sfreq``, ``n_outputs``, ``class_names`` and ``ch_names`` attributes) when
    Lightning calls :meth:`configure_model`, and stored in the hyper-parameters, so a checkpoint
    rebuilds itself and knows the input it expects (:func:`eegkit.predict.load_model`).

    Parameters
    ----------
    model : str
        Name in :func:`eegkit.models.list_models`.
    model_kwargs : dict, optional
        Extra constructor arguments of the model.
    n_chans, n_outputs, n_times, sfreq : optional
        braindecode's constructor contract; taken from the datamodule when ``None``.
    lr, weight_decay : float
        Optimiser settings.
    optimizer : {"adamw", "adam"}
        AdamW (decoupled weight decay) or Adam (L2 penalty, as in the SleepDIFFormer paper).
    label_smoothing : float
        Cross-entropy label smoothing.
    scheduler : {"cosine", "none"}
        Cosine annealing over all training steps, or a constant rate.
    class_names : list of str, optional
    ch_names : list of str, optional
        The input channels in order (what prediction on a new recording reads).
    preprocessing : dict, optional
        How the training data was conditioned (the datamodule's ``preprocessing``), repeated
        by prediction on a new recording.
    """

    #: Hyper-parameters read from the datamodule when unset, whether or not the model is built.
    _FROM_DATA: tuple[str, ...] = ("class_names", "ch_names", "preprocessing")

    def __init__(
        self,
        model: str = "eegnet",
        model_kwargs: dict[str, Any] | None = None,
        n_chans: int | None = None,
        n_outputs: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        label_smoothing: float = 0.0,
        scheduler: str = "cosine",
        class_names: list[str] | None = None,
        optimizer: str = "adamw",
        ch_names: list[str] | None = None,
        preprocessing: dict[str, Any] | None = None,
    ):
        super().__init__()
        if scheduler not in ("cosine", "none"):
            raise ValueError(f"scheduler must be 'cosine' or 'none', got {scheduler!r}")
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {optimizer!r}")
        self.save_hyperparameters()
        self.net: torch.nn.Module | None = None
        if all(getattr(self.hparams, d) is not None for d in _DIMS):
            self._build()

    def _build(self) -> None:
        hp = self.hparams
        dims = {d: getattr(hp, d) for d in _DIMS}
        self.net = create_model(hp.model, **dims, **(hp.model_kwargs or {}))
        n = hp.n_outputs
        self.val_metrics = classification_metrics(n, prefix="val/")
        self.test_metrics = classification_metrics(n, prefix="test/")

    def configure_model(self) -> None:
        if self.net is not None:
            dims_from_datamodule(self, (), self._FROM_DATA)
            return
        dims_from_datamodule(self, _DIMS, self._FROM_DATA)
        self._build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch):
        logits = self(batch["x"])
        loss = F.cross_entropy(logits, batch["y"], label_smoothing=self.hparams.label_smoothing)
        return loss, logits

    def training_step(self, batch, batch_idx):
        loss, _ = self._step(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["y"]))
        return loss

    def validation_step(self, batch, batch_idx):
        loss, logits = self._step(batch)
        self.val_metrics.update(logits.argmax(-1), batch["y"])
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch["y"]))

    def on_validation_epoch_end(self):
        self.log_dict(self.val_metrics.compute(), prog_bar=True)
        self.val_metrics.reset()

    def test_step(self, batch, batch_idx):
        _, logits = self._step(batch)
        self.test_metrics.update(logits.argmax(-1), batch["y"])

    def on_test_epoch_end(self):
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()

    def predict_step(self, batch, batch_idx):
        """``y_pred`` and class probabilities ``proba`` per window, plus ``y_true`` when the
        batch has labels (a new recording has none)."""
        proba = self(batch["x"]).softmax(-1)
        out = {"y_pred": proba.argmax(-1), "proba": proba}
        if "y" in batch:
            out["y_true"] = batch["y"]
        return out

    def configure_optimizers(self):
        opt = _OPTIMIZERS[self.hparams.optimizer](
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        if self.hparams.scheduler == "none":
            return opt
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
