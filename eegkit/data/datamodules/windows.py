"""A LightningDataModule over any window dataset (UCI HAR, Bonn, UCI-ESR, TUEV, CHB-MIT).

The reader's output is cached once as memory-mapped arrays (:class:`~eegkit.cache.ArrayCache`,
keyed by the dataset, its files and the reader options), then split by one of three protocols:

- ``"official"``: the dataset's own train/test split (UCI HAR: subjects; TUEV: train/eval);
  validation = a ``val_fraction`` of the training *subjects*.
- ``"random"``: windows drawn at random, ignoring subjects and segments (the protocol of papers
  such as AdaCE; optimistic). Test = ``test_fraction`` of the official training windows when the
  dataset has an official split (the "random 20 % of the training set" of UCI HAR), else of all.
- ``"group"``: train/val/test by group (segment or subject), stratified by class, so chunks of one
  segment never straddle two sides (the honest protocol for Bonn and UCI-ESR).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from eegkit.cache import ArrayCache, cache_key
from eegkit.data import dataset_info, load
from eegkit.data.pipelines.events import prepare_windows
from eegkit.data.readers._files import path_fingerprint
from eegkit.data.readers.edf import window_preprocessing
from eegkit.data.splits import (
    check_nonempty,
    group_holdout,
    random_holdout,
    stratified_group_split,
)
from eegkit.data.types import DataError, Windows

PROTOCOLS = ("official", "random", "group")
NORMALIZATIONS = ("none", "channel")
#: Bump when a reader's output for the same files changes, to invalidate cached windows.
WINDOW_CACHE_VERSION = 2  # 2: the reader's preprocessing record is kept


def _storable(values: np.ndarray) -> np.ndarray:
    """Object arrays as strings (``.npy`` without pickle); numbers and strings unchanged."""
    values = np.asarray(values)
    return values.astype(str) if values.dtype == object else values


def cached_windows(dataset: str, path: str | Path, reader_kwargs: dict | None = None,
                   cache_dir: str | Path | None = None) -> Windows:
    """``load(dataset, path, **reader_kwargs)``, read once and then memory-mapped from the cache.

    Event datasets (``kind="events"``: TUEV, CHB-MIT) go through their window pipeline in
    :mod:`eegkit.data.pipelines.events` (which caches itself); ``reader_kwargs`` are its options.
    """
    reader_kwargs = dict(reader_kwargs or {})
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(path, f"dataset path does not exist (dataset {dataset!r})")
    if dataset_info(dataset).get("kind") == "events":
        return prepare_windows(dataset, path, cache_dir=cache_dir, **reader_kwargs)
    key = cache_key(kind="windows", dataset=dataset, path=str(path.resolve()),
                    files=path_fingerprint(path), reader=reader_kwargs,
                    version=WINDOW_CACHE_VERSION)

    def build(scratch: Path):  # windows are read whole: the scratch file is not used
        w = load(dataset, path, **reader_kwargs)
        if not isinstance(w, Windows):
            raise DataError(path, f"dataset {dataset!r} does not return windows")
        arrays = {"X": w.X, "y": w.y, "subject": _storable(w.subject),
                  "group": _storable(w.group)}
        if w.official_split is not None:
            arrays["official_split"] = _storable(w.official_split)
        meta = {"sfreq": w.sfreq, "ch_names": list(w.ch_names), "classes": list(w.classes),
                "domain": w.domain, "preprocessing": w.meta.get("preprocessing")}
        return arrays, meta

    arrays, meta = ArrayCache(cache_dir).get_or_build(f"windows-{dataset}", key, build)
    return Windows(
        X=arrays["X"], y=np.asarray(arrays["y"]), subject=np.asarray(arrays["subject"]),
        group=np.asarray(arrays["group"]), sfreq=float(meta["sfreq"]),
        ch_names=list(meta["ch_names"]), classes=list(meta["classes"]), domain=meta["domain"],
        official_split=(np.asarray(arrays["official_split"])
                        if "official_split" in arrays else None),
        meta={"preprocessing": meta["preprocessing"]} if meta.get("preprocessing") else {},
    )


class WindowDataset(Dataset):
    """Dict items ``{"x", "y", "subject"}`` of the rows of ``X`` at ``index``.

    ``x`` is a float32 copy of the row: a window ``(C, T)``, optionally standardised per channel
    with ``mean``/``std`` of shape ``(C, 1)``, or any other per-window array (EEGDM latents
    ``(C, layers, pools, width)``); ``subject`` is an integer code of the subject.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, subject_code: np.ndarray,
                 index: np.ndarray, mean: np.ndarray | None = None,
                 std: np.ndarray | None = None):
        self.X, self.y, self.subject_code, self.index = X, y, subject_code, index
        self.mean, self.std = mean, std

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        j = self.index[i]
        x = np.array(self.X[j], dtype=np.float32)  # a writable copy of the memory-mapped row
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return {
            "x": torch.from_numpy(x),
            "y": torch.tensor(int(self.y[j]), dtype=torch.long),
            "subject": torch.tensor(int(self.subject_code[j]), dtype=torch.long),
        }


class WindowDataModule(L.LightningDataModule):
    """Train/validation/test loaders over a registered window dataset.

    Parameters
    ----------
    dataset : str
        Registered dataset name (``uci_har``, ``bonn``, ``uci_esr``, ...).
    path : str
        The dataset folder or archive as distributed.
    protocol : {"official", "random", "group"}
        How to split (see the module docstring).
    val_fraction, test_fraction : float
        Held-out fractions (of subjects, windows or groups, depending on ``protocol``);
        ``test_fraction`` is unused by ``"official"``. ``val_fraction=0`` trains on the whole
        training pool without validation (a refit for an epoch count chosen on an earlier run
        with validation; the test split is unchanged): ``val_dataloader`` is then empty.
    batch_size, num_workers : int
    seed : int
        Seed of the split.
    reader_kwargs : dict, optional
        Passed to the reader (e.g. ``{"chunk": 178}`` for Bonn, ``{"binary": True}`` for UCI-ESR).
    normalize : {"none", "channel"}
        ``"channel"`` standardises each channel with the mean and standard deviation of the
        training windows.
    cache_dir : str, optional
        Cache root (default ``$EEGKIT_CACHE`` or ``~/.cache/eegkit``).

    Attributes
    ----------
    n_chans, n_times, sfreq, n_outputs, class_names, ch_names, preprocessing
        Read by :class:`~eegkit.tasks.classification.ClassificationTask` to size its model and
        to know the input it expects.
    """

    def __init__(
        self,
        dataset: str,
        path: str,
        protocol: str = "official",
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        reader_kwargs: dict[str, Any] | None = None,
        normalize: str = "none",
        cache_dir: str | None = None,
    ):
        super().__init__()
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.save_hyperparameters()
        # an attribute, not only a hyper-parameter: a subclass may fix it (LightningCLI saves
        # the subclass's own arguments as its hyper-parameters)
        self.normalize = normalize
        self.windows: Windows | None = None
        self.split_index: dict[str, np.ndarray] = {}
        self._datasets: dict[str, WindowDataset] = {}

    # --- dimensions read by the task -------------------------------------------------------
    @property
    def n_chans(self) -> int:
        return int(self._load().X.shape[1])

    @property
    def n_times(self) -> int:
        return int(self._load().X.shape[2])

    @property
    def sfreq(self) -> float:
        return float(self._load().sfreq)

    @property
    def n_outputs(self) -> int:
        return len(self._load().classes)

    @property
    def class_names(self) -> list[str]:
        return list(self._load().classes)

    @property
    def ch_names(self) -> list[str]:
        return list(self._load().ch_names)

    @property
    def preprocessing(self) -> dict | None:
        """What prediction on a new recording repeats (see
        :func:`eegkit.inference.predict_file`): the channels and conditioning of the generic
        ``edf`` reader's options, or what the reader reports (TUEV, CHB-MIT: montage and
        filters; Bonn, UCI ESR: their units), plus, with ``normalize="channel"``, the training
        split's per-channel ``mean`` and ``std``. ``None`` when there is nothing to repeat
        (a text table of unknown units, not normalised)."""
        if self.hparams.dataset != "edf":
            pre = dict(self._load().meta.get("preprocessing") or {})
        else:
            pre = window_preprocessing(self.hparams.reader_kwargs or {})
        if self.normalize == "channel":
            self.setup()
            stats = self._datasets["train"]
            pre["mean"] = stats.mean[:, 0].tolist()
            pre["std"] = stats.std[:, 0].tolist()
        return pre or None

    def standardise_as(self, preprocessing: dict | None) -> bool:
        """Standardise every split with the per-channel ``mean`` and ``std`` recorded in
        ``preprocessing`` (a checkpoint's ``hparams["preprocessing"]``) instead of this
        datamodule's training split's, so that a model is tested on inputs prepared as in its
        training: a refit on train + val, or a run with another validation split, has other
        statistics than this split's (on UCI HAR up to 6 % of an sd). Nothing changes when
        this datamodule does not standardise or the record holds no statistics.

        Returns
        -------
        bool
            Whether the statistics in use changed.
        """
        if self.normalize != "channel" or "mean" not in (preprocessing or {}):
            return False
        self.setup()
        current = self._datasets["train"]
        mean = np.asarray(preprocessing["mean"], dtype=np.float32)[:, None]
        std = np.asarray(preprocessing["std"], dtype=np.float32)[:, None]
        if mean.shape != current.mean.shape or std.shape != current.std.shape:
            raise ValueError(f"the recorded statistics are for {len(mean)} channels, this "
                             f"{self.hparams.dataset} datamodule has {len(current.mean)}")
        changed = not (np.array_equal(mean, current.mean) and np.array_equal(std, current.std))
        for dataset in self._datasets.values():
            dataset.mean, dataset.std = mean, std
        return changed

    # --- data ------------------------------------------------------------------------------
    def _load(self) -> Windows:
        if self.windows is None:
            hp = self.hparams
            self.windows = cached_windows(hp.dataset, hp.path, hp.reader_kwargs, hp.cache_dir)
            if len(self.windows) == 0:
                raise DataError(hp.path, f"dataset {hp.dataset!r} has no windows")
        return self.windows

    def _split(self, w: Windows) -> dict[str, np.ndarray]:
        hp = self.hparams
        if hp.protocol == "group":
            train, val, test = stratified_group_split(
                w.group, w.y, hp.val_fraction, hp.test_fraction, hp.seed)
            return {"train": train, "val": val, "test": test}
        if hp.protocol == "official":
            if w.official_split is None:
                raise DataError(hp.path, f"dataset {hp.dataset!r} has no official split; "
                                "use protocol 'group' or 'random'")
            pool = np.flatnonzero(w.official_split == "train")
            test = np.flatnonzero(w.official_split != "train")
            keep, val = group_holdout(w.subject[pool], hp.val_fraction, hp.seed)
            return {"train": pool[keep], "val": pool[val], "test": test}
        pool = (np.arange(len(w)) if w.official_split is None
                else np.flatnonzero(w.official_split == "train"))
        keep, test = random_holdout(len(pool), hp.test_fraction, hp.seed)
        train, val = random_holdout(len(keep), hp.val_fraction, hp.seed + 1)
        return {"train": pool[keep[train]], "val": pool[keep[val]], "test": pool[test]}

    def setup(self, stage: str | None = None) -> None:
        if self._datasets:
            return
        w = self._load()
        splits = self._split(w)
        if not self.has_validation:
            del splits["val"]
        self.split_index = {
            name: check_nonempty(name, idx, f"{self.hparams.dataset} {self.hparams.protocol} split")
            for name, idx in splits.items()
        }
        _, subject_code = np.unique(w.subject, return_inverse=True)
        mean = std = None
        if self.normalize == "channel":
            train = np.asarray(w.X[np.sort(self.split_index["train"])], dtype=np.float64)
            mean = train.mean(axis=(0, 2))[:, None].astype(np.float32)
            std = np.maximum(train.std(axis=(0, 2)), 1e-8)[:, None].astype(np.float32)
        inputs = self.model_inputs(w)
        self._datasets = {
            name: WindowDataset(inputs, w.y, subject_code, idx, mean, std)
            for name, idx in self.split_index.items()
        }

    def model_inputs(self, windows: Windows) -> np.ndarray:
        """What the loaders serve for each of ``windows`` (indexed like ``windows.X``): the
        signals; a subclass may serve something computed from them
        (:class:`~eegkit.tasks.eegdm_latents.EEGDMLatentDataModule`: backbone latents)."""
        return windows.X

    @property
    def train_labels(self) -> np.ndarray:
        """Labels of the training split (for class weights such as ``"balanced"``)."""
        self.setup()
        return np.asarray(self.windows.y)[self.split_index["train"]]

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        self.setup()
        return DataLoader(self._datasets[name], batch_size=self.hparams.batch_size,
                          shuffle=shuffle, num_workers=self.hparams.num_workers,
                          persistent_workers=self.hparams.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    @property
    def has_validation(self) -> bool:
        """False when ``val_fraction=0``: every training window is trained on."""
        return self.hparams.val_fraction > 0

    def val_dataloader(self) -> DataLoader | list:
        if not self.has_validation:
            return []  # Lightning then skips validation
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
