"""Embedded demo corpus: a small SIMULATED five-site sleep PSG corpus in the real file formats.

Nothing in this corpus was recorded from a person. It lets a new user run the sleep-staging
pipeline end to end (readers, preprocessing, leave-one-site-out training) before downloading
the real datasets, and it gives the tests a corpus that exercises every sleep reader.

Each of the five sites copies one real dataset: its file layout, label vocabulary, channel
labels and native sampling rates (see :mod:`eegkit.demo.sites`), written by the
format-faithful writers of :mod:`eegkit.demo.writers`, so the ordinary readers load it::

    from eegkit.data import load
    from eegkit.demo import SITES, generate
    generate("demo-corpus")                       # or: python -m eegkit.demo --out DIR
    for rec in load("hmc", "demo-corpus/hmc"):    # the HMC reader, no special case
        ...

Layout: ``DIR/<reader name>/<native layout>`` for ``sleep_edf``, ``hmc``, ``isruc``, ``shhs``
and ``physionet2018``, plus ``DIR/README_SIMULATED.txt`` (what was simulated, seed, version,
per-site differences) and ``DIR/demo_corpus.json`` (the generation config and stage counts).

How a night is simulated:

- hypnogram: a Markov chain with the stage transition probabilities measured on Sleep-EDF-20,
  reweighted by ~90-min ultradian cycles (N3 early, REM growing toward the morning) with wake
  at both edges (:mod:`eegkit.demo.hypnogram`). A short night keeps at least two
  cycles, compressed proportionally (the default 2-h night has two cycles of ~45 min);
- signals: 1/f background plus stage-dependent rhythms and events (alpha, theta, spindles,
  K-complexes, delta, sawtooth waves, blinks, saccades, slow eye movements, EMG tone) with
  per-epoch amplitude jitter so that neighbouring stages overlap (:mod:`.signals`);
- sites differ in derivation (frontal vs central), gain, noise level and colour, mains
  frequency, EOG polarity and scale, and population (less N3, more wake in older cohorts).

Generation is deterministic given the seed: each recording draws from its own
``numpy.random.default_rng([seed, site number, subject])``, so a subset of sites or subjects
reproduces the same recordings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path

import numpy as np

from eegkit.cache import cache_key, default_root, publish_atomically
from eegkit.data.types import EPOCH_SEC, STAGES
from eegkit.demo.hypnogram import CYCLE_MIN, TRANSITIONS
from eegkit.demo.sites import SITES, Site, simulate_night

#: Bumped whenever a change alters the generated data (part of the cache key).
DEMO_VERSION = 1
#: Default size: small enough for a CPU leave-one-site-out demo run.
DEFAULT_SUBJECTS_PER_SITE = 4
DEFAULT_HOURS = 2.0
README_NAME = "README_SIMULATED.txt"
MANIFEST_NAME = "demo_corpus.json"


def write_recording(site: Site, folder: Path, subject: int, hours: float,
                    seed: int) -> tuple[list[Path], np.ndarray]:
    """Simulate and write one night of ``site``; returns the written files and the stages."""
    writer = getattr(import_module(f"eegkit.demo.writers.{site.name}"), f"write_{site.name}")
    rng = np.random.default_rng([seed, list(SITES).index(site.name), subject])
    signals, rates, stages = simulate_night(site, hours, rng)
    return writer(folder, subject, signals, rates, stages), stages


def generate(out: str | Path, subjects_per_site: int = DEFAULT_SUBJECTS_PER_SITE,
             hours: float = DEFAULT_HOURS, seed: int = 0,
             sites: Sequence[str] | None = None, verbose: bool = False) -> dict:
    """Write the simulated corpus under ``out`` and return its manifest.

    Parameters
    ----------
    out : path
        Corpus root; each site goes to ``out / <reader name>``.
    subjects_per_site : int
        Nights per site (one night per simulated subject).
    hours : float
        Length of each night (lights off to lights on), at least 1 h.
    seed : int
        Seed of the whole corpus.
    sites : sequence of str, optional
        Subset of :data:`SITES` (default: all five).
    verbose : bool
        Print one line per site.

    Returns
    -------
    dict
        The manifest also written to ``out / demo_corpus.json``: config, and per site the
        files and stage counts of every recording.
    """
    names = list(SITES) if sites is None else list(sites)
    unknown = set(names) - set(SITES)
    if unknown:
        raise ValueError(f"unknown demo sites {sorted(unknown)}; known: {list(SITES)}")
    if subjects_per_site < 1:
        raise ValueError(f"subjects_per_site must be >= 1, got {subjects_per_site}")
    if hours < 1.0:
        raise ValueError(f"hours must be at least 1 h (room for two sleep cycles), got {hours}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"version": DEMO_VERSION, "seed": seed, "hours": hours,
                "subjects_per_site": subjects_per_site, "sites": {}}
    t0 = time.perf_counter()
    for name in names:
        site, recordings = SITES[name], []
        for subject in range(subjects_per_site):
            files, stages = write_recording(site, out / name, subject, hours, seed)
            counts = np.bincount(stages, minlength=len(STAGES))
            recordings.append({"files": [p.relative_to(out).as_posix() for p in files],
                               "stages": dict(zip(STAGES, counts.tolist(), strict=True))})
        manifest["sites"][name] = recordings
        if verbose:
            total = np.sum([list(r["stages"].values()) for r in recordings], axis=0)
            print(f"{name:>14}: {subjects_per_site} nights, epochs "
                  + " ".join(f"{s}={c}" for s, c in zip(STAGES, total, strict=True))
                  + f"  [{time.perf_counter() - t0:.1f} s]")
    manifest["seconds"] = round(time.perf_counter() - t0, 2)
    (out / README_NAME).write_text(readme_text(manifest))
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1))  # last: marks complete
    return manifest


def ensure_corpus(root: str | Path | None = None,
                  subjects_per_site: int = DEFAULT_SUBJECTS_PER_SITE,
                  hours: float = DEFAULT_HOURS, seed: int = 0) -> Path:
    """The demo corpus folder, generated on first use.

    Without ``root`` the corpus lives in the eegkit cache (``$EEGKIT_CACHE`` or
    ``~/.cache/eegkit``) under a name keyed by the config and :data:`DEMO_VERSION`. It is built
    in a temporary sibling and renamed into place, so an interrupted build leaves nothing that
    looks complete.
    """
    key = cache_key(demo=DEMO_VERSION, subjects_per_site=subjects_per_site, hours=hours,
                    seed=seed)
    final = Path(root) if root is not None else default_root() / f"demo-sleep-{key}"
    if (final / MANIFEST_NAME).is_file():
        return final
    with publish_atomically(final, MANIFEST_NAME) as tmp:
        generate(tmp, subjects_per_site, hours, seed)
    return final


def readme_text(manifest: dict) -> str:
    """The README_SIMULATED.txt written at the corpus root."""
    hours = manifest["hours"]
    lines = [
        "SIMULATED DATA - NOT RECORDED FROM ANY PERSON",
        "=" * 46,
        "",
        "This folder is the eegkit demo corpus: simulated overnight polysomnography for five",
        "simulated sites, each written in the file format, channel labels and sampling rates of",
        "one real public sleep dataset so that eegkit's ordinary readers load it. It contains no",
        "real recordings and no information about real people. Use it to try the pipeline; do",
        "not report results on it as results on the real datasets.",
        "",
        f"Generator: eegkit.demo, version {manifest['version']}",
        f"Seed: {manifest['seed']}   nights per site: {manifest['subjects_per_site']}   "
        f"night length: {hours} h",
        "Reproduce: python -m eegkit.demo --out DIR "
        f"--subjects-per-site {manifest['subjects_per_site']} --hours {hours} "
        f"--seed {manifest['seed']}",
        "",
        "Hypnograms: Markov chain over W, N1, N2, N3, REM with the epoch-to-epoch transition",
        "probabilities measured on the Sleep-EDF-20 hypnograms, reweighted by ultradian cycles",
        f"(one per ~{CYCLE_MIN:g} min of sleep, at least two: a short night is compressed):",
        "N3 mostly in the first third, REM growing toward the morning, wake at both edges.",
        "Transition matrix (rows from, columns to, W N1 N2 N3 REM):",
        *("  " + " ".join(f"{p:.3f}" for p in row) for row in TRANSITIONS),
        "",
        "Signals: 1/f background; W alpha 8-12 Hz and beta, blinks and saccades, high chin EMG;",
        "N1 theta 4-7 Hz, vertex waves, slow eye movements; N2 spindles 11-16 Hz (0.5-2 s) and",
        "K-complexes; N3 high-amplitude delta 0.5-2 Hz; REM sawtooth waves, rapid eye",
        "movements, lowest EMG. Amplitudes jitter from epoch to epoch so stages overlap.",
        f"Epochs are {EPOCH_SEC:g} s. Channels nobody stages on are cheap copies or fillers.",
        "",
        "Sites (folder: format; staged EEG / EOG; differences):",
    ]
    for name, recordings in manifest["sites"].items():
        site = SITES[name]
        eeg = site.labels("eeg")[0]
        eog = " & ".join(site.labels("eog") + site.labels("eog_opposite"))
        rate = site.channels[eeg][0]
        totals = np.sum([list(r["stages"].values()) for r in recordings], axis=0)
        lines += [
            f"- {name}/: {site.dataset}",
            f"    {eeg} / {eog} at {rate:g} Hz (EEG); gain x{site.gain:g}; sensor noise "
            f"{site.noise_uv:g} uV, 1/f^{site.noise_exponent:g}; mains {site.line_hz:g} Hz "
            f"{site.line_uv:g} uV; EOG scale {site.eog_scale:+g} (sign = polarity)",
            f"    {site.note}",
            "    epochs: " + " ".join(f"{s}={c}" for s, c in zip(STAGES, totals, strict=True)),
        ]
    return "\n".join(lines) + "\n"


__all__ = ["DEFAULT_HOURS", "DEFAULT_SUBJECTS_PER_SITE", "DEMO_VERSION", "SITES", "ensure_corpus",
           "generate", "readme_text", "write_recording"]
