"""Write Sleep-EDF Expanded files (PhysioNet ``sleep-edfx``, sleep-cassette layout).

A night is two files under ``<folder>/sleep-cassette/``:

- ``SC4ss1E0-PSG.edf``: EDF with ``EEG Fpz-Cz``, ``EEG Pz-Oz``, ``EOG horizontal`` at 100 Hz
  and ``Resp oro-nasal``, ``EMG submental``, ``Temp rectal``, ``Event marker`` at 1 Hz, in
  30-s data records, as PhysioNet ships it;
- ``SC4ss1EC-Hypnogram.edf``: EDF+ holding only annotations, one per run of equal stages,
  with the R&K strings ``Sleep stage W/1/2/3/R/?``.

Signals that the caller does not give are filled so the file stays format-faithful: EEG/EOG/EMG
and the event marker with zeros, respiration with zeros, rectal temperature with a constant
37 degC.
"""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import mne
import numpy as np
from edfio import Patient

from eegkit.data.edf_writer import VOLT_SCALE, edf_signals, write_edf
from eegkit.data.types import EPOCH_SEC, UNSCORED, DataError

#: Channels of a sleep-cassette PSG: (label, rate in Hz, physical dimension, fill value).
PSG_CHANNELS: tuple[tuple[str, float, str, float], ...] = (
    ("EEG Fpz-Cz", 100.0, "uV", 0.0),
    ("EEG Pz-Oz", 100.0, "uV", 0.0),
    ("EOG horizontal", 100.0, "uV", 0.0),
    ("Resp oro-nasal", 1.0, "", 0.0),
    ("EMG submental", 1.0, "uV", 0.0),
    ("Temp rectal", 1.0, "DegC", 37.0),
    ("Event marker", 1.0, "", 0.0),
)
#: Hypnogram annotation text per stage code (N3 is written as R&K stage 3).
STAGE_TEXT: dict[int, str] = {
    0: "Sleep stage W", 1: "Sleep stage 1", 2: "Sleep stage 2", 3: "Sleep stage 3",
    4: "Sleep stage R", UNSCORED: "Sleep stage ?",
}
DEFAULT_START = datetime.datetime(1989, 4, 24, 16, 13)
_RECORD_SEC = 30  # data record duration of the PhysioNet PSG files
_PATIENT = Patient(sex="F", name="Female_33yr")  # the style of PhysioNet's header field


def _stage_runs(stages: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start epoch, length and code of each run of equal consecutive stages."""
    change = np.flatnonzero(np.diff(stages)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(stages)]]))
    return starts, lengths, stages[starts]


def write_psg(path: Path, signals: dict[str, np.ndarray], sfreq: dict[str, float],
              duration: float, start: datetime.datetime | None = None,
              channels: tuple[str, ...] | None = None) -> Path:
    """Write one sleep-cassette PSG of ``duration`` seconds (a multiple of 30 s).

    ``signals`` (volts) are cut or zero-padded to ``duration``; channels in ``channels``
    (default: all seven of :data:`PSG_CHANNELS`) that are not given are filled with their
    constant. A given signal must have the channel's native rate.
    """
    start = start or DEFAULT_START
    if duration <= 0 or duration % _RECORD_SEC:
        raise DataError(path, f"PSG duration must be a positive multiple of 30 s, got {duration}")
    unknown = set(signals) - {c[0] for c in PSG_CHANNELS}
    if unknown:
        raise DataError(path, f"not Sleep-EDF channel labels: {sorted(unknown)}")
    wanted = channels or tuple(c[0] for c in PSG_CHANNELS)
    values, rates, units = {}, {}, {}
    for label, rate, unit, fill in PSG_CHANNELS:
        if label not in wanted and label not in signals:
            continue
        n = int(round(duration * rate))
        x = np.full(n, fill / VOLT_SCALE.get(unit, 1.0))  # in volts for voltage channels
        if label in signals:
            if float(sfreq.get(label, rate)) != rate:
                raise DataError(path, f"{label} must be at {rate} Hz, got {sfreq.get(label)}")
            given = np.asarray(signals[label], dtype=np.float64)[:n]
            x[: len(given)] = given
        values[label], rates[label], units[label] = x, rate, unit
    return write_edf(path, edf_signals(values, rates, units, record_duration=_RECORD_SEC),
                     start=start, record_duration=_RECORD_SEC, patient=_PATIENT)


def write_hypnogram(path: Path, stages: np.ndarray,
                    start: datetime.datetime | None = None) -> Path:
    """Write an EDF+ hypnogram: one annotation per run of equal stages (codes -1..4)."""
    start = start or DEFAULT_START
    stages = np.asarray(stages, dtype=np.int64)
    if len(stages) == 0 or not np.isin(stages, list(STAGE_TEXT)).all():
        raise DataError(path, f"stages must be a non-empty array of codes in {sorted(STAGE_TEXT)}")
    starts, lengths, codes = _stage_runs(stages)
    annotations = [(float(s * EPOCH_SEC), float(n * EPOCH_SEC), STAGE_TEXT[int(c)])
                   for s, n, c in zip(starts, lengths, codes, strict=True)]
    return write_edf(path, [], start=start, record_duration=_RECORD_SEC,
                     annotations=annotations, patient=_PATIENT)


def write_sleep_edf(folder: Path, index: int, signals: dict[str, np.ndarray],
                    sfreq: dict[str, float], stages: np.ndarray,
                    start: datetime.datetime | None = None) -> list[Path]:
    """Write night 1 of subject ``index`` as ``sleep-cassette/SC4{index:02d}1E0-PSG.edf`` and
    ``SC4{index:02d}1EC-Hypnogram.edf``.

    Parameters
    ----------
    folder : Path
        Dataset root; files go to ``folder / "sleep-cassette"``.
    index : int
        Subject number, 0..99.
    signals : dict of str to ndarray
        Volts, keyed by Sleep-EDF labels (``"EEG Fpz-Cz"``, ``"EOG horizontal"``...), each at
        its native rate; missing channels are filled (see the module docstring).
    sfreq : dict of str to float
        Rate of each given signal (must be the native one: 100 Hz or 1 Hz).
    stages : ndarray
        One code per 30-s epoch (0..4 = W, N1, N2, N3, REM; -1 = unscored); the PSG lasts
        ``30 * len(stages)`` seconds.
    start : datetime, optional
        Recording start (default 1989-04-24 16:13).

    Returns
    -------
    list of Path
        ``[psg, hypnogram]``.
    """
    if not 0 <= index <= 99:
        raise ValueError(f"Sleep-EDF subject index must be in 0..99, got {index}")
    sub = Path(folder) / "sleep-cassette"
    psg = write_psg(sub / f"SC4{index:02d}1E0-PSG.edf", signals, sfreq,
                    EPOCH_SEC * len(stages), start)
    hyp = write_hypnogram(sub / f"SC4{index:02d}1EC-Hypnogram.edf", stages, start)
    return [psg, hyp]


def write_psg_for_hypnogram(folder: Path, hypnogram: Path, seed: int = 0,
                            channels: tuple[str, ...] = ("EEG Fpz-Cz", "EOG horizontal"),
                            amplitude: float = 20e-6) -> list[Path]:
    """Pair an existing (real) hypnogram with a generated PSG of white noise.

    The hypnogram is copied to ``folder``; the PSG (named after its first 6 characters, e.g.
    ``SC4001E0-PSG.edf``) covers the scored part, i.e. it ends where the trailing
    ``Sleep stage ?`` annotation starts, exactly as the PhysioNet PSG files do. Only
    ``channels`` are written, to keep test fixtures small.

    Returns
    -------
    list of Path
        ``[psg, hypnogram copy]``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ann = mne.read_annotations(hypnogram)
    scored = np.asarray([d != STAGE_TEXT[UNSCORED] for d in ann.description])
    if not scored.any():
        raise DataError(hypnogram, "hypnogram has no scored epoch")
    end = float(np.max(ann.onset[scored] + ann.duration[scored]))
    rng = np.random.default_rng(seed)
    rates = {c[0]: c[1] for c in PSG_CHANNELS}
    signals = {c: amplitude * rng.standard_normal(int(end * rates[c])) for c in channels}
    copy = folder / Path(hypnogram).name
    shutil.copyfile(hypnogram, copy)
    psg = write_psg(folder / f"{copy.name[:6]}E0-PSG.edf", signals,
                    {c: rates[c] for c in channels}, end, channels=channels)
    return [psg, copy]


__all__ = ["PSG_CHANNELS", "STAGE_TEXT", "write_hypnogram", "write_psg",
           "write_psg_for_hypnogram", "write_sleep_edf"]
