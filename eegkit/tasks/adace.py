"""Fine-tuning schedule of AdaCE on top of :class:`~eegkit.tasks.classification.ClassificationTask`.

What the authors' code adds to plain classification: one learning rate for the pretrained
backbone and another for the new head, AdamW with linear warm-up (10 % of the steps) then linear
decay to zero, and gradient accumulation (a Trainer setting, ``accumulate_grad_batches``).
Optionally dataset classes are merged (the five Bonn sets into seizure vs rest).
"""

from __future__ import annotations

from typing import Any

import torch

from eegkit.tasks.classification import ClassificationTask

SCHEDULES = ("linear", "none")


def warmup_linear_decay(step: int, total_steps: int, warmup_steps: int) -> float:
    """Learning-rate factor: ``step / warmup`` during warm-up, then linear decay to 0.

    Examples
    --------
    >>> [warmup_linear_decay(s, 10, 2) for s in (0, 1, 2, 6, 10)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    if step < warmup_steps:
        return step / warmup_steps
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


class AdaCETask(ClassificationTask):
    """Classification with AdaCE's optimiser: head / backbone learning rates, warm-up + decay.

    Parameters
    ----------
    model : str
        Registered model; ``"adace_image"`` or ``"adace_text"`` (any model works: without a
        ``backbone`` attribute every parameter gets ``lr``).
    lr : float
        Learning rate of the backbone (paper: 5e-5 for images, 2e-5 for text).
    head_lr : float, optional
        Learning rate of the model's ``head``; default ``lr``.
    warmup_fraction : float
        Fraction of the optimiser steps spent warming up (paper: 0.1).
    scheduler : {"linear", "none"}
        Warm-up then linear decay, or a constant rate (the parent's cosine is not offered).
    merge_classes : list of int, optional
        New class of each dataset class (``[0, 0, 0, 0, 1]`` turns Bonn ``ZONFS`` into rest vs
        seizure); then ``n_outputs`` is the number of new classes and ``class_names`` should
        name them.
    model_kwargs, n_chans, n_outputs, n_times, sfreq, weight_decay, label_smoothing, class_names
        As in :class:`~eegkit.tasks.classification.ClassificationTask`.
    """

    def __init__(
        self,
        model: str = "adace_image",
        model_kwargs: dict[str, Any] | None = None,
        n_chans: int | None = None,
        n_outputs: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        lr: float = 5e-5,
        head_lr: float | None = None,
        weight_decay: float = 0.01,
        warmup_fraction: float = 0.1,
        scheduler: str = "linear",
        label_smoothing: float = 0.0,
        merge_classes: list[int] | None = None,
        class_names: list[str] | None = None,
    ):
        if scheduler not in SCHEDULES:
            raise ValueError(f"scheduler must be one of {SCHEDULES}, got {scheduler!r}")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
        if merge_classes is not None:
            merged = max(merge_classes) + 1
            if n_outputs not in (None, merged):
                raise ValueError(f"n_outputs={n_outputs} but merge_classes makes {merged} classes")
            n_outputs = merged
        super().__init__(
            model=model, model_kwargs=model_kwargs, n_chans=n_chans, n_outputs=n_outputs,
            n_times=n_times, sfreq=sfreq, lr=lr, weight_decay=weight_decay,
            label_smoothing=label_smoothing, scheduler="none", class_names=class_names,
        )
        # The parent is told "none"; the saved hyper-parameters keep this class's ``scheduler``
        # (Lightning merges the arguments of every __init__ in the hierarchy, subclass last).
        # LightningCLI saves the config's values instead of these locals: set n_outputs here.
        self.hparams.n_outputs = n_outputs
        self.register_buffer(
            "class_map",
            None if merge_classes is None else torch.tensor(merge_classes, dtype=torch.long),
            persistent=False,
        )

    def _targets(self, batch) -> dict:
        if self.class_map is None:
            return batch
        return {**batch, "y": self.class_map[batch["y"]]}

    def training_step(self, batch, batch_idx):
        return super().training_step(self._targets(batch), batch_idx)

    def validation_step(self, batch, batch_idx):
        return super().validation_step(self._targets(batch), batch_idx)

    def test_step(self, batch, batch_idx):
        return super().test_step(self._targets(batch), batch_idx)

    def predict_step(self, batch, batch_idx):
        return super().predict_step(self._targets(batch), batch_idx)

    def param_groups(self) -> list[dict]:
        """Trainable parameters of the head (``head_lr``) and of the rest (``lr``)."""
        hp = self.hparams
        head = getattr(self.net, "head", None)
        head_ids = {id(p) for p in head.parameters()} if head is not None else set()
        trainable = [p for p in self.net.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in trainable if id(p) not in head_ids], "lr": hp.lr},
            {"params": [p for p in trainable if id(p) in head_ids], "lr": hp.head_lr or hp.lr},
        ]
        return [g for g in groups if g["params"]]

    def configure_optimizers(self):
        hp = self.hparams
        opt = torch.optim.AdamW(self.param_groups(), weight_decay=hp.weight_decay)
        if hp.scheduler == "none":
            return opt
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(round(hp.warmup_fraction * total))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: warmup_linear_decay(step, total, warmup)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
