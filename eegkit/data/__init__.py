"""Data layer: dataset readers, preprocessing pipelines, cache, splits and datamodules.

Readers are registered by name and take the dataset folder (or archive) exactly as it is
distributed::

    from eegkit.data import list_datasets, load
    har = load("uci_har", "UCI HAR Dataset.zip")   # -> Windows
    for rec in load("sleep_edf", "sleep-edf-x/"):  # -> iterable of Recording
        ...

A reader returns either a :class:`~eegkit.data.types.Windows` or an iterable of
:class:`~eegkit.data.types.Recording` (read lazily, one file at a time); its registry metadata
says which (``kind="windows"``, ``"sleep"`` or ``"events"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eegkit.data.types import STAGES, UNSCORED, DataError, Recording, Windows
from eegkit.registry import Registry

DATASETS = Registry("dataset", "eegkit.data.readers")
register_dataset = DATASETS.register


def list_datasets(kind: str | None = None) -> list[str]:
    """Registered dataset names, optionally only one ``kind`` (windows, sleep, events)."""
    names = DATASETS.names()
    return names if kind is None else [n for n in names if DATASETS.meta(n).get("kind") == kind]


def dataset_info(name: str) -> dict[str, Any]:
    return DATASETS.meta(name)


def load(name: str, path: str | Path, **kwargs: Any):
    """Read dataset ``name`` from ``path`` (the folder or archive as distributed)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(path, f"dataset path does not exist (reader {name!r})")
    return DATASETS.get(name)(path, **kwargs)


__all__ = [
    "DATASETS", "STAGES", "UNSCORED", "DataError", "Recording", "Windows",
    "dataset_info", "list_datasets", "load", "register_dataset",
]
