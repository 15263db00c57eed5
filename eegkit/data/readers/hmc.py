"""HMC sleep staging (PhysioNet ``hmc-sleep-staging``): Haaglanden Medisch Centrum PSGs.

Files as distributed: ``recordings/SN001.edf`` (signals at 256 Hz) with
``recordings/SN001_sleepscoring.edf`` (EDF+ annotations ``Sleep stage W/N1/N2/N3/R``, one per
30-s epoch, plus ``Lights off``/``Lights on``). The scoring usually starts after the signal
does: the onset of the first stage annotation (seconds from the start of the files, which share
their start time) becomes :attr:`Recording.epoch_onset`. Epochs between stage annotations are
unscored (-1).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eegkit.data import register_dataset
from eegkit.data.readers._files import LazyRecordings
from eegkit.data.readers._psg import (
    check_channels,
    find_files,
    fit_stages,
    missing_channel,
    read_edf,
    read_edf_annotations,
    stages_from_runs,
)
from eegkit.data.types import DataError, Recording

#: The SleepDIFFormer (EEG, EOG) pair.
SLEEP_CHANNELS = ("EEG F4-M1", "EOG E1-M2")
#: Annotation text -> stage code.
STAGE_CODES: dict[str, int] = {
    "Sleep stage W": 0, "Sleep stage N1": 1, "Sleep stage N2": 2, "Sleep stage N3": 3,
    "Sleep stage R": 4,
}
#: Annotations that carry no stage.
OTHER_ANNOTATIONS = frozenset({"Lights off", "Lights on"})
_SIGNAL_FILE = r"SN\d+\.edf"
_SCORING_SUFFIX = "_sleepscoring.edf"


def read_scoring(path: Path) -> tuple[np.ndarray, float]:
    """Stage per 30-s epoch (int8, -1 unscored) and the onset (s) of the first one."""
    if not path.is_file():
        raise DataError(path, "scoring file is missing")
    ann = read_edf_annotations(path)
    text = np.asarray(ann.description, dtype=object)
    unknown = sorted(set(text) - set(STAGE_CODES) - OTHER_ANNOTATIONS)
    if unknown:
        raise DataError(path, f"unknown annotation(s) {unknown}; known stages: "
                              f"{list(STAGE_CODES)}")
    is_stage = np.isin(text, list(STAGE_CODES))
    if not is_stage.any():
        raise DataError(path, "no sleep stage annotation")
    onset, duration = ann.onset[is_stage], ann.duration[is_stage]
    first = float(onset.min())
    codes = np.array([STAGE_CODES[t] for t in text[is_stage]], dtype=np.int8)
    stages = stages_from_runs(onset - first, duration, codes, path)
    return stages, first


def read_recording(signal: Path, channels: Sequence[str] | None = None) -> Recording:
    """One HMC recording; ``channels`` in the order given (``None``: all, file order)."""
    scoring = signal.with_name(signal.stem + _SCORING_SUFFIX)
    stages, epoch_onset = read_scoring(scoring)
    data, names, sfreq = read_edf(signal, channels)
    required = list(channels) if channels is not None else list(SLEEP_CHANNELS)
    missing = [c for c in required if c not in names]
    if missing:
        raise missing_channel(signal, missing, None if channels is not None else names)
    if channels is not None:
        data, names = data[[names.index(c) for c in channels]], list(channels)
    check_channels(signal, data, names, required)
    return Recording(
        data=data, ch_names=names, sfreq=sfreq, subject=signal.stem, recording=signal.stem,
        domain="hmc", source=signal, epoch_onset=epoch_onset,
        stages=fit_stages(stages, epoch_onset, data.shape[1], sfreq, signal, scoring),
        meta={"scoring": str(scoring)},
    )


@register_dataset("hmc", kind="sleep", sleep_channels=SLEEP_CHANNELS)
def hmc(path: Path, channels: Sequence[str] | None = None) -> LazyRecordings[Recording]:
    """Read the HMC recordings under ``path`` (the dataset folder, searched recursively).

    Parameters
    ----------
    path : Path
        Folder holding ``SN<nnn>.edf`` with ``SN<nnn>_sleepscoring.edf``.
    channels : list of str, optional
        Channels to read, e.g. ``["EEG F4-M1", "EOG E1-M2"]``; ``None`` reads all.

    Returns
    -------
    LazyRecordings
        One :class:`~eegkit.data.types.Recording` per recording, read when reached; subject
        and recording id are ``SN<nnn>``.
    """
    signals = find_files(Path(path), _SIGNAL_FILE, "HMC signal files SN<nnn>.edf")
    return LazyRecordings(signals, functools.partial(read_recording, channels=channels))
