"""Fine-tuning schedule of AdaCE on top of :class:`~eegkit.tasks.classification.ClassificationTask`.

What the authors' code adds to plain classification: one learning rate for the pretrained
backbone and another for the new head, AdamW with linear warm-up (10 % of the steps) then linear
decay to zero (:mod:`eegkit.tasks.schedules`), and gradient accumulation (a Trainer setting,
``accumulate_grad_batches``). Optionally dataset classes are merged (the five Bonn sets into
seizure vs rest).
"""

from __future__ import annotations

from typing import Any

from eegkit.tasks.classification import ClassificationTask
from eegkit.tasks.schedules import check_schedule

#: The schedules AdaCE offers (the parent's cosine is not one of the paper's).
SCHEDULES = ("linear", "none")


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
        Warm-up then linear decay, or a constant rate.
    merge_classes : list of int, optional
        New class of each dataset class (``[0, 0, 0, 0, 1]`` turns Bonn ``ZONFS`` into rest vs
        seizure); ``class_names`` should name the new classes.
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
        check_schedule(scheduler, SCHEDULES)
        super().__init__(
            model=model, model_kwargs=model_kwargs, n_chans=n_chans, n_outputs=n_outputs,
            n_times=n_times, sfreq=sfreq, lr=lr, weight_decay=weight_decay,
            label_smoothing=label_smoothing, scheduler=scheduler, class_names=class_names,
            optimizer="adamw", warmup_fraction=warmup_fraction, merge_classes=merge_classes,
        )

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
