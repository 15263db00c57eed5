"""Pieces shared by the polysomnography readers (HMC, ISRUC, SHHS, PhysioNet 2018).

- :func:`find_files`: the signal files of a dataset, sorted, or a :class:`DataError`;
- :func:`check_edf_size`: the file holds exactly the data records its header announces;
- :func:`read_edf`: chosen channels of an EDF file (any extension) through MNE, in volts
  whatever the spelling of the unit (:func:`channel_units`), with plausible amplitudes
  (:func:`check_amplitude`);
- :func:`read_edf_annotations`: the EDF+ annotations of a file, size checked;
- :func:`mne_failure`: the :class:`DataError` for an exception MNE raised on a file;
- :func:`with_aliases` / :func:`canonical_names`: labels that differ between files of one
  dataset, exposed under one name;
- :func:`check_channels`: required channels are finite and not flat;
- :func:`stages_from_runs`: stage per 30-s epoch from scored runs (annotations, XML events);
- :func:`fit_stages`: stages checked against and cut to the signal length.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import edfio
import mne
import numpy as np

from eegkit.data.types import EPOCH_SEC, UNSCORED, DataError


def find_files(path: Path, pattern: str, what: str) -> list[Path]:
    """Files under ``path`` (searched recursively) whose name matches ``pattern``, sorted.

    ``pattern`` is a regular expression on the file name; ``what`` names the expected files
    in the error raised when there are none.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(path, f"expected the dataset folder holding {what}")
    name = re.compile(pattern)
    files = sorted(p for p in path.rglob("*") if p.is_file() and name.fullmatch(p.name))
    if not files:
        raise DataError(path, f"no {what} found (file names matching {pattern!r})")
    return files


#: Header bytes before the per-signal fields, and the width of each per-signal field (EDF spec).
_FIXED_HEADER = 256
_SIGNAL_FIELDS = (("label", 16), ("transducer", 80), ("dimension", 8), ("physical_min", 8),
                  ("physical_max", 8), ("digital_min", 8), ("digital_max", 8),
                  ("prefilter", 80), ("samples", 8), ("reserved", 32))


def _corrupt(path: Path, problem: str) -> DataError:
    return DataError(path, f"truncated or corrupt EDF: {problem}")


def _header_int(header: bytes, start: int, stop: int, field: str, path: Path) -> int:
    text = header[start:stop].decode("latin-1").strip()
    try:
        return int(text)
    except ValueError:
        raise _corrupt(path, f"header field {field!r} is not an integer: {text!r}") from None


def check_edf_size(path: Path) -> list[str]:
    """A :class:`DataError` unless ``path`` is exactly header + n_records × record bytes.

    Parameters
    ----------
    path : Path
        EDF/EDF+ (2 bytes a sample) or BDF (3 bytes a sample) file, whatever its extension.

    Returns
    -------
    list of str
        The physical dimension of every signal, in header order, as written (stripped).

    Notes
    -----
    MNE reads a file with a surplus of less than one data record without a word, and every
    sample after the damage is then shifted: a text-mode transfer that turned LF bytes into
    CRLF (or back) produces exactly that. The header's own sizes are therefore checked against
    the file size here. ``n_records == -1`` (allowed while a recorder is still writing) only
    requires a whole number of records.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            fixed = handle.read(_FIXED_HEADER)
            if len(fixed) < _FIXED_HEADER:
                raise _corrupt(path, f"{size} bytes, too short for the {_FIXED_HEADER}-byte "
                                     f"fixed header")
            n_signals = _header_int(fixed, 252, 256, "number of signals", path)
            if n_signals < 0:
                raise _corrupt(path, f"header gives {n_signals} signals")
            signal_header = handle.read(n_signals * sum(w for _, w in _SIGNAL_FIELDS))
    except OSError as err:
        raise DataError(path, f"cannot open ({err})") from None
    header_bytes = _header_int(fixed, 184, 192, "number of header bytes", path)
    expected_header = _FIXED_HEADER * (n_signals + 1)
    if header_bytes != expected_header:
        raise _corrupt(path, f"header says {header_bytes} header bytes; {n_signals} signals "
                             f"need {expected_header}")
    if len(signal_header) < expected_header - _FIXED_HEADER:
        raise _corrupt(path, f"{size} bytes: shorter than its own {expected_header}-byte header")
    n_records = _header_int(fixed, 236, 244, "number of data records", path)
    labels = [signal_header[16 * i: 16 * (i + 1)] for i in range(n_signals)]
    for i, label in enumerate(labels):
        # the EDF spec allows printable ASCII only; other bytes are damage, and a damaged
        # label silently renames (or drops) a channel
        if any(b < 32 or b > 126 for b in label):
            raise _corrupt(path, f"label of signal {i + 1} holds non-ASCII bytes: {label!r}")
    # a per-signal field of every signal comes after all signals' fields before it
    offset = n_signals * sum(w for _, w in _SIGNAL_FIELDS[:2])
    units = [signal_header[offset + 8 * i: offset + 8 * (i + 1)].decode("latin-1").strip()
             for i in range(n_signals)]
    for i, unit in enumerate(units):
        if _voltage_like(unit) and volt_factor(unit) is None:
            raise _corrupt(path, f"signal {i + 1} ({labels[i].decode().strip()}) has the "
                                 f"unknown voltage unit {unit!r}")
    offset = n_signals * sum(w for _, w in _SIGNAL_FIELDS[:8])
    samples = [_header_int(signal_header, offset + 8 * i, offset + 8 * (i + 1),
                           f"samples per record of signal {i + 1}", path)
               for i in range(n_signals)]
    if any(n < 0 for n in samples):
        raise _corrupt(path, f"negative samples per record in the header: {samples}")
    sample_bytes = 3 if fixed[:1] == b"\xff" else 2  # BDF marks its version with byte 0xFF
    record_bytes = sample_bytes * sum(samples)
    data_bytes = size - header_bytes
    if n_records == -1:
        if record_bytes == 0 or data_bytes % record_bytes:
            raise _corrupt(path, f"{data_bytes} data bytes are not a whole number of "
                                 f"{record_bytes}-byte data records (CRLF conversion?)")
        return units
    if n_records < 0:
        raise _corrupt(path, f"header gives {n_records} data records")
    surplus = data_bytes - n_records * record_bytes
    if surplus:
        what = "too long" if surplus > 0 else "too short"
        raise _corrupt(path, f"{abs(surplus)} bytes {what} for {n_records} data records of "
                             f"{record_bytes} bytes after a {header_bytes}-byte header "
                             f"(CRLF conversion?)")
    return units


#: Volts per unit of each SI prefix spelling met in EDF headers (see :func:`volt_factor`).
_PREFIXES = {"": 1.0, "m": 1e-3, "milli": 1e-3, "u": 1e-6, "micro": 1e-6, "n": 1e-9,
             "nano": 1e-9}
#: Median absolute deviation (volts) above which a voltage channel is taken as mis-scaled.
MAX_ROBUST_VOLTS = 1e-2


def volt_factor(unit: str) -> float | None:
    """Volts per unit of an EDF physical dimension, or ``None`` if it is not a voltage.

    Case and spelling are normalised: ``uV``, ``UV``, ``µV``, ``μV``, ``uvolt``,
    ``microvolts`` are all 1e-6; ``mV``/``MV``/``mvolt`` 1e-3 (megavolts never occur in
    physiology, so upper case means milli as ``UV`` means micro); ``V``/``volts`` 1; ``nV``
    1e-9.
    """
    if unit == "\x83\xcaV":  # a Shift-JIS micro sign read as latin-1; MNE knows it too
        return 1e-6
    key = unit.strip().replace("\u00b5", "u").replace("\u03bc", "u").lower()
    key = key.removesuffix("s") if key.endswith("volts") else key
    for base in ("volt", "v"):
        if key.endswith(base) and key[: -len(base)] in _PREFIXES:
            return _PREFIXES[key[: -len(base)]]
    return None


def _voltage_like(unit: str) -> bool:
    # spelt like a voltage (".. V", ".. volt(s)"): a prefix volt_factor does not know is damage
    return unit.strip().lower().endswith(("v", "volt", "volts"))


def channel_units(raw: mne.io.BaseRaw, units: Sequence[str]) -> tuple[dict[str, str], np.ndarray]:
    """The unit of each channel of ``raw`` and the factor turning MNE's values into volts.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        As :func:`mne.io.read_raw_edf` returned it (before any ``pick``).
    units : list of str
        Every header signal's physical dimension (:func:`check_edf_size`).

    Returns
    -------
    units : dict
        Channel name → physical dimension as written in the file.
    factors : ndarray
        One per channel of ``raw``: 1 where MNE scaled the channel right or where the unit is
        not a voltage.

    Notes
    -----
    MNE scales only the exact spellings ``uV``/``µV``/``mV`` and reads any other unit string
    (``UV``, ``microvolts``...) as volts: such a channel comes back 1e6 too large. MNE keeps
    the header index (``sel``) and the factor it applied (``units``) of each channel in
    ``raw._raw_extras`` (no public API exposes them); its ``_orig_units`` are already
    respelled (``UV`` reads ``µV``), so they cannot say what the file wrote.
    """
    extras = raw._raw_extras[0]
    written = [units[i] for i in extras["sel"]]
    factors = [1.0 if volt_factor(unit) is None else volt_factor(unit) / applied
               for unit, applied in zip(written, extras["units"], strict=True)]
    return dict(zip(raw.ch_names, written, strict=True)), np.array(factors)


def check_amplitude(source: Path, data: np.ndarray, names: Sequence[str],
                    units: dict[str, str]) -> None:
    """A :class:`DataError` for a voltage channel whose robust amplitude is implausible.

    The robust amplitude is the median absolute deviation from the median (blind to a few
    artefacts and to a DC offset). EEG, EOG, EMG and ECG stay far below
    :data:`MAX_ROBUST_VOLTS` (10 mV, about 100 times a large scalp EEG); a channel above it
    holds microvolt numbers declared as volts or millivolts, which is never silently right,
    hence an error rather than a warning. Channels of other units (%, bpm, none) are not
    checked.
    """
    for name, x in zip(names, data, strict=True):
        if volt_factor(units.get(name, "")) is None or not np.isfinite(x).all():
            continue  # not a voltage; non-finite samples are check_channels' report
        mad = float(np.median(np.abs(x - np.median(x))))
        if mad > MAX_ROBUST_VOLTS:
            raise DataError(source, f"channel {name!r} ({units[name]!r}) has a median absolute "
                                    f"deviation of {mad:.3g} V, implausible for a biosignal "
                                    f"(limit {MAX_ROBUST_VOLTS:g} V): wrong physical unit?")


def mne_failure(path: Path, err: Exception, what: str = "truncated or corrupt EDF") -> DataError:
    """The :class:`DataError` for exception ``err`` raised by MNE while reading ``path``.

    MNE's advice to retry with ``encoding='latin1'`` is left out: decoding a damaged
    annotation channel as latin-1 succeeds and yields garbage annotations without a word.
    """
    message = re.sub(r"\s*You might want to try setting .*encoding.*$", "", str(err))
    return DataError(path, f"{what} ({type(err).__name__}: {message})")


def read_edf_annotations(path: Path, what: str = "unreadable EDF+ annotations"
                         ) -> mne.Annotations:
    """The annotations of an EDF+ file (e.g. a hypnogram), after :func:`check_edf_size`.

    ``what`` begins the :class:`DataError` message when MNE cannot parse the file.
    """
    check_edf_size(path)
    try:
        return mne.read_annotations(path)
    except Exception as err:  # MNE raises many types on a corrupt file
        raise mne_failure(path, err, what) from None


def _header_labels(path: Path) -> list[str] | None:
    # Only for error messages: the labels of an EDF header, or None if it cannot be parsed.
    try:
        return [s.label for s in edfio.read_edf(path, lazy_load_data=True).signals]
    except Exception:  # a detail of the message, never a failure of its own
        return None


def read_edf(path: Path, wanted: Sequence[str] | None) -> tuple[np.ndarray, list[str], float]:
    """Samples (float32, volts as MNE scales them), labels and rate of channels of an EDF.

    Parameters
    ----------
    path : Path
        EDF or EDF+ file, whatever its extension (ISRUC uses ``.rec``).
    wanted : list of str or None
        Labels to read (those absent from the file are left out: the caller decides what is
        required); ``None`` reads every signal.

    Returns
    -------
    data, labels, sfreq
        Labels in file order. Channels sampled slower than the fastest *read* channel are
        brought to its rate by MNE (FFT resampling over the whole recording, as ``preload``
        reads it in one piece).

    Notes
    -----
    MNE only opens paths ending in ``.edf``; it reads any file object, though, so the file is
    passed as an open handle. The file size is checked first (:func:`check_edf_size`), since
    MNE reads a slightly too long file silently; MNE's warning on a short file is an error
    too. Units are normalised (:func:`channel_units`) and voltage amplitudes checked
    (:func:`check_amplitude`).
    """
    units = check_edf_size(path)
    try:
        with warnings.catch_warnings(), open(path, "rb") as handle:
            # MNE's other warnings (e.g. on header details) are not failures; they are hidden
            warnings.simplefilter("ignore")
            warnings.filterwarnings("error", message=".*does not match the file size.*")
            raw = mne.io.read_raw_edf(
                handle, preload=True, include=None if wanted is None else list(wanted),
                verbose="warning",
            )
    except OSError as err:
        raise DataError(path, f"cannot open ({err})") from None
    except Exception as err:  # MNE raises many types on a truncated or corrupt file
        raise mne_failure(path, err) from None
    labels = list(raw.ch_names)
    if wanted is not None and not labels:
        raise DataError(path, f"none of the channels {list(wanted)} is present; "
                              f"present: {_header_labels(path)}")
    written, factors = channel_units(raw, units)
    data = (raw.get_data() * factors[:, None]).astype(np.float32)
    check_amplitude(path, data, labels, written)
    return data, labels, float(raw.info["sfreq"])


def with_aliases(channels: Sequence[str] | None,
                 aliases: dict[str, tuple[str, ...]]) -> list[str] | None:
    """The labels to look for in a file: each requested name and its older variants."""
    if channels is None:
        return None
    return [label for c in channels for label in (c, *aliases.get(c, ()))]


def canonical_names(names: Sequence[str], aliases: dict[str, tuple[str, ...]]) -> list[str]:
    """File labels renamed to the exposed name of their alias group."""
    exposed = {old: new for new, olds in aliases.items() for old in olds}
    return [exposed.get(n, n) for n in names]


def missing_channel(path: Path, missing: Sequence[str], present: Sequence[str] | None = None,
                    ) -> DataError:
    """The error for required channels absent from ``path``."""
    present = list(present) if present is not None else _header_labels(path)
    return DataError(path, f"missing required channel(s) {list(missing)}; present: {present}")


def check_channels(source: Path, data: np.ndarray, names: Sequence[str],
                   required: Sequence[str]) -> None:
    """A :class:`DataError` if a ``required`` channel holds NaN/inf or is flat."""
    for name in required:
        x = data[list(names).index(name)]
        if not np.isfinite(x).all():
            raise DataError(source, f"channel {name!r} contains NaN or infinite samples")
        if float(np.ptp(x)) == 0.0:
            raise DataError(source, f"channel {name!r} is flat (constant over the recording)")


def stages_from_runs(onset: np.ndarray, duration: np.ndarray, codes: np.ndarray, source: Path,
                     ) -> np.ndarray:
    """Stage code per 30-s epoch (int8; epochs no run covers are unscored) from scored runs.

    Parameters
    ----------
    onset, duration : array of float
        Start and length of each run in seconds from the start of the scoring.
    codes : array of int
        Stage code of each run.
    source : Path
        The scoring file, named in errors.

    Raises
    ------
    DataError
        When a run is not a whole number of epochs on the 30-s grid, starts before 0, is
        empty, or overlaps another run (which one would win is arbitrary, so neither is
        trusted).
    """
    start, count = np.asarray(onset) / EPOCH_SEC, np.asarray(duration) / EPOCH_SEC
    if not (np.allclose(start, np.round(start)) and np.allclose(count, np.round(count))):
        raise DataError(source, "stage onsets/durations are not multiples of 30 s")
    start, count = np.round(start).astype(np.int64), np.round(count).astype(np.int64)
    if (start < 0).any():
        raise DataError(source, f"stage run starts {-start.min() * EPOCH_SEC:g} s before the "
                                f"recording")
    if (count < 1).any():
        raise DataError(source, f"stage run of {count.min() * EPOCH_SEC:g} s at "
                                f"{start[np.argmin(count)] * EPOCH_SEC:g} s")
    order = np.argsort(start, kind="stable")
    ends = (start + count)[order]
    starts = start[order]
    overlap = np.flatnonzero(starts[1:] < ends[:-1])
    if len(overlap):
        raise DataError(source, f"stage runs overlap at {starts[overlap[0] + 1] * EPOCH_SEC:g} s")
    stages = np.full(int(ends.max()), UNSCORED, dtype=np.int8)
    # epoch index of every scored epoch, without a loop over epochs
    offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    stages[np.repeat(start, count) + offsets] = np.repeat(np.asarray(codes, np.int8), count)
    return stages


def fit_stages(stages: np.ndarray, epoch_onset: float, n_times: int, sfreq: float,
               source: Path, labels: Path) -> np.ndarray:
    """``stages`` without a last epoch that the signal holds only in part.

    A scoring that reaches a whole epoch or more past the end of the signal means the label
    file does not belong to the signal: :class:`DataError` naming both files.
    """
    signal_sec = n_times / sfreq
    overrun = epoch_onset + len(stages) * EPOCH_SEC - signal_sec
    if overrun >= EPOCH_SEC - 1.0 / sfreq:
        raise DataError(labels, f"{len(stages)} scored epochs from {epoch_onset:g} s reach "
                                f"{overrun:g} s past the end of the {signal_sec:g}-s signal "
                                f"{source}")
    n_fit = int(np.floor((signal_sec - epoch_onset) / EPOCH_SEC + 1e-9))
    return stages[: max(n_fit, 0)]
