"""StopAfterEpoch: a refit ends at the epoch chosen with validation, on the full schedule."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from eegkit.tasks.stopping import StopAfterEpoch


class _Linear(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(2, 1)

    def training_step(self, batch, _):
        return self.net(batch[0]).pow(2).mean()

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.ones(8, 2)), batch_size=2)

    def configure_optimizers(self):  # decays linearly to 0 over the whole run
        opt = torch.optim.SGD(self.parameters(), lr=1.0)
        total = self.trainer.estimated_stepping_batches
        return [opt], [{"scheduler": torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: 1 - step / total), "interval": "step"}]


def test_a_refit_stops_after_the_chosen_epoch_on_the_full_schedule(tmp_path):
    trainer = L.Trainer(max_epochs=5, callbacks=[StopAfterEpoch(1)], logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(_Linear())
    assert trainer.global_step == 8  # epochs 0 and 1, of 4 steps each
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(1 - 8 / 20)


def test_a_negative_epoch_is_refused():
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        StopAfterEpoch(-1)
