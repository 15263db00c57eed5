"""Small EDF/EDF+ files written in the tests (no real data needed)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from eegkit.data.edf_writer import edf_signals, write_edf

START = datetime.datetime(2024, 3, 1, 22, 15, 0)


def write_recording(path: Path, signals: dict[str, np.ndarray], sfreq: float = 100.0,
                    annotations=None, start: datetime.datetime = START) -> Path:
    """An EDF (EDF+ when ``annotations`` are given) of ``signals`` in volts, 1-s records."""
    edf = edf_signals(signals, dict.fromkeys(signals, sfreq), {}, record_duration=1.0
                      ) if signals else []  # no signals: an annotation-only EDF+
    return write_edf(Path(path), edf, start=start, record_duration=1.0, annotations=annotations)


def noise(n: int, seed: int = 0, scale: float = 20e-6) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal(n)
