"""Spectral epoch features and a linear discriminant: the simple staging baseline that checks
the demo corpus (stage signatures, difficulty, and the size of the site shift).

Everything here works on what the ordinary readers return, so it measures the corpus as a
user sees it. Band powers are relative to the recording's mean 0.3–35 Hz power, which is what
per-recording z-scoring after the 0.3–35 Hz band-pass of the SleepDIFFormer pipeline does to
the signal scale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import welch

from eegkit.data import dataset_info, load
from eegkit.data.types import EPOCH_SEC, STAGES, Recording
from eegkit.metrics import summarize

#: Frequency bands (Hz) of the features.
BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 2.0), "theta": (4.0, 7.0), "alpha": (8.0, 12.0), "sigma": (11.0, 16.0),
    "beta": (16.0, 30.0),
}
_TOTAL = (0.3, 35.0)


def epochs(x: np.ndarray, sfreq: float, n_epochs: int, onset: float = 0.0) -> np.ndarray:
    """A channel cut into 30-s epochs, shape (n_epochs, samples per epoch)."""
    per = int(round(EPOCH_SEC * sfreq))
    start = int(round(onset * sfreq))
    return x[start:start + n_epochs * per].reshape(n_epochs, per)


def band_powers(x: np.ndarray, sfreq: float, n_epochs: int, onset: float = 0.0) -> np.ndarray:
    """log10 band power per epoch relative to the recording's mean 0.3–35 Hz power.

    Returns
    -------
    ndarray, shape (n_epochs, len(BANDS))
    """
    freqs, psd = welch(epochs(x, sfreq, n_epochs, onset), sfreq, nperseg=int(2 * sfreq),
                       axis=-1)
    df = freqs[1] - freqs[0]

    def power(low, high):
        return psd[:, (freqs >= low) & (freqs < high)].sum(axis=1) * df

    reference = power(*_TOTAL).mean()
    return np.log10(np.stack([power(*band) for band in BANDS.values()], axis=1) / reference)


def eye_movement_rate(eog: np.ndarray, sfreq: float, n_epochs: int,
                      onset: float = 0.0, threshold: float = 8.0) -> np.ndarray:
    """Fast eye movements per minute in each epoch.

    The EOG is smoothed over 0.1 s and differentiated; a movement is an upward crossing of
    ``threshold`` times the recording's median absolute velocity (gain- and polarity-free).
    """
    width = max(1, int(round(0.1 * sfreq)))
    smooth = np.convolve(eog.astype(np.float64), np.ones(width) / width, mode="same")
    speed = np.abs(np.diff(smooth, prepend=smooth[0]))
    fast = speed > threshold * np.median(speed)
    starts = np.zeros_like(fast)
    starts[1:] = fast[1:] & ~fast[:-1]
    return epochs(starts, sfreq, n_epochs, onset).sum(axis=1) * (60.0 / EPOCH_SEC)


def recording_features(rec: Recording, eeg: str, eog: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (n_scored, 2 * len(BANDS) + 1) and stages of one recording's scored epochs.

    Columns: EEG band powers, EOG band powers (as :func:`band_powers`), log1p eye-movement rate.
    """
    n = len(rec.stages)
    feats = np.concatenate([
        band_powers(rec.channel(eeg), rec.sfreq, n, rec.epoch_onset),
        band_powers(rec.channel(eog), rec.sfreq, n, rec.epoch_onset),
        np.log1p(eye_movement_rate(rec.channel(eog), rec.sfreq, n, rec.epoch_onset))[:, None],
    ], axis=1)
    scored = rec.stages >= 0
    return feats[scored], rec.stages[scored].astype(np.int64)


def site_features(name: str, folder: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, stages) per recording of one site, read through the registered reader."""
    eeg, eog = dataset_info(name)["sleep_channels"]
    return [recording_features(rec, eeg, eog) for rec in load(name, folder, channels=[eeg, eog])]


@dataclass
class LinearDiscriminant:
    """Gaussian classes with one shared covariance (LDA), fitted in closed form."""

    means: np.ndarray
    precision: np.ndarray
    log_prior: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, n_classes: int = len(STAGES),
            shrinkage: float = 0.05) -> LinearDiscriminant:
        means = np.stack([x[y == k].mean(axis=0) if np.any(y == k) else x.mean(axis=0)
                          for k in range(n_classes)])
        centred = x - means[y]
        cov = centred.T @ centred / max(len(x) - n_classes, 1)
        cov = (1 - shrinkage) * cov + shrinkage * np.eye(len(cov)) * np.trace(cov) / len(cov)
        counts = np.bincount(y, minlength=n_classes) + 1.0  # +1: classes absent at a site
        return cls(means, np.linalg.inv(cov), np.log(counts / counts.sum()))

    def predict(self, x: np.ndarray) -> np.ndarray:
        w = self.means @ self.precision
        scores = x @ w.T - 0.5 * np.sum(w * self.means, axis=1) + self.log_prior
        return scores.argmax(axis=1)


def _stack(recordings: Iterable[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*recordings, strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def site_shift(features: dict[str, list[tuple[np.ndarray, np.ndarray]]]) -> dict:
    """Within-site versus cross-site accuracy of the linear discriminant.

    Parameters
    ----------
    features : dict
        Site name -> (features, stages) per recording (:func:`site_features`).

    Returns
    -------
    dict
        ``accuracy[train][test]``: the diagonal is within-site, leave-one-recording-out; off the
        diagonal the model is trained on all of ``train`` and tested on all of ``test``.
        ``within`` / ``cross``: :func:`eegkit.metrics.summarize` of all within-site / all
        cross-site predictions pooled; ``mean_within`` / ``mean_cross``: mean of the diagonal /
        off-diagonal accuracies.
    """
    names = list(features)
    accuracy = {a: {} for a in names}
    pooled = {"within": ([], []), "cross": ([], [])}
    for a in names:
        recs = features[a]
        for i in range(len(recs)):  # leave one recording out
            model = LinearDiscriminant.fit(*_stack(recs[:i] + recs[i + 1:]))
            pooled["within"][0].append(recs[i][1])
            pooled["within"][1].append(model.predict(recs[i][0]))
        y_true = np.concatenate(pooled["within"][0][-len(recs):])
        y_pred = np.concatenate(pooled["within"][1][-len(recs):])
        accuracy[a][a] = float(np.mean(y_true == y_pred))
        model = LinearDiscriminant.fit(*_stack(recs))
        for b in names:
            if b == a:
                continue
            x, y = _stack(features[b])
            pred = model.predict(x)
            accuracy[a][b] = float(np.mean(pred == y))
            pooled["cross"][0].append(y)
            pooled["cross"][1].append(pred)
    out = {"accuracy": accuracy,
           "mean_within": float(np.mean([accuracy[a][a] for a in names])),
           "mean_cross": float(np.mean([accuracy[a][b] for a in names for b in names
                                        if a != b]))}
    for key, (truth, pred) in pooled.items():
        if truth:
            out[key] = summarize(np.concatenate(truth), np.concatenate(pred), list(STAGES))
    return out


def stage_medians(features: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Median of each feature per stage, shape (5, n_features) (NaN for an absent stage)."""
    x, y = _stack(features)
    return np.stack([np.median(x[y == k], axis=0) if np.any(y == k)
                     else np.full(x.shape[1], np.nan) for k in range(len(STAGES))])
