"""Event pipelines: TUEV and CHB-MIT recordings → fixed windows (as in BIOT / LaBraM / EEGDM).

- TUEV: 22-channel TCP bipolar montage from the referential channels, band-pass 0.1–75 Hz,
  50 Hz notch, resampled to 200 Hz, amplitude in µV/100; one 5-s window per ``.rec`` line, from
  2 s before the event start (the 1-s event plus 2 s on each side). Classes SPSW, GPED, PLED,
  EYEM, ARTF, BCKG. ``official_split`` = ``"train"``/``"test"`` (TUEV's train/eval). TUEV marks
  an event once per annotated channel, so one event gives several identical windows; for
  label-free pretraining ``unique_events=True`` keeps one window per event.
- CHB-MIT: 16 bipolar channels, band-pass 0.5–75 Hz, 60 Hz notch, 200 Hz, µV/100, consecutive
  non-overlapping 10-s segments; a segment is a seizure (1) when it overlaps a seizure interval.
  :data:`CHBMIT_TCP_INDEX` maps its channels onto the TCP montage, so a TUEV-pretrained EEGDM
  backbone embeds them as the same electrode pairs.

Results are cached with :class:`~eegkit.cache.ArrayCache` (content-keyed, memory-mapped);
windows are streamed to a scratch file while building, so a large corpus never sits in memory
twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from eegkit.cache import ArrayCache, cache_key
from eegkit.data import dataset_info, load
from eegkit.data import preprocess as pp
from eegkit.data.preprocess import EventConfig, condition
from eegkit.data.readers import chbmit as chbmit_reader
from eegkit.data.readers import tuev as tuev_reader
from eegkit.data.readers._files import path_fingerprint
from eegkit.data.readers.tuev import TCP_MONTAGE
from eegkit.data.types import DataError, Recording, Windows

#: The 16 longitudinal bipolar channels of CHB-MIT used for seizure detection (BIOT's set).
CHBMIT_CHANNELS: tuple[str, ...] = (
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP2-F8", "F8-T8", "T8-P8", "P8-O2",
    "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
)
#: 10-10 names of temporal electrodes → the older 10-20 names used by TUH's TCP montage.
TCP_ALIASES: dict[str, str] = {"T7": "T3", "P7": "T5", "T8": "T4", "P8": "T6"}
#: Bump when the output of a pipeline changes for the same files and config.
EVENTS_PIPELINE_VERSION = 1


TUEV_CONFIG = EventConfig(l_freq=0.1, h_freq=75.0, notch=50.0, window_s=5.0, pre_s=2.0)
CHBMIT_CONFIG = EventConfig(l_freq=0.5, h_freq=75.0, notch=60.0, window_s=10.0, pre_s=0.0)


# --- montages ---------------------------------------------------------------------------------
def tcp_bipolar(rec: Recording) -> tuple[np.ndarray, list[str]]:
    """The 22 TCP channels (anode − cathode) from ``EEG <E>-REF`` / ``EEG <E>-LE`` channels.

    Raises
    ------
    DataError
        Naming the file and every montage electrode it lacks.
    """
    index = {}
    for i, name in enumerate(rec.ch_names):
        m = tuev_reader.REFERENTIAL.match(name)
        if m:
            index.setdefault(m[1].upper(), i)
    missing = [e for e in tuev_reader.ELECTRODES if e not in index]
    if missing:
        raise DataError(rec.source, f"missing montage electrode(s) {missing} "
                                    f"(as 'EEG <E>-REF' or 'EEG <E>-LE'); present: {rec.ch_names}")
    anode = [index[a] for a, _ in TCP_MONTAGE]
    cathode = [index[c] for _, c in TCP_MONTAGE]
    return rec.data[anode] - rec.data[cathode], [f"{a}-{c}" for a, c in TCP_MONTAGE]


def tcp_index(ch_names: Sequence[str]) -> list[int]:
    """Position in :data:`TCP_MONTAGE` of every bipolar channel ``"A-B"`` (case-insensitive).

    Electrodes named in the 10-10 system are read with their 10-20 names
    (:data:`TCP_ALIASES`: T7 = T3, P7 = T5, T8 = T4, P8 = T6), so ``"F7-T7"`` is TCP ``F7-T3``.

    Raises
    ------
    ValueError
        For a channel that is not a TCP electrode pair.
    """
    tcp = {f"{a}-{c}": k for k, (a, c) in enumerate(TCP_MONTAGE)}
    index = []
    for name in ch_names:
        pair = "-".join(TCP_ALIASES.get(e, e) for e in name.upper().split("-"))
        if pair not in tcp:
            raise ValueError(f"channel {name!r} ({pair}) is not in the TCP montage {list(tcp)}")
        index.append(tcp[pair])
    return index


#: TCP channel of every :data:`CHBMIT_CHANNELS` entry, the channel-embedding map of a
#: TUEV-pretrained backbone on CHB-MIT: FP1-F7, F7-T7 (F7-T3), T7-P7 (T3-T5), P7-O1 (T5-O1),
#: FP2-F8, F8-T8 (F8-T4), T8-P8 (T4-T6), P8-O2 (T6-O2) → 0..7; FP1-F3, F3-C3, C3-P3, P3-O1,
#: FP2-F4, F4-C4, C4-P4, P4-O2 → 14..21.
CHBMIT_TCP_INDEX: tuple[int, ...] = tuple(tcp_index(CHBMIT_CHANNELS))


def chbmit_bipolar(rec: Recording) -> tuple[np.ndarray, list[str]]:
    """The :data:`CHBMIT_CHANNELS` rows (the first of a repeated label), case-insensitive."""
    index = {}
    for i, name in enumerate(rec.ch_names):
        index.setdefault(name.upper(), i)
    missing = [c for c in CHBMIT_CHANNELS if c not in index]
    if missing:
        raise DataError(rec.source, f"missing bipolar channel(s) {missing}; "
                                    f"present: {rec.ch_names}")
    return rec.data[[index[c] for c in CHBMIT_CHANNELS]], list(CHBMIT_CHANNELS)


def electrode_aliases(electrodes: Iterable[str]) -> dict[str, list[str]]:
    """Labels an electrode may have in a referential EDF, for reading a bipolar montage from
    it (:func:`eegkit.data.readers.edf.read_channels` with ``bipolar=True``): TUH's
    ``EEG <E>-REF`` / ``EEG <E>-LE``, and the same under the electrode's other name (10-20
    T3/T5/T4/T6 = 10-10 T7/P7/T8/P8). Its bare name needs no alias."""
    other = {**TCP_ALIASES, **{v: k for k, v in TCP_ALIASES.items()}}
    aliases = {}
    for e in electrodes:
        names = [e, *([other[e]] if e in other else [])]
        aliases[e] = names[1:] + [f"EEG {n}-{ref}" for n in names for ref in ("REF", "LE")]
    return aliases


def event_preprocessing(reader: str, channels: Sequence[str], config: EventConfig) -> dict:
    """What prediction on a new recording repeats of an event pipeline: its bipolar channels
    (derived from referential electrodes when a file lacks them) and the conditioning of
    ``config``; the ``preprocessing`` a window datamodule over these windows reports."""
    electrodes = dict.fromkeys(e for c in channels for e in c.split("-"))
    return {"reader": reader, "channels": list(channels), "bipolar": True,
            "aliases": electrode_aliases(electrodes), "window_s": config.window_s,
            "sfreq": config.sfreq, "l_freq": config.l_freq, "h_freq": config.h_freq,
            "notch": config.notch, "scale": config.scale}


# --- windows of one recording -----------------------------------------------------------------
def tuev_windows(rec: Recording, config: EventConfig = TUEV_CONFIG, unique: bool = False,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One window per ``.rec`` line of a TUEV recording (per event with ``unique``).

    The window starts ``pre_s`` before the event start and lasts ``window_s`` (2 s + the 1-s
    TUEV event + 2 s). A window that would cross an end of the recording is shifted inside it.
    ``.rec`` lines are per annotated channel, so an event marked on several channels gives the
    same window several times; ``unique=True`` keeps only the first line of each window start
    (its label and channel), for pretraining, where labels are not used.

    Returns
    -------
    X : (n_events, 22, window_s * sfreq) float32
    y : (n_events,) int64 class index
    channel : (n_events,) int64 montage channel the event was marked on
    """
    bipolar, _ = tcp_bipolar(rec)
    x = condition(bipolar, rec.sfreq, config)
    n_win = int(round(config.window_s * config.sfreq))
    if x.shape[1] < n_win:
        raise DataError(rec.source, f"recording of {x.shape[1] / config.sfreq:g} s is shorter "
                                    f"than one {config.window_s:g}-s window")
    starts = np.round((rec.events["onset"] - config.pre_s) * config.sfreq).astype(np.int64)
    starts = np.clip(starts, 0, x.shape[1] - n_win)
    keep = np.sort(np.unique(starts, return_index=True)[1]) if unique else slice(None)
    starts = starts[keep]
    X = x[:, starts[:, None] + np.arange(n_win)].transpose(1, 0, 2)
    return (np.ascontiguousarray(X), rec.events["code"][keep].astype(np.int64),
            rec.events["channel"][keep].astype(np.int64))


def chbmit_segments(rec: Recording, config: EventConfig = CHBMIT_CONFIG,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive ``window_s`` segments of a CHB-MIT recording and their seizure label.

    A segment is labelled 1 when it overlaps any seizure interval of the recording.
    """
    bipolar, _ = chbmit_bipolar(rec)
    x = condition(bipolar, rec.sfreq, config)
    X = pp.epochs(x, int(round(config.window_s * config.sfreq)))
    seg_start = np.arange(len(X)) * config.window_s
    seg_end = seg_start + config.window_s
    onset, offset = rec.events["onset"], rec.events["onset"] + rec.events["duration"]
    overlap = (seg_start[:, None] < offset[None, :]) & (seg_end[:, None] > onset[None, :])
    return np.ascontiguousarray(X), overlap.any(axis=1).astype(np.int64)


# --- corpus preparation -----------------------------------------------------------------------
def _build(recordings: Iterable[Recording],
           windows_of: Callable[[Recording], tuple[np.ndarray, np.ndarray, dict]],
           scratch: Path, path: Path) -> dict[str, np.ndarray]:
    """Stream the windows of every recording to ``scratch``; return the arrays."""
    ys, subjects, recordings_of, extra = [], [], [], {}
    n, shape = 0, None
    with open(scratch, "wb") as out:
        for rec in recordings:
            X, y, columns = windows_of(rec)
            if shape is not None and X.shape[1:] != shape:
                raise DataError(rec.source, f"windows of shape {X.shape[1:]}, others {shape}")
            shape = X.shape[1:]
            X.astype(np.float32, copy=False).tofile(out)
            n += len(X)
            ys.append(y)
            subjects.append(np.full(len(y), rec.subject))
            recordings_of.append(np.full(len(y), rec.recording))
            for key, value in columns.items():
                extra.setdefault(key, []).append(value)
    if n == 0:
        raise DataError(path, "no windows: every recording was shorter than one window")
    return {
        "X": np.memmap(scratch, dtype=np.float32, mode="r", shape=(n, *shape)),
        "y": np.concatenate(ys), "subject": np.concatenate(subjects),
        "recording": np.concatenate(recordings_of),
        **{k: np.concatenate(v) for k, v in extra.items()},
    }


def _prepare(name: str, path: Path, reader_kwargs: dict, config: EventConfig,
             windows_of: Callable, cache_dir: str | Path | None,
             options: dict | None = None) -> dict[str, np.ndarray]:
    """Cached arrays of ``windows_of`` over the recordings; ``options`` (pipeline switches
    such as TUEV's ``unique_events``) are part of the cache key."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(path, f"dataset path does not exist (dataset {name!r})")
    key = cache_key(kind="events", dataset=name, path=str(path.resolve()),
                    files=path_fingerprint(path), reader=reader_kwargs, config=asdict(config),
                    version=EVENTS_PIPELINE_VERSION, **({"options": options} if options else {}))
    arrays, _ = ArrayCache(cache_dir).get_or_build(
        f"events-{name}", key,
        lambda scratch: (_build(load(name, path, **reader_kwargs), windows_of, scratch, path), {}))
    return arrays


#: Window pipeline name → its function ``(path, cache_dir=..., **options) -> Windows``; an
#: events reader names one in its ``window_pipeline`` metadata.
WINDOW_PIPELINES: dict[str, Callable[..., Windows]] = {}


def window_pipeline(name: str) -> Callable[[Callable[..., Windows]], Callable[..., Windows]]:
    """Register a window pipeline under ``name`` (a plugin adds its own the same way)."""
    def register(fn: Callable[..., Windows]) -> Callable[..., Windows]:
        if name in WINDOW_PIPELINES:
            raise ValueError(f"window pipeline {name!r} is already registered")
        WINDOW_PIPELINES[name] = fn
        return fn
    return register


@window_pipeline("tuev")
def prepare_tuev(path: str | Path, split: str | None = None, config: EventConfig = TUEV_CONFIG,
                 cache_dir: str | Path | None = None, unique_events: bool = False) -> Windows:
    """TUEV event windows (cached).

    Parameters
    ----------
    unique_events : bool
        One window per event instead of one per ``.rec`` line (annotated channel); for
        pretraining (set ``reader_kwargs: {unique_events: true}`` in a window datamodule).

    Returns
    -------
    Windows
        ``X`` (n, 22, 1000) float32 in µV/100, ``y`` class index into
        :data:`eegkit.data.readers.tuev.CLASSES`, ``subject`` = ``group`` = the subject folder,
        ``official_split`` ``"train"``/``"test"`` (TUEV eval). The montage channel of each event
        and its file are kept in the cache entry (arrays ``channel``, ``recording``).
    """
    def windows_of(rec: Recording):
        X, y, channel = tuev_windows(rec, config, unique_events)
        split_name = "test" if rec.meta.get("split") == "eval" else "train"
        return X, y, {"channel": channel, "official_split": np.full(len(y), split_name)}

    a = _prepare("tuev", Path(path), {"split": split}, config, windows_of, cache_dir,
                 {"unique_events": True} if unique_events else None)
    subject = np.asarray(a["subject"])
    ch_names = [f"{p}-{q}" for p, q in TCP_MONTAGE]
    return Windows(
        X=a["X"], y=np.asarray(a["y"]), subject=subject, group=subject.copy(),
        sfreq=config.sfreq, ch_names=ch_names, classes=list(tuev_reader.CLASSES),
        domain="tuev", official_split=np.asarray(a["official_split"]),
        meta={"preprocessing": event_preprocessing("tuev", ch_names, config)},
    )


@window_pipeline("chbmit")
def prepare_chbmit(path: str | Path, subjects: Sequence[str] | None = None,
                   test_subjects: Sequence[str] | None = None,
                   config: EventConfig = CHBMIT_CONFIG,
                   cache_dir: str | Path | None = None) -> Windows:
    """CHB-MIT 10-s segments with binary seizure labels (cached).

    Parameters
    ----------
    subjects : list of str, optional
        Case folders to read (all when ``None``).
    test_subjects : list of str, optional
        Cases marked ``"test"`` in ``official_split`` (the others ``"train"``); CHB-MIT has no
        official split, so without it ``official_split`` is ``None`` and splits go by subject.

    Returns
    -------
    Windows
        ``X`` (n, 16, 2000) float32 in µV/100, ``y`` 1 = seizure, ``subject`` = ``group`` =
        the case folder (the file of each segment is kept in the cache entry, ``recording``).
    """
    def windows_of(rec: Recording):
        X, y = chbmit_segments(rec, config)
        return X, y, {}

    reader_kwargs = {"subjects": None if subjects is None else list(subjects)}
    a = _prepare("chbmit", Path(path), reader_kwargs, config, windows_of, cache_dir)
    subject = np.asarray(a["subject"])
    split = None
    if test_subjects is not None:
        unknown = sorted(set(test_subjects) - set(subject.tolist()))
        if unknown:
            raise DataError(path, f"test subjects {unknown} are not in the data")
        split = np.where(np.isin(subject, list(test_subjects)), "test", "train")
    return Windows(
        X=a["X"], y=np.asarray(a["y"]), subject=subject, group=subject.copy(),
        sfreq=config.sfreq, ch_names=list(CHBMIT_CHANNELS),
        classes=list(chbmit_reader.CLASSES), domain="chbmit", official_split=split,
        meta={"preprocessing": event_preprocessing("chbmit", CHBMIT_CHANNELS, config)},
    )


def prepare_windows(dataset: str, path: str | Path, cache_dir: str | Path | None = None,
                    **kwargs) -> Windows:
    """Windows of an event dataset through the pipeline its reader names.

    A reader of ``kind="events"`` names its pipeline in its metadata
    (``register_dataset(..., window_pipeline="tuev")``), as sleep readers name their
    (EEG, EOG) pair; ``kwargs`` are that pipeline's options.
    """
    info = dataset_info(dataset)
    name = info.get("window_pipeline")
    if name not in WINDOW_PIPELINES:
        raise KeyError(f"reader {dataset!r} names window pipeline {name!r}; known: "
                       f"{sorted(WINDOW_PIPELINES)} (register_dataset(..., window_pipeline=...))")
    return WINDOW_PIPELINES[name](path, cache_dir=cache_dir, **kwargs)
