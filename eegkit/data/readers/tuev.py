"""TUH EEG Events corpus (TUEV v2.0.1).

Files as distributed: ``edf/{train,eval}/<subject>/<file>.edf`` with ``<file>.rec`` beside each:
one CSV line ``channel,start_s,end_s,code`` per annotated event, ``channel`` the index (0..21)
of the TCP bipolar montage channel it was marked on (:data:`TCP_MONTAGE`),
``code`` 1..6 = SPSW, GPED, PLED, EYEM, ARTF, BCKG. Signals are referential (``EEG FP1-REF`` or
``EEG FP1-LE``) at 250 or 256 Hz. The reader returns the referential channels of the montage's
19 electrodes untouched; :func:`eegkit.data.pipelines.events.prepare_tuev` builds the montage
and the 5-s event windows.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from eegkit.data import register_dataset
from eegkit.data.readers._files import LazyRecordings
from eegkit.data.readers._psg import find_files, read_edf
from eegkit.data.types import EVENT_DTYPE, DataError, Recording

#: Event classes; class index = ``.rec`` code − 1.
CLASSES: tuple[str, ...] = ("SPSW", "GPED", "PLED", "EYEM", "ARTF", "BCKG")
#: The 22-channel TCP bipolar montage (anode, cathode), in the order ``.rec`` channel indices use.
TCP_MONTAGE: tuple[tuple[str, str], ...] = (
    ("FP1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"),
    ("FP2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("A1", "T3"), ("T3", "C3"), ("C3", "CZ"), ("CZ", "C4"), ("C4", "T4"), ("T4", "A2"),
    ("FP1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("FP2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
)
N_MONTAGE_CHANNELS = len(TCP_MONTAGE)
#: The 19 electrodes the montage uses.
ELECTRODES: tuple[str, ...] = tuple(dict.fromkeys(e for pair in TCP_MONTAGE for e in pair))
SPLITS = ("train", "eval")
#: Referential EEG channel label: ``EEG <electrode>-REF`` or ``EEG <electrode>-LE``.
REFERENTIAL = re.compile(r"^EEG\s+([A-Z0-9]+)-(REF|LE)$", re.IGNORECASE)


def read_rec(path: Path) -> np.ndarray:
    """Events of a ``.rec`` file as :data:`EVENT_DTYPE` (code = class index 0..5).

    Raises
    ------
    DataError
        Naming the file and line for a malformed line, an unknown code, a channel outside
        0..21 or an event that ends before it starts.
    """
    if not path.is_file():
        raise DataError(path, "event file (.rec) is missing")
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            channel, start, end, code = (float(c) for c in cells)
            if channel != int(channel) or code != int(code):
                raise ValueError
        except ValueError:
            raise DataError(path, f"line {number}: expected 'channel,start,end,code' with "
                                  f"integer channel and code, got {line.strip()!r}") from None
        channel, code = int(channel), int(code)
        if not 1 <= code <= len(CLASSES):
            raise DataError(path, f"line {number}: unknown event code {code} "
                                  f"(known 1..{len(CLASSES)} = {', '.join(CLASSES)})")
        if not 0 <= channel < N_MONTAGE_CHANNELS:
            raise DataError(path, f"line {number}: channel {channel} outside the "
                                  f"{N_MONTAGE_CHANNELS}-channel montage")
        if not 0 <= start < end:
            raise DataError(path, f"line {number}: event from {start} s to {end} s")
        rows.append((start, end - start, code - 1, channel))
    if not rows:
        raise DataError(path, "no events")
    return np.array(rows, dtype=EVENT_DTYPE)


def read_recording(edf: Path, root: Path) -> Recording:
    """One TUEV file: the montage electrodes' referential channels (volts) and its events."""
    events = read_rec(edf.with_suffix(".rec"))
    # Only the montage electrodes are read: TUH files also hold 1-Hz channels (IBI, BURSTS)
    # that MNE would otherwise upsample.
    wanted = [f"EEG {e}-{ref}" for e in ELECTRODES for ref in ("REF", "LE")]
    data, names, sfreq = read_edf(edf, wanted)
    split = edf.relative_to(root).parts[0] if edf.is_relative_to(root) else ""
    return Recording(
        data=data, ch_names=names, sfreq=sfreq,
        subject=edf.parent.name, recording=edf.stem, domain="tuev", source=edf,
        events=events, meta={"split": split, "classes": CLASSES},
    )


def _edf_root(path: Path) -> Path:
    """The folder holding ``train``/``eval``: ``path``, ``path/edf`` or ``path/v2.0.1/edf``."""
    for candidate in (path, path / "edf", *sorted(path.glob("*/edf"))):
        if any((candidate / s).is_dir() for s in SPLITS):
            return candidate
    raise DataError(path, "no edf/train or edf/eval folder (TUEV layout "
                          "edf/{train,eval}/<subject>/<file>.edf)")


@register_dataset("tuev", kind="events", window_pipeline="tuev", classes=CLASSES,
                  splits=SPLITS)
def read_tuev(path: Path, split: str | None = None) -> LazyRecordings[Recording]:
    """TUEV recordings, read lazily one file at a time.

    Parameters
    ----------
    path : Path
        The corpus folder (holding ``edf/``), or ``edf/`` itself.
    split : {"train", "eval"}, optional
        One official split; both when ``None`` (train first).

    Returns
    -------
    LazyRecordings
        :class:`Recording` per ``.edf``: referential channels, ``events`` (onset and duration
        in s, ``code`` = class index into :data:`CLASSES`, ``channel`` = montage index),
        ``subject`` = the subject folder, ``meta["split"]`` = ``"train"``/``"eval"``.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    root = _edf_root(Path(path))
    files = []
    for s in SPLITS if split is None else (split,):
        if (root / s).is_dir():
            files += find_files(root / s, r".+\.edf", f"TUEV {s} files <subject>/<file>.edf")
    if not files:
        raise DataError(root, f"no .edf files for split {split!r}")
    return LazyRecordings(files, lambda edf: read_recording(edf, root))
