"""EDF/EDF+ writing shared by the EDF-based writers (Sleep-EDF, HMC, ISRUC, SHHS), on edfio."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from edfio import Edf, EdfAnnotation, EdfSignal, Patient
from edfio import Recording as EdfRecording

#: Factor from volts to the physical dimension written in the header.
VOLT_SCALE: dict[str, float] = {"V": 1.0, "mV": 1e3, "uV": 1e6}


def _physical_range(values: np.ndarray) -> tuple[float, float]:
    # The data's own range (edfio rounds it outward to fit the 8-character header fields),
    # widened for a flat signal, whose range would otherwise be empty.
    low, high = float(values.min()), float(values.max())
    return (low - 1.0, high + 1.0) if high - low < 1e-9 * max(1.0, abs(low)) else (low, high)


def edf_signals(
    signals: Mapping[str, np.ndarray],
    sfreq: Mapping[str, float],
    units: Mapping[str, str],
    *,
    record_duration: float,
) -> list[EdfSignal]:
    """EDF signals in header order, converted from volts to each channel's dimension.

    Channels whose dimension is not a voltage (``%``, ``bpm``...) are written as given.
    Every channel must span the same whole number of data records.
    """
    durations = {name: len(x) / sfreq[name] for name, x in signals.items()}
    duration = next(iter(durations.values()))
    n_records = duration / record_duration
    if any(not math.isclose(d, duration) for d in durations.values()) or not math.isclose(
        n_records, round(n_records)
    ):
        raise ValueError(
            f"every channel must last the same whole number of {record_duration:g}-s data "
            f"records; durations (s): {durations}"
        )
    out = []
    for name, x in signals.items():
        unit = units.get(name, "uV")
        values = np.asarray(x, dtype=np.float64) * VOLT_SCALE.get(unit, 1.0)
        out.append(
            EdfSignal(
                values, sfreq[name], label=name, physical_dimension=unit,
                physical_range=_physical_range(values),
            )
        )
    return out


def write_edf(
    path: Path,
    signals: list[EdfSignal],
    *,
    start: datetime.datetime,
    record_duration: float,
    annotations: Iterable[tuple[float, float, str]] | None = None,
    patient_code: str = "X",
    patient: Patient | None = None,
) -> Path:
    """Write ``signals`` (and EDF+ annotations when given, else a plain EDF) to ``path``.

    With no signals, the file is an annotation-only EDF+ (like a hypnogram file). ``patient``
    replaces the default patient field (``Patient(code=patient_code)``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    edf = Edf(
        signals,
        patient=patient or Patient(code=patient_code),
        recording=EdfRecording(startdate=start.date()),
        starttime=start.time().replace(microsecond=0),
        data_record_duration=record_duration if signals else None,
        annotations=None if annotations is None else [
            EdfAnnotation(onset, duration, text) for onset, duration, text in annotations
        ],
    )
    edf.write(path)
    return path
