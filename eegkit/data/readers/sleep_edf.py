"""Sleep-EDF Expanded (PhysioNet ``sleep-edfx``): sleep-cassette and sleep-telemetry nights.

Files as distributed: ``sleep-cassette/SC4ssNE0-PSG.edf`` with ``SC4ssNEx-Hypnogram.edf`` and
``sleep-telemetry/ST7ssNJ0-PSG.edf`` with ``ST7ssNJx-Hypnogram.edf`` (``ss`` subject, ``N``
night; the letter after ``E``/``J`` differs between the two files, so they are paired on their
first 6 characters). A flat folder holding the same files is accepted too.

Stages come from the EDF+ annotations ``Sleep stage W/1/2/3/4/R/?`` and ``Movement time``;
R&K stages 3 and 4 are merged into N3, ``?`` and movement time are unscored (-1).

Length conventions (checked per night):

- PhysioNet hypnograms end with a long ``Sleep stage ?`` annotation that runs past the end of
  the signal; that unscored tail is trimmed.
- A *scored* part that runs past the signal by more than one (incomplete) epoch is an error
  (the files do not belong together); one incomplete last epoch is dropped with a warning.
- Signal after the end of the hypnogram is kept in ``data`` and marked unscored in ``stages``,
  so the sleep pipeline drops it (with the logged count of unscored epochs).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import mne
import numpy as np

from eegkit.data import register_dataset
from eegkit.data.readers._files import LazyRecordings
from eegkit.data.readers._psg import (
    channel_units,
    check_amplitude,
    check_channels,
    check_edf_size,
    missing_channel,
    mne_failure,
    read_edf_annotations,
    stages_from_runs,
)
from eegkit.data.types import EPOCH_SEC, UNSCORED, DataError, Recording

log = logging.getLogger(__name__)

#: The SleepDIFFormer (EEG, EOG) pair.
SLEEP_CHANNELS = ("EEG Fpz-Cz", "EOG horizontal")
#: Annotation text -> stage code (R&K 3 and 4 -> N3).
STAGE_CODES: dict[str, int] = {
    "Sleep stage W": 0, "Sleep stage 1": 1, "Sleep stage 2": 2, "Sleep stage 3": 3,
    "Sleep stage 4": 3, "Sleep stage R": 4, "Sleep stage ?": UNSCORED, "Movement time": UNSCORED,
}
_PSG_SUFFIX = "-PSG.edf"
_HYP_SUFFIX = "-Hypnogram.edf"
_KEY_LEN = 6  # SC4ssN / ST7ssN
_READ_CHUNK_SEC = 3600.0


def find_nights(path: Path) -> list[tuple[str, Path, Path]]:
    """``(night id, PSG, hypnogram)`` for every pair under ``path``, sorted by night id."""
    psgs = {p.name[:_KEY_LEN]: p for p in sorted(path.rglob(f"*{_PSG_SUFFIX}"))}
    hyps: dict[str, list[Path]] = {}
    for p in sorted(path.rglob(f"*{_HYP_SUFFIX}")):
        hyps.setdefault(p.name[:_KEY_LEN], []).append(p)
    nights = []
    for key, psg in sorted(psgs.items()):
        found = hyps.get(key, [])
        if len(found) > 1:
            raise DataError(psg, f"several hypnograms match: {[h.name for h in found]}")
        if not found:
            log.warning("%s: no matching *%s, night skipped", psg, _HYP_SUFFIX)
            continue
        nights.append((key, psg, found[0]))
    if not nights:
        raise DataError(path, f"no Sleep-EDF PSG/hypnogram pairs (*{_PSG_SUFFIX} with "
                              f"*{_HYP_SUFFIX}, paired on the first {_KEY_LEN} characters)")
    return nights


def read_hypnogram(path: Path) -> np.ndarray:
    """Stage code (int8, -1 unscored) per 30-s epoch from an EDF+ hypnogram."""
    ann = read_edf_annotations(path, "unreadable hypnogram")
    labels = np.asarray(ann.description, dtype=object)
    unknown = sorted(set(labels) - set(STAGE_CODES))
    if unknown:
        raise DataError(path, f"unknown hypnogram label(s) {unknown}; known: {list(STAGE_CODES)}")
    if len(labels) == 0:
        raise DataError(path, "hypnogram holds no sleep stage annotation")
    codes = np.array([STAGE_CODES[t] for t in labels], dtype=np.int8)
    stages = stages_from_runs(ann.onset, ann.duration, codes, path)
    return stages


def read_psg(path: Path, channels: Sequence[str] | None,
             required: Sequence[str]) -> tuple[np.ndarray, list[str], float]:
    """Signals (float32 volts), channel names and rate of a PSG.

    ``required`` channels must be present, finite and not flat. The night (about 22 h in the
    cassette study) is read in one-hour pieces straight into a float32 array, so no
    float64 copy of the whole recording is ever held. The file size, units and amplitudes are
    checked as in :func:`eegkit.data.readers._psg.read_edf`.
    """
    units = check_edf_size(path)
    with warnings.catch_warnings():
        # MNE only warns on a truncated file (and infers a shorter length): make that an error;
        # its other warnings (e.g. channels resampled to one rate) are expected here
        warnings.simplefilter("ignore")
        warnings.filterwarnings("error", message=".*does not match the file size.*")
        try:
            raw = mne.io.read_raw_edf(path, preload=False, verbose="warning")
            missing = [c for c in required if c not in raw.ch_names]
            if missing:
                raise missing_channel(path, missing, raw.ch_names)
            written, factors = channel_units(raw, units)
            if channels is not None:
                factors = factors[[raw.ch_names.index(c) for c in channels]]
                raw.pick(list(channels))
            sfreq = float(raw.info["sfreq"])
            data = np.empty((len(raw.ch_names), raw.n_times), dtype=np.float32)
            step = int(_READ_CHUNK_SEC * sfreq)
            for start in range(0, raw.n_times, step):  # ~22 pieces per night
                stop = min(start + step, raw.n_times)
                data[:, start:stop] = raw.get_data(start=start, stop=stop) * factors[:, None]
        except DataError:
            raise
        except Exception as err:  # MNE raises many types on a truncated or corrupt file
            raise mne_failure(path, err) from None
    names = list(raw.ch_names)
    check_channels(path, data, names, required)
    check_amplitude(path, data, names, written)
    return data, names, sfreq


def align_stages(stages: np.ndarray, n_signal_epochs: int, psg: Path, hyp: Path) -> np.ndarray:
    """Stages cut or padded (unscored) to the number of complete 30-s epochs of the signal."""
    beyond = stages[n_signal_epochs:]
    n_scored_beyond = int((beyond != UNSCORED).sum())
    if n_scored_beyond > 1:
        raise DataError(hyp, f"{n_scored_beyond} scored epochs lie beyond the end of "
                             f"{psg.name} ({n_signal_epochs} epochs): files do not match")
    if n_scored_beyond == 1:
        log.warning("%s: last scored epoch is incomplete in %s, dropped", hyp, psg.name)
    out = np.full(n_signal_epochs, UNSCORED, dtype=np.int8)
    n = min(n_signal_epochs, len(stages))
    out[:n] = stages[:n]
    if n_signal_epochs > len(stages):
        log.info("%s: %d epochs of signal after the hypnogram end are unscored",
                 psg, n_signal_epochs - len(stages))
    return out


def read_night(night: str, psg: Path, hyp: Path,
               channels: Sequence[str] | None = None) -> Recording:
    """One night as a :class:`Recording` (subject id = first 5 characters, e.g. ``SC400``)."""
    stages = read_hypnogram(hyp)
    required = list(channels) if channels is not None else list(SLEEP_CHANNELS)
    data, names, sfreq = read_psg(psg, channels, required)
    n_epochs = int(data.shape[1] // int(round(EPOCH_SEC * sfreq)))
    return Recording(
        data=data, ch_names=names, sfreq=sfreq, subject=night[:5], recording=night,
        domain="sleep_edf", source=psg, stages=align_stages(stages, n_epochs, psg, hyp),
        meta={"hypnogram": str(hyp)},
    )


@register_dataset("sleep_edf", kind="sleep", sleep_channels=SLEEP_CHANNELS, wake_margin_min=30.0)
def sleep_edf(path: Path, channels: Sequence[str] | None = None,
              ) -> LazyRecordings[Recording]:
    """Read Sleep-EDF Expanded nights from ``path`` (the ``sleep-edfx`` folder or a flat folder).

    Parameters
    ----------
    path : Path
        Folder holding ``*-PSG.edf`` / ``*-Hypnogram.edf`` pairs (searched recursively).
    channels : list of str, optional
        Channels to read (native labels, e.g. ``["EEG Fpz-Cz", "EOG horizontal"]``); ``None``
        reads all of them (MNE brings the 1-Hz channels to 100 Hz).

    Returns
    -------
    LazyRecordings
        One :class:`~eegkit.data.types.Recording` per night, read when reached; its
        ``sources`` are the ``(night id, PSG, hypnogram)`` triples.
    """
    if not Path(path).is_dir():
        raise DataError(path, "Sleep-EDF reader expects a folder")
    return LazyRecordings(find_nights(Path(path)),
                          lambda night: read_night(*night, channels=channels))
