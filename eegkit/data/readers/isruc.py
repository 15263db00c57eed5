"""ISRUC-Sleep (subgroups I-III, University of Coimbra).

Files as distributed (after extracting each subject's archive): ``<subject>/<subject>.rec``, an
EDF file with a ``.rec`` extension (channels at 200 Hz), with ``<subject>_1.txt`` and
``<subject>_2.txt``, the hypnograms of scorers 1 and 2: one integer per 30-s epoch, 0 W, 1 N1,
2 N2, 3 N3, 5 REM.

- Channel labels differ between files: older ones use ``F4-M1``, ``E1-M2``... The reader always
  exposes the ``F4-A1``/``LOC-A2`` names (see :data:`ALIASES`).
- A label file may be shorter than the signal: the labels are trusted and the signal after the
  last labelled epoch is dropped. A label file longer than the signal is an error.
- Subject and recording id are the path of the subject folder relative to the dataset folder
  (``"1"`` for ``1/1.rec``; ``"subgroupII/1/1"``-style paths stay unique across subgroups).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eegkit.data import register_dataset
from eegkit.data.readers._files import LazyRecordings
from eegkit.data.readers._psg import (
    canonical_names,
    check_channels,
    find_files,
    fit_stages,
    missing_channel,
    read_edf,
    with_aliases,
)
from eegkit.data.types import EPOCH_SEC, DataError, Recording

#: The SleepDIFFormer (EEG, EOG) pair.
SLEEP_CHANNELS = ("F4-A1", "LOC-A2")
#: Exposed label -> labels used for the same derivation in older files.
ALIASES: dict[str, tuple[str, ...]] = {
    "F3-A2": ("F3-M2",), "C3-A2": ("C3-M2",), "O1-A2": ("O1-M2",), "F4-A1": ("F4-M1",),
    "C4-A1": ("C4-M1",), "O2-A1": ("O2-M1",), "LOC-A2": ("E1-M2",), "ROC-A1": ("E2-M1",),
}
#: ISRUC label code -> stage code (AASM files do not use 4).
STAGE_CODES: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 3, 5: 4}
SCORERS = (1, 2)


def read_labels(path: Path) -> np.ndarray:
    """Stage codes (int8) of an ISRUC label file; blank lines are ignored."""
    if not path.is_file():
        raise DataError(path, "label file is missing")
    codes = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        try:
            codes.append(STAGE_CODES[int(text)])
        except (ValueError, KeyError):
            raise DataError(path, f"line {number}: unknown stage code {text!r} (known: "
                                  f"{sorted(STAGE_CODES)})") from None
    if not codes:
        raise DataError(path, "label file holds no stage")
    return np.asarray(codes, dtype=np.int8)


def read_recording(rec: Path, root: Path, channels: Sequence[str] | None = None,
                   scorer: int = 1) -> Recording:
    """One subject; ``channels`` use the exposed labels, in the order given."""
    labels_file = rec.with_name(f"{rec.stem}_{scorer}.txt")
    stages = read_labels(labels_file)
    data, names, sfreq = read_edf(rec, with_aliases(channels, ALIASES))
    names = canonical_names(names, ALIASES)
    required = list(channels) if channels is not None else list(SLEEP_CHANNELS)
    missing = [c for c in required if c not in names]
    if missing:
        raise missing_channel(rec, missing, None if channels is not None else names)
    if channels is not None:
        data, names = data[[names.index(c) for c in channels]], list(channels)
    check_channels(rec, data, names, required)
    stages = fit_stages(stages, 0.0, data.shape[1], sfreq, rec, labels_file)
    # trust the labels: the signal after the last labelled epoch is dropped
    data = data[:, : int(round(len(stages) * EPOCH_SEC * sfreq))]
    folder = rec.parent.relative_to(root).as_posix()
    folder = rec.stem if folder == "." else folder
    return Recording(
        data=data, ch_names=names, sfreq=sfreq, subject=folder, recording=folder,
        domain="isruc", source=rec, stages=stages,
        meta={"labels": str(labels_file), "scorer": scorer},
    )


@register_dataset("isruc", kind="sleep", sleep_channels=SLEEP_CHANNELS)
def isruc(path: Path, channels: Sequence[str] | None = None,
          scorer: int = 1) -> LazyRecordings[Recording]:
    """Read the ISRUC-Sleep subjects under ``path`` (searched recursively for ``*.rec``).

    Parameters
    ----------
    path : Path
        Subgroup folder (or a folder holding several subgroups).
    channels : list of str, optional
        Channels to read, exposed labels (``"F4-A1"``, ``"LOC-A2"``...; older files' ``F4-M1``
        etc. are found under these names); ``None`` reads all.
    scorer : int
        Which hypnogram to use, 1 (default) or 2.

    Returns
    -------
    LazyRecordings
        One :class:`~eegkit.data.types.Recording` per subject folder, read when reached.
    """
    if scorer not in SCORERS:
        raise ValueError(f"scorer must be one of {SCORERS}, got {scorer!r}")
    root = Path(path)
    recs = find_files(root, r".+\.rec", "ISRUC <subject>/<subject>.rec files")
    return LazyRecordings(
        recs, functools.partial(read_recording, root=root, channels=channels, scorer=scorer)
    )
