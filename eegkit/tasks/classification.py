"""A LightningModule that trains any registered model as a window classifier."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from eegkit.metrics import classification_metrics
from eegkit.models import create_model
from eegkit.tasks.schedules import OPTIMIZERS, check_schedule, with_schedule

_DIMS = ("n_chans", "n_outputs", "n_times", "sfreq")


def merged_classes(n_outputs: int | None, merge_classes: list[int] | None) -> int | None:
    """Number of classes after ``merge_classes`` (new class of every original class)."""
    if merge_classes is None:
        return n_outputs
    if n_outputs is not None and len(merge_classes) != n_outputs:
        raise ValueError(f"merge_classes has {len(merge_classes)} entries for {n_outputs} "
                         "classes: give the new class of every original class")
    return max(merge_classes) + 1


def merge_targets(y: torch.Tensor, merge_classes: list[int] | None) -> torch.Tensor:
    """Labels ``y`` mapped through ``merge_classes`` (unchanged when it is ``None``)."""
    return y if merge_classes is None else torch.as_tensor(merge_classes, device=y.device)[y]


def training_labels(module: L.LightningModule, merge_classes: list[int] | None,
                    option: str) -> torch.Tensor:
    """The (merged) labels of the training split, from the trainer's datamodule
    ``train_labels``; ``option`` names the setting that needs them in the error."""
    labels = getattr(getattr(module._trainer, "datamodule", None), "train_labels", None)
    if labels is None:
        raise ValueError(f"{option} needs a datamodule with train_labels (WindowDataModule, "
                         "EEGDMLatentDataModule); give the weight(s) as numbers instead")
    return merge_targets(torch.as_tensor(np.asarray(labels)), merge_classes)


def class_weights_from(spec: list[float] | str | None, module: L.LightningModule,
                       n_classes: int, merge_classes: list[int] | None) -> torch.Tensor | None:
    """Cross-entropy class weights: ``None``, a list (one weight per class), or
    ``"balanced"``: ``n / (n_classes * n_c)`` from the training split's labels (after
    ``merge_classes``), read from the trainer's datamodule ``train_labels``."""
    if spec is None:
        return None
    if spec != "balanced":
        if isinstance(spec, str) or len(spec) != n_classes:
            raise ValueError(f"class_weights must be 'balanced' or {n_classes} numbers, "
                             f"got {spec!r}")
        return torch.as_tensor(spec, dtype=torch.float32)
    y = training_labels(module, merge_classes, "class_weights='balanced'")
    counts = torch.bincount(y, minlength=n_classes).double()
    if (counts == 0).any():
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"class_weights='balanced': class(es) {missing} have no training "
                         "window")
    return (len(y) / (n_classes * counts)).float()


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
    rebuilds itself and knows the input it expects (:func:`eegkit.inference.load_model`).

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
    class_weights : list of float or "balanced", optional
        Cross-entropy weight per (merged) class; ``"balanced"`` weighs each class by
        ``n / (n_classes * n_c)`` of the training split (the datamodule's ``train_labels``),
        for imbalanced tasks such as seizure vs rest.
    scheduler : {"cosine", "linear", "onecycle", "none"}
        Learning-rate schedule over all training steps (:mod:`eegkit.tasks.schedules`).
    warmup_fraction : float
        Warm-up fraction of the steps (schedules ``linear`` and ``onecycle``).
    merge_classes : list of int, optional
        New class of every dataset class (``[0, 0, 0, 0, 1]`` turns Bonn ``ZONFS`` into rest
        vs seizure): the model has ``max(merge_classes) + 1`` outputs, labels are mapped in
        every step and ``class_names`` should name the new classes.
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
        warmup_fraction: float = 0.0,
        merge_classes: list[int] | None = None,
        class_weights: list[float] | str | None = None,
    ):
        super().__init__()
        check_schedule(scheduler)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
        merged_classes(n_outputs, merge_classes)  # checks the lengths agree
        self.save_hyperparameters()
        self.net: torch.nn.Module | None = None
        self.class_weight: torch.Tensor | None = None  # resolved when fit starts
        # built now when the input is known (merged classes also give the number of outputs),
        # otherwise in configure_model, from the datamodule
        if self.n_classes is not None and all(
                self.hparams[d] is not None for d in ("n_chans", "n_times", "sfreq")):
            self._build()

    @property
    def n_classes(self) -> int:
        """Number of classes the model predicts (after ``merge_classes``)."""
        return merged_classes(self.hparams.n_outputs, self.hparams.get("merge_classes"))

    def model_dims(self) -> dict[str, Any]:
        """The model's constructor contract (``n_chans``, ``n_outputs``, ``n_times``,
        ``sfreq``) from the hyper-parameters: ``n_outputs`` counts the merged classes."""
        dims = {d: self.hparams[d] for d in _DIMS}
        dims["n_outputs"] = self.n_classes
        return dims

    def _build(self) -> None:
        hp = self.hparams
        self.net = create_model(hp.model, **self.model_dims(), **(hp.model_kwargs or {}))
        self.val_metrics = classification_metrics(self.n_classes, prefix="val/")
        self.test_metrics = classification_metrics(self.n_classes, prefix="test/")

    def configure_model(self) -> None:
        if self.net is not None:
            dims_from_datamodule(self, (), self._FROM_DATA)
            return
        dims_from_datamodule(self, _DIMS, self._FROM_DATA)
        self._build()

    def on_fit_start(self) -> None:
        # after configure_model, so the number of classes is known; the datamodule has the
        # training labels that "balanced" counts
        self.class_weight = class_weights_from(
            self.hparams.get("class_weights"), self, self.n_classes,
            self.hparams.get("merge_classes"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _targets(self, batch: dict) -> dict:
        """The batch with its labels mapped through ``merge_classes``."""
        merge = self.hparams.get("merge_classes")
        if merge is None or "y" not in batch:
            return batch
        return {**batch, "y": merge_targets(batch["y"], merge)}

    def _step(self, batch):
        logits = self(batch["x"])
        weight = None if self.class_weight is None else self.class_weight.to(logits.device)
        loss = F.cross_entropy(logits, batch["y"], weight=weight,
                               label_smoothing=self.hparams.label_smoothing)
        return loss, logits

    def training_step(self, batch, batch_idx):
        batch = self._targets(batch)
        loss, _ = self._step(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["y"]))
        return loss

    def validation_step(self, batch, batch_idx):
        batch = self._targets(batch)
        loss, logits = self._step(batch)
        self.val_metrics.update(logits.argmax(-1), batch["y"])
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch["y"]))

    def on_validation_epoch_end(self):
        self.log_dict(self.val_metrics.compute(), prog_bar=True)
        self.val_metrics.reset()

    def test_step(self, batch, batch_idx):
        batch = self._targets(batch)
        _, logits = self._step(batch)
        self.test_metrics.update(logits.argmax(-1), batch["y"])

    def on_test_epoch_end(self):
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()

    def predict_step(self, batch, batch_idx):
        """``y_pred`` and class probabilities ``proba`` per window, plus ``y_true`` when the
        batch has labels (a new recording has none)."""
        batch = self._targets(batch)
        proba = self(batch["x"]).softmax(-1)
        out = {"y_pred": proba.argmax(-1), "proba": proba}
        if "y" in batch:
            out["y_true"] = batch["y"]
        return out

    def param_groups(self) -> list[dict]:
        """The optimiser's parameter groups (one group; subclasses split it)."""
        return [{"params": [p for p in self.parameters() if p.requires_grad]}]

    def configure_optimizers(self):
        hp = self.hparams
        # .get: under LightningCLI the hyper-parameters are the config's arguments, and a
        # subclass (AdaCE: always AdamW) may not take every option
        opt = OPTIMIZERS[hp.get("optimizer", "adamw")](self.param_groups(), lr=hp.lr,
                                                       weight_decay=hp.weight_decay)
        return with_schedule(opt, hp.scheduler, self.trainer.estimated_stepping_batches,
                             hp.get("warmup_fraction", 0.0))
