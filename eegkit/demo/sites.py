"""The five simulated sites: one per real sleep dataset, with its channels, rates and quirks.

Each :class:`Site` names the dataset's reader, lists every native channel with its native rate
and what the generator puts in it, and holds the properties that make the sites differ the way
real datasets do:

- derivation of the staged EEG: frontal (``F4-M1``, ``F4-A1``, ``Fpz-Cz``) sees slow waves,
  K-complexes and slow spindles; central (``C4-A1``, ``C3-M2``) sees fast spindles and alpha;
- amplifier gain, noise level and noise colour (1/f exponent of the added sensor noise);
- mains frequency (50 Hz in Europe, 60 Hz in the USA) and its amplitude;
- EOG polarity and scale (montage conventions differ);
- population: older or clinical cohorts have less N3, smaller slow waves and more wake.

The channels *used* for staging (the SleepDIFFormer EEG/EOG pair and the chin EMG) are fully
synthesised; the other EEG/EOG channels are cheap correlated copies of them, and the
non-EEG channels (ECG, respiration, SpO2, temperature, markers) are simple plausible fillers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from eegkit.data.types import EPOCH_SEC
from eegkit.demo import signals as sig
from eegkit.demo.hypnogram import SleepProfile, simulate_hypnogram

UV = sig.UV

#: What the generator writes into a channel (see :func:`simulate_night`).
ROLES = ("eeg", "eog", "eog_opposite", "emg", "eeg_copy", "eog_copy", "ecg", "heart_rate",
         "resp", "spo2", "temp", "noise", "zero")


@dataclass(frozen=True)
class Site:
    """One simulated site, written in the file format of the real dataset ``name``.

    Attributes
    ----------
    name : str
        Registered reader name; also the site's sub-folder of the corpus.
    dataset : str
        The real dataset whose format, labels and rates the site copies.
    channels : dict of str to (float, str)
        Every native channel label: (native rate in Hz, role in :data:`ROLES`).
    derivation : signals.Derivation
        Generator gains of the staged EEG derivation.
    eog_scale, eog_leak : float
        Scale of the eye signal (sign = montage polarity) and the share of the staged EEG
        that spreads into the EOG electrodes.
    gain : float
        Amplifier gain error applied to every EEG/EOG/EMG channel.
    noise_uv, noise_exponent : float
        Sensor noise level (uV) and colour (1/f exponent: 0 white, 1 pink, 2 brown).
    line_hz, line_uv : float
        Mains interference frequency and amplitude (omitted at or above Nyquist).
    profile : hypnogram.SleepProfile
        Age-like population knobs of the hypnogram.
    delta_scale : float
        Slow-wave amplitude of the population (older sleepers have smaller slow waves).
    note : str
        One line for README_SIMULATED.txt.
    """

    name: str
    dataset: str
    channels: dict[str, tuple[float, str]]
    derivation: sig.Derivation
    eog_scale: float = 1.0
    eog_leak: float = 0.3
    gain: float = 1.0
    noise_uv: float = 2.0
    noise_exponent: float = 1.0
    line_hz: float = 50.0
    line_uv: float = 0.0
    profile: SleepProfile = field(default_factory=SleepProfile)
    delta_scale: float = 1.0
    note: str = ""

    def labels(self, role: str) -> list[str]:
        return [label for label, (_, r) in self.channels.items() if r == role]


FRONTAL = sig.Derivation(delta=1.15, theta=1.0, alpha=0.5, beta=0.9, spindle=0.85,
                         spindle_hz=(11.0, 13.0), kcomplex=1.2, vertex=0.7, sawtooth=0.7)
CENTRAL = sig.Derivation(delta=0.9, theta=1.0, alpha=1.1, beta=1.0, spindle=1.35,
                         spindle_hz=(12.8, 15.0), kcomplex=0.8, vertex=1.3, sawtooth=1.2)
FRONTOPOLAR_CENTRAL = sig.Derivation(delta=1.1, theta=1.0, alpha=0.65, beta=0.8, spindle=0.8,
                                     spindle_hz=(11.5, 13.5), kcomplex=1.0, vertex=1.1,
                                     sawtooth=0.9, eye_leak=0.2)

SITES: dict[str, Site] = {
    "sleep_edf": Site(
        name="sleep_edf", dataset="Sleep-EDF Expanded, sleep-cassette (PhysioNet sleep-edfx)",
        channels={"EEG Fpz-Cz": (100.0, "eeg"), "EEG Pz-Oz": (100.0, "eeg_copy"),
                  "EOG horizontal": (100.0, "eog"), "Resp oro-nasal": (1.0, "resp"),
                  "EMG submental": (1.0, "emg"), "Temp rectal": (1.0, "temp"),
                  "Event marker": (1.0, "zero")},
        derivation=FRONTOPOLAR_CENTRAL, eog_scale=1.0, eog_leak=0.15, gain=1.0, noise_uv=1.5,
        noise_exponent=1.0, line_hz=50.0, line_uv=0.0,
        profile=SleepProfile(n3_scale=1.2, wake_scale=0.9, onset_wake_min=20.0,
                             final_wake_min=15.0),
        delta_scale=1.1,
        note="young healthy sleepers (more N3); frontopolar-central Fpz-Cz with eye "
             "leakage; bipolar horizontal EOG; low noise; 50 Hz mains removed by the 100 Hz "
             "recorder; chin EMG stored as a 1-Hz envelope",
    ),
    "hmc": Site(
        name="hmc",
        dataset="Haaglanden Medisch Centrum sleep staging (PhysioNet hmc-sleep-staging)",
        channels={"EEG F4-M1": (256.0, "eeg"), "EEG C4-M1": (256.0, "eeg_copy"),
                  "EEG O2-M1": (256.0, "eeg_copy"), "EEG C3-M2": (256.0, "eeg_copy"),
                  "EMG chin": (256.0, "emg"), "EOG E1-M2": (256.0, "eog"),
                  "EOG E2-M2": (256.0, "eog_copy"), "ECG": (256.0, "ecg")},
        derivation=FRONTAL, eog_scale=1.3, eog_leak=0.35, gain=1.0, noise_uv=2.5,
        noise_exponent=1.2, line_hz=50.0, line_uv=6.0,
        profile=SleepProfile(n3_scale=0.85, wake_scale=1.3),
        delta_scale=1.0,
        note="clinical cohort of mixed age; frontal F4-M1 (slow spindles, little alpha); "
             "large EOG; 50 Hz mains",
    ),
    "isruc": Site(
        name="isruc", dataset="ISRUC-Sleep, subgroup I (Coimbra)",
        channels={"LOC-A2": (200.0, "eog"), "ROC-A1": (200.0, "eog_copy"),
                  "F3-A2": (200.0, "eeg_copy"), "C3-A2": (200.0, "eeg_copy"),
                  "O1-A2": (200.0, "eeg_copy"), "F4-A1": (200.0, "eeg"),
                  "C4-A1": (200.0, "eeg_copy"), "O2-A1": (200.0, "eeg_copy"),
                  "X1": (200.0, "emg"), "X2": (200.0, "ecg"), "X3": (200.0, "noise"),
                  "X4": (200.0, "noise"), "X5": (200.0, "noise"), "X6": (200.0, "resp"),
                  "DC3": (200.0, "zero"), "X7": (200.0, "resp"), "X8": (200.0, "resp"),
                  "SaO2": (200.0, "spo2"), "DC8": (200.0, "zero")},
        derivation=FRONTAL, eog_scale=-0.8, eog_leak=0.3, gain=1.4, noise_uv=4.0,
        noise_exponent=1.6, line_hz=50.0, line_uv=12.0,
        profile=SleepProfile(n3_scale=0.9, wake_scale=1.4),
        delta_scale=0.95,
        note="patients with sleep disorders; frontal F4-A1 with a higher amplifier gain; "
             "reversed, smaller EOG; brown (1/f^1.6) sensor noise; 50 Hz mains",
    ),
    "shhs": Site(
        name="shhs", dataset="Sleep Heart Health Study, visit 1 (NSRR shhs1)",
        channels={"SaO2": (1.0, "spo2"), "H.R.": (1.0, "heart_rate"),
                  "EEG(sec)": (125.0, "eeg_copy"), "ECG": (125.0, "ecg"), "EMG": (125.0, "emg"),
                  "EOG(L)": (50.0, "eog"), "EOG(R)": (50.0, "eog_opposite"),
                  "EEG": (125.0, "eeg"), "THOR RES": (10.0, "resp"),
                  "ABDO RES": (10.0, "resp"), "POSITION": (1.0, "zero"),
                  "LIGHT": (1.0, "zero"), "NEW AIR": (10.0, "resp"), "OX stat": (1.0, "zero")},
        derivation=CENTRAL, eog_scale=0.5, eog_leak=0.25, gain=0.8, noise_uv=5.0,
        noise_exponent=0.3, line_hz=60.0, line_uv=20.0,
        profile=SleepProfile(n3_scale=0.45, wake_scale=1.8, onset_wake_min=20.0),
        delta_scale=0.7,
        note="older adults at home (little N3, small slow waves, more wake); central C4-A1 "
             "(fast spindles, more alpha); EOG(L)/EOG(R) carry eye movements with opposite "
             "polarity; lower gain; white-ish noise; 60 Hz mains",
    ),
    "physionet2018": Site(
        name="physionet2018", dataset="PhysioNet/CinC Challenge 2018 (MGH), training set",
        channels={"F3-M2": (200.0, "eeg_copy"), "F4-M1": (200.0, "eeg_copy"),
                  "C3-M2": (200.0, "eeg"), "C4-M1": (200.0, "eeg_copy"),
                  "O1-M2": (200.0, "eeg_copy"), "O2-M1": (200.0, "eeg_copy"),
                  "E1-M2": (200.0, "eog"), "Chin1-Chin2": (200.0, "emg"),
                  "ABD": (200.0, "resp"), "CHEST": (200.0, "resp"), "AIRFLOW": (200.0, "resp"),
                  "SaO2": (200.0, "spo2"), "ECG": (200.0, "ecg")},
        derivation=CENTRAL, eog_scale=-1.2, eog_leak=0.35, gain=1.1, noise_uv=3.0,
        noise_exponent=1.0, line_hz=60.0, line_uv=10.0,
        profile=SleepProfile(n3_scale=0.6, wake_scale=1.6),
        delta_scale=0.8,
        note="suspected sleep apnoea, middle-aged to old (less N3, more wake); central C3-M2; "
             "reversed EOG; 60 Hz mains",
    ),
}


def _sensor(n: int, sfreq: float, site: Site, rng: np.random.Generator) -> np.ndarray:
    """Site sensor noise and mains interference, microvolts."""
    out = site.noise_uv * sig.colored_noise(n, sfreq, site.noise_exponent, rng)
    if site.line_uv and site.line_hz < 0.5 * sfreq:
        t = np.arange(n) / sfreq
        out += site.line_uv * np.sin(2 * np.pi * site.line_hz * t + rng.uniform(0, 2 * np.pi))
    return out


def simulate_night(site: Site, hours: float, rng: np.random.Generator
                   ) -> tuple[dict[str, np.ndarray], dict[str, float], np.ndarray]:
    """One simulated night of ``site``: signals (native units), rates and stages.

    Returns
    -------
    signals : dict of str to ndarray
        Every native channel, volts for EEG/EOG/EMG/ECG, percent for SpO2, degrees Celsius
        for temperature, arbitrary units for respiration.
    sfreq : dict of str to float
        Native rate of each channel.
    stages : ndarray of int8
        Stage per 30-s epoch, 0..4 = W, N1, N2, N3, REM.
    """
    stages = simulate_hypnogram(hours, rng, site.profile)
    subject = sig.draw_subject(rng)
    mix = sig.stage_mixture(stages, rng)
    events = sig.draw_events(mix, rng)
    derivation = _scaled_delta(site.derivation, site.delta_scale)
    seconds = len(stages) * EPOCH_SEC
    rates = {label: rate for label, (rate, _) in site.channels.items()}
    brain: dict[float, np.ndarray] = {}  # the staged EEG (uV) per rate, before sensor noise

    def eeg_at(rate: float) -> np.ndarray:
        if rate not in brain:
            brain[rate] = sig.eeg(mix, events, rate, rng, derivation, subject)
        return brain[rate]

    staged: dict[str, np.ndarray] = {}  # fully synthesised channels (uV), copied below
    for role in ("eeg", "eog", "eog_opposite", "emg"):
        for label in site.labels(role):
            rate = rates[label]
            if role == "eeg":
                x = eeg_at(rate)
            elif role == "emg":
                x = sig.emg(mix, rate, rng, subject)
            else:  # eye movements, mirrored on the opposite electrode, plus EEG spreading in
                eyes = site.eog_scale * sig.eye_movements(mix, events, rate, rng, subject)
                x = (-eyes if role == "eog_opposite" else eyes) + site.eog_leak * eeg_at(rate)
            if role != "emg":  # muscle noise drowns the sensor noise
                x = x + _sensor(len(x), rate, site, rng)
            staged[role] = x
    out: dict[str, np.ndarray] = {}
    for label, (rate, role) in site.channels.items():
        n = int(round(seconds * rate))
        if role in staged:
            out[label] = site.gain * UV * staged[role]
        elif role in ("eeg_copy", "eog_copy"):
            # another derivation: a scaled copy plus independent noise (the other eye's
            # electrode sees horizontal movements with the opposite sign)
            source = staged["eeg" if role == "eeg_copy" else "eog"]
            if len(source) != n:
                raise ValueError(f"site {site.name}: {label} must share its source's rate")
            sign = -1.0 if role == "eog_copy" else 1.0
            copy = sign * rng.uniform(0.6, 1.0) * source + 5.0 * rng.standard_normal(n)
            out[label] = site.gain * UV * copy
        elif role == "ecg":
            out[label] = sig.ecg(seconds, rate, rng)
        elif role == "resp":
            out[label] = 1e-4 * sig.respiration(seconds, rate, rng)
        elif role == "spo2":
            out[label] = np.clip(96.0 + 0.8 * sig.colored_noise(n, rate, 2.0, rng), 85, 100)
        elif role == "temp":
            out[label] = 36.8 + 0.2 * sig.colored_noise(n, rate, 2.0, rng)
        elif role == "heart_rate":
            out[label] = np.full(n, round(rng.uniform(52.0, 72.0)))
        elif role == "noise":
            out[label] = 5.0 * UV * rng.standard_normal(n)
        elif role == "zero":
            out[label] = np.zeros(n)
        else:
            raise ValueError(f"site {site.name}: unknown role {role!r} for {label}")
    return out, rates, stages


def _scaled_delta(derivation: sig.Derivation, scale: float) -> sig.Derivation:
    """The derivation as seen in a population whose slow waves are ``scale`` times as large."""
    return replace(derivation, delta=derivation.delta * scale,
                   kcomplex=derivation.kcomplex * scale)
