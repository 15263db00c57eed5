"""LightningDataModule over several sleep datasets (domains) for leave-one-domain-out training.

Each domain is prepared once by :func:`eegkit.data.pipelines.sleep.prepare_sleep` (cached,
memory-mapped); items are read from the memory maps one sequence at a time, never copied as a whole.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from eegkit.data.pipelines.sleep import SleepConfig, SleepSequences, prepare_sleep
from eegkit.data.samplers import DistributedDomainBalancedSampler, DomainBalancedBatchSampler
from eegkit.data.splits import check_nonempty, group_holdout
from eegkit.data.types import STAGES, DataError

log = logging.getLogger(__name__)


@dataclass
class _Part:
    """The items ``index`` of one prepared domain, with global id offsets."""

    seqs: SleepSequences
    domain: int
    index: np.ndarray
    subject_offset: int
    recording_offset: int


class SleepSequenceDataset(Dataset):
    """Sequences drawn from one or more prepared domains.

    Items are dicts: ``x`` (seq_len, 2, T) float32, ``y`` (seq_len,) long, and ``domain``,
    ``subject``, ``recording``, ``position`` (long scalars; subject and recording ids are
    global over all domains of the datamodule).
    """

    def __init__(self, parts: list[_Part]):
        self.parts = parts
        sizes = np.array([len(p.index) for p in parts], dtype=np.int64)
        self._ends = np.cumsum(sizes)
        self.domains = np.concatenate(
            [np.full(len(p.index), p.domain, dtype=np.int64) for p in parts]
        ) if parts else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        k = int(np.searchsorted(self._ends, i, side="right"))
        part = self.parts[k]
        j = int(part.index[i - (self._ends[k - 1] if k else 0)])
        s = part.seqs
        return {
            "x": torch.from_numpy(np.array(s.X[j], dtype=np.float32)),
            "y": torch.from_numpy(s.y[j].astype(np.int64)),
            "domain": torch.tensor(part.domain, dtype=torch.long),
            "subject": torch.tensor(part.subject_offset + int(s.subject[j]), dtype=torch.long),
            "recording": torch.tensor(part.recording_offset + int(s.recording[j]),
                                      dtype=torch.long),
            "position": torch.tensor(int(s.position[j]), dtype=torch.long),
        }


class SleepDataModule(L.LightningDataModule):
    """Sleep sequences from several datasets, split by domain and by subject.

    Train: every domain except ``held_out``, minus ``val_fraction`` of each domain's
    *subjects* (validation). Test/predict: all of ``held_out``.

    Batches are dicts: ``x`` (B, seq_len, 2, 3000) float32, ``y`` (B, seq_len) long,
    ``domain``, ``subject``, ``recording``, ``position`` (B,) long.

    The training loader uses :class:`~eegkit.data.samplers.DomainBalancedBatchSampler`
    (``balanced=True``): every batch holds all source domains in nearly equal shares. When
    ``torch.distributed`` is initialised with more than one process, it switches to
    :class:`~eegkit.data.samplers.DistributedDomainBalancedSampler` by itself, so build the
    Trainer with ``use_distributed_sampler=False`` (Lightning must not wrap the batch sampler).

    Parameters
    ----------
    domains : dict of str to dict
        Domain name -> ``{"reader": <registered sleep reader>, "path": <folder>}``; other keys
        are passed to the reader, except ``channels`` (an (EEG, EOG) pair replacing the
        reader's own, see :func:`~eegkit.data.pipelines.sleep.prepare_sleep`).
    held_out : str, optional
        The test domain (leave-one-domain-out); ``None``: no test set.
    val_fraction : float
        Fraction of each source domain's subjects used for validation; ``0``: no validation,
        every source subject is trained on (a refit once the epoch count is chosen).
    batch_size : int
    seq_len : int
        Epochs per sequence (20 in SleepDIFFormer).
    preprocessing : dict, optional
        :class:`~eegkit.data.pipelines.sleep.SleepConfig` settings other than ``seq_len``
        (``sfreq``, ``l_freq``, ``h_freq``, ``wake_margin_min``); the defaults when ``None``.
    balanced : bool
        Domain-balanced training batches; ``False``: plain shuffling.
    num_workers : int
    cache_dir : str, optional
        Cache root of the prepared arrays.
    seed : int
        Seeds the subject split and the samplers.
    train_batches_per_epoch : int, optional
        Epoch length of the balanced sampler (default: train items // batch_size).

    Attributes
    ----------
    n_chans, n_times, sfreq, n_outputs, seq_len, class_names, domain_names
    preprocessing : dict
        The complete :class:`~eegkit.data.pipelines.sleep.SleepConfig` as a dict; the sleep
        task keeps it in its hyper-parameters so prediction on a new recording repeats it.
    recording_names : list of str
        ``"<domain>/<recording>"`` per global recording id (see :meth:`recording_name`).
    """

    n_chans = 2
    n_outputs = len(STAGES)

    def __init__(self, domains: dict[str, dict], held_out: str | None = None,
                 val_fraction: float = 0.2, batch_size: int = 16, seq_len: int = 20,
                 balanced: bool = True, num_workers: int = 0, cache_dir: str | None = None,
                 seed: int = 0, train_batches_per_epoch: int | None = None,
                 preprocessing: dict[str, Any] | None = None):
        super().__init__()
        if not domains:
            raise DataError(None, "SleepDataModule needs at least one domain")
        if held_out is not None and held_out not in domains:
            raise DataError(None, f"held-out domain {held_out!r} is not in {list(domains)}")
        for name, spec in domains.items():
            if "reader" not in spec or "path" not in spec:
                raise DataError(None, f"domain {name!r} needs 'reader' and 'path', got {spec}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.domains = {k: dict(v) for k, v in domains.items()}
        self.held_out = held_out
        self.val_fraction = val_fraction
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.balanced = balanced
        self.num_workers = num_workers
        self.cache_dir = cache_dir
        self.seed = seed
        self.train_batches_per_epoch = train_batches_per_epoch
        if preprocessing and "seq_len" in preprocessing:
            raise ValueError("set seq_len on the datamodule, not in preprocessing")
        self.config = SleepConfig.from_dict(preprocessing, seq_len=seq_len)
        self.preprocessing = asdict(self.config)
        self.n_times = int(round(30 * self.config.sfreq))
        self.sfreq = self.config.sfreq
        self.class_names = list(STAGES)
        self.domain_names = list(self.domains)
        self.recording_names: list[str] = []
        self.subject_names: list[str] = []
        self._splits: dict[str, SleepSequenceDataset] | None = None

    def prepare_data(self) -> None:
        """Build the caches (runs once per node, before :meth:`setup`)."""
        for spec in self.domains.values():
            self._prepare(spec)

    def _prepare(self, spec: dict) -> SleepSequences:
        extra = {k: v for k, v in spec.items() if k not in ("reader", "path")}
        return prepare_sleep(spec["reader"], spec["path"], self.config,
                             cache_dir=self.cache_dir, **extra)

    def setup(self, stage: str | None = None) -> None:
        if self._splits is not None:
            return
        train, val, test = [], [], []
        self.recording_names, self.subject_names = [], []
        for d, (name, spec) in enumerate(self.domains.items()):
            seqs = self._prepare(spec)
            offsets = dict(subject_offset=len(self.subject_names),
                           recording_offset=len(self.recording_names))
            self.subject_names += [f"{name}/{s}" for s in seqs.subjects]
            self.recording_names += [f"{name}/{r}" for r in seqs.recordings]
            everything = np.arange(len(seqs))
            if name == self.held_out:
                test.append(_Part(seqs, d, everything, **offsets))
                continue
            keep, held = everything, everything[:0]
            if self.val_fraction > 0:
                if len(seqs.subjects) >= 2:
                    keep, held = group_holdout(seqs.subject, self.val_fraction, self.seed + d)
                else:
                    log.warning("domain %s has one subject: all of it is used for training",
                                name)
            train.append(_Part(seqs, d, keep, **offsets))
            val.append(_Part(seqs, d, held, **offsets))
        self._splits = {k: SleepSequenceDataset([p for p in parts if len(p.index)])
                        for k, parts in (("train", train), ("val", val), ("test", test))}

    def recording_name(self, recording_id: int) -> str:
        """``"<domain>/<recording>"`` of a global recording id (the ``recording`` batch key)."""
        return self.recording_names[int(recording_id)]

    def _split(self, name: str) -> SleepSequenceDataset:
        if self._splits is None:
            self.setup()
        ds = self._splits[name]
        if name == "test" and self.held_out is None:
            raise DataError(None, "no held-out domain: the test split is empty")
        check_nonempty(name, np.arange(len(ds)))
        return ds

    def _loader(self, ds: SleepSequenceDataset, **kw) -> DataLoader:
        return DataLoader(ds, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0, **kw)

    def train_dataloader(self) -> DataLoader:
        ds = self._split("train")
        if not self.balanced:
            return self._loader(ds, batch_size=self.batch_size, shuffle=True, drop_last=True,
                                generator=torch.Generator().manual_seed(self.seed))
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            sampler = DistributedDomainBalancedSampler(
                ds.domains, self.batch_size, self.train_batches_per_epoch, seed=self.seed)
        else:
            sampler = DomainBalancedBatchSampler(
                ds.domains, self.batch_size, self.train_batches_per_epoch, seed=self.seed)
        return self._loader(ds, batch_sampler=sampler)

    @property
    def has_validation(self) -> bool:
        """False when ``val_fraction=0``: every subject of the source domains is trained on."""
        return self.val_fraction > 0

    def val_dataloader(self) -> DataLoader | list:
        if not self.has_validation:
            return []  # Lightning then skips validation
        return self._loader(self._split("val"), batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._split("test"), batch_size=self.batch_size)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()


__all__ = ["SleepDataModule", "SleepSequenceDataset"]
