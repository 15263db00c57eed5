"""UCI Human Activity Recognition Using Smartphones: raw inertial windows.

Reads ``UCI HAR Dataset/`` as distributed, either the extracted folder (or a folder holding it)
or the zip itself (read in place, nothing is extracted). Each window is 2.56 s of the nine
inertial signals at 50 Hz (128 samples); rows of ``Inertial Signals/<signal>_<split>.txt`` are
windows, aligned with ``y_<split>.txt`` (activity 1..6) and ``subject_<split>.txt``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from eegkit.data import register_dataset
from eegkit.data.readers._files import FileTree, parse_table
from eegkit.data.types import DataError, Windows

#: Channel order of ``Windows.X``: body acceleration, gyroscope, total acceleration (x, y, z).
CHANNELS: tuple[str, ...] = (
    "body_acc_x", "body_acc_y", "body_acc_z",
    "body_gyro_x", "body_gyro_y", "body_gyro_z",
    "total_acc_x", "total_acc_y", "total_acc_z",
)
SFREQ = 50.0
N_TIMES = 128
SPLITS = ("train", "test")


def _rows(tree: FileTree, name: str, dtype, width: int, what: str) -> np.ndarray:
    """The ``(n_rows, width)`` numbers of a text file, one row per non-blank line."""
    return parse_table(tree.read(name), tree.source(name), dtype, what, width)


def _class_names(tree: FileTree, name: str) -> list[str]:
    rows = [line.split() for line in tree.read(name).decode().splitlines() if line.strip()]
    if [r[0] for r in rows] != [str(i) for i in range(1, len(rows) + 1)] or any(
        len(r) != 2 for r in rows
    ):
        raise DataError(tree.source(name), "expected lines '<k> <NAME>' numbered 1, 2, ...")
    return [r[1] for r in rows]


def _members(root: str, split: str) -> dict[str, str]:
    """Role (``"y"``, ``"subject"`` or a channel) → path of the file of ``split`` under ``root``."""
    def member(*parts: str) -> str:
        return str(PurePosixPath(root, split, *parts))

    files = {"y": member(f"y_{split}.txt"), "subject": member(f"subject_{split}.txt")}
    files.update({c: member("Inertial Signals", f"{c}_{split}.txt") for c in CHANNELS})
    return files


def _read_split(tree: FileTree, files: dict[str, str], split: str, n_classes: int):
    y = _rows(tree, files["y"], np.int64, 1, "an integer")[:, 0]
    subject = _rows(tree, files["subject"], np.int64, 1, "an integer")[:, 0]
    if len(subject) != len(y):
        raise DataError(tree.source(files["subject"]),
                        f"{len(subject)} rows but y_{split}.txt has {len(y)}")
    if y.size and (y.min() < 1 or y.max() > n_classes):
        raise DataError(tree.source(files["y"]),
                        f"labels must be 1..{n_classes}, found {y.min()}..{y.max()}")
    X = np.empty((len(y), len(CHANNELS), N_TIMES), dtype=np.float32)
    for c, channel in enumerate(CHANNELS):
        values = _rows(tree, files[channel], np.float32, N_TIMES, "a row of numbers")
        if len(values) != len(y):
            raise DataError(tree.source(files[channel]), f"expected {len(y)} rows of {N_TIMES} "
                            f"values (one per line of y_{split}.txt), found {len(values)}")
        X[:, c] = values
    return X, y - 1, subject


def _dataset_root(tree: FileTree, path: Path) -> str:
    """The ``UCI HAR Dataset`` folder inside ``tree``, found from any of its known files."""
    labels = tree.find("activity_labels.txt")
    if labels:
        return str(PurePosixPath(min(labels, key=len)).parent)
    # without activity_labels.txt, a split's y file still shows where the dataset is, so that
    # every missing file is reported together below
    for split in SPLITS:
        found = tree.find(f"y_{split}.txt")
        if found:
            return str(PurePosixPath(min(found, key=len)).parent.parent)
    raise DataError(path, "neither 'activity_labels.txt' nor 'y_train.txt'/'y_test.txt' "
                          "found: not a UCI HAR Dataset folder")


@register_dataset("uci_har", kind="windows", sfreq=SFREQ, n_times=N_TIMES,
                  channels=CHANNELS, official_split=True)
def read_uci_har(path: Path) -> Windows:
    """Read UCI HAR's raw inertial windows (train and test, official split kept).

    Parameters
    ----------
    path : Path
        ``UCI HAR Dataset.zip``, the ``UCI HAR Dataset`` folder, or a folder containing either.

    Returns
    -------
    Windows
        ``X`` (n, 9, 128) float32 in the order of :data:`CHANNELS` (acceleration in g, angular
        velocity in rad/s), ``y`` activity 0..5 (file label − 1), ``subject`` 1..30,
        ``group`` = subject, ``official_split`` ``"train"``/``"test"``; train rows first.
    """
    with FileTree(path) as tree:
        root = _dataset_root(tree, Path(path))
        labels_file = str(PurePosixPath(root, "activity_labels.txt"))
        splits = {split: _members(root, split) for split in SPLITS}
        present = set(tree.names())
        missing = [f for f in [labels_file, *(f for s in splits.values() for f in s.values())]
                   if f not in present]
        if missing:
            raise DataError(tree.source(root), f"{len(missing)} file(s) missing: {missing}")
        classes = _class_names(tree, labels_file)
        parts = [_read_split(tree, files, split, len(classes)) for split, files in splits.items()]
    X = np.concatenate([p[0] for p in parts])
    subject = np.concatenate([p[2] for p in parts])
    split = np.repeat(np.array(SPLITS), [len(p[1]) for p in parts])
    return Windows(
        X=X, y=np.concatenate([p[1] for p in parts]), subject=subject, group=subject.copy(),
        sfreq=SFREQ, ch_names=list(CHANNELS), classes=classes, domain="uci_har",
        official_split=split,
    )
