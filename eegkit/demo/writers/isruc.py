"""Write ISRUC-Sleep files (subgroup I layout).

A subject is a folder ``<folder>/<n>/`` holding:

- ``<n>.rec``: a plain EDF file with a ``.rec`` extension; channels ``F3-A2``, ``C3-A2``,
  ``O1-A2``, ``F4-A1``, ``C4-A1``, ``O2-A1``, ``LOC-A2``, ``ROC-A1``, ``X1``... at 200 Hz
  (whichever labels are given, including the older ``F4-M1``/``E1-M2`` style);
- ``<n>_1.txt`` and ``<n>_2.txt``: the two scorers' hypnograms, one integer per line per 30-s
  epoch: 0 W, 1 N1, 2 N2, 3 N3, 5 REM (AASM; 4 is not used).

The files have no code for an unscored epoch. Trailing unscored epochs are therefore written as
a label file shorter than the signal, which is how the distributed files end; an unscored epoch
before a scored one cannot be written. Both scorer files receive the same stages.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from eegkit.data.edf_writer import edf_signals, write_edf
from eegkit.data.types import UNSCORED

#: Channel labels of the subgroup I recordings, in file order.
CHANNELS: tuple[str, ...] = (
    "LOC-A2", "ROC-A1", "F3-A2", "C3-A2", "O1-A2", "F4-A1", "C4-A1", "O2-A1", "X1", "X2",
    "X3", "X4", "X5", "X6", "DC3", "X7", "X8", "SaO2", "DC8",
)
SFREQ = 200.0
#: ISRUC label code per stage code.
STAGE_CODE: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 3, 4: 5}
#: Scorer numbers, one label file each.
SCORERS: tuple[int, ...] = (1, 2)
DEFAULT_START = datetime.datetime(2009, 5, 6, 22, 50)
_RECORD_SEC = 1.0
_UNITS = {"SaO2": "%"}


def write_isruc(folder: Path, index: int, signals: dict[str, np.ndarray],
                sfreq: dict[str, float], stages: np.ndarray,
                start: datetime.datetime | None = None) -> list[Path]:
    """Write subject ``index + 1`` (index 0 is subject ``1``) as ``<folder>/1/1.rec`` etc.

    Parameters
    ----------
    folder : Path
        Subgroup folder; the subject folder is created inside it.
    index : int
        0-based subject number.
    signals : dict of str to ndarray
        Volts (``SaO2`` in %), keyed by ISRUC labels, at 200 Hz, all of one duration (a whole
        number of seconds).
    sfreq : dict of str to float
        Rate of each signal.
    stages : ndarray
        One code per 30-s epoch (0..4; -1 only as a trailing run, see the module docstring).
    start : datetime, optional
        Recording start (default 2009-05-06 22:50).

    Returns
    -------
    list of Path
        ``[<n>.rec, <n>_1.txt, <n>_2.txt]``.
    """
    start = start or DEFAULT_START
    if any(sfreq[c] != SFREQ for c in signals):
        raise ValueError(f"every ISRUC channel is at {SFREQ:g} Hz, got {sfreq}")
    stages = np.asarray(stages, dtype=np.int64)
    scored = np.flatnonzero(stages != UNSCORED)
    n_labels = int(scored[-1]) + 1 if len(scored) else 0
    if (stages[:n_labels] == UNSCORED).any():
        raise ValueError("ISRUC label files cannot hold an unscored epoch before a scored one")
    if not np.isin(stages[:n_labels], list(STAGE_CODE)).all():
        raise ValueError(f"stage codes must be -1..4, got {sorted(set(stages.tolist()))}")
    subject = str(index + 1)
    out = Path(folder) / subject
    rec = write_edf(
        out / f"{subject}.rec",
        edf_signals(signals, sfreq, _UNITS, record_duration=_RECORD_SEC),
        start=start, record_duration=_RECORD_SEC, patient_code=subject,
    )
    text = "".join(f"{STAGE_CODE[int(s)]}\n" for s in stages[:n_labels])
    labels = []
    for scorer in SCORERS:
        path = out / f"{subject}_{scorer}.txt"
        path.write_text(text)
        labels.append(path)
    return [rec, *labels]


__all__ = ["CHANNELS", "SCORERS", "SFREQ", "STAGE_CODE", "write_isruc"]
