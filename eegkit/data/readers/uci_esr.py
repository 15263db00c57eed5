"""UCI Epileptic Seizure Recognition: the Bonn segments cut into 1-s chunks.

``Data.csv`` has 11,500 rows × (id, X1 … X178, y): every 4,097-sample Bonn segment cut into 23
chunks of 178 samples (173.61 Hz), rows shuffled. ``y`` 1..5 = S (seizure), F, N, O, Z. The id
``X<k>.<segment>`` (e.g. ``X21.V1.791``) names the chunk ``k`` of a segment; segment names are
reused across classes, so a segment is identified by (y, segment) and that pair is the group
that keeps all chunks of one recording on the same side of a split.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from eegkit.data import register_dataset
from eegkit.data.readers._files import csv_rows, parse_cells
from eegkit.data.readers.bonn import PREPROCESSING as BONN_PREPROCESSING
from eegkit.data.types import DataError, Windows

SFREQ = 173.61
N_TIMES = 178
#: Bonn set of each label 1..5 (class index = label - 1).
CLASSES: tuple[str, ...] = ("S", "F", "N", "O", "Z")
BINARY_CLASSES: tuple[str, ...] = ("non-seizure", "seizure")
_ID = re.compile(r"^X(\d+)\.(.+)$")


def _csv_file(path: Path) -> Path:
    if path.is_file():
        return path
    candidates = sorted(p for p in path.rglob("*") if p.name.lower() == "data.csv")
    if not candidates:
        raise DataError(path, "no Data.csv found")
    return candidates[0]


@register_dataset("uci_esr", kind="windows", sfreq=SFREQ, n_times=N_TIMES,
                  channels=("EEG",), official_split=False)
def read_uci_esr(path: Path, binary: bool = False) -> Windows:
    """Read ``Data.csv`` of UCI Epileptic Seizure Recognition.

    Parameters
    ----------
    path : Path
        ``Data.csv`` or a folder containing it.
    binary : bool
        Seizure (label 1) vs the rest, as in AdaCE; else the five Bonn sets.

    Returns
    -------
    Windows
        ``X`` (n, 1, 178) float32 in file units (µV, as the Bonn files), in file order; ``y``
        label − 1 (classes :data:`CLASSES`) or 1 = seizure / 0 = rest; ``group`` and
        ``subject`` the segment as ``"<label>:<segment name>"``; ``meta["preprocessing"]``
        records the units for prediction on EDF files.
    """
    file = _csv_file(Path(path))
    numbers, rows = csv_rows(file.read_bytes())
    if not rows:
        raise DataError(file, "file is empty")
    header = [c.decode(errors="replace") for c in rows[0]]
    expected = [f"X{i}" for i in range(1, N_TIMES + 1)] + ["y"]
    if header[1:] != expected:
        raise DataError(file, f"header must be (id, X1..X{N_TIMES}, y); got {header[:3]}…"
                        f"{header[-2:]} ({len(header)} columns)")
    numbers, rows = numbers[1:], rows[1:]
    if not rows:
        raise DataError(file, "no data row after the header")
    for number, row in zip(numbers, rows, strict=True):
        if len(row) != N_TIMES + 2:
            raise DataError(file, f"line {number} has {len(row)} columns, expected {N_TIMES + 2}")
    cells = [cell for row in rows for cell in row[1:]]
    values = parse_cells(cells, numbers, N_TIMES + 1, file, np.float32, "a row of numbers")
    labels = values[:, -1]
    bad = np.flatnonzero((labels != np.round(labels)) | (labels < 1) | (labels > len(CLASSES)))
    if len(bad):
        raise DataError(file, f"line {numbers[bad[0]]}: label y must be 1..{len(CLASSES)}, "
                        f"got {labels[bad[0]]:g}")
    labels = labels.astype(np.int64)
    groups = []
    for number, row, label in zip(numbers, rows, labels, strict=True):
        match = _ID.match(row[0].decode(errors="replace"))
        if not match:
            raise DataError(file, f"line {number}: id {row[0]!r} is not of the form X<k>.<name>")
        groups.append(f"{label}:{match[2]}")
    group = np.array(groups)
    y = (labels == 1).astype(np.int64) if binary else labels - 1
    return Windows(
        X=np.ascontiguousarray(values[:, None, :-1]), y=y, subject=group, group=group.copy(),
        sfreq=SFREQ, ch_names=["EEG"], classes=list(BINARY_CLASSES if binary else CLASSES),
        domain="uci_esr", meta={"preprocessing": {**BONN_PREPROCESSING, "reader": "uci_esr"}},
    )
