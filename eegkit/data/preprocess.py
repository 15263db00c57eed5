"""Vectorised signal preprocessing on ``(n_channels, n_samples)`` arrays.

Every function works on all channels at once along the last axis and returns float32, so the
sleep and the event pipelines (and the generic EDF reader) share one implementation;
:class:`EventConfig` and :func:`condition` are the band-pass / notch / resample / scale chain of
the event windows. Filters are zero-phase (applied
forwards and backwards), as is usual before cutting epochs for classification.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy import signal


def resample(x: np.ndarray, sfreq: float, new_sfreq: float) -> np.ndarray:
    """Polyphase resampling (anti-aliased) from ``sfreq`` to ``new_sfreq`` along the last axis.

    The rate ratio is approximated by a fraction with a denominator <= 1000
    (e.g. 256 -> 100 Hz is exactly 25/64).
    """
    if sfreq <= 0 or new_sfreq <= 0:
        raise ValueError(f"sampling rates must be positive, got {sfreq} -> {new_sfreq}")
    if sfreq == new_sfreq:
        return np.asarray(x, dtype=np.float32)
    ratio = Fraction(new_sfreq / sfreq).limit_denominator(1000)
    y = signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=-1)
    return y.astype(np.float32, copy=False)


def bandpass(x: np.ndarray, sfreq: float, l_freq: float | None, h_freq: float | None,
             order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass (or high-/low-pass when one edge is ``None``).

    The second-order sections run in float32 (their poles stay well inside the unit circle at
    these orders), one channel at a time, so the temporary memory is a few copies of *one*
    channel rather than float64 copies of the whole array.
    """
    nyq = sfreq / 2.0
    if l_freq is not None and h_freq is not None:
        if not 0 < l_freq < h_freq < nyq:
            raise ValueError(f"need 0 < l_freq < h_freq < {nyq} Hz, got {l_freq}, {h_freq}")
        sos = signal.butter(order, [l_freq, h_freq], btype="bandpass", fs=sfreq, output="sos")
    elif l_freq is not None:
        sos = signal.butter(order, l_freq, btype="highpass", fs=sfreq, output="sos")
    elif h_freq is not None:
        sos = signal.butter(order, h_freq, btype="lowpass", fs=sfreq, output="sos")
    else:
        return np.asarray(x, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    sos = sos.astype(np.float32)
    out = np.empty(x.shape, dtype=np.float32)
    for row in np.ndindex(x.shape[:-1]):  # channels, not samples
        out[row] = signal.sosfiltfilt(sos, x[row])
    return out


def notch(x: np.ndarray, sfreq: float, freq: float = 50.0, quality: float = 30.0,
          harmonics: bool = True) -> np.ndarray:
    """Zero-phase IIR notch at ``freq`` (and its harmonics below Nyquist when asked)."""
    freqs = np.arange(freq, sfreq / 2.0, freq) if harmonics else np.array([freq])
    y = np.asarray(x, dtype=np.float64)
    for f in freqs[freqs < sfreq / 2.0]:  # a few harmonics, not a loop over samples
        b, a = signal.iirnotch(f, quality, fs=sfreq)
        y = signal.filtfilt(b, a, y, axis=-1)
    return y.astype(np.float32, copy=False)


def zscore(x: np.ndarray, eps: float = 1e-8, out: np.ndarray | None = None) -> np.ndarray:
    """Standardise each channel (row) to zero mean and unit variance.

    Sums are accumulated in float64 without float64 copies of ``x``; ``out`` (e.g. ``x``
    itself) receives the result without any temporary of the array's size.
    """
    x = np.asarray(x, dtype=np.float32)
    mean = x.mean(axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
    out = np.subtract(x, mean, out=out)
    rows = out.reshape(-1, out.shape[-1])
    var = np.einsum("ij,ij->i", rows, rows, dtype=np.float64) / max(out.shape[-1], 1)
    std = np.sqrt(var).astype(np.float32).reshape(mean.shape)
    return np.divide(out, np.maximum(std, np.float32(eps)), out=out)


def epochs(x: np.ndarray, n_times: int) -> np.ndarray:
    """Cut ``(C, N)`` into consecutive non-overlapping ``(n_epochs, C, n_times)`` (a view when
    possible); the incomplete tail is left out."""
    n = x.shape[-1] // n_times
    return x[..., : n * n_times].reshape(x.shape[0], n, n_times).transpose(1, 0, 2)


@dataclass(frozen=True)
class EventConfig:
    """Signal conditioning and windowing of an event pipeline.

    Attributes
    ----------
    l_freq, h_freq : float
        Band-pass edges (Hz), zero-phase Butterworth, applied at the native rate.
    notch : float
        Line-noise notch (Hz), the fundamental only.
    sfreq : float
        Output rate (Hz).
    scale : float
        Factor from volts to output units (1e4: µV/100).
    window_s : float
        Window length (s).
    pre_s : float
        TUEV: seconds before the event start where the window begins.
    """

    l_freq: float
    h_freq: float
    notch: float
    sfreq: float = 200.0
    scale: float = 1e4
    window_s: float = 5.0
    pre_s: float = 2.0


def condition(data: np.ndarray, sfreq: float, config: EventConfig) -> np.ndarray:
    """Band-pass, notch (unless ``config.notch`` is None), resample and scale ``(C, N)`` volts
    (float32 out)."""
    x = bandpass(data, sfreq, config.l_freq, config.h_freq)
    if config.notch is not None:
        x = notch(x, sfreq, config.notch, harmonics=False)
    x = resample(x, sfreq, config.sfreq)
    return (x * config.scale).astype(np.float32, copy=False)


__all__ = ["EventConfig", "bandpass", "condition", "epochs", "notch", "resample", "zscore"]
