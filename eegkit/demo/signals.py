"""Simulated PSG signals with the textbook signatures of each sleep stage.

A whole night of one channel is synthesised at once, at the channel's native rate:

- every epoch is a blend of its scored stage and, sometimes, a neighbouring stage
  (:func:`stage_mixture`): transitional epochs look partly like both, as in real scoring;
- continuous rhythms are band-limited noise (white noise shaped in the frequency domain by one
  FFT) multiplied by a per-sample envelope that follows the hypnogram; the envelope takes one
  value per 30-s epoch (the blended stage amplitude times a log-normal jitter, so stages
  overlap) and is interpolated linearly between epoch centres;
- the background is 1/f^beta noise (beta is a site property: the noise colour);
- transient events (spindles, K-complexes, vertex waves, blinks, saccades, sawtooth bursts) are
  drawn once per night as a table of onsets (:func:`draw_events`), so every channel of a night
  shows the same events, and are rendered as a stack of templates summed in one
  ``np.bincount``.

Stage signatures (amplitudes in microvolts for a reference derivation, see :data:`EEG_RHYTHMS`):
W alpha 8–12 Hz and beta, blinks and saccades on the EOG, high chin EMG; N1 theta 4–7 Hz,
vertex waves, slow rolling eye movements, less EMG; N2 sleep spindles 11–16 Hz lasting
0.5–2 s and K-complexes; N3 high-amplitude delta 0.5–2 Hz; REM sawtooth waves, rapid eye
movements and the lowest EMG (atonia).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from eegkit.data.types import EPOCH_SEC

UV = 1e-6  # one microvolt in volts

#: Continuous EEG rhythms: band (Hz) and amplitude (uV, standard deviation) per stage W..REM.
EEG_RHYTHMS: dict[str, tuple[tuple[float, float], tuple[float, ...]]] = {
    "delta": ((0.5, 2.0), (5.0, 9.0, 15.0, 50.0, 8.0)),
    "theta": ((4.0, 7.0), (3.0, 9.0, 7.0, 6.0, 8.0)),
    "alpha": ((8.0, 12.0), (13.0, 4.5, 1.5, 1.0, 3.0)),
    "beta": ((16.0, 25.0), (4.0, 2.0, 1.5, 1.0, 2.5)),
}
#: 1/f background amplitude per stage W..REM (uV).
BACKGROUND_UV = (10.0, 11.0, 12.0, 14.0, 10.0)
#: Event rates per minute of each stage W..REM.
EVENT_RATES: dict[str, tuple[float, ...]] = {
    "spindle": (0.0, 0.3, 6.0, 2.0, 0.0),
    "kcomplex": (0.0, 0.2, 1.5, 0.8, 0.0),
    "vertex": (0.0, 3.0, 0.5, 0.0, 0.2),
    "blink": (14.0, 2.0, 0.0, 0.0, 0.0),
    "saccade": (6.0, 1.0, 0.1, 0.0, 16.0),
    "sawtooth": (0.0, 0.2, 0.0, 0.0, 3.0),
}
#: Slow rolling eye movements (0.15–0.6 Hz) per stage W..REM, uV on the EOG.
SLOW_EYE_UV = (8.0, 35.0, 8.0, 3.0, 8.0)
#: Chin EMG amplitude per stage W..REM, uV (REM atonia).
EMG_UV = (30.0, 14.0, 9.0, 7.0, 2.5)
#: P(an epoch of stage row borrows part of its signature from stage column), W N1 N2 N3 REM.
BLEND = np.array([
    [0.00, 0.15, 0.00, 0.00, 0.00],
    [0.36, 0.00, 0.32, 0.00, 0.22],
    [0.00, 0.10, 0.00, 0.10, 0.00],
    [0.00, 0.00, 0.15, 0.00, 0.00],
    [0.08, 0.15, 0.00, 0.00, 0.00],
])
#: Spread of the per-epoch log-normal amplitude jitter: what makes neighbouring stages overlap.
EPOCH_JITTER = 0.6


@dataclass(frozen=True)
class Derivation:
    """Gains of each generator in one EEG derivation, relative to the reference amplitudes.

    Frontal derivations see slow waves, K-complexes and slow (11–13 Hz) spindles best; central
    ones see vertex waves, fast (13–15 Hz) spindles and more alpha; a frontal-polar one also
    picks up the eyes.
    """

    delta: float = 1.0
    theta: float = 1.0
    alpha: float = 1.0
    beta: float = 1.0
    spindle: float = 1.0
    spindle_hz: tuple[float, float] = (12.0, 14.0)
    kcomplex: float = 1.0
    vertex: float = 1.0
    sawtooth: float = 1.0
    eye_leak: float = 0.0


@dataclass(frozen=True)
class Subject:
    """Traits of one simulated sleeper, drawn by :func:`draw_subject`."""

    alpha_hz: float
    spindle_shift_hz: float
    eeg_scale: float
    eye_scale: float
    emg_scale: float


def draw_subject(rng: np.random.Generator) -> Subject:
    """Individual differences: alpha peak, spindle frequency, amplitude scales."""
    return Subject(
        alpha_hz=float(rng.uniform(8.5, 10.8)),
        spindle_shift_hz=float(rng.normal(0.0, 0.4)),
        eeg_scale=float(rng.lognormal(0.0, 0.15)),
        eye_scale=float(rng.lognormal(0.0, 0.2)),
        emg_scale=float(rng.lognormal(0.0, 0.3)),
    )


# ----------------------------------------------------------------------------- noise


def _shaped_noise(n: int, sfreq: float, rng: np.random.Generator, gain) -> np.ndarray:
    """Gaussian noise with amplitude spectrum ``gain(freqs)``, unit variance.

    The spectrum of white noise is itself complex white noise, so it is drawn directly in the
    frequency domain (one inverse FFT per signal instead of a forward and an inverse one).
    """
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq).astype(np.float32)
    re, im = rng.standard_normal((2, len(freqs)), dtype=np.float32)
    spectrum = (re + 1j * im) * gain(freqs)  # single precision: twice as fast, ample here
    out = scipy.fft.irfft(spectrum, n)
    return out / max(float(out.std()), 1e-12)


def colored_noise(n: int, sfreq: float, exponent: float, rng: np.random.Generator,
                  f_min: float = 0.3) -> np.ndarray:
    """Unit-variance noise with power spectral density proportional to 1/f**exponent.

    The spectrum is flat below ``f_min`` (no drift to infinity at DC).
    """
    return _shaped_noise(n, sfreq, rng, lambda f: np.maximum(f, f_min) ** (-exponent / 2.0))


def band_noise(n: int, sfreq: float, low: float, high: float,
               rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise limited to ``[low, high]`` Hz with raised-cosine edges.

    ``high`` is clipped to 90 % of the Nyquist frequency. A narrow low band is drawn at eight
    times its upper edge and interpolated linearly to ``sfreq`` (the interpolation's images sit
    near the internal rate, attenuated below 2 %), which keeps a night of delta cheap at 256 Hz.
    """
    high = min(high, 0.45 * sfreq)
    edge = 0.15 * (high - low)

    def gain(f):
        rise = np.clip((f - (low - edge)) / (2 * edge), 0.0, 1.0)
        fall = np.clip(((high + edge) - f) / (2 * edge), 0.0, 1.0)
        return np.sin(0.5 * np.pi * rise) * np.sin(0.5 * np.pi * fall)

    internal = 8.0 * (high + edge)
    if internal >= sfreq:
        return _shaped_noise(n, sfreq, rng, gain)
    m = int(np.ceil(n * internal / sfreq)) + 2
    coarse = _shaped_noise(m, internal, rng, gain)
    out = np.interp(np.arange(n) / sfreq, np.arange(m) / internal, coarse)
    return out / max(float(out.std()), 1e-12)


def stage_mixture(stages: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """How much each epoch looks like each stage, shape (n_epochs, 5), rows summing to 1.

    An epoch is scored by the stage that fills most of it, so transitional epochs carry
    features of a neighbouring stage too: with the probabilities of :data:`BLEND` an epoch
    borrows 15–50 % of its signature from another stage (N1 most often). Every stage-dependent
    amplitude and event rate of the epoch is then the blend ``mix @ table``.
    """
    n = len(stages)
    mix = np.zeros((n, 5))
    mix[np.arange(n), stages] = 1.0
    total = BLEND[stages].sum(axis=1)
    borrows = rng.random(n) < total
    # which stage it borrows from, in proportion to the row of BLEND
    other = (rng.random(n)[:, None] * total[:, None] < np.cumsum(BLEND[stages], axis=1))
    other = other.argmax(axis=1)
    weight = np.where(borrows, rng.uniform(0.15, 0.5, n), 0.0)
    mix[np.arange(n), stages] -= weight
    mix[np.arange(n), other] += weight
    return mix


def stage_envelope(mix: np.ndarray, amplitudes, n: int, sfreq: float,
                   rng: np.random.Generator, jitter: float = EPOCH_JITTER) -> np.ndarray:
    """Per-sample amplitude: the epoch's blend ``mix @ amplitudes`` times log-normal jitter.

    The epoch values sit at the epoch centres and are interpolated linearly in between, so
    amplitudes change smoothly across stage boundaries as they do in real recordings.
    """
    values = mix @ np.asarray(amplitudes, dtype=np.float64)
    values = values * rng.lognormal(0.0, jitter, len(mix))
    centres = (np.arange(len(mix)) + 0.5) * EPOCH_SEC
    return np.interp(np.arange(n) / sfreq, centres, values)


# ----------------------------------------------------------------------------- events

EVENT_DTYPE = np.dtype([("onset", "f8"), ("duration", "f8"), ("freq", "f8"), ("amp", "f8"),
                        ("sign", "f8")])


def _event_table(mix: np.ndarray, rate_per_min, rng: np.random.Generator,
                 duration: tuple[float, float], freq: tuple[float, float],
                 amp_uv: tuple[float, float]) -> np.ndarray:
    """Poisson events per epoch at the blended stage rate, uniform onsets inside the epoch."""
    rate = mix @ np.asarray(rate_per_min, dtype=np.float64) * EPOCH_SEC / 60.0
    counts = rng.poisson(rate * rng.lognormal(0.0, EPOCH_JITTER, len(mix)))
    epoch = np.repeat(np.arange(len(mix)), counts)
    table = np.zeros(len(epoch), EVENT_DTYPE)
    table["onset"] = (epoch + rng.random(len(epoch))) * EPOCH_SEC
    table["duration"] = rng.uniform(*duration, len(epoch))
    table["freq"] = rng.uniform(*freq, len(epoch))
    table["amp"] = rng.uniform(*amp_uv, len(epoch))
    table["sign"] = rng.choice([-1.0, 1.0], len(epoch))
    return table


def draw_events(mix: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Transient events of one night (onsets in seconds), shared by all its channels.

    ``freq`` of a spindle is a position in 0..1 inside the derivation's spindle band; of a
    sawtooth burst its frequency in Hz.
    """
    return {
        "spindle": _event_table(mix, EVENT_RATES["spindle"], rng, (0.5, 2.0), (0, 1),
                                (12.0, 30.0)),
        "kcomplex": _event_table(mix, EVENT_RATES["kcomplex"], rng, (0.8, 1.2), (0, 0),
                                 (60.0, 140.0)),
        "vertex": _event_table(mix, EVENT_RATES["vertex"], rng, (0.3, 0.5), (0, 0),
                               (30.0, 70.0)),
        "blink": _event_table(mix, EVENT_RATES["blink"], rng, (0.25, 0.45), (0, 0),
                              (60.0, 150.0)),
        "saccade": _event_table(mix, EVENT_RATES["saccade"], rng, (0.03, 0.08), (0, 0),
                                (40.0, 160.0)),
        "sawtooth": _event_table(mix, EVENT_RATES["sawtooth"], rng, (1.0, 2.5), (2.0, 4.0),
                                 (15.0, 35.0)),
    }


def _place(signal: np.ndarray, sfreq: float, onsets: np.ndarray,
           templates: np.ndarray) -> None:
    """Add ``templates`` (n_events, length) into ``signal`` starting at ``onsets`` (s)."""
    if len(onsets) == 0:
        return
    start = np.round(onsets * sfreq).astype(np.int64)
    index = start[:, None] + np.arange(templates.shape[1])[None, :]
    inside = index < len(signal)
    signal += np.bincount(index[inside], templates[inside], minlength=len(signal))


def _window_time(events: np.ndarray, sfreq: float, length_s: float) -> np.ndarray:
    """Time axis (s) of each event's template, shape (n_events, samples)."""
    return np.broadcast_to(np.arange(int(np.ceil(length_s * sfreq))) / sfreq,
                           (len(events), int(np.ceil(length_s * sfreq))))


def spindle_templates(events, sfreq, band_hz, shift_hz):
    """Waxing-waning sinusoids: sin^2 envelope over the spindle's duration."""
    t = _window_time(events, sfreq, 2.0)
    dur = events["duration"][:, None]
    freq = band_hz[0] + events["freq"][:, None] * (band_hz[1] - band_hz[0]) + shift_hz
    env = np.where(t < dur, np.sin(np.pi * np.minimum(t / dur, 1.0)) ** 2, 0.0)
    return events["amp"][:, None] * env * np.sin(2 * np.pi * freq * t)


def kcomplex_templates(events, sfreq):
    """A sharp negative wave followed by a slower positive one (about 1 s in all)."""
    t = _window_time(events, sfreq, 1.6)
    scale = events["duration"][:, None]
    neg = np.exp(-0.5 * ((t - 0.3 * scale) / (0.09 * scale)) ** 2)
    pos = np.exp(-0.5 * ((t - 0.75 * scale) / (0.2 * scale)) ** 2)
    return events["amp"][:, None] * (0.6 * pos - neg)


def vertex_templates(events, sfreq):
    """A sharp negative transient (vertex sharp wave)."""
    t = _window_time(events, sfreq, 0.6)
    width = events["duration"][:, None] / 8
    return -events["amp"][:, None] * np.exp(-0.5 * ((t - 0.2) / width) ** 2)


def sawtooth_templates(events, sfreq):
    """Trains of triangular 2–4 Hz waves with a steep rise and a slow decay (REM)."""
    t = _window_time(events, sfreq, 2.5)
    cycle = (t * events["freq"][:, None]) % 1.0
    wave = np.where(cycle < 0.2, cycle / 0.2, 1.0 - (cycle - 0.2) / 0.8) - 0.5
    return events["amp"][:, None] * wave * (t < events["duration"][:, None])


def blink_templates(events, sfreq):
    """A smooth monophasic deflection of 0.25–0.45 s."""
    t = _window_time(events, sfreq, 0.5)
    dur = events["duration"][:, None]
    return events["amp"][:, None] * np.where(t < dur, np.sin(np.pi * t / dur) ** 2, 0.0)


def saccade_templates(events, sfreq, time_constant=1.5):
    """A fast step (rise time = duration) that decays back as an AC-coupled amplifier does."""
    t = _window_time(events, sfreq, 4.0)
    rise = 1.0 / (1.0 + np.exp(-(t - 0.1) / events["duration"][:, None] * 5))
    return (events["sign"] * events["amp"])[:, None] * rise * np.exp(-t / time_constant)


# ----------------------------------------------------------------------------- channels


def eeg(mix, events, sfreq, rng, derivation: Derivation, subject: Subject,
        exponent: float = 1.0) -> np.ndarray:
    """One EEG derivation for the whole night, microvolts (before the site's gain/noise)."""
    n = int(round(len(mix) * EPOCH_SEC * sfreq))
    out = colored_noise(n, sfreq, exponent, rng) * stage_envelope(
        mix, BACKGROUND_UV, n, sfreq, rng, jitter=0.2)
    gains = {"delta": derivation.delta, "theta": derivation.theta, "alpha": derivation.alpha,
             "beta": derivation.beta}
    for name, ((low, high), amplitudes) in EEG_RHYTHMS.items():
        if name == "alpha":  # each sleeper has their own alpha peak
            low, high = subject.alpha_hz - 1.0, subject.alpha_hz + 1.0
        out += gains[name] * band_noise(n, sfreq, low, high, rng) * stage_envelope(
            mix, amplitudes, n, sfreq, rng)
    ev = events
    _place(out, sfreq, ev["spindle"]["onset"], derivation.spindle * spindle_templates(
        ev["spindle"], sfreq, derivation.spindle_hz, subject.spindle_shift_hz))
    _place(out, sfreq, ev["kcomplex"]["onset"],
           derivation.kcomplex * kcomplex_templates(ev["kcomplex"], sfreq))
    _place(out, sfreq, ev["vertex"]["onset"],
           derivation.vertex * vertex_templates(ev["vertex"], sfreq))
    _place(out, sfreq, ev["sawtooth"]["onset"],
           derivation.sawtooth * sawtooth_templates(ev["sawtooth"], sfreq))
    if derivation.eye_leak:
        out += derivation.eye_leak * eye_movements(mix, events, sfreq, rng, subject)
    return subject.eeg_scale * out


def eye_movements(mix, events, sfreq, rng, subject: Subject) -> np.ndarray:
    """Horizontal eye-movement potential (uV): saccades, blinks, slow rolling movements."""
    n = int(round(len(mix) * EPOCH_SEC * sfreq))
    out = band_noise(n, sfreq, 0.15, 0.6, rng) * stage_envelope(mix, SLOW_EYE_UV, n, sfreq,
                                                                 rng)
    _place(out, sfreq, events["saccade"]["onset"], saccade_templates(events["saccade"], sfreq))
    # a horizontal derivation sees a third of the (vertical) blink
    _place(out, sfreq, events["blink"]["onset"], 0.35 * blink_templates(events["blink"], sfreq))
    return subject.eye_scale * out


def emg(mix, sfreq, rng, subject: Subject) -> np.ndarray:
    """Chin EMG (uV): high-passed noise, tonic level per stage, atonia in REM.

    The first difference of white noise stands in for the broadband muscle spectrum (its power
    rises toward Nyquist); a recorder too slow for muscle noise (< 25 Hz) stored the
    amplitude envelope instead.
    """
    n = int(round(len(mix) * EPOCH_SEC * sfreq))
    envelope = stage_envelope(mix, EMG_UV, n, sfreq, rng) * subject.emg_scale
    if sfreq < 25.0:
        return envelope
    return np.diff(rng.standard_normal(n + 1)) / np.sqrt(2.0) * envelope


def ecg(n_seconds: float, sfreq: float, rng: np.random.Generator) -> np.ndarray:
    """R waves (1 mV) at 50–70 beats per minute with beat-to-beat variability, volts."""
    rr = rng.uniform(0.85, 1.2) * (1.0 + 0.05 * rng.standard_normal(int(n_seconds * 1.5) + 2))
    beats = np.cumsum(rr)
    beats = beats[beats < n_seconds - 0.2]
    n = int(round(n_seconds * sfreq))
    out = np.zeros(n)
    t = _window_time(beats, sfreq, 0.2)
    _place(out, sfreq, beats, np.exp(-0.5 * ((t - 0.1) / 0.012) ** 2))
    return 1e-3 * out


def respiration(n_seconds: float, sfreq: float, rng: np.random.Generator) -> np.ndarray:
    """A breathing-like oscillation near 0.25 Hz with slowly varying depth (arbitrary units)."""
    n = int(round(n_seconds * sfreq))
    t = np.arange(n) / sfreq
    depth = 1.0 + 0.3 * band_noise(n, sfreq, 0.003, 0.02, rng) if sfreq >= 0.1 else 1.0
    return depth * np.sin(2 * np.pi * rng.uniform(0.22, 0.28) * t + rng.uniform(0, 2 * np.pi))
