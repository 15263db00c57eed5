"""Sleep Heart Health Study (SHHS, NSRR).

Files as distributed: ``polysomnography/edfs/shhs1/shhs1-200001.edf`` with either
``polysomnography/annotations-events-nsrr/shhs1/shhs1-200001-nsrr.xml`` (NSRR XML: stage
events ``Stages|Stages`` with concepts ``Wake|0`` ... ``REM sleep|5``, ``Unscored|9``, start
and duration in s, among non-stage events that are ignored) or
``annotations-events-profusion/shhs1/shhs1-200001-profusion.xml`` (Profusion XML: one
``<SleepStage>`` code per 30-s epoch of the whole recording). R&K stages 3 and 4 become N3.

Channels keep their EDF labels (``EEG`` = C4-A1 at 125 Hz, ``EEG(sec)`` = C3-A2, ``EOG(L)``,
``EOG(R)`` at 50 Hz...); the secondary EEG, labelled differently in some files, is always
exposed as ``EEG(sec)`` (see :data:`ALIASES`). The reader also offers the derived channel
``EOG(R)-EOG(L)``. MNE reads a mixed-rate EDF at the rate of its fastest read channel,
upsampling the slower ones (FFT resampling over the whole recording); the derivation is the
difference of the two EOG channels after that upsampling, which equals upsampling their 50-Hz
difference since the resampling is linear.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eegkit.data import register_dataset
from eegkit.data.readers._files import LazyRecordings
from eegkit.data.readers._psg import (
    canonical_names,
    check_channels,
    find_files,
    fit_stages,
    missing_channel,
    read_edf,
    stages_from_runs,
    with_aliases,
)
from eegkit.data.types import EPOCH_SEC, UNSCORED, DataError, Recording

#: The derived bipolar EOG channel and the two EDF channels it is made of (R minus L).
EOG_DERIVED = "EOG(R)-EOG(L)"
EOG_PARTS = ("EOG(R)", "EOG(L)")
#: The SleepDIFFormer (EEG, EOG) pair.
SLEEP_CHANNELS = ("EEG", EOG_DERIVED)
#: Exposed label -> variants of it found in some SHHS EDF headers.
ALIASES: dict[str, tuple[str, ...]] = {"EEG(sec)": ("EEG2", "EEG 2", "EEG(SEC)", "EEG sec")}
#: NSRR ``EventConcept`` -> stage code.
NSRR_CODES: dict[str, int] = {
    "Wake|0": 0, "Stage 1 sleep|1": 1, "Stage 2 sleep|2": 2, "Stage 3 sleep|3": 3,
    "Stage 4 sleep|4": 3, "REM sleep|5": 4, "Movement|6": UNSCORED, "Unscored|9": UNSCORED,
}
#: Profusion ``SleepStage`` code -> stage code (6 movement, 9 unscored).
PROFUSION_CODES: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 5: 4, 6: UNSCORED, 9: UNSCORED}
ANNOTATION_FORMATS = ("nsrr", "profusion")
_STAGE_EVENT = "Stages|Stages"


def _parse_xml(path: Path, root_tag: str) -> ET.Element:
    if not path.is_file():
        raise DataError(path, "annotation file is missing")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise DataError(path, f"malformed XML ({err})") from None
    if root.tag != root_tag:
        raise DataError(path, f"root element is <{root.tag}>, expected <{root_tag}>")
    length = root.findtext("EpochLength")
    if length is not None and float(length) != EPOCH_SEC:
        raise DataError(path, f"EpochLength is {length}, expected {EPOCH_SEC:g}")
    return root


def _number(event: ET.Element, tag: str, path: Path) -> float:
    text = event.findtext(tag)
    try:
        return float(text)
    except (TypeError, ValueError):
        raise DataError(path, f"stage event without a numeric <{tag}> (got {text!r})") from None


def read_nsrr(path: Path) -> np.ndarray:
    """Stage per 30-s epoch from recording start (int8; gaps are unscored) of an NSRR XML."""
    root = _parse_xml(path, "PSGAnnotation")
    start, count, codes = [], [], []
    for event in root.iter("ScoredEvent"):
        if (event.findtext("EventType") or "").strip() != _STAGE_EVENT:
            continue
        concept = (event.findtext("EventConcept") or "").strip()
        if concept not in NSRR_CODES:
            raise DataError(path, f"unknown stage concept {concept!r}; known: {list(NSRR_CODES)}")
        start.append(_number(event, "Start", path))
        count.append(_number(event, "Duration", path))
        codes.append(NSRR_CODES[concept])
    if not codes:
        raise DataError(path, f"no {_STAGE_EVENT} events")
    return stages_from_runs(np.asarray(start), np.asarray(count), np.asarray(codes), path)


def read_profusion(path: Path) -> np.ndarray:
    """Stage per 30-s epoch (int8) of a Profusion XML."""
    root = _parse_xml(path, "CMPStudyConfig")
    texts = [(e.text or "").strip() for e in root.iterfind("SleepStages/SleepStage")]
    if not texts:
        raise DataError(path, "no <SleepStages>/<SleepStage> entries")
    codes = []
    for number, text in enumerate(texts, start=1):
        try:
            codes.append(PROFUSION_CODES[int(text)])
        except (ValueError, KeyError):
            raise DataError(path, f"SleepStage {number}: unknown code {text!r} (known: "
                                  f"{sorted(PROFUSION_CODES)})") from None
    return np.asarray(codes, dtype=np.int8)


def annotation_path(edf: Path, annotations: str) -> Path:
    """The event file of ``edfs/<visit>/<name>.edf`` in the NSRR folder layout."""
    visit = edf.parent.name
    return (edf.parents[2] / f"annotations-events-{annotations}" / visit
            / f"{edf.stem}-{annotations}.xml")


def read_recording(edf: Path, channels: Sequence[str] | None = None,
                   annotations: str = "nsrr") -> Recording:
    """One SHHS recording; ``channels`` may include :data:`EOG_DERIVED`."""
    xml = annotation_path(edf, annotations)
    stages = read_nsrr(xml) if annotations == "nsrr" else read_profusion(xml)
    parts = None if channels is None else list(dict.fromkeys(
        part for c in channels for part in (EOG_PARTS if c == EOG_DERIVED else (c,))
    ))
    data, names, sfreq = read_edf(edf, with_aliases(parts, ALIASES))
    names = canonical_names(names, ALIASES)
    if all(p in names for p in EOG_PARTS):
        right, left = (data[names.index(p)] for p in EOG_PARTS)
        data, names = np.concatenate([data, (right - left)[None]]), [*names, EOG_DERIVED]
    required = list(channels) if channels is not None else list(SLEEP_CHANNELS)
    missing = [c for c in required if c not in names]
    if missing:
        raise missing_channel(edf, missing, None if channels is not None else names)
    if channels is not None:
        data, names = data[[names.index(c) for c in channels]], list(channels)
    check_channels(edf, data, names, required)
    n_epochs = int(data.shape[1] // round(EPOCH_SEC * sfreq))
    if annotations == "profusion" and len(stages) < n_epochs - 1:
        raise DataError(xml, f"{len(stages)} SleepStage entries but the signal {edf} holds "
                             f"{n_epochs} epochs (Profusion lists every epoch)")
    return Recording(
        data=data, ch_names=names, sfreq=sfreq, subject=edf.stem.split("-", 1)[-1],
        recording=edf.stem, domain="shhs", source=edf,
        stages=fit_stages(stages, 0.0, data.shape[1], sfreq, edf, xml),
        meta={"annotations": str(xml), "visit": edf.parent.name},
    )


@register_dataset("shhs", kind="sleep", sleep_channels=SLEEP_CHANNELS)
def shhs(path: Path, channels: Sequence[str] | None = None,
         annotations: str = "nsrr") -> LazyRecordings[Recording]:
    """Read the SHHS recordings under ``path``.

    Parameters
    ----------
    path : Path
        The SHHS folder (or its ``polysomnography`` folder); every
        ``edfs/<visit>/shhs<visit>-<nsrrid>.edf`` below it is read.
    channels : list of str, optional
        EDF labels and/or ``"EOG(R)-EOG(L)"``; ``None`` reads all EDF channels plus the derived
        EOG (all at the fastest channel's rate).
    annotations : {"nsrr", "profusion"}
        Which event files hold the stages.

    Returns
    -------
    LazyRecordings
        One :class:`~eegkit.data.types.Recording` per EDF, read when reached; subject is the
        NSRR id (``"200001"``), recording the file stem (``"shhs1-200001"``).
    """
    if annotations not in ANNOTATION_FORMATS:
        raise ValueError(f"annotations must be one of {ANNOTATION_FORMATS}, got {annotations!r}")
    edfs = find_files(Path(path), r"shhs\d+-\d+\.edf", "SHHS EDF files edfs/<visit>/*.edf")
    return LazyRecordings(
        edfs, functools.partial(read_recording, channels=channels, annotations=annotations)
    )
