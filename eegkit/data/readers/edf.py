"""Generic reader of any EDF/EDF+ folder: channels by name, labels from annotations.

For recordings that no dedicated reader knows. Everything dataset-specific is an argument, so
it can be given in a YAML config (``reader_kwargs`` of a
:class:`~eegkit.data.datamodules.windows.WindowDataModule`, or a domain of a
:class:`~eegkit.data.datamodules.sleep.SleepDataModule`)::

    data:
      class_path: eegkit.data.datamodules.windows.WindowDataModule
      init_args:
        dataset: edf
        path: my_recordings/
        protocol: group
        reader_kwargs:
          channels: [Fp1, Fp2]
          aliases: {Fp1: ["EEG FP1-(REF|LE)"], Fp2: ["EEG FP2-(REF|LE)"]}
          mapping: {spike: spike, "eye blink": artefact, artifact: artefact}
          window_s: 5.0
          sfreq: 200.0
          l_freq: 0.5
          h_freq: 70.0

- ``target="windows"`` (default) returns :class:`~eegkit.data.types.Windows`: every annotation
  whose text is a key of ``mapping`` gives windows of ``window_s`` labelled with its class (one
  window centred on an annotation shorter than a window, consecutive windows every
  ``stride_s`` along a longer one), cut from the signal after :func:`condition`.
- ``target="epochs"`` returns :class:`~eegkit.data.types.Recording` objects with a sleep stage
  per 30-s epoch (``mapping`` values are stage names ``W N1 N2 N3 REM``, or ``?`` for
  unscored), for :func:`eegkit.data.pipelines.sleep.prepare_sleep` with ``channels=[EEG, EOG]``.

Annotations are the signal file's own EDF+ annotations, or those of a companion file named like
the signal file with its ``.edf`` replaced by ``annotation_suffix`` (e.g.
``"_sleepscoring.edf"``). Signal files are read with the same shared function as the other
readers (:func:`eegkit.data.readers._psg.read_edf`), with its checks of truncated files.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import edfio
import mne
import numpy as np

from eegkit.data import register_dataset
from eegkit.data.preprocess import EventConfig, condition
from eegkit.data.readers._files import LazyRecordings
from eegkit.data.readers._psg import (
    _header_labels,
    check_channels,
    find_files,
    read_edf,
    read_edf_annotations,
)
from eegkit.data.types import EPOCH_SEC, STAGES, UNSCORED, DataError, Recording, Windows

TARGETS = ("windows", "epochs")
#: Stage name -> code in ``target="epochs"`` mappings; ``?`` marks an unscored epoch.
STAGE_CODES: dict[str, int] = {**{s: i for i, s in enumerate(STAGES)}, "?": UNSCORED}
DEFAULT_PATTERN = r"(?i).+\.edf"


# --- channels ---------------------------------------------------------------------------------
def _matches(label: str, name: str) -> bool:
    # an exact label (any case) or a regular expression over the whole label
    if label.strip().lower() == name.strip().lower():
        return True
    try:
        return re.fullmatch(name, label.strip(), flags=re.IGNORECASE) is not None
    except re.error:  # a label with regex metacharacters, e.g. "EEG(sec)", is literal only
        return False


def resolve_channels(source: Path, labels: Sequence[str], channels: Sequence[str],
                     aliases: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """The file label of every requested channel, in the order requested.

    A channel is found by its own name (case-insensitive), then by each of its ``aliases`` in
    order; an alias is an exact label or a regular expression matching the whole label.

    Raises
    ------
    DataError
        Naming the file, every channel not found and the labels present.
    """
    return [pair[0] for pair in _channel_sources(source, labels, channels, aliases)]


def _find(labels: Sequence[str], name: str, aliases: Mapping[str, Sequence[str]]) -> str | None:
    # the label of ``name``: its own name first, then each alias in order
    return next((lab for candidate in (name, *aliases.get(name, ()))
                 for lab in labels if _matches(lab, candidate)), None)


def _channel_sources(source: Path, labels: Sequence[str], channels: Sequence[str],
                     aliases: Mapping[str, Sequence[str]] | None, bipolar: bool = False,
                     ) -> list[tuple[str, ...]]:
    """Per channel, ``(label,)`` or, for a bipolar ``"A-B"`` the file lacks, ``(A, B)``."""
    aliases = aliases or {}
    found, missing = [], []
    for name in channels:
        label = _find(labels, name, aliases)
        if label is not None:
            found.append((label,))
            continue
        if bipolar and name.count("-") == 1:
            pair = tuple(_find(labels, e, aliases) for e in name.split("-"))
            if None not in pair:
                found.append(pair)
                continue
        missing.append(name)
    if missing:
        wanted = {m: list(aliases.get(m, ())) for m in missing}
        if bipolar:  # say which electrodes a derivation lacked
            wanted.update({e: list(aliases.get(e, ())) for m in missing if m.count("-") == 1
                           for e in m.split("-") if _find(labels, e, aliases) is None})
        raise DataError(source, f"missing required channel(s) {missing} (with aliases "
                                f"{wanted}); present: {list(labels)}")
    return found


def read_channels(path: Path, channels: Sequence[str],
                  aliases: Mapping[str, Sequence[str]] | None = None, bipolar: bool = False,
                  ) -> tuple[np.ndarray, float]:
    """Samples ``(len(channels), n)`` float32 volts of ``channels`` (found as
    :func:`resolve_channels` says) and their common rate.

    With ``bipolar``, a channel ``"A-B"`` that the file does not have is derived as electrode
    ``A`` minus electrode ``B``, each found by its name or its ``aliases`` (a referential
    recording read in a bipolar montage, e.g. ``"FP1-F7"`` from ``EEG FP1-REF`` and
    ``EEG F7-REF``).
    """
    labels = _header_labels(path)
    if labels is None:  # unparseable header: read_edf raises the DataError that says why
        read_edf(path, None)
        raise DataError(path, "unreadable EDF header")
    sources = _channel_sources(path, labels, channels, aliases, bipolar)
    wanted = list(dict.fromkeys(label for pair in sources for label in pair))
    data, names, sfreq = read_edf(path, wanted)
    # MNE numbers a repeated label (CHB-MIT's T8-P8 reads as T8-P8-0 and T8-P8-1): the first
    mne_name = {label: f"{label}-0" if labels.count(label) > 1 else label for label in wanted}
    row = {label: data[names.index(mne_name[label])] for label in wanted}
    return np.stack([row[p[0]] - row[p[1]] if len(p) == 2 else row[p[0]]
                     for p in sources]).astype(np.float32, copy=False), sfreq


def start_time(path: Path) -> datetime.datetime | None:
    """Start date and time of an EDF recording, or ``None`` when the header has none (EDF+
    anonymised to ``X``) or cannot be parsed."""
    try:
        return edfio.read_edf(path, lazy_load_data=True).startdatetime
    except Exception:  # an anonymised or odd header: times are then relative to the start
        return None


# --- annotations ------------------------------------------------------------------------------
def read_annotations(path: Path) -> mne.Annotations:
    """EDF+ annotations of ``path`` (size checked); a :class:`DataError` when they cannot be
    read."""
    if not path.is_file():
        raise DataError(path, "annotation file is missing")
    return read_edf_annotations(path)


def _mapped(ann: mne.Annotations, mapping: Mapping[str, object], source: Path,
            ) -> tuple[np.ndarray, np.ndarray, list]:
    # onsets, durations and mapped values of the annotations named in ``mapping``; the others
    # (lights, comments...) are ignored, but a file with none of them is an error
    text = [str(t) for t in ann.description]
    keep = np.array([t in mapping for t in text], dtype=bool)
    if not keep.any():
        raise DataError(source, f"no annotation named in the mapping {list(mapping)}; found: "
                                f"{sorted(set(text))}")
    return (np.asarray(ann.onset)[keep], np.asarray(ann.duration)[keep],
            [mapping[t] for t, k in zip(text, keep, strict=True) if k])


def annotation_stages(ann: mne.Annotations, mapping: Mapping[str, str], source: Path,
                      ) -> tuple[np.ndarray, float]:
    """Stage per 30-s epoch (int8, -1 unscored) and the onset (s) of the first one.

    Epochs between stage annotations are unscored. Stage annotations must lie on a 30-s grid
    from the first one (each may span several epochs).
    """
    bad = sorted({str(v) for v in mapping.values()} - set(STAGE_CODES))
    if bad:
        raise ValueError(f"mapping values {bad} are not stages; use {list(STAGE_CODES)}")
    onset, duration, names = _mapped(ann, mapping, source)
    first = float(onset.min())
    start, count = (onset - first) / EPOCH_SEC, duration / EPOCH_SEC
    if not (np.allclose(start, np.round(start)) and np.allclose(count, np.round(count))
            and (count >= 0.5).all()):
        raise DataError(source, "stage annotations are not 30-s epochs on a 30-s grid")
    start, count = np.round(start).astype(np.int64), np.round(count).astype(np.int64)
    stages = np.full(int((start + count).max()), UNSCORED, dtype=np.int8)
    # epoch index of every annotated epoch, without a loop over epochs
    offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    codes = np.array([STAGE_CODES[str(n)] for n in names], dtype=np.int8)
    stages[np.repeat(start, count) + offsets] = np.repeat(codes, count)
    return stages, first


def window_starts(onset: np.ndarray, duration: np.ndarray, window_s: float, stride_s: float,
                  n_sec: float) -> tuple[np.ndarray, np.ndarray]:
    """Start (s) of every window and the index of the annotation it comes from.

    An annotation shorter than a window gives one window centred on it; a longer one gives
    windows every ``stride_s`` that lie within it. Windows are shifted inside ``[0, n_sec]``.
    """
    starts, owner = [], []
    for i, (t, d) in enumerate(zip(onset, duration, strict=True)):
        if d <= window_s:
            s = np.array([t + (d - window_s) / 2.0])
        else:
            s = t + np.arange(int(np.floor((d - window_s) / stride_s + 1e-9)) + 1) * stride_s
        starts.append(s)
        owner.append(np.full(len(s), i))
    starts = np.clip(np.concatenate(starts), 0.0, max(n_sec - window_s, 0.0))
    return starts, np.concatenate(owner)


def cut_windows(x: np.ndarray, sfreq: float, starts_s: np.ndarray, window_s: float,
                source: Path) -> np.ndarray:
    """Windows ``(n, C, window_s * sfreq)`` of ``x`` ``(C, N)`` starting at ``starts_s``."""
    n_win = int(round(window_s * sfreq))
    if x.shape[1] < n_win:
        raise DataError(source, f"recording of {x.shape[1] / sfreq:g} s is shorter than one "
                                f"{window_s:g}-s window")
    first = np.clip(np.round(starts_s * sfreq).astype(np.int64), 0, x.shape[1] - n_win)
    return np.ascontiguousarray(x[:, first[:, None] + np.arange(n_win)].transpose(1, 0, 2))


def conditioning(sfreq: float, out_sfreq: float | None = None, l_freq: float | None = None,
                 h_freq: float | None = None, notch: float | None = None, scale: float = 1.0,
                 window_s: float = 0.0) -> EventConfig:
    """The :class:`~eegkit.data.preprocess.EventConfig` of the reader's options for a file sampled
    at ``sfreq`` (``out_sfreq=None`` keeps the native rate)."""
    return EventConfig(l_freq=l_freq, h_freq=h_freq, notch=notch,
                       sfreq=sfreq if out_sfreq is None else out_sfreq, scale=scale,
                       window_s=window_s)


# --- the reader -------------------------------------------------------------------------------
def _signal_files(path: Path, pattern: str, annotation_suffix: str | None) -> list[Path]:
    if path.is_file():
        return [path]
    files = find_files(path, pattern, "EDF files")
    if annotation_suffix:  # the companion annotation files are not recordings
        files = [f for f in files if not f.name.endswith(annotation_suffix)]
        if not files:
            raise DataError(path, f"only annotation files (*{annotation_suffix}) found")
    return files


def _annotation_file(signal: Path, annotation_suffix: str | None) -> Path:
    if not annotation_suffix:
        return signal
    return signal.with_name(signal.name[: -len(signal.suffix)] + annotation_suffix)


def _name(signal: Path, root: Path) -> str:
    # unique within the dataset: the path below the folder, without the extension
    try:
        return signal.relative_to(root).with_suffix("").as_posix()
    except ValueError:
        return signal.stem


def read_epochs_recording(signal: Path, root: Path, channels: Sequence[str],
                          aliases: Mapping[str, Sequence[str]] | None,
                          mapping: Mapping[str, str], annotation_suffix: str | None,
                          ) -> Recording:
    """One recording with its stages per 30-s epoch (``target="epochs"``)."""
    labels = _annotation_file(signal, annotation_suffix)
    stages, epoch_onset = annotation_stages(read_annotations(labels), mapping, labels)
    data, sfreq = read_channels(signal, channels, aliases)
    check_channels(signal, data, list(channels), list(channels))
    n_fit = int(np.floor((data.shape[1] / sfreq - epoch_onset) / EPOCH_SEC + 1e-9))
    name = _name(signal, root)
    return Recording(data=data, ch_names=list(channels), sfreq=sfreq, subject=name,
                     recording=name, domain="edf", source=signal, epoch_onset=epoch_onset,
                     stages=stages[: max(n_fit, 0)], meta={"annotations": str(labels)})


def _windows_of(signal: Path, root: Path, channels, aliases, mapping, classes, window_s,
                stride_s, annotation_suffix, options) -> tuple[np.ndarray, np.ndarray, float]:
    labels = _annotation_file(signal, annotation_suffix)
    onset, duration, names = _mapped(read_annotations(labels), mapping, labels)
    data, sfreq = read_channels(signal, channels, aliases)
    check_channels(signal, data, list(channels), list(channels))
    config = conditioning(sfreq, window_s=window_s, **options)
    x = condition(data, sfreq, config)
    starts, owner = window_starts(onset, duration, window_s, stride_s, data.shape[1] / sfreq)
    X = cut_windows(x, config.sfreq, starts, window_s, signal)
    y = np.array([classes.index(names[i]) for i in owner], dtype=np.int64)
    return X, y, config.sfreq


@register_dataset("edf", kind="generic", targets=TARGETS)
def read_edf_folder(path: Path, channels: Sequence[str], mapping: Mapping[str, str],
                    target: str = "windows", aliases: Mapping[str, Sequence[str]] | None = None,
                    annotation_suffix: str | None = None, pattern: str = DEFAULT_PATTERN,
                    window_s: float | None = None, stride_s: float | None = None,
                    sfreq: float | None = None, l_freq: float | None = None,
                    h_freq: float | None = None, notch: float | None = None,
                    scale: float = 1.0):
    """Read any folder of EDF/EDF+ files (or one file), labelled by annotations.

    Parameters
    ----------
    path : Path
        A folder (searched recursively for files matching ``pattern``) or one EDF file.
    channels : list of str
        Channels to read, in this order (the names exposed).
    mapping : dict of str to str
        Annotation text -> class name (``target="windows"``; classes are numbered in the order
        they first appear in the mapping) or stage name ``W N1 N2 N3 REM`` / ``?``
        (``target="epochs"``). Annotations not in the mapping are ignored.
    target : {"windows", "epochs"}
    aliases : dict of str to list of str, optional
        Other labels (exact, or regular expressions over the whole label) of a channel, tried
        in order when its own name is absent from a file.
    annotation_suffix : str, optional
        Read annotations from ``<signal stem><annotation_suffix>`` instead of the signal file.
    pattern : str
        Regular expression on the file names of signal files (default: any ``.edf``).
    window_s, stride_s : float
        ``target="windows"``: window length (required) and the step along annotations longer
        than a window (default ``window_s``).
    sfreq, l_freq, h_freq, notch, scale
        ``target="windows"``: output rate (native when ``None``), zero-phase band-pass edges,
        line-noise notch (Hz; none when ``None``) and a factor on the volts.

    Returns
    -------
    Windows or LazyRecordings of Recording
        Windows: ``subject`` = ``group`` = the file's path below ``path`` without extension.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if not channels or not mapping:
        raise ValueError("the edf reader needs channels and an annotation mapping")
    path = Path(path)
    files = _signal_files(path, pattern, annotation_suffix)
    root = path if path.is_dir() else path.parent
    if target == "epochs":
        return LazyRecordings(files, functools.partial(
            read_epochs_recording, root=root, channels=list(channels), aliases=aliases,
            mapping=dict(mapping), annotation_suffix=annotation_suffix))
    if window_s is None or window_s <= 0:
        raise ValueError("target='windows' needs window_s > 0 (seconds)")
    classes = list(dict.fromkeys(str(v) for v in mapping.values()))
    options = dict(out_sfreq=sfreq, l_freq=l_freq, h_freq=h_freq, notch=notch, scale=scale)
    Xs, ys, groups, rates = [], [], [], set()
    for signal in files:
        X, y, rate = _windows_of(signal, root, list(channels), aliases,
                                 {k: str(v) for k, v in mapping.items()}, classes, window_s,
                                 stride_s or window_s, annotation_suffix, options)
        Xs.append(X)
        ys.append(y)
        groups.append(np.full(len(y), _name(signal, root)))
        rates.add(rate)
    if len(rates) > 1:
        raise DataError(path, f"files sampled at different rates {sorted(rates)}: set sfreq")
    group = np.concatenate(groups)
    return Windows(X=np.concatenate(Xs), y=np.concatenate(ys), subject=group, group=group.copy(),
                   sfreq=rates.pop(), ch_names=list(channels), classes=classes, domain="edf")


def window_preprocessing(reader_kwargs: Mapping[str, object]) -> dict:
    """What prediction on a new recording must repeat of a ``target="windows"`` configuration:
    the channels (with aliases), the window length and the conditioning options."""
    keep = ("channels", "aliases", "window_s", "sfreq", "l_freq", "h_freq", "notch", "scale")
    return {"reader": "edf", **{k: reader_kwargs[k] for k in keep if k in reader_kwargs}}
