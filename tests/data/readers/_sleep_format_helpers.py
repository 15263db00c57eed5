"""Synthetic signals for the HMC / ISRUC / SHHS / PhysioNet 2018 format tests."""

from __future__ import annotations

import numpy as np

#: 20 epochs (10 min) covering every stage, with an inner unscored epoch.
STAGES = np.array([0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 2, 4, 4, 4, -1, 2, 2, 1, 0, 0], dtype=np.int8)
AMPLITUDE = 30e-6


def noise(rates: dict[str, float], seconds: float, seed: int = 0,
          constant: dict[str, float] | None = None) -> tuple[dict, dict]:
    """Gaussian noise (volts) per channel at its rate; ``constant`` channels hold a value."""
    rng = np.random.default_rng(seed)
    constant = constant or {}
    signals = {
        name: (np.full(int(seconds * rate), constant[name]) if name in constant
               else AMPLITUDE * rng.standard_normal(int(seconds * rate)))
        for name, rate in rates.items()
    }
    return signals, dict(rates)
