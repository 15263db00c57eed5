"""CHB-MIT Scalp EEG (PhysioNet ``chbmit``): long paediatric recordings with seizure times.

Files as distributed: ``chbNN/chbNN_MM.edf`` (23 bipolar channels such as ``FP1-F7`` at 256 Hz;
some files repeat a label, e.g. ``T8-P8`` twice, or carry ``-`` placeholder channels) and
``chbNN/chbNN-summary.txt`` listing, per file, ``Number of Seizures in File: k`` followed by
``Seizure Start Time: 2996 seconds`` / ``Seizure End Time: 3036 seconds`` (later summaries
number them: ``Seizure 1 Start Time:``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from eegkit.data import register_dataset
from eegkit.data.readers._files import LazyRecordings
from eegkit.data.readers._psg import find_files, read_edf
from eegkit.data.types import EVENT_DTYPE, DataError, Recording

CLASSES: tuple[str, ...] = ("background", "seizure")
#: Code of a seizure in :attr:`Recording.events`.
SEIZURE = 1
_FILE_NAME = re.compile(r"^File Name:\s*(\S+\.edf)\s*$", re.IGNORECASE)
_N_SEIZURES = re.compile(r"^Number of Seizures in File:\s*(\d+)\s*$", re.IGNORECASE)
_SEIZURE_TIME = re.compile(
    r"^Seizure(?:\s+\d+)?\s+(Start|End)\s+Time\s*:\s*(\d+(?:\.\d+)?)\s*(?:seconds?|s)?\s*$",
    re.IGNORECASE,
)
# MNE appends a running number to repeated labels ("T8-P8-0", "T8-P8-1").
_RUNNING_NUMBER = re.compile(r"^(.*)-(\d+)$")


def read_summary(path: Path) -> dict[str, np.ndarray]:
    """Seizures per EDF file name: ``{"chb01_03.edf": array([[start, end], ...]) }`` (s).

    Raises
    ------
    DataError
        Naming the summary and line when a seizure time appears outside a file block, start and
        end do not pair up, or the count differs from ``Number of Seizures in File``.
    """
    if not path.is_file():
        raise DataError(path, "summary file is missing")
    seizures: dict[str, list[list[float]]] = {}
    declared: dict[str, int] = {}
    current = None
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        line = line.strip()
        if m := _FILE_NAME.match(line):
            current = m[1]
            seizures[current] = []
        elif m := _N_SEIZURES.match(line):
            if current is None:
                raise DataError(path, f"line {number}: seizure count before any 'File Name:'")
            declared[current] = int(m[1])
        elif m := _SEIZURE_TIME.match(line):
            if current is None:
                raise DataError(path, f"line {number}: seizure time before any 'File Name:'")
            times = seizures[current]
            if m[1].lower() == "start":
                times.append([float(m[2]), np.nan])
            elif times and np.isnan(times[-1][1]):
                times[-1][1] = float(m[2])
            else:
                raise DataError(path, f"line {number}: seizure end without a start")
    out = {}
    for name, times in seizures.items():
        arr = np.array(times, dtype=np.float64).reshape(-1, 2)
        if np.isnan(arr).any() or (arr[:, 1] <= arr[:, 0]).any():
            raise DataError(path, f"{name}: unpaired or empty seizure interval(s) {times}")
        if declared.get(name, len(arr)) != len(arr):
            raise DataError(path, f"{name}: 'Number of Seizures in File: {declared[name]}' but "
                                  f"{len(arr)} start/end pair(s) listed")
        out[name] = arr
    return out


def canonical_labels(names: list[str]) -> list[str]:
    """File labels with MNE's running numbers for repeated labels removed.

    ``["T8-P8-0", "T8-P8-1"]`` → ``["T8-P8", "T8-P8"]``; a genuine label ending in a number
    is kept (it has no twin with another number).
    """
    out = []
    for name in names:
        m = _RUNNING_NUMBER.match(name)
        twins = m and sum(bool(re.fullmatch(re.escape(m[1]) + r"-\d+", n)) for n in names) > 1
        out.append(m[1] if twins else name)
    return out


def read_recording(edf: Path, seizures: dict[str, np.ndarray], summary: Path) -> Recording:
    """One CHB-MIT file: all its channels (volts; repeated labels kept, in file order)."""
    if edf.name not in seizures:
        raise DataError(edf, f"not listed in {summary.name}, so its seizures are unknown")
    data, names, sfreq = read_edf(edf, None)
    times = seizures[edf.name]
    events = np.zeros(len(times), dtype=EVENT_DTYPE)
    events["onset"], events["duration"] = times[:, 0], times[:, 1] - times[:, 0]
    events["code"], events["channel"] = SEIZURE, -1
    end = data.shape[1] / sfreq
    if len(times) and times[:, 1].max() > end + 1.0:
        raise DataError(summary, f"{edf.name}: seizure ends at {times[:, 1].max():g} s, after "
                                 f"the {end:g}-s recording")
    return Recording(
        data=data, ch_names=canonical_labels(names), sfreq=sfreq, subject=edf.parent.name,
        recording=edf.stem, domain="chbmit", source=edf, events=events,
        meta={"summary": summary, "classes": CLASSES},
    )


@register_dataset("chbmit", kind="events", window_pipeline="chbmit",
                  classes=CLASSES)
def read_chbmit(path: Path, subjects: list[str] | None = None) -> LazyRecordings[Recording]:
    """CHB-MIT recordings with their seizures as events, read lazily one file at a time.

    Parameters
    ----------
    path : Path
        The corpus folder holding ``chbNN/`` folders (or one ``chbNN/`` folder).
    subjects : list of str, optional
        Case folders to read (``["chb01", "chb02"]``); all when ``None``.

    Returns
    -------
    LazyRecordings
        :class:`Recording` per ``.edf`` with ``events`` (``code`` 1 = seizure, ``channel``
        -1), ``subject`` = the case folder, channel labels as in the file (a repeated label
        appears twice).
    """
    path = Path(path)
    edfs = find_files(path, r"chb\d+[a-z]?_\d+[a-z+]*\.edf", "CHB-MIT files chbNN/chbNN_MM.edf")
    if subjects is not None:
        edfs = [e for e in edfs if e.parent.name in set(subjects)]
        if not edfs:
            raise DataError(path, f"no .edf files for subjects {subjects}")
    summaries: dict[Path, dict[str, np.ndarray]] = {}
    sources = []
    for edf in edfs:
        folder = edf.parent
        summary = folder / f"{folder.name}-summary.txt"
        if folder not in summaries:
            summaries[folder] = read_summary(summary)
        sources.append((edf, summary))
    return LazyRecordings(
        sources, lambda s: read_recording(s[0], summaries[s[0].parent], s[1])
    )
