"""Simulated hypnograms: a time-varying Markov chain over the five sleep stages.

The chain starts from the stage-to-stage transition probabilities measured on the twenty
Sleep-EDF-20 hypnograms (consecutive 30-s epochs, S3 and S4 merged into N3). Each row is then
reweighted epoch by epoch by an ultradian drive so that the night has the familiar architecture:

- sleep-onset wake before the first cycle and a morning awakening after the last one;
- cycles of about 90 min (compressed proportionally in a short night, see :func:`n_cycles`);
  inside each cycle the descent N1 → N2 → N3, then lightening and REM at the end of the cycle;
- N3 mostly in the first third of the night, REM periods growing toward the morning;
- an age-like site factor that removes N3 and adds wake after sleep onset.

Everything is vectorised except one loop over epochs (a few hundred to a thousand steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eegkit.data.types import EPOCH_SEC

W, N1, N2, N3, REM = range(5)

#: P(stage of epoch t+1 | stage of epoch t), rows = from, columns = to, order W N1 N2 N3 REM.
#: Measured on the Sleep-EDF-20 hypnograms (../shared/data/README.md); rows sum to 1 within
#: rounding and are renormalised below.
TRANSITIONS = np.array([
    [0.931, 0.063, 0.002, 0.000, 0.004],
    [0.055, 0.648, 0.241, 0.001, 0.056],
    [0.010, 0.023, 0.905, 0.046, 0.015],
    [0.005, 0.006, 0.122, 0.867, 0.001],
    [0.014, 0.035, 0.016, 0.000, 0.934],
])

#: Length of one sleep cycle in a full-length night, minutes.
CYCLE_MIN = 90.0


@dataclass(frozen=True)
class SleepProfile:
    """Age-like knobs of one simulated population (one site).

    Attributes
    ----------
    n3_scale : float
        Multiplies the drive toward N3 (< 1: older sleepers, less slow-wave sleep).
    wake_scale : float
        Multiplies the probability of waking up during the night (> 1: more fragmented sleep).
    onset_wake_min, final_wake_min : float
        Mean wake before sleep onset and after the final awakening, minutes.
    """

    n3_scale: float = 1.0
    wake_scale: float = 1.0
    onset_wake_min: float = 15.0
    final_wake_min: float = 10.0


def n_cycles(sleep_minutes: float) -> int:
    """Number of ultradian cycles in a sleep period: one per ~90 min, at least two.

    A short demo night (2–3 h) therefore holds two compressed cycles, each with its N3 and REM
    periods, instead of one and a half full-length cycles.
    """
    return max(2, int(round(sleep_minutes / CYCLE_MIN)))


def _bump(x: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - centre) / width) ** 2)


def ultradian_weights(n_sleep: int, profile: SleepProfile) -> np.ndarray:
    """Per-epoch multiplicative weights on the *target* stage, shape (n_sleep, 5).

    ``phase`` runs 0 → 1 through each cycle, ``night`` 0 → 1 through the sleep period.
    """
    night = (np.arange(n_sleep) + 0.5) / n_sleep
    phase = (night * n_cycles(n_sleep * EPOCH_SEC / 60.0)) % 1.0
    first_cycle = night < 1.0 / n_cycles(n_sleep * EPOCH_SEC / 60.0)
    # N3: deepest in the middle of the first cycles, fading across the night.
    n3 = profile.n3_scale * 3.5 * _bump(phase, 0.38, 0.16) * np.exp(-night / 0.28)
    # REM: at the end of each cycle, longer toward the morning; almost none in the first
    # half of a cycle (REM latency). The first REM period is short.
    rem = (0.6 + 2.2 * night) * _bump(phase, 0.88, 0.12) - 2.5 * (phase < 0.5)
    rem = np.where(first_cycle, rem - 0.4, rem)
    n1 = 0.6 * _bump(phase, 0.02, 0.05) + 0.4 * _bump(phase, 0.7, 0.06)  # at cycle boundaries
    wake = np.log(profile.wake_scale) + 0.5 * _bump(phase, 0.72, 0.08) - 0.7
    log_w = np.stack([wake, n1, np.zeros_like(night), n3 - 0.8, rem], axis=1)
    return np.exp(log_w)


def simulate_hypnogram(hours: float, rng: np.random.Generator,
                       profile: SleepProfile = SleepProfile()) -> np.ndarray:
    """One night of stages per 30-s epoch (int8, 0..4 = W, N1, N2, N3, REM).

    Parameters
    ----------
    hours : float
        Recording length (lights off to lights on), hours.
    rng : numpy.random.Generator
    profile : SleepProfile
        Age-like population knobs.

    Returns
    -------
    ndarray of int8, shape (round(hours * 120),)
    """
    n_total = int(round(hours * 3600 / EPOCH_SEC))
    per_min = 60.0 / EPOCH_SEC
    onset = int(round(rng.gamma(4.0, profile.onset_wake_min / 4.0) * per_min))
    final = int(round(rng.gamma(4.0, profile.final_wake_min / 4.0) * per_min))
    onset, final = min(onset, n_total // 6), min(final, n_total // 8)
    n_sleep = n_total - onset - final
    if n_sleep < 30:
        raise ValueError(f"hours={hours} leaves {n_sleep} epochs of sleep; use at least 1 h")
    transitions = TRANSITIONS / TRANSITIONS.sum(axis=1, keepdims=True)
    weights = ultradian_weights(n_sleep, profile)
    uniforms = rng.random(n_sleep)
    stages = np.empty(n_sleep, dtype=np.int8)
    stages[0] = N1  # sleep onset goes through N1
    for t in range(1, n_sleep):
        cumulative = np.cumsum(transitions[stages[t - 1]] * weights[t])
        # min(): guards the float edge case uniform * total == total
        stages[t] = min(int(np.searchsorted(cumulative, uniforms[t] * cumulative[-1],
                                            side="right")), REM)
    return np.concatenate([
        np.full(onset, W, np.int8), stages, np.full(final, W, np.int8),
    ])
