"""Sleep pipeline: any registered sleep reader -> sequences of 20 thirty-second epochs.

For each recording, on the (EEG, EOG) pair named by the reader's ``sleep_channels`` metadata
(or by the ``channels`` argument), with the settings of a :class:`SleepConfig` (which
:meth:`SleepConfig.from_dict` builds from a config file's mapping):

1. keep the scored part of the night; where the dataset asks for it (registry metadata
   ``wake_margin_min``, 30 min for Sleep-EDF), only the wake within that margin before the first
   and after the last sleep epoch;
2. resample to 100 Hz, band-pass 0.3-35 Hz (zero-phase), on that part plus a one-minute guard
   on each side so the filter's edge transients fall outside the kept epochs;
3. z-score each channel over the kept part of the recording;
4. cut 30-s epochs aligned to the stages, drop unscored/movement epochs (count logged);
5. pack the remaining epochs, in time order, into non-overlapping sequences of ``seq_len``
   epochs (a sequence steps over a dropped epoch, as in the published pipelines); the
   remainder (< ``seq_len`` epochs) is dropped (for training only: :mod:`eegkit.predict`
   pads it, so that a new recording is staged to its end).

Steps 2-3 are :func:`condition_epochs`, which prediction on a new recording calls too.

Results are stored with :class:`~eegkit.cache.ArrayCache` (memory-mapped on reading),
keyed by the dataset name, the reader arguments, every file under the dataset folder (name,
size, modification time) and the preprocessing config, so a second call reads the cache.

Example
-------
>>> seqs = prepare_sleep("sleep_edf", "sleep-edfx/")
>>> seqs.X.shape  # (n_sequences, 20, 2, 3000)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from eegkit.cache import ArrayCache
from eegkit.cache import cache_key as make_key
from eegkit.data import dataset_info, load
from eegkit.data import preprocess as pp
from eegkit.data.readers._files import path_fingerprint
from eegkit.data.types import EPOCH_SEC, STAGES, UNSCORED, DataError, Recording

log = logging.getLogger(__name__)

PIPELINE_VERSION = 1
_GUARD_SEC = 60.0  # signal kept on both sides while filtering, then discarded


@dataclass(frozen=True)
class SleepConfig:
    """Preprocessing settings (all of them enter the cache key).

    ``wake_margin_min``: minutes of wake kept around the sleep period; ``"auto"`` takes the
    reader's registry metadata (30 for Sleep-EDF, none elsewhere), ``None`` keeps all scored
    epochs.
    """

    sfreq: float = 100.0
    l_freq: float = 0.3
    h_freq: float = 35.0
    seq_len: int = 20
    wake_margin_min: float | None | str = "auto"

    @classmethod
    def from_dict(cls, values: dict | None, **overrides) -> SleepConfig:
        """A config from a mapping (e.g. the ``preprocessing:`` block of a YAML config).

        ``overrides`` (e.g. the datamodule's ``seq_len``) take precedence; an unknown key is a
        ``ValueError`` naming the known ones, so a typo in a config is never silently ignored.
        """
        values = {**(values or {}), **overrides}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown sleep preprocessing setting(s) {unknown}; "
                             f"known: {sorted(known)}")
        return cls(**values)


@dataclass
class SleepSequences:
    """The prepared sequences of one dataset (one domain).

    Attributes
    ----------
    X : ndarray, shape (n_sequences, seq_len, 2, n_times), float32
        (EEG, EOG) epochs; memory-mapped when read from the cache.
    y : ndarray of int8, shape (n_sequences, seq_len)
    subject, recording, position : ndarray of int32, shape (n_sequences,)
        Index into :attr:`subjects` / :attr:`recordings`, and the sequence's rank in its
        recording (0, 1, ...).
    subjects, recordings : list of str
    domain : str
    ch_names : list of str
    sfreq : float
    info : dict
        Per-recording facts gathered while preparing (native rate, scored/dropped epochs).
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    recording: np.ndarray
    position: np.ndarray
    subjects: list[str]
    recordings: list[str]
    domain: str
    ch_names: list[str]
    sfreq: float
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.X.shape[0])


def keep_range(stages: np.ndarray, wake_margin_epochs: int | None) -> tuple[int, int]:
    """``[start, stop)`` epochs to keep: the scored span, narrowed to the sleep period plus a
    wake margin when one is given. ``(0, 0)`` when nothing qualifies."""
    scored = np.flatnonzero(stages != UNSCORED)
    if len(scored) == 0:
        return 0, 0
    start, stop = int(scored[0]), int(scored[-1]) + 1
    if wake_margin_epochs is not None:
        asleep = np.flatnonzero(np.isin(stages, (1, 2, 3, 4)))
        if len(asleep) == 0:
            return 0, 0
        start = max(start, int(asleep[0]) - wake_margin_epochs)
        stop = min(stop, int(asleep[-1]) + 1 + wake_margin_epochs)
    return start, stop


def condition_epochs(rec: Recording, channels: Sequence[str], config: SleepConfig,
                     start: int, stop: int) -> np.ndarray:
    """Epochs ``[start, stop)`` (counted from ``rec.epoch_onset``) of ``channels``, preprocessed.

    Resampling and band-pass run over the span plus a guard of up to one minute on each side
    (dropped afterwards), and every channel is z-scored over the span: the training pipeline
    and prediction on a new recording share this one implementation.

    Returns
    -------
    ndarray, shape (stop - start, len(channels), 30 * config.sfreq), float32
    """
    onset = int(round(rec.epoch_onset * rec.sfreq))
    per_epoch = EPOCH_SEC * rec.sfreq
    n_out = int(round(EPOCH_SEC * config.sfreq))
    guard = int(_GUARD_SEC * rec.sfreq)
    a = onset + int(round(start * per_epoch))
    b = onset + int(round(stop * per_epoch))
    lo, hi = max(0, a - guard), min(rec.n_times, b + guard)
    # resample and filter channel by channel: temporaries stay the size of one channel
    x = np.stack([
        pp.bandpass(pp.resample(rec.channel(c)[lo:hi], rec.sfreq, config.sfreq),
                    config.sfreq, config.l_freq, config.h_freq)
        for c in channels
    ])
    cut = int(round((a - lo) * config.sfreq / rec.sfreq))
    x = x[:, cut: cut + (stop - start) * n_out]
    if x.shape[1] < (stop - start) * n_out:  # resampling can lose a sample at the very end
        x = np.pad(x, ((0, 0), (0, (stop - start) * n_out - x.shape[1])), mode="edge")
    x = pp.zscore(x, out=x)
    return pp.epochs(x, n_out)


def recording_epochs(rec: Recording, channels: tuple[str, str], config: SleepConfig,
                     wake_margin_epochs: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Scored epochs ``(n, 2, T)`` float32, their stages ``(n,)`` int8, and how many epochs in
    the kept span were dropped as unscored."""
    if rec.stages is None:
        raise DataError(rec.source, "recording has no sleep stages")
    stages = np.asarray(rec.stages, dtype=np.int8)
    onset = int(round(rec.epoch_onset * rec.sfreq))
    n_fit = int((rec.n_times - onset) // (EPOCH_SEC * rec.sfreq))
    stages = stages[:n_fit]  # epochs the signal covers completely
    start, stop = keep_range(stages, wake_margin_epochs)
    if stop <= start:
        log.warning("%s: no epoch to keep (no scored sleep)", rec.source)
        n_out = int(round(EPOCH_SEC * config.sfreq))
        return np.zeros((0, 2, n_out), np.float32), np.zeros(0, np.int8), 0
    kept = stages[start:stop]
    scored = kept != UNSCORED
    epochs = condition_epochs(rec, channels, config, start, stop)
    return epochs[scored], kept[scored], int((~scored).sum())


def sleep_channels(name: str, channels: Sequence[str] | None = None) -> tuple[str, str]:
    """The (EEG, EOG) pair read from dataset ``name``: ``channels`` when given (an override,
    e.g. for a montage the registry does not name), else the reader's ``sleep_channels``.

    ``name`` must be a sleep reader, or the generic ``edf`` reader (kind ``"generic"``), which
    names no pair of its own.
    """
    info = dataset_info(name)
    if info.get("kind") not in ("sleep", "generic"):
        raise ValueError(f"{name!r} is a reader of kind {info.get('kind')!r}, not a sleep reader")
    if channels is None and "sleep_channels" not in info:
        raise ValueError(f"reader {name!r} names no (EEG, EOG) pair: pass channels=[EEG, EOG]")
    pair = tuple(info["sleep_channels"] if channels is None else channels)
    if len(pair) != 2 or not all(isinstance(c, str) and c for c in pair):
        raise ValueError(f"channels must be two channel names (EEG, EOG), got {channels!r}")
    return pair


def _resolve_margin(name: str, config: SleepConfig) -> int | None:
    margin = config.wake_margin_min
    if margin == "auto":
        margin = dataset_info(name).get("wake_margin_min")
    return None if margin is None else int(round(float(margin) * 60 / EPOCH_SEC))


def _build(name: str, path: Path, config: SleepConfig, channels: tuple[str, str],
           reader_kwargs: dict, scratch: Path, progress: bool,
           ) -> tuple[dict[str, np.ndarray], dict]:
    margin = _resolve_margin(name, config)
    recordings = load(name, path, channels=list(channels), **reader_kwargs)
    L, T = config.seq_len, int(round(EPOCH_SEC * config.sfreq))
    ys, subj, recs, pos = [], [], [], []
    subjects: dict[str, int] = {}
    names: list[str] = []
    per_rec: dict[str, dict] = {}
    n_seq_total = 0
    # sequences are streamed to a scratch file: a large dataset never sits in memory at once
    with open(scratch, "wb") as out:
        for rec in tqdm(recordings, total=len(recordings), desc=f"prepare {name}",
                        unit="rec", disable=not progress):
            X, y, n_dropped = recording_epochs(rec, channels, config, margin)
            recording, subject = rec.recording, rec.subject
            per_rec[recording] = {
                "subject": subject, "native_sfreq": rec.sfreq, "epochs": len(y),
                "dropped_unscored": n_dropped, "sequences": len(y) // L,
            }
            del rec  # free the night before the next one is read
            if n_dropped:
                log.info("%s: dropped %d unscored/movement epochs", recording, n_dropped)
            n_seq = len(y) // L
            if n_seq:
                np.ascontiguousarray(X[: n_seq * L], dtype=np.float32).tofile(out)
                ys.append(y[: n_seq * L].reshape(n_seq, L))
                sid = subjects.setdefault(subject, len(subjects))
                subj.append(np.full(n_seq, sid, np.int32))
                recs.append(np.full(n_seq, len(names), np.int32))
                pos.append(np.arange(n_seq, dtype=np.int32))
                names.append(recording)
                n_seq_total += n_seq
            del X
    if n_seq_total == 0:
        raise DataError(path, f"no complete sequence of {L} scored epochs in {name}")
    arrays = {
        "X": np.memmap(scratch, dtype=np.float32, mode="r", shape=(n_seq_total, L, 2, T)),
        "y": np.concatenate(ys), "subject": np.concatenate(subj),
        "recording": np.concatenate(recs), "position": np.concatenate(pos),
    }
    meta = {"subjects": list(subjects), "recordings": names, "ch_names": list(channels),
            "sfreq": config.sfreq, "domain": name, "per_recording": per_rec}
    return arrays, meta


def prepare_sleep(name: str, path: str | Path, config: SleepConfig | None = None,
                  cache_dir: str | Path | None = None, progress: bool = True,
                  channels: Sequence[str] | None = None, **reader_kwargs) -> SleepSequences:
    """Prepared (cached) sequences of sleep dataset ``name`` read from ``path``.

    Parameters
    ----------
    name : str
        A registered reader of ``kind="sleep"`` with ``sleep_channels`` metadata, or the
        generic ``edf`` reader with ``channels`` and its stage options.
    path : str or Path
        The dataset folder as distributed.
    config : SleepConfig, optional
    cache_dir : str or Path, optional
        Cache root (default ``$EEGKIT_CACHE`` or ``~/.cache/eegkit``).
    progress : bool
        Show a progress bar over recordings while preparing.
    channels : (str, str), optional
        The (EEG, EOG) channel names to read instead of the reader's ``sleep_channels``.
    **reader_kwargs
        Passed to the reader (``channels`` is set by the pipeline).
    """
    config = config or SleepConfig()
    channels = sleep_channels(name, channels)
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(path, f"dataset path does not exist (reader {name!r})")
    key = make_key(dataset=name, pipeline=PIPELINE_VERSION, config=asdict(config),
                   channels=list(channels), wake_margin=_resolve_margin(name, config),
                   reader_kwargs=reader_kwargs, files=path_fingerprint(path))
    arrays, meta = ArrayCache(cache_dir).get_or_build(
        f"sleep-{name}", key,
        lambda scratch: _build(name, path, config, channels, reader_kwargs, scratch, progress))
    return SleepSequences(
        X=arrays["X"], y=arrays["y"], subject=arrays["subject"], recording=arrays["recording"],
        position=arrays["position"], subjects=meta["subjects"], recordings=meta["recordings"],
        domain=meta["domain"], ch_names=meta["ch_names"], sfreq=meta["sfreq"],
        info=meta["per_recording"],
    )


def class_counts(y: np.ndarray) -> dict[str, int]:
    """Number of epochs per stage name."""
    counts = np.bincount(np.asarray(y).ravel().astype(np.int64), minlength=len(STAGES))
    return {s: int(c) for s, c in zip(STAGES, counts, strict=True)}


__all__ = ["SleepConfig", "SleepSequences", "class_counts", "condition_epochs", "keep_range",
           "prepare_sleep", "recording_epochs", "sleep_channels"]
