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
from eegkit.data.readers._files import FileTree
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


def _numbers(tree: FileTree, name: str, dtype) -> np.ndarray:
    """All whitespace-separated numbers of a text file, parsed in one vectorised call."""
    text = tree.read(name)
    try:
        return np.array(text.split(), dtype=dtype)
    except ValueError:
        bad = next(i for i, line in enumerate(text.splitlines(), 1)
                   if not _parses(line, dtype))
        raise DataError(tree.source(name), f"line {bad} is not a row of numbers") from None


def _parses(line: bytes, dtype) -> bool:
    try:
        np.array(line.split(), dtype=dtype)
    except ValueError:
        return False
    return True


def _class_names(tree: FileTree, name: str) -> list[str]:
    rows = [line.split() for line in tree.read(name).decode().splitlines() if line.strip()]
    if [r[0] for r in rows] != [str(i) for i in range(1, len(rows) + 1)] or any(
        len(r) != 2 for r in rows
    ):
        raise DataError(tree.source(name), "expected lines '<k> <NAME>' numbered 1, 2, ...")
    return [r[1] for r in rows]


def _read_split(tree: FileTree, root: str, split: str, n_classes: int):
    def member(*parts: str) -> str:
        return str(PurePosixPath(root, split, *parts))

    y = _numbers(tree, member(f"y_{split}.txt"), np.int64)
    subject = _numbers(tree, member(f"subject_{split}.txt"), np.int64)
    if len(subject) != len(y):
        raise DataError(tree.source(member(f"subject_{split}.txt")),
                        f"{len(subject)} rows but y_{split}.txt has {len(y)}")
    if y.size and (y.min() < 1 or y.max() > n_classes):
        raise DataError(tree.source(member(f"y_{split}.txt")),
                        f"labels must be 1..{n_classes}, found {y.min()}..{y.max()}")
    X = np.empty((len(y), len(CHANNELS), N_TIMES), dtype=np.float32)
    for c, channel in enumerate(CHANNELS):
        name = member("Inertial Signals", f"{channel}_{split}.txt")
        values = _numbers(tree, name, np.float32)
        if values.size != len(y) * N_TIMES:
            raise DataError(tree.source(name), f"expected {len(y)} rows of {N_TIMES} values "
                            f"(one per line of y_{split}.txt), found {values.size} values")
        X[:, c] = values.reshape(len(y), N_TIMES)
    return X, y - 1, subject


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
        labels = tree.find("activity_labels.txt")
        if not labels:
            raise DataError(path, "no 'activity_labels.txt' found: not a UCI HAR Dataset folder")
        labels_file = min(labels, key=len)
        root = str(PurePosixPath(labels_file).parent)
        classes = _class_names(tree, labels_file)
        parts = [_read_split(tree, root, split, len(classes)) for split in SPLITS]
    X = np.concatenate([p[0] for p in parts])
    subject = np.concatenate([p[2] for p in parts])
    split = np.repeat(np.array(SPLITS), [len(p[1]) for p in parts])
    return Windows(
        X=X, y=np.concatenate([p[1] for p in parts]), subject=subject, group=subject.copy(),
        sfreq=SFREQ, ch_names=list(CHANNELS), classes=classes, domain="uci_har",
        official_split=split,
    )
