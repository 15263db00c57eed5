"""The simulated demo corpus: readers, stage signatures, hypnogram statistics, site shift.

One small corpus (3 nights of 2 h per site) is generated once for the module and read back
through the ordinary registered readers; every measurement below is taken on what the readers
return.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from eegkit.data import dataset_info, load
from eegkit.data.types import EPOCH_SEC, STAGES
from eegkit.demo import MANIFEST_NAME, README_NAME, SITES, ensure_corpus, generate
from eegkit.demo.__main__ import main as demo_main
from eegkit.demo.features import BANDS, site_features, site_shift, stage_medians
from eegkit.demo.hypnogram import TRANSITIONS, SleepProfile, simulate_hypnogram
from eegkit.demo.signals import stage_mixture

W, N1, N2, N3, REM = range(5)
SUBJECTS, HOURS, SEED = 3, 2.0, 7
#: Native rate of the staged EEG as the reader returns it.
EEG_RATE = {"sleep_edf": 100.0, "hmc": 256.0, "isruc": 200.0, "shhs": 125.0,
            "physionet2018": 200.0}
#: Feature columns of eegkit.demo.features.recording_features.
COL = {**{f"eeg_{b}": i for i, b in enumerate(BANDS)},
       **{f"eog_{b}": len(BANDS) + i for i, b in enumerate(BANDS)}, "eye_rate": 2 * len(BANDS)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-corpus")
    manifest = generate(root, subjects_per_site=SUBJECTS, hours=HOURS, seed=SEED)
    return root, manifest


@pytest.fixture(scope="module")
def features(corpus):
    root, _ = corpus
    return {name: site_features(name, root / name) for name in SITES}


def test_layout_and_readme(corpus):
    root, manifest = corpus
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [*SITES, README_NAME, MANIFEST_NAME])
    text = (root / README_NAME).read_text()
    assert text.startswith("SIMULATED DATA")
    assert f"Seed: {SEED}" in text and all(f"- {name}/" in text for name in SITES)
    assert json.loads((root / MANIFEST_NAME).read_text())["sites"] == manifest["sites"]


@pytest.mark.parametrize("name", list(SITES))
def test_site_loads_through_its_reader(corpus, name):
    root, manifest = corpus
    eeg, eog = dataset_info(name)["sleep_channels"]
    recs = load(name, root / name, channels=[eeg, eog])
    assert len(recs) == SUBJECTS
    for rec, expected in zip(recs, manifest["sites"][name], strict=True):
        assert rec.ch_names == [eeg, eog]
        assert rec.sfreq == EEG_RATE[name]
        assert rec.domain == name
        assert rec.data.dtype == np.float32 and np.isfinite(rec.data).all()
        assert rec.n_times == len(rec.stages) * EPOCH_SEC * rec.sfreq
        counts = np.bincount(rec.stages, minlength=5)
        assert dict(zip(STAGES, counts.tolist(), strict=True)) == expected["stages"]
        # EEG-like amplitudes in volts: tens of microvolts
        assert np.all((rec.data.std(axis=1) > 5e-6) & (rec.data.std(axis=1) < 2e-4))
    # every native channel is in the file at its native label
    everything = next(iter(load(name, root / name)))
    assert set(SITES[name].channels) <= set(everything.ch_names)


def test_generation_is_deterministic_and_subsets_reproduce(corpus, tmp_path):
    root, _ = corpus
    demo_main(["--out", str(tmp_path), "--sites", "sleep_edf", "--subjects-per-site", "1",
               "--hours", str(HOURS), "--seed", str(SEED)])
    files = sorted((tmp_path / "sleep_edf").rglob("*.edf"))
    assert [f.name for f in files] == ["SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf"]
    for f in files:
        assert f.read_bytes() == (root / f.relative_to(tmp_path)).read_bytes()


def test_ensure_corpus_builds_once_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EEGKIT_CACHE", str(tmp_path))
    root = ensure_corpus(subjects_per_site=1, hours=1.0, seed=SEED)
    assert root.parent == tmp_path and root.name.startswith("demo-sleep-")
    assert [p.name for p in tmp_path.iterdir()] == [root.name]  # no temporary leftovers
    stamp = (root / MANIFEST_NAME).stat().st_mtime_ns
    assert ensure_corpus(subjects_per_site=1, hours=1.0, seed=SEED) == root
    assert (root / MANIFEST_NAME).stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert ensure_corpus(subjects_per_site=1, hours=1.0, seed=SEED + 1) != root


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown demo sites"):
        generate(tmp_path, sites=["mass"])
    with pytest.raises(ValueError, match="at least 1 h"):
        generate(tmp_path, hours=0.5, sites=["sleep_edf"])


@pytest.mark.parametrize("name", list(SITES))
def test_stage_signatures(features, name):
    med = stage_medians(features[name])
    assert med[N3, COL["eeg_delta"]] > med[W, COL["eeg_delta"]] + 0.5  # > 3x the power
    assert med[N3, COL["eeg_delta"]] > med[N2, COL["eeg_delta"]]
    assert med[N2, COL["eeg_sigma"]] > med[N1, COL["eeg_sigma"]]
    assert med[W, COL["eeg_alpha"]] > max(med[N1, COL["eeg_alpha"]], med[N2, COL["eeg_alpha"]])
    assert med[N1, COL["eeg_theta"]] > med[W, COL["eeg_theta"]]
    assert med[REM, COL["eye_rate"]] > med[N2, COL["eye_rate"]]


@pytest.mark.parametrize(("name", "emg"), [("hmc", "EMG chin"),
                                           ("physionet2018", "Chin1-Chin2")])
def test_chin_emg_tone(corpus, name, emg):
    root, _ = corpus
    rms = {k: [] for k in range(5)}
    for rec in load(name, root / name, channels=[emg]):
        per = int(EPOCH_SEC * rec.sfreq)
        epoch_rms = rec.data[0, : len(rec.stages) * per].reshape(-1, per).std(axis=1)
        for k in range(5):
            rms[k].extend(epoch_rms[rec.stages == k])
    med = {k: np.median(v) for k, v in rms.items()}
    assert med[W] > med[N2] > med[REM]


def test_hypnogram_statistics():
    rng = np.random.default_rng(0)
    nights = [simulate_hypnogram(8.0, rng) for _ in range(30)]
    fractions = np.bincount(np.concatenate(nights), minlength=5) / sum(map(len, nights))
    assert fractions.argmax() == N2 and 0.35 < fractions[N2] < 0.6
    assert 0.05 < fractions[W] < 0.3 and 0.03 < fractions[N1] < 0.15
    assert 0.08 < fractions[N3] < 0.25 and 0.12 < fractions[REM] < 0.3
    thirds = np.zeros((5, 3))
    for night in nights:
        third = np.arange(len(night)) * 3 // len(night)
        np.add.at(thirds, (night, third), 1)
    assert thirds[N3, 0] > 2 * thirds[N3, 2]  # N3 early
    assert thirds[REM, 2] > 1.5 * thirds[REM, 0]  # REM late
    assert all(night[0] == W and night[-1] == W for night in nights)  # wake at the edges
    assert np.allclose(TRANSITIONS.sum(axis=1), 1.0, atol=2e-3)


def test_older_population_has_less_n3_and_more_wake():
    young, old = SleepProfile(), SleepProfile(n3_scale=0.45, wake_scale=1.8)
    frac = {}
    for key, profile in (("young", young), ("old", old)):
        rng = np.random.default_rng(1)
        stages = np.concatenate([simulate_hypnogram(8.0, rng, profile) for _ in range(20)])
        frac[key] = np.bincount(stages, minlength=5) / len(stages)
    assert frac["old"][N3] < 0.7 * frac["young"][N3]
    assert frac["old"][W] > frac["young"][W]


def test_stage_mixture_rows_are_blends_of_the_scored_stage():
    stages = np.random.default_rng(0).integers(0, 5, 2000)
    mix = stage_mixture(stages, np.random.default_rng(1))
    assert np.allclose(mix.sum(axis=1), 1.0) and (mix >= 0).all()
    assert (mix.argmax(axis=1) == stages).all()  # the scored stage always dominates
    blended = mix.max(axis=1) < 1.0
    assert blended[stages == N1].mean() > blended[stages == N2].mean()  # N1 is most ambiguous


def test_site_shift_and_difficulty(features):
    result = site_shift(features)
    print({a: {b: round(v, 3) for b, v in row.items()} for a, row in result["accuracy"].items()})
    within, cross = result["mean_within"], result["mean_cross"]
    print(f"within-site {within:.3f}, cross-site {cross:.3f}",
          result["within"]["per_class_f1"])
    assert within - cross >= 0.05  # training on one site transfers clearly worse
    assert within < 0.97  # not trivially separable
    f1 = result["within"]["per_class_f1"]
    assert min(f1, key=f1.get) == "N1"  # N1 is the hardest stage
