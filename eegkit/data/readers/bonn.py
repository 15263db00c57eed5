"""Bonn University epilepsy EEG (Andrzejak et al., Phys. Rev. E 64, 061907, 2001).

Five sets of 100 single-channel segments, 4,097 samples at 173.61 Hz (23.6 s), one integer
sample per line in ``<SET><NNN>.txt`` (set N ships upper-case ``.TXT``). The sets come as
``Z.zip``, ``O.zip``, ``N.zip``, ``F.zip``, ``S.zip``; the reader takes a folder holding the
zips, the extracted folders, or any mix (a single zip works too), and reads inside the archives.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import numpy as np

from eegkit.data import register_dataset
from eegkit.data.readers._files import FileTree, parse_table
from eegkit.data.types import DataError, Windows

#: Set letters in class-index order, with what each set contains.
SETS: dict[str, str] = {
    "Z": "healthy, eyes open (surface)",
    "O": "healthy, eyes closed (surface)",
    "N": "interictal, hippocampal formation opposite the epileptogenic zone",
    "F": "interictal, epileptogenic zone",
    "S": "ictal (seizure)",
}
SFREQ = 173.61
SEGMENT_SAMPLES = 4097
#: What prediction on a new recording must repeat: the files hold integer microvolts (median
#: per-segment sd 42 in set Z, 276 in set S), so an EDF read in volts is scaled by 1e6.
PREPROCESSING: dict = {"reader": "bonn", "scale": 1e6}
_SEGMENT_FILE = re.compile(r"^([ZONFS])(\d{3})\.txt$", re.IGNORECASE)


def parse_segment(text: bytes, source: Path, n_samples: int = SEGMENT_SAMPLES) -> np.ndarray:
    """The samples of one segment file: exactly ``n_samples`` integer lines.

    Raises
    ------
    DataError
        Naming ``source`` and the first line that is not one integer, or the wrong count.
    """
    values = parse_table(text, source, np.int64, "an integer", width=1)[:, 0]
    if len(values) != n_samples:
        raise DataError(source, f"expected {n_samples} samples, found {len(values)}")
    return values


def segment_files(tree: FileTree) -> dict[str, str]:
    """Segment id (``"Z001"``) → relative file path, for every segment file in ``tree``.

    A segment present twice (a zip next to its extracted folder) is read once, from the path
    that sorts first.
    """
    found: dict[str, str] = {}
    for name in tree.names():
        match = _SEGMENT_FILE.match(PurePosixPath(name).name)
        if match:
            found.setdefault(match[1].upper() + match[2], name)
    return found


def chunk_segments(X: np.ndarray, chunk: int, step: int | None = None) -> tuple[np.ndarray, int]:
    """Cut ``(n, C, T)`` segments into chunks of ``chunk`` samples starting every ``step``.

    ``step`` defaults to ``chunk``: ``T // chunk`` consecutive chunks (the tail is dropped); a
    smaller step gives ``(T - chunk) // step + 1`` overlapping chunks. Returns the
    ``(n * k, C, chunk)`` chunks (segment-major, in time order) and ``k``.
    """
    n, c, t = X.shape
    step = chunk if step is None else step
    if chunk > t:
        raise ValueError(f"chunk of {chunk} samples is longer than the {t}-sample segments")
    if step < 1:
        raise ValueError(f"chunk step must be a positive number of samples, got {step}")
    k = (t - chunk) // step + 1
    starts = np.arange(k) * step
    chunks = X[:, :, starts[:, None] + np.arange(chunk)]  # (n, C, k, chunk), one gather
    return chunks.transpose(0, 2, 1, 3).reshape(n * k, c, chunk), k


@register_dataset("bonn", kind="windows", sfreq=SFREQ, n_times=SEGMENT_SAMPLES,
                  channels=("EEG",), official_split=False)
def read_bonn(path: Path, sets: str = "ZONFS", chunk: int | None = None,
              step: int | None = None) -> Windows:
    """Read the Bonn segments as single-channel windows.

    Parameters
    ----------
    path : Path
        Folder with ``Z.zip`` … ``S.zip`` and/or the extracted folders, or one set's zip.
    sets : str
        Which sets to read, in the order that defines the class indices (``"ZS"`` gives the
        classic healthy-vs-seizure task with Z = 0, S = 1).
    chunk : int, optional
        Cut every segment into ``4097 // chunk`` consecutive chunks of ``chunk`` samples (178
        gives the 23 chunks per segment of the UCI Epileptic Seizure Recognition table). Chunks
        keep their segment as ``group``, so group-aware splits never separate them.
    step : int, optional
        Samples between the starts of consecutive chunks (default ``chunk``: no overlap); a
        smaller step gives ``(4097 - chunk) // step + 1`` overlapping chunks per segment.

    Returns
    -------
    Windows
        ``X`` (n, 1, 4097 or chunk) float32 in the file's integer units (µV), ``y`` the set
        index in ``sets``, ``subject`` and ``group`` the segment id (``"Z001"``; the subject of
        each segment is not published). Chunks are segment-major, in time order.
        ``meta["preprocessing"]`` records the units for prediction on EDF files (volts × 1e6).
    """
    sets = sets.upper()
    if not sets or any(s not in SETS for s in sets) or len(set(sets)) != len(sets):
        raise ValueError(f"sets must be distinct letters of {''.join(SETS)}, got {sets!r}")
    with FileTree(path) as tree:
        files = segment_files(tree)
        ids = sorted((i for i in files if i[0] in sets), key=lambda i: (sets.index(i[0]), i))
        missing = [s for s in sets if not any(i[0] == s for i in ids)]
        if missing:
            raise DataError(path, f"no segment files (<SET><NNN>.txt) for set(s) {missing}")
        X = np.stack([parse_segment(tree.read(files[i]), tree.source(files[i])) for i in ids])
    X = X.astype(np.float32)[:, None, :]
    y = np.array([sets.index(i[0]) for i in ids], dtype=np.int64)
    segment = np.array(ids)
    meta = {"sets": sets, "descriptions": [SETS[s] for s in sets],
            "preprocessing": dict(PREPROCESSING)}
    if step is not None and chunk is None:
        raise ValueError("step needs chunk: the step between chunks of `chunk` samples")
    if chunk is not None:
        X, k = chunk_segments(X, chunk, step)
        y, segment = np.repeat(y, k), np.repeat(segment, k)
    return Windows(
        X=X, y=y, subject=segment, group=segment.copy(), sfreq=SFREQ, ch_names=["EEG"],
        classes=list(sets), domain="bonn", meta=meta,
    )
