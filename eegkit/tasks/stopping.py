"""Stopping a refit at an epoch chosen beforehand.

A refit trains on the training and validation windows together (``val_fraction=0``), so no
validation metric can stop it: it ends after the epoch that the run *with* validation chose.
"""

from __future__ import annotations

import lightning as L


class StopAfterEpoch(L.Callback):
    """Stops training after epoch ``epoch`` (0-based, Lightning's ``current_epoch``).

    ``Trainer(max_epochs=...)`` is left as in the run with validation, so epoch-based learning
    rate schedules span the same run length and the two runs match up to that epoch.
    """

    def __init__(self, epoch: int):
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch >= self.epoch:
            trainer.should_stop = True


__all__ = ["StopAfterEpoch"]
