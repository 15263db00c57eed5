"""HMC, ISRUC, SHHS and PhysioNet 2018: writers produce the distributed layout, readers read it.

Fixtures are 10-min recordings of 2 subjects per dataset written by the dataset's writer into
a temporary folder, then read back with :func:`eegkit.data.load`.
"""

from __future__ import annotations

import os

import h5py
import mne
import numpy as np
import pytest
import scipy.io

from eegkit.data import dataset_info, load
from eegkit.data.edf_writer import edf_signals, write_edf
from eegkit.data.readers.physionet2018 import stages_from_vectors
from eegkit.data.types import DataError
from eegkit.demo.writers import hmc as hmc_w
from eegkit.demo.writers import isruc as isruc_w
from eegkit.demo.writers import physionet2018 as p18_w
from eegkit.demo.writers import shhs as shhs_w
from tests.data.readers._sleep_format_helpers import STAGES, noise

SECONDS = 30.0 * len(STAGES)
PAIRS = {
    "hmc": ("EEG F4-M1", "EOG E1-M2"),
    "isruc": ("F4-A1", "LOC-A2"),
    "shhs": ("EEG", "EOG(R)-EOG(L)"),
    "physionet2018": ("C3-M2", "E1-M2"),
}
#: ISRUC files have no unscored code inside a night: the inner unscored epoch becomes N2.
ISRUC_STAGES = np.where(STAGES == -1, 2, STAGES).astype(np.int8)


def _write_hmc(folder, index, stages=STAGES, constant=None, skip=()):
    rates = {c: hmc_w.SFREQ for c in hmc_w.CHANNELS if c not in skip}
    signals, sfreq = noise(rates, SECONDS, seed=index, constant=constant)
    return hmc_w.write_hmc(folder, index, signals, sfreq, stages), signals


def _write_isruc(folder, index, stages=ISRUC_STAGES, labels=isruc_w.CHANNELS, constant=None):
    rates = {c: isruc_w.SFREQ for c in labels}
    signals, sfreq = noise(rates, SECONDS, seed=index, constant=constant)
    return isruc_w.write_isruc(folder, index, signals, sfreq, stages), signals


def _write_shhs(folder, index, stages=STAGES, constant=None, skip=()):
    rates = {c: rate for c, (rate, _) in shhs_w.CHANNELS.items() if c not in skip}
    signals, sfreq = noise(rates, SECONDS, seed=index, constant={"SaO2": 95.0, **(constant or {})})
    return shhs_w.write_shhs(folder, index, signals, sfreq, stages), signals


def _write_p18(folder, index, stages=STAGES, constant=None):
    rates = {c: p18_w.SFREQ for c in p18_w.CHANNELS}
    signals, sfreq = noise(rates, SECONDS, seed=index, constant={"SaO2": 96.0, **(constant or {})})
    return p18_w.write_physionet2018(folder, index, signals, sfreq, stages), signals


def _error(name, folder, match, **kw):
    with pytest.raises(DataError, match=match) as info:
        list(load(name, folder, **kw))
    return info.value


# --------------------------------------------------------------------------------- all four


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_registered_as_sleep_with_pair(name):
    meta = dataset_info(name)
    assert meta["kind"] == "sleep"
    assert meta["sleep_channels"] == PAIRS[name]


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_empty_folder_and_wrong_path(name, tmp_path):
    err = _error(name, tmp_path, "no .* found")
    assert err.path == tmp_path
    with pytest.raises(DataError, match="does not exist"):
        load(name, tmp_path / "missing")


# -------------------------------------------------------------------------------------- HMC


@pytest.fixture(scope="module")
def hmc_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hmc")
    _, first = _write_hmc(folder, 0)
    # second recording: scoring starts two epochs after the signal
    _, second = _write_hmc(folder, 1, stages=np.concatenate([[-1, -1], STAGES[:-2]]))
    return folder, [first, second]


def test_hmc_files_as_distributed(hmc_folder):
    folder, _ = hmc_folder
    rec = folder / "recordings"
    assert sorted(p.name for p in rec.iterdir()) == [
        "SN001.edf", "SN001_sleepscoring.edf", "SN002.edf", "SN002_sleepscoring.edf",
    ]
    raw = mne.io.read_raw_edf(rec / "SN001.edf", verbose="error")
    assert raw.ch_names == list(hmc_w.CHANNELS) and raw.info["sfreq"] == 256.0
    ann = mne.read_annotations(rec / "SN002_sleepscoring.edf")
    assert ann.description[0] == "Lights off" and ann.onset[0] == 60.0
    assert ann.description[-1] == "Lights on"
    assert set(ann.description) == {
        "Lights off", "Lights on", "Sleep stage W", "Sleep stage N1", "Sleep stage N2",
        "Sleep stage N3", "Sleep stage R",
    }
    assert np.all(ann.duration[1:-1] == 30.0)


def test_hmc_read_back(hmc_folder):
    folder, written = hmc_folder
    recs = load("hmc", folder)
    assert len(recs) == 2
    first, second = list(recs)
    assert first.ch_names == list(hmc_w.CHANNELS) and first.sfreq == 256.0
    assert (first.subject, first.recording, first.domain) == ("SN001", "SN001", "hmc")
    assert first.source.name == "SN001.edf" and first.stages.dtype == np.int8
    np.testing.assert_array_equal(first.stages, STAGES)
    assert first.epoch_onset == 0.0
    # leading unscored epochs are not annotated: the scoring starts at 60 s
    assert second.epoch_onset == 60.0
    np.testing.assert_array_equal(second.stages, STAGES[:-2])
    step = np.ptp(written[0]["EEG F4-M1"]) / 65535
    np.testing.assert_allclose(first.channel("EEG F4-M1"), written[0]["EEG F4-M1"], atol=step)


def test_hmc_sleep_pair(hmc_folder):
    folder, written = hmc_folder
    rec = load("hmc", folder, channels=list(reversed(PAIRS["hmc"])))[1]
    assert rec.ch_names == ["EOG E1-M2", "EEG F4-M1"] and rec.data.shape == (2, SECONDS * 256)
    assert rec.data.dtype == np.float32
    np.testing.assert_allclose(rec.data[1], written[1]["EEG F4-M1"], atol=1e-8)


def test_hmc_bad_inputs(tmp_path):
    _write_hmc(tmp_path / "long", 0, stages=np.concatenate([STAGES, [2, 2]]))
    _error("hmc", tmp_path / "long", r"SN001_sleepscoring\.edf: .*past the end .*SN001\.edf")

    _write_hmc(tmp_path / "missing", 0, skip=("EOG E1-M2",))
    _error("hmc", tmp_path / "missing", r"SN001\.edf: missing required channel.*EOG E1-M2")

    _write_hmc(tmp_path / "flat", 0, constant={"EEG F4-M1": 5e-6})
    _error("hmc", tmp_path / "flat", r"SN001\.edf: channel 'EEG F4-M1' is flat")

    (_, scoring), _ = _write_hmc(tmp_path / "bad", 0)
    write_edf(scoring, [], start=hmc_w.DEFAULT_START, record_duration=1.0,
              annotations=[(0.0, 30.0, "Sleep stage W"), (30.0, 30.0, "Sleep stage 4")])
    _error("hmc", tmp_path / "bad", r"_sleepscoring\.edf: unknown annotation.*Sleep stage 4")
    scoring.unlink()
    _error("hmc", tmp_path / "bad", r"SN001_sleepscoring\.edf: scoring file is missing")

    (signal, _), _ = _write_hmc(tmp_path / "trunc", 0)
    os.truncate(signal, signal.stat().st_size - 1000)
    _error("hmc", tmp_path / "trunc", r"SN001\.edf: truncated or corrupt EDF")


# ------------------------------------------------------------------------------------ ISRUC

OLD_LABELS = ("E1-M2", "E2-M1", "F3-M2", "C3-M2", "O1-M2", "F4-M1", "C4-M1", "O2-M1", "X1")


@pytest.fixture(scope="module")
def isruc_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("isruc")
    _, first = _write_isruc(folder, 0)
    # second subject: older labels, and a label file 3 epochs shorter than the signal
    short = ISRUC_STAGES.copy()
    short[-3:] = -1
    _, second = _write_isruc(folder, 1, stages=short, labels=OLD_LABELS)
    return folder, [first, second]


def test_isruc_files_as_distributed(isruc_folder):
    folder, _ = isruc_folder
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "1", "1/1.rec", "1/1_1.txt", "1/1_2.txt", "2", "2/2.rec", "2/2_1.txt", "2/2_2.txt",
    ]
    lines = (folder / "1" / "1_1.txt").read_text().splitlines()
    assert lines == [str(5 if s == 4 else s) for s in ISRUC_STAGES]
    assert (folder / "1" / "1_2.txt").read_text().splitlines() == lines
    assert len((folder / "2" / "2_1.txt").read_text().splitlines()) == len(STAGES) - 3


def test_isruc_read_back_and_aliases(isruc_folder):
    folder, written = isruc_folder
    first, second = list(load("isruc", folder))
    assert first.ch_names == list(isruc_w.CHANNELS) and first.sfreq == 200.0
    assert (first.subject, first.recording, first.domain) == ("1", "1", "isruc")
    assert first.source.name == "1.rec"
    np.testing.assert_array_equal(first.stages, ISRUC_STAGES)
    assert first.n_times == SECONDS * 200
    assert second.ch_names[:2] == ["LOC-A2", "ROC-A1"] and "F4-A1" in second.ch_names
    np.testing.assert_allclose(second.channel("F4-A1"), written[1]["F4-M1"][:second.n_times],
                               atol=np.ptp(written[1]["F4-M1"]) / 65535)
    # shorter label file: the labels are trusted and the signal tail is dropped
    assert len(second.stages) == len(STAGES) - 3
    assert second.n_times == (len(STAGES) - 3) * 30 * 200


def test_isruc_sleep_pair_and_scorer(isruc_folder):
    folder, _ = isruc_folder
    for rec in load("isruc", folder, channels=list(PAIRS["isruc"]), scorer=2):
        assert rec.ch_names == ["F4-A1", "LOC-A2"] and rec.meta["scorer"] == 2
    with pytest.raises(ValueError, match="scorer"):
        load("isruc", folder, scorer=3)


def test_isruc_bad_inputs(tmp_path):
    paths, _ = _write_isruc(tmp_path / "long", 0)
    paths[1].write_text(paths[1].read_text() + "2\n2\n")
    err = _error("isruc", tmp_path / "long", r"1_1\.txt: .*past the end .*1\.rec")
    assert err.path == paths[1]

    paths, _ = _write_isruc(tmp_path / "code", 0)
    paths[1].write_text("0\n1\n4\n")
    _error("isruc", tmp_path / "code", r"1_1\.txt: line 3: unknown stage code '4'")

    _write_isruc(tmp_path / "missing", 0, labels=("F3-A2", "LOC-A2"))
    _error("isruc", tmp_path / "missing", r"1\.rec: missing required channel.*F4-A1")

    _write_isruc(tmp_path / "flat", 0, constant={"LOC-A2": 0.0})
    _error("isruc", tmp_path / "flat", r"1\.rec: channel 'LOC-A2' is flat")

    paths, _ = _write_isruc(tmp_path / "corrupt", 0)
    paths[0].write_bytes(b"not an EDF header" * 30)
    _error("isruc", tmp_path / "corrupt", r"1\.rec: truncated or corrupt EDF")


def test_isruc_writer_rejects_inner_unscored(tmp_path):
    with pytest.raises(ValueError, match="unscored epoch before a scored one"):
        _write_isruc(tmp_path, 0, stages=np.array([0, -1, 2] * 7))


# ------------------------------------------------------------------------------------- SHHS


@pytest.fixture(scope="module")
def shhs_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shhs")
    written = [_write_shhs(folder, i)[1] for i in range(2)]
    return folder, written


def test_shhs_files_as_distributed(shhs_folder):
    folder, _ = shhs_folder
    psg = folder / "polysomnography"
    assert (psg / "edfs/shhs1/shhs1-200002.edf").is_file()
    nsrr = (psg / "annotations-events-nsrr/shhs1/shhs1-200001-nsrr.xml").read_text()
    assert nsrr.startswith('<?xml version="1.0" encoding="UTF-8" standalone="no"?>')
    assert "<EventType>Stages|Stages</EventType>" in nsrr
    for concept in ("Wake|0", "Stage 1 sleep|1", "Stage 3 sleep|3", "REM sleep|5", "Unscored|9"):
        assert f"<EventConcept>{concept}</EventConcept>" in nsrr
    profusion = (psg / "annotations-events-profusion/shhs1/shhs1-200001-profusion.xml")
    text = profusion.read_text()
    assert text.count("<SleepStage>") == len(STAGES) and "<SleepStage>9</SleepStage>" in text
    raw = mne.io.read_raw_edf(psg / "edfs/shhs1/shhs1-200001.edf", verbose="error")
    assert raw.ch_names == list(shhs_w.CHANNELS)
    assert raw._raw_extras[0]["n_samps"][list(shhs_w.CHANNELS).index("EOG(L)")] == 50


@pytest.mark.parametrize("annotations", ["nsrr", "profusion"])
def test_shhs_read_back(shhs_folder, annotations):
    folder, written = shhs_folder
    recs = load("shhs", folder, annotations=annotations)
    assert len(recs) == 2
    rec = recs[1]
    assert rec.ch_names == [*shhs_w.CHANNELS, "EOG(R)-EOG(L)"] and rec.sfreq == 125.0
    assert (rec.subject, rec.recording, rec.domain) == ("200002", "shhs1-200002", "shhs")
    np.testing.assert_array_equal(rec.stages, STAGES)
    derived = rec.channel("EOG(R)") - rec.channel("EOG(L)")
    np.testing.assert_allclose(rec.channel("EOG(R)-EOG(L)"), derived, atol=1e-12)


def test_shhs_sleep_pair(shhs_folder):
    folder, written = shhs_folder
    rec = load("shhs", folder, channels=list(PAIRS["shhs"]))[0]
    assert rec.ch_names == ["EEG", "EOG(R)-EOG(L)"] and rec.sfreq == 125.0
    assert rec.data.shape == (2, SECONDS * 125)
    # on its own the derived channel stays at the 50-Hz rate of the EOG channels
    eog = load("shhs", folder, channels=["EOG(R)-EOG(L)"])[0]
    assert eog.sfreq == 50.0
    expected = written[0]["EOG(R)"] - written[0]["EOG(L)"]
    np.testing.assert_allclose(eog.data[0], expected, atol=2 * np.ptp(expected) / 65535)


def test_shhs_stage4_and_other_events(tmp_path):
    _write_shhs(tmp_path, 0)
    xml = tmp_path / "polysomnography/annotations-events-nsrr/shhs1/shhs1-200001-nsrr.xml"
    arousal = ("<ScoredEvent><EventType>Arousals|Arousals</EventType><EventConcept>"
               "Arousal|Arousal ()</EventConcept><Start>95.0</Start><Duration>12.0</Duration>"
               "<SignalLocation>EEG</SignalLocation></ScoredEvent>")
    text = xml.read_text().replace("Stage 3 sleep|3", "Stage 4 sleep|4")
    xml.write_text(text.replace("</ScoredEvents>", arousal + "</ScoredEvents>"))
    rec = load("shhs", tmp_path, channels=["EEG"])[0]
    np.testing.assert_array_equal(rec.stages, STAGES)


def test_shhs_secondary_eeg_label_variant(tmp_path):
    paths, _ = _write_shhs(tmp_path, 0)
    signals, rates = noise({"EEG2": 125.0, "EEG": 125.0}, SECONDS)
    write_edf(paths[0], edf_signals(signals, rates, {}, record_duration=1.0),
              start=shhs_w.DEFAULT_START, record_duration=1.0)
    rec = load("shhs", tmp_path, channels=["EEG(sec)", "EEG"])[0]
    assert rec.ch_names == ["EEG(sec)", "EEG"]
    np.testing.assert_allclose(rec.data[0], signals["EEG2"], atol=np.ptp(signals["EEG2"]) / 65535)


def test_shhs_bad_inputs(tmp_path):
    paths, _ = _write_shhs(tmp_path / "concept", 0)
    paths[1].write_text(paths[1].read_text().replace("REM sleep|5", "Stage 7 sleep|7"))
    _error("shhs", tmp_path / "concept", r"-nsrr\.xml: unknown stage concept 'Stage 7")

    paths[2].write_text(paths[2].read_text().replace("<SleepStage>5<", "<SleepStage>8<"))
    _error("shhs", tmp_path / "concept", r"-profusion\.xml: SleepStage 12: unknown code '8'",
           annotations="profusion")

    paths[1].write_text(paths[1].read_text()[:-40])
    _error("shhs", tmp_path / "concept", r"-nsrr\.xml: malformed XML")

    paths, _ = _write_shhs(tmp_path / "long", 0, stages=np.concatenate([STAGES, [2, 2]]))
    _error("shhs", tmp_path / "long", r"-nsrr\.xml: .*past the end")
    text = paths[2].read_text()
    paths[2].write_text(text.replace("<SleepStage>0</SleepStage>\n", "", 5))
    _error("shhs", tmp_path / "long", r"-profusion\.xml: 18 SleepStage entries .*20 epochs",
           annotations="profusion")

    _write_shhs(tmp_path / "missing", 0, skip=("EOG(L)",))
    _error("shhs", tmp_path / "missing", r"200001\.edf: missing required channel.*EOG\(R\)-EOG")

    _write_shhs(tmp_path / "flat", 0, constant={"EEG": 1e-6})
    _error("shhs", tmp_path / "flat", r"200001\.edf: channel 'EEG' is flat")

    paths, _ = _write_shhs(tmp_path / "trunc", 0)
    os.truncate(paths[0], paths[0].stat().st_size - 5000)
    _error("shhs", tmp_path / "trunc", r"200001\.edf: truncated or corrupt EDF")
    paths[1].unlink()
    _error("shhs", tmp_path / "trunc", r"-nsrr\.xml: annotation file is missing")


# ---------------------------------------------------------------------------- PhysioNet 2018


@pytest.fixture(scope="module")
def p18_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("p18")
    written = [_write_p18(folder, i)[1] for i in range(2)]
    return folder, written


def test_p18_files_as_distributed(p18_folder):
    folder, _ = p18_folder
    record = folder / "training" / "tr03-0001"
    assert sorted(p.name for p in record.iterdir()) == [
        "tr03-0001-arousal.mat", "tr03-0001.arousal", "tr03-0001.hea", "tr03-0001.mat",
    ]
    assert (folder / "training" / "RECORDS").read_text() == "tr03-0001/\ntr03-0002/\n"
    header = (record / "tr03-0001.hea").read_text().splitlines()
    assert header[0] == f"tr03-0001 13 200 {int(SECONDS * 200)}"
    fields = [line.split() for line in header[1:]]
    assert [f[-1] for f in fields] == list(p18_w.CHANNELS)
    assert {f[0] for f in fields} == {"tr03-0001.mat"} and {f[1] for f in fields} == {"16+24"}
    assert fields[2][2] == "1/uV" and fields[11][2] == "655.35(-32768)/%"
    assert fields[12][2] == "1000/mV"
    mat = scipy.io.loadmat(record / "tr03-0001.mat")
    assert mat["val"].shape == (13, SECONDS * 200) and mat["val"].dtype == np.int16
    with h5py.File(record / "tr03-0001-arousal.mat") as f:
        assert f.userblock_size == 512
        assert sorted(f["data/sleep_stages"]) == sorted([*p18_w.STAGE_VECTORS, "undefined"])
        assert f["data/sleep_stages/wake"].shape == (1, SECONDS * 200)
        assert f["data/arousals"].shape == (SECONDS * 200, 1)
    assert (record / "tr03-0001-arousal.mat").read_bytes().startswith(b"MATLAB 7.3 MAT-file")


def test_p18_read_back(p18_folder):
    folder, written = p18_folder
    recs = load("physionet2018", folder)
    assert len(recs) == 2
    rec = recs[0]
    assert rec.ch_names == list(p18_w.CHANNELS) and rec.sfreq == 200.0
    assert (rec.subject, rec.recording, rec.domain) == ("tr03-0001", "tr03-0001",
                                                        "physionet2018")
    assert rec.source.name == "tr03-0001.mat" and rec.epoch_onset == 0.0
    np.testing.assert_array_equal(rec.stages, STAGES)
    # gain 1/uV: the stored integers are whole microvolts
    np.testing.assert_allclose(rec.channel("C3-M2"), written[0]["C3-M2"], atol=0.5e-6 + 1e-9)
    np.testing.assert_allclose(rec.channel("SaO2"), 96.0, atol=1 / 655.35)
    np.testing.assert_allclose(rec.channel("ECG"), written[0]["ECG"], atol=0.5e-6 + 1e-9)
    assert len(rec.events) == 0


def test_p18_sleep_pair(p18_folder):
    folder, _ = p18_folder
    rec = load("physionet2018", folder, channels=list(PAIRS["physionet2018"]))[1]
    assert rec.ch_names == ["C3-M2", "E1-M2"] and rec.data.shape == (2, SECONDS * 200)
    assert rec.data.dtype == np.float32


def test_p18_stage_vectors_to_epochs():
    sfreq, per = 2.0, 60  # 60 samples per 30-s epoch at 2 Hz
    codes = np.repeat([0, 2, 2, 4], per)
    codes = np.concatenate([np.full(14, -1), codes])  # 7 s undefined before scoring starts
    codes[14 + per + 5] = 3  # one N3 sample inside the first N2 epoch: mixed epoch
    vectors = np.stack([(codes == k).astype(np.int32) for k in range(5)])
    stages, origin = stages_from_vectors(vectors, (codes == -1).astype(np.uint8), sfreq)
    assert origin == 14
    np.testing.assert_array_equal(stages, [0, -1, 2, 4])


def test_p18_offset_scoring_arousals_and_column_vectors(tmp_path):
    paths, _ = _write_p18(tmp_path, 0)
    n = int(SECONDS * 200)
    per_sample = np.concatenate([np.full(1400, -1), np.repeat(STAGES, 6000)])[:n]
    p18_w.write_arousal_mat(paths[2], per_sample)
    with h5py.File(paths[2], "r+") as f:
        for key in ("wake", "rem"):  # MATLAB column vectors read as (N, 1)
            values = f[f"data/sleep_stages/{key}"][...].T
            del f[f"data/sleep_stages/{key}"]
            f[f"data/sleep_stages/{key}"] = values
        f["data/arousals"][2000:2600, 0] = 1.0
    rec = load("physionet2018", tmp_path, channels=["C3-M2"])[0]
    assert rec.epoch_onset == 7.0
    np.testing.assert_array_equal(rec.stages, STAGES[: (n - 1400) // 6000])
    assert rec.events.tolist() == [(10.0, 3.0, 1, -1)]


def test_p18_bad_inputs(tmp_path):
    paths, _ = _write_p18(tmp_path / "long", 0)
    p18_w.write_arousal_mat(paths[2], np.repeat(np.concatenate([STAGES, [2]]), 6000))
    _error("physionet2018", tmp_path / "long",
           r"-arousal\.mat: /data/sleep_stages/wake holds 126000 samples, longer than")

    with h5py.File(paths[2], "w") as f:
        f["data/sleep_stages/deep"] = np.zeros((1, 4), np.uint8)
    _error("physionet2018", tmp_path / "long", r"unknown stage vector.*deep")
    paths[2].write_bytes(b"MATLAB 5.0 MAT-file, not HDF5")
    _error("physionet2018", tmp_path / "long", r"-arousal\.mat: not a readable MATLAB v7\.3")

    paths, _ = _write_p18(tmp_path / "trunc", 0)
    os.truncate(paths[0], paths[0].stat().st_size - 26 * 100)
    _error("physionet2018", tmp_path / "trunc", r"tr03-0001\.mat: (truncated|holds)")

    paths, _ = _write_p18(tmp_path / "nan", 0)
    val = scipy.io.loadmat(paths[0])["val"]
    val[6, 1000] = -32768  # WFDB's invalid sample
    scipy.io.savemat(paths[0], {"val": val}, format="4")
    _error("physionet2018", tmp_path / "nan", r"tr03-0001\.mat: channel 'E1-M2' contains NaN")

    _write_p18(tmp_path / "flat", 0, constant={"C3-M2": 0.0})
    _error("physionet2018", tmp_path / "flat", r"tr03-0001\.mat: channel 'C3-M2' is flat")

    _error("physionet2018", tmp_path / "flat", r"tr03-0001\.hea: missing required channel.*C3",
           channels=["C3-A2"])
