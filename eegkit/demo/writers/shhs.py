"""Write SHHS files as the NSRR distributes them (visit 1, ``shhs1``).

A recording ``shhs1-<nsrrid>`` is three files under ``<folder>/polysomnography/``:

- ``edfs/shhs1/shhs1-<nsrrid>.edf``: plain EDF, 1-s data records, each channel at its own
  rate (``EEG`` and ``EEG(sec)`` 125 Hz, ``EOG(L)``/``EOG(R)`` 50 Hz, ...; see
  :data:`CHANNELS`), whichever channels are given;
- ``annotations-events-nsrr/shhs1/shhs1-<nsrrid>-nsrr.xml``: ``<PSGAnnotation>`` whose
  ``<ScoredEvents>`` start with the ``Recording Start Time`` event, followed by one
  ``Stages|Stages`` event per run of equal stages (``Wake|0``, ``Stage 1 sleep|1``, ...,
  ``REM sleep|5``, ``Unscored|9``) with ``Start``/``Duration`` in seconds;
- ``annotations-events-profusion/shhs1/shhs1-<nsrrid>-profusion.xml``: ``<CMPStudyConfig>``
  with ``<SleepStages>``, one ``<SleepStage>`` code per 30-s epoch (0 W, 1-4, 5 REM, 9
  unscored).

N3 is written as R&K stage 3 (the writer cannot tell stage 3 from 4).
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from eegkit.data.edf_writer import edf_signals, write_edf
from eegkit.data.types import EPOCH_SEC, UNSCORED

#: Channel label -> (rate in Hz, physical dimension), in the order of the shhs1 EDF files.
CHANNELS: dict[str, tuple[float, str]] = {
    "SaO2": (1.0, "%"), "H.R.": (1.0, "bpm"), "EEG(sec)": (125.0, "uV"), "ECG": (125.0, "mV"),
    "EMG": (125.0, "uV"), "EOG(L)": (50.0, "uV"), "EOG(R)": (50.0, "uV"), "EEG": (125.0, "uV"),
    "THOR RES": (10.0, ""), "ABDO RES": (10.0, ""), "POSITION": (1.0, ""), "LIGHT": (1.0, ""),
    "NEW AIR": (10.0, ""), "OX stat": (1.0, ""),
}
#: NSRR ``EventConcept`` per stage code.
NSRR_CONCEPT: dict[int, str] = {
    0: "Wake|0", 1: "Stage 1 sleep|1", 2: "Stage 2 sleep|2", 3: "Stage 3 sleep|3",
    4: "REM sleep|5", UNSCORED: "Unscored|9",
}
#: Profusion ``SleepStage`` code per stage code.
PROFUSION_CODE: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 3, 4: 5, UNSCORED: 9}
#: SHHS start dates are anonymised to 1 January 1985.
DEFAULT_START = datetime.datetime(1985, 1, 1, 22, 0)
FIRST_NSRRID = 200001
_RECORD_SEC = 1.0
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child


def _write_xml(path: Path, root: ET.Element) -> Path:
    ET.indent(root, space="")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n",
                    encoding="utf-8")
    return path


def nsrr_xml(stages: np.ndarray, duration: float, start: datetime.datetime) -> ET.Element:
    """The ``<PSGAnnotation>`` tree of an NSRR event file for ``stages``."""
    root = ET.Element("PSGAnnotation")
    _sub(root, "SoftwareVersion", "Compumedics")
    _sub(root, "EpochLength", f"{EPOCH_SEC:g}")
    events = _sub(root, "ScoredEvents")
    first = _sub(events, "ScoredEvent")
    _sub(first, "EventType")
    _sub(first, "EventConcept", "Recording Start Time")
    _sub(first, "Start", "0")
    _sub(first, "Duration", f"{duration:.1f}")
    _sub(first, "ClockTime", f"00.00.00 {start:%H.%M.%S}")
    change = np.flatnonzero(np.diff(stages)) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    lengths = np.diff(np.concatenate([starts, [len(stages)]]))
    for epoch, length in zip(starts, lengths, strict=True):
        event = _sub(events, "ScoredEvent")
        _sub(event, "EventType", "Stages|Stages")
        _sub(event, "EventConcept", NSRR_CONCEPT[int(stages[epoch])])
        _sub(event, "Start", f"{epoch * EPOCH_SEC:.1f}")
        _sub(event, "Duration", f"{length * EPOCH_SEC:.1f}")
    return root


def profusion_xml(stages: np.ndarray) -> ET.Element:
    """The ``<CMPStudyConfig>`` tree of a Profusion event file for ``stages``."""
    root = ET.Element("CMPStudyConfig")
    _sub(root, "EpochLength", f"{EPOCH_SEC:g}")
    _sub(root, "ScoredEvents")
    sleep_stages = _sub(root, "SleepStages")
    for code in stages:
        _sub(sleep_stages, "SleepStage", str(PROFUSION_CODE[int(code)]))
    return root


def write_shhs(folder: Path, index: int, signals: dict[str, np.ndarray],
               sfreq: dict[str, float], stages: np.ndarray,
               start: datetime.datetime | None = None) -> list[Path]:
    """Write recording ``shhs1-<200001 + index>`` with both annotation formats.

    Parameters
    ----------
    folder : Path
        Dataset root (the folder holding ``polysomnography/``).
    index : int
        0-based recording number (0 is ``shhs1-200001``).
    signals : dict of str to ndarray
        Volts (``ECG`` too; ``SaO2`` in %, ``H.R.`` in bpm, the rest as given), keyed by SHHS
        labels, each at its native rate, all of one duration (a whole number of seconds).
    sfreq : dict of str to float
        Rate of each signal; must be the native one of :data:`CHANNELS`.
    stages : ndarray
        One code per 30-s epoch from the recording start (0..4, -1 = unscored).
    start : datetime, optional
        Recording start (default: the anonymised 1985-01-01, 22:00).

    Returns
    -------
    list of Path
        ``[edf, nsrr xml, profusion xml]``.
    """
    start = start or DEFAULT_START
    unknown = set(signals) - set(CHANNELS)
    if unknown:
        raise ValueError(f"not SHHS channel labels: {sorted(unknown)}; known: {list(CHANNELS)}")
    wrong = {c: sfreq[c] for c in signals if sfreq[c] != CHANNELS[c][0]}
    if wrong:
        raise ValueError(f"channels not at their native SHHS rate: {wrong}")
    stages = np.asarray(stages, dtype=np.int64)
    if not np.isin(stages, list(PROFUSION_CODE)).all():
        raise ValueError(f"stage codes must be -1..4, got {sorted(set(stages.tolist()))}")
    name = f"shhs1-{FIRST_NSRRID + index}"
    root = Path(folder) / "polysomnography"
    ordered = {c: signals[c] for c in CHANNELS if c in signals}
    units = {c: unit for c, (_, unit) in CHANNELS.items()}
    edf = write_edf(
        root / "edfs" / "shhs1" / f"{name}.edf",
        edf_signals(ordered, sfreq, units, record_duration=_RECORD_SEC),
        start=start, record_duration=_RECORD_SEC, patient_code=name,
    )
    first = next(iter(ordered))
    duration = len(ordered[first]) / sfreq[first]
    nsrr = _write_xml(root / "annotations-events-nsrr" / "shhs1" / f"{name}-nsrr.xml",
                      nsrr_xml(stages, duration, start))
    profusion = _write_xml(
        root / "annotations-events-profusion" / "shhs1" / f"{name}-profusion.xml",
        profusion_xml(stages),
    )
    return [edf, nsrr, profusion]


__all__ = ["CHANNELS", "NSRR_CONCEPT", "PROFUSION_CODE", "nsrr_xml", "profusion_xml",
           "write_shhs"]
