"""PhysioNet/Computing in Cardiology Challenge 2018 (You Snooze You Win), training set.

Files as distributed: ``training/tr03-0005/tr03-0005.hea`` (WFDB header) naming the signal
file ``tr03-0005.mat`` (13 channels at 200 Hz, format 16, gains and baselines in the header),
and ``tr03-0005-arousal.mat`` (MATLAB v7.3, i.e. HDF5): ``data/sleep_stages/{wake, nonrem1,
nonrem2, nonrem3, rem, undefined}``, one 0/1 value per sample, and ``data/arousals`` (-1 not
scored, 0, 1 per sample).

- Signals are read with ``wfdb`` as stored integers, only the chosen channels, and scaled here
  to float32 volts (``uV``/``mV`` channels; others such as ``SaO2`` keep their unit). WFDB's
  invalid-sample value becomes NaN.
- Stages: the 30-s epoch grid starts at the first sample with a defined stage
  (:attr:`Recording.epoch_onset`); an epoch gets a stage only if that one stage covers all its
  samples, else -1 (so does any epoch touching ``undefined``).
- Target arousals (runs of 1 in ``data/arousals``) become :attr:`Recording.events` with code 1.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import wfdb

from eegkit.data import register_dataset
from eegkit.data.readers._files import LazyRecordings
from eegkit.data.readers._psg import check_channels, find_files, missing_channel
from eegkit.data.types import EPOCH_SEC, EVENT_DTYPE, UNSCORED, DataError, Recording

#: The SleepDIFFormer (EEG, EOG) pair.
SLEEP_CHANNELS = ("C3-M2", "E1-M2")
#: Per-sample stage vectors in stage-code order (W, N1, N2, N3, REM), then the undefined one.
STAGE_VECTORS = ("wake", "nonrem1", "nonrem2", "nonrem3", "rem")
UNDEFINED = "undefined"
#: Event code of a target arousal.
AROUSAL_CODE = 1
_VOLTS = {"uV": 1e-6, "mV": 1e-3, "V": 1.0}
_INVALID_FMT16 = -32768


def read_signals(header: Path, channels: Sequence[str] | None
                 ) -> tuple[np.ndarray, list[str], float]:
    """Samples (float32), labels and rate of the chosen channels of a WFDB record."""
    record = str(header.with_suffix(""))
    try:
        head = wfdb.rdheader(record)
    except Exception as err:  # wfdb raises many types on a malformed header
        raise DataError(header, f"malformed WFDB header ({type(err).__name__}: {err})") from None
    present = list(head.sig_name or [])
    names = present if channels is None else list(channels)
    missing = [c for c in names if c not in present]
    if missing:
        raise missing_channel(header, missing, present)
    index = [present.index(c) for c in names]
    try:
        rec = wfdb.rdrecord(record, channels=index, physical=False, return_res=16)
    except Exception as err:
        # wfdb cannot say whether the signal file or its header is wrong: name both
        raise DataError(header.with_suffix(".mat"),
                        f"truncated or corrupt signal file, or a header {header.name} that does "
                        f"not match it ({type(err).__name__}: {err})") from None
    digital = rec.d_signal
    if digital is None or digital.shape[0] != head.sig_len:
        got = 0 if digital is None else digital.shape[0]
        raise DataError(header.with_suffix(".mat"),
                        f"holds {got} samples per channel, the header says {head.sig_len}")
    gain = np.asarray(rec.adc_gain, dtype=np.float64)
    baseline = np.asarray(rec.baseline, dtype=np.float64)
    scale = np.array([_VOLTS.get(u, 1.0) for u in rec.units]) / gain
    data = ((digital.T - baseline[:, None]) * scale[:, None]).astype(np.float32)
    data[digital.T == _INVALID_FMT16] = np.nan
    return data, names, float(head.fs)


def _vector(group: h5py.Group, key: str, n_samples: int, path: Path) -> np.ndarray:
    if key not in group:
        raise DataError(path, f"{group.name}/{key} is missing")
    values = np.asarray(group[key])
    if values.ndim != 2 or 1 not in values.shape:
        raise DataError(path, f"{group.name}/{key} has shape {values.shape}, expected (1, N) "
                              "or (N, 1)")
    values = values.reshape(-1)
    if len(values) != n_samples:
        relation = "longer" if len(values) > n_samples else "shorter"
        raise DataError(path, f"{group.name}/{key} holds {len(values)} samples, {relation} "
                              f"than the {n_samples}-sample signal")
    return values


def stages_from_vectors(vectors: np.ndarray, undefined: np.ndarray, sfreq: float
                        ) -> tuple[np.ndarray, int]:
    """Stage per 30-s epoch and the first sample of the grid, from per-sample 0/1 vectors.

    ``vectors`` is (5, N) in stage-code order. The grid starts at the first sample where a
    stage is set and ``undefined`` is not; an epoch is labelled only when exactly one stage
    covers all of its samples and none of them is undefined.
    """
    defined = (vectors.sum(axis=0) > 0) & (undefined == 0)
    if not defined.any():
        return np.zeros(0, dtype=np.int8), 0
    origin = int(np.argmax(defined))
    per_epoch = int(round(EPOCH_SEC * sfreq))
    n_epochs = (vectors.shape[1] - origin) // per_epoch
    end = origin + n_epochs * per_epoch
    counts = vectors[:, origin:end].reshape(len(vectors), n_epochs, per_epoch).sum(axis=2)
    bad = undefined[origin:end].reshape(n_epochs, per_epoch).any(axis=1)
    full = counts == per_epoch
    stages = np.where((full.sum(axis=0) == 1) & (counts.sum(axis=0) == per_epoch) & ~bad,
                      np.argmax(full, axis=0), UNSCORED)
    return stages.astype(np.int8), origin


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length (samples) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return starts, ends - starts


def read_arousal_file(path: Path, n_samples: int, sfreq: float
                      ) -> tuple[np.ndarray, float, np.ndarray]:
    """Stages, epoch onset (s) and arousal events from a ``-arousal.mat`` file."""
    if not path.is_file():
        raise DataError(path, "arousal/stage file is missing")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DataError(path, f"not a readable MATLAB v7.3 (HDF5) file ({err})") from None
    with f:
        if "data/sleep_stages" not in f:
            raise DataError(path, "no data/sleep_stages group")
        group = f["data/sleep_stages"]
        unknown = sorted(set(group) - {*STAGE_VECTORS, UNDEFINED})
        if unknown:
            raise DataError(path, f"unknown stage vector(s) {unknown}; known: "
                                  f"{[*STAGE_VECTORS, UNDEFINED]}")
        vectors = np.stack([_vector(group, k, n_samples, path) for k in STAGE_VECTORS])
        undefined = _vector(group, UNDEFINED, n_samples, path)
        arousals = (_vector(f["data"], "arousals", n_samples, path)
                    if "arousals" in f["data"] else None)
    if not np.isin(vectors, (0, 1)).all() or not np.isin(undefined, (0, 1)).all():
        raise DataError(path, "stage vectors must hold only 0 and 1")
    stages, origin = stages_from_vectors(vectors, undefined, sfreq)
    events = np.zeros(0, dtype=EVENT_DTYPE)
    if arousals is not None:
        starts, lengths = _runs(arousals == 1)
        events = np.zeros(len(starts), dtype=EVENT_DTYPE)
        events["onset"], events["duration"] = starts / sfreq, lengths / sfreq
        events["code"], events["channel"] = AROUSAL_CODE, -1
    return stages, origin / sfreq, events


def read_recording(header: Path, channels: Sequence[str] | None = None) -> Recording:
    """One challenge record; ``channels`` in the order given (``None``: all, header order)."""
    data, names, sfreq = read_signals(header, channels)
    arousal = header.with_name(f"{header.stem}-arousal.mat")
    stages, epoch_onset, events = read_arousal_file(arousal, data.shape[1], sfreq)
    required = list(channels) if channels is not None else [
        c for c in SLEEP_CHANNELS if c in names
    ]
    check_channels(header.with_suffix(".mat"), data, names, required)
    return Recording(
        data=data, ch_names=names, sfreq=sfreq, subject=header.stem, recording=header.stem,
        domain="physionet2018", source=header.with_suffix(".mat"), stages=stages,
        epoch_onset=epoch_onset, events=events, meta={"arousal_file": str(arousal)},
    )


@register_dataset("physionet2018", kind="sleep", sleep_channels=SLEEP_CHANNELS)
def physionet2018(path: Path, channels: Sequence[str] | None = None
                  ) -> LazyRecordings[Recording]:
    """Read the challenge records under ``path`` (e.g. the ``training`` folder or its parent).

    Parameters
    ----------
    path : Path
        Folder searched recursively for ``<record>/<record>.hea``.
    channels : list of str, optional
        Channels to read, e.g. ``["C3-M2", "E1-M2"]``; ``None`` reads all 13.

    Returns
    -------
    LazyRecordings
        One :class:`~eegkit.data.types.Recording` per record, read when reached; subject and
        recording id are the record name (one record per subject in the training set).
    """
    headers = find_files(Path(path), r"tr\d+-\d+\.hea", "challenge records <record>.hea")
    return LazyRecordings(headers, functools.partial(read_recording, channels=channels))
