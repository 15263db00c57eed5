"""Sleep test helpers: a tiny in-memory stand-in for the sleep datamodule (same batch dicts,
same attributes).

Sequences of ``seq_len`` epochs of two channels; the class of an epoch sets the frequency of a
sine in both channels and each domain adds its own gain and offset, so a small model can learn
the task in a few steps while the domains still differ.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

CLASSES = ["W", "N1", "N2", "N3", "REM"]


class _Sequences(Dataset):
    def __init__(self, items: dict[str, np.ndarray]):
        self.items = {k: torch.as_tensor(v) for k, v in items.items()}

    def __len__(self):
        return len(self.items["y"])

    def __getitem__(self, i):
        return {k: v[i] for k, v in self.items.items()}


class FakeSleepDataModule(L.LightningDataModule):
    """Synthetic multi-domain sleep sequences with the SleepDataModule interface.

    The last recording of every source domain is the validation set; the predict and test
    splits are the whole held-out domain (the validation set when ``held_out`` is None).
    """

    def __init__(self, domains: dict[str, dict] | None = None, held_out: str | None = None,
                 n_recordings: int = 3, n_sequences: int = 4, seq_len: int = 5,
                 n_times: int = 300, sfreq: float = 10.0, batch_size: int = 4, seed: int = 0):
        super().__init__()
        self.domain_names = list(domains or {"a": {}, "b": {}, "c": {}})
        if held_out is not None and held_out not in self.domain_names:
            raise ValueError(f"unknown held-out domain {held_out!r}")
        self.held_out, self.batch_size = held_out, batch_size
        self.n_chans, self.n_times, self.sfreq = 2, n_times, sfreq
        self.n_outputs, self.class_names = len(CLASSES), CLASSES
        rng = np.random.default_rng(seed)
        t = np.arange(n_times) / sfreq
        parts, self.recording_names = [], []
        for d, name in enumerate(self.domain_names):
            gain, offset = 1.0 + 0.5 * d, 0.3 * d
            for r in range(n_recordings):
                rec = len(self.recording_names)
                self.recording_names.append(f"{name}-rec{r}")
                y = rng.integers(0, len(CLASSES), (n_sequences, seq_len))
                freq = 0.4 + 0.8 * y[..., None, None]  # (S, E, 1, 1)
                x = gain * np.sin(2 * np.pi * freq * t) + offset
                x = x.repeat(2, axis=2) + 0.3 * rng.standard_normal((*y.shape, 2, n_times))
                parts.append({"x": x.astype(np.float32), "y": y,
                              "domain": np.full(n_sequences, d),
                              "subject": np.full(n_sequences, rec),
                              "recording": np.full(n_sequences, rec),
                              "position": np.arange(n_sequences),
                              "is_val": np.full(n_sequences, r == n_recordings - 1)})
        self.arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _subset(self, mask: np.ndarray) -> _Sequences:
        return _Sequences({k: v[mask] for k, v in self.arrays.items() if k != "is_val"})

    def _masks(self):
        held = (self.arrays["domain"] == self.domain_names.index(self.held_out)
                if self.held_out is not None else np.zeros(len(self.arrays["y"]), bool))
        val = self.arrays["is_val"] & ~held
        return ~held & ~val, val, held if held.any() else val

    def train_dataloader(self):
        return DataLoader(self._subset(self._masks()[0]), batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self._subset(self._masks()[1]), batch_size=self.batch_size)

    def predict_dataloader(self):
        return DataLoader(self._subset(self._masks()[2]), batch_size=self.batch_size)

    test_dataloader = predict_dataloader


def corpus_domains(root) -> dict[str, dict]:
    """The ``domains`` argument of SleepDataModule for a demo corpus folder."""
    return {name: {"reader": name, "path": str(root / name)}
            for name in ("sleep_edf", "hmc") if (root / name).is_dir()}
