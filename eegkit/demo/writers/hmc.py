"""Write HMC sleep staging files (PhysioNet ``hmc-sleep-staging``).

A recording is two files under ``<folder>/recordings/``:

- ``SN001.edf``: EDF+ with ``EEG F4-M1``, ``EEG C4-M1``, ``EEG O2-M1``, ``EEG C3-M2``,
  ``EMG chin``, ``EOG E1-M2``, ``EOG E2-M2``, ``ECG`` at 256 Hz (whichever of them are given);
- ``SN001_sleepscoring.edf``: annotation-only EDF+ with one 30-s annotation per scored epoch,
  ``Sleep stage W/N1/N2/N3/R``, plus ``Lights off`` at the first and ``Lights on`` at the end
  of the last scored epoch. Unscored epochs (-1) get no annotation, as in the distributed files.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from eegkit.data.edf_writer import edf_signals, write_edf
from eegkit.data.types import EPOCH_SEC, UNSCORED

#: Native channel labels, in the order of the distributed files.
CHANNELS: tuple[str, ...] = (
    "EEG F4-M1", "EEG C4-M1", "EEG O2-M1", "EEG C3-M2", "EMG chin", "EOG E1-M2", "EOG E2-M2",
    "ECG",
)
SFREQ = 256.0
#: Annotation text per stage code.
STAGE_TEXT: dict[int, str] = {
    0: "Sleep stage W", 1: "Sleep stage N1", 2: "Sleep stage N2", 3: "Sleep stage N3",
    4: "Sleep stage R",
}
DEFAULT_START = datetime.datetime(2018, 1, 1, 22, 30)
_RECORD_SEC = 1.0


def write_hmc(folder: Path, index: int, signals: dict[str, np.ndarray],
              sfreq: dict[str, float], stages: np.ndarray,
              start: datetime.datetime | None = None) -> list[Path]:
    """Write recording ``SN{index + 1:03d}`` (index 0 is ``SN001``).

    Parameters
    ----------
    folder : Path
        Dataset root; files go to ``folder / "recordings"``.
    index : int
        0-based recording number.
    signals : dict of str to ndarray
        Volts, keyed by HMC labels (see :data:`CHANNELS`), all at 256 Hz, all of one
        duration (a whole number of seconds).
    sfreq : dict of str to float
        Rate of each signal (256 Hz).
    stages : ndarray
        One code per 30-s epoch from the signal start (0..4 = W, N1, N2, N3, REM; -1 =
        unscored, written as no annotation).
    start : datetime, optional
        Recording start (default 2018-01-01 22:30).

    Returns
    -------
    list of Path
        ``[signal file, scoring file]``.
    """
    start = start or DEFAULT_START
    unknown = set(signals) - set(CHANNELS)
    if unknown:
        raise ValueError(f"not HMC channel labels: {sorted(unknown)}; known: {CHANNELS}")
    if any(sfreq[c] != SFREQ for c in signals):
        raise ValueError(f"every HMC channel is at {SFREQ:g} Hz, got {sfreq}")
    stages = np.asarray(stages, dtype=np.int64)
    if not np.isin(stages, [*STAGE_TEXT, UNSCORED]).all():
        raise ValueError(f"stage codes must be -1..4, got {sorted(set(stages.tolist()))}")
    name = f"SN{index + 1:03d}"
    out = Path(folder) / "recordings"
    ordered = {c: signals[c] for c in CHANNELS if c in signals}
    psg = write_edf(
        out / f"{name}.edf",
        edf_signals(ordered, sfreq, {}, record_duration=_RECORD_SEC),
        start=start, record_duration=_RECORD_SEC, annotations=(), patient_code=name,
    )
    scored = np.flatnonzero(stages != UNSCORED)
    annotations = [(e * EPOCH_SEC, EPOCH_SEC, STAGE_TEXT[int(stages[e])]) for e in scored]
    if len(scored):
        annotations.insert(0, (scored[0] * EPOCH_SEC, 0.0, "Lights off"))
        annotations.append(((scored[-1] + 1) * EPOCH_SEC, 0.0, "Lights on"))
    scoring = write_edf(out / f"{name}_sleepscoring.edf", [], start=start,
                        record_duration=_RECORD_SEC, annotations=annotations, patient_code=name)
    return [psg, scoring]


__all__ = ["CHANNELS", "SFREQ", "STAGE_TEXT", "write_hmc"]
