"""benchmarks/eegdm_bonn.py: every model is stopped by the same delayed early-stopping rule."""

from __future__ import annotations

import argparse

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from tests.benchmarks._load import load_benchmark


@pytest.fixture(scope="module")
def eegdm_bonn():
    return load_benchmark("eegdm_bonn")


class _FlatKappa(L.LightningModule):
    """Logs the same validation κ every epoch, so only the stopping rule ends training."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val/kappa", 0.5)

    def test_step(self, batch, batch_idx):
        self.log("test/kappa", 0.5)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class _Data(L.LightningDataModule):
    def _loader(self):
        return DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4)

    train_dataloader = val_dataloader = test_dataloader = _loader


def _epochs(eegdm_bonn, tmp_path, start_epoch):
    args = argparse.Namespace(max_epochs=30, patience=2, start_epoch=start_epoch)
    result = eegdm_bonn.fit_and_test(args, _FlatKappa(), _Data(), tmp_path / str(start_epoch))
    assert result["kappa"] == pytest.approx(0.5)
    return result["epochs"]


def test_early_stopping_counts_patience_from_the_start_epoch(eegdm_bonn, tmp_path):
    plain = _epochs(eegdm_bonn, tmp_path, start_epoch=0)
    delayed = _epochs(eegdm_bonn, tmp_path, start_epoch=7)
    assert plain < 30  # a flat κ stops training after the patience
    assert delayed - plain == 7


def test_the_defaults_are_the_papers_stopping_rule(eegdm_bonn, monkeypatch, tmp_path):
    monkeypatch.setattr("sys.argv", ["eegdm_bonn.py", "--data", str(tmp_path)])
    args = eegdm_bonn.parse_args()
    assert (args.max_epochs, args.patience, args.start_epoch) == (50, 3, 20)
