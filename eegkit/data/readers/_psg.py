"""Pieces shared by the polysomnography readers (HMC, ISRUC, SHHS, PhysioNet 2018).

- :func:`find_files`: the signal files of a dataset, sorted, or a :class:`DataError`;
- :func:`read_edf`: chosen channels of an EDF file (any extension) through MNE;
- :func:`with_aliases` / :func:`canonical_names`: labels that differ between files of one
  dataset, exposed under one name;
- :func:`check_channels`: required channels are finite and not flat;
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

from eegkit.data.types import EPOCH_SEC, DataError


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
    passed as an open handle. MNE merely warns when a file is shorter than its header says;
    that is turned into a :class:`DataError` here, like any other failure to parse.
    """
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
        raise DataError(path, f"truncated or corrupt EDF ({type(err).__name__}: {err})") from None
    labels = list(raw.ch_names)
    if wanted is not None and not labels:
        raise DataError(path, f"none of the channels {list(wanted)} is present; "
                              f"present: {_header_labels(path)}")
    return raw.get_data().astype(np.float32), labels, float(raw.info["sfreq"])


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
