"""TUEV and CHB-MIT: readers on format-faithful fixtures and the event → window pipeline."""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import lightning as L
import numpy as np
import pytest
from edfio import EdfSignal

from eegkit.cli.predict import main as predict_main
from eegkit.data import dataset_info, load
from eegkit.data.datamodules.windows import WindowDataModule, cached_windows
from eegkit.data.edf_writer import write_edf
from eegkit.data.pipelines.events import (
    CHBMIT_CHANNELS,
    CHBMIT_TCP_INDEX,
    TCP_MONTAGE,
    TUEV_CONFIG,
    chbmit_bipolar,
    condition,
    prepare_chbmit,
    prepare_tuev,
    tcp_bipolar,
    tcp_index,
    tuev_windows,
)
from eegkit.data.readers.chbmit import canonical_labels, read_summary
from eegkit.data.readers.edf import conditioning, read_channels
from eegkit.data.readers.tuev import CLASSES as TUEV_CLASSES
from eegkit.data.readers.tuev import ELECTRODES, read_rec
from eegkit.data.types import DataError, Recording
from eegkit.tasks.classification import ClassificationTask

START = datetime.datetime(2010, 1, 1, 10, 0, 0)
UV = 1e-6
#: The 23 channels of a CHB-MIT file, T8-P8 repeated, as distributed.
CHBMIT_FILE_CHANNELS = (
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4",
    "C4-P4", "P4-O2", "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FZ-CZ", "CZ-PZ", "P7-T7", "T7-FT9",
    "FT9-FT10", "FT10-T8", "T8-P8",
)


def edf(path: Path, labels: list[str], data: np.ndarray, sfreq: float) -> Path:
    """A plain EDF with the given labels (repeats allowed), signals in volts written in µV."""
    signals = []
    for label, x in zip(labels, data, strict=True):
        uv = np.asarray(x, dtype=np.float64) / UV
        low, high = np.floor(uv.min()) - 1, np.ceil(uv.max()) + 1
        signals.append(EdfSignal(uv, sfreq, label=label, physical_dimension="uV",
                                 physical_range=(low, high)))
    return write_edf(path, signals, start=START, record_duration=1.0)


# --- TUEV fixtures ----------------------------------------------------------------------------
def tuev_labels(reference: str = "REF", drop: str | None = None) -> list[str]:
    """TUH-style labels: the montage electrodes plus channels the pipeline ignores."""
    names = [f"EEG {e}-{reference}" for e in ELECTRODES if e != drop]
    return names + [f"EEG EKG1-{reference}", "PHOTIC-REF"]


def write_tuev(root: Path, split: str, subject: str, index: int, events: list[str],
               seconds: int = 20, sfreq: float = 250.0, reference: str = "REF",
               drop: str | None = None, seed: int = 0) -> Path:
    labels = tuev_labels(reference, drop)
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 10 * UV, (len(labels), int(seconds * sfreq)))
    folder = root / "edf" / split / subject
    path = edf(folder / f"{subject}_{index:08d}.edf", labels, data, sfreq)
    path.with_suffix(".rec").write_text("".join(line + "\n" for line in events))
    return path


@pytest.fixture
def tuev_corpus(tmp_path) -> Path:
    root = tmp_path / "tuev"
    write_tuev(root, "train", "aaaaaaaa", 1, ["0,3.0,4.0,1", "13,10.0,11.0,6"], seed=1)
    write_tuev(root, "train", "aaaaaaab", 1, ["21,5.0,6.0,4"], sfreq=256.0,
               reference="LE", seed=2)
    write_tuev(root, "train", "aaaaaaac", 2, ["3,0.5,1.5,5", "4,18.5,19.5,2"], seed=3)
    write_tuev(root, "eval", "bbbbbbbb", 1, ["7,8.0,9.0,3", "8,9.0,10.0,6"], seed=4)
    return root


def test_tuev_reader_reads_layout_and_rec(tuev_corpus):
    assert dataset_info("tuev")["kind"] == "events"
    recs = load("tuev", tuev_corpus)
    assert len(recs) == 4
    items = list(recs)
    first = items[0]
    assert (first.subject, first.recording, first.meta["split"]) == (
        "aaaaaaaa", "aaaaaaaa_00000001", "train")
    assert first.sfreq == 250.0 and len(first.ch_names) == 19  # EKG1 and PHOTIC not read
    assert first.events["onset"].tolist() == [3.0, 10.0]
    assert first.events["duration"].tolist() == [1.0, 1.0]
    assert first.events["code"].tolist() == [0, 5]  # SPSW, BCKG (code - 1)
    assert first.events["channel"].tolist() == [0, 13]
    assert items[1].sfreq == 256.0 and items[1].ch_names[0] == "EEG FP1-LE"
    assert [r.meta["split"] for r in items] == ["train"] * 3 + ["eval"]
    assert len(load("tuev", tuev_corpus / "edf", split="eval")) == 1


def test_tcp_montage_is_anode_minus_cathode():
    names = [f"EEG {e}-LE" for e in ELECTRODES]
    data = np.arange(len(ELECTRODES), dtype=np.float32)[:, None] * np.ones((1, 10), np.float32)
    rec = Recording(data, names, 250.0, "s", "r", "tuev", Path("x.edf"))
    bipolar, labels = tcp_bipolar(rec)
    assert labels[:2] == ["FP1-F7", "F7-T3"] and len(labels) == 22
    for k, (a, c) in enumerate(TCP_MONTAGE):
        assert bipolar[k, 0] == ELECTRODES.index(a) - ELECTRODES.index(c)


def test_tuev_window_is_2s_before_to_2s_after_the_event():
    sfreq, seconds = 250.0, 30
    t = np.arange(int(seconds * sfreq)) / sfreq
    data = np.zeros((len(ELECTRODES), len(t)), dtype=np.float32)
    burst = (t >= 12.0) & (t < 13.0)  # the event second
    data[ELECTRODES.index("FP1"), burst] = 50 * UV * np.sin(2 * np.pi * 10 * t[burst])
    data[ELECTRODES.index("P3")] = 40 * UV * np.sin(2 * np.pi * 50 * t)  # line noise
    events = np.array([(12.0, 1.0, 0, 0), (0.5, 1.0, 5, 3)],
                      dtype=[("onset", "f8"), ("duration", "f8"), ("code", "i4"),
                             ("channel", "i4")])
    rec = Recording(data, [f"EEG {e}-REF" for e in ELECTRODES], sfreq, "s", "r", "tuev",
                    Path("x.edf"), events=events)
    X, y, channel = tuev_windows(rec)
    assert X.shape == (2, 22, 1000) and X.dtype == np.float32
    assert y.tolist() == [0, 5] and channel.tolist() == [0, 3]
    fp1_f7 = X[0, 0]
    inside, outside = fp1_f7[420:580], np.r_[fp1_f7[:350], fp1_f7[650:]]
    # 50 µV in volts → µV/100: amplitude 0.5 during the event second (samples 400..600).
    assert 0.45 < np.abs(inside).max() < 0.55
    assert np.abs(outside).max() < 0.05
    # The 50-Hz notch removes P3's line noise from P3-O1 (channel 17).
    assert np.abs(X[0, 17, 100:-100]).max() < 0.04
    # An event 0.5 s into the file: the window is shifted to start at the file start.
    assert np.allclose(X[1, 0], condition(rec.data[[0]] - rec.data[[1]], sfreq,
                                          TUEV_CONFIG)[0, :1000], atol=1e-6)


def test_tuev_prepared_windows_and_official_protocol(tuev_corpus, tmp_path):
    w = prepare_tuev(tuev_corpus, cache_dir=tmp_path / "cache")
    assert w.X.shape == (7, 22, 1000) and w.sfreq == 200.0
    assert w.classes == list(TUEV_CLASSES) and w.ch_names[10] == "C3-CZ"
    assert w.y.tolist() == [0, 5, 3, 4, 1, 2, 5]
    assert w.official_split.tolist() == ["train"] * 5 + ["test"] * 2
    assert w.subject[-1] == "bbbbbbbb"
    again = prepare_tuev(tuev_corpus, cache_dir=tmp_path / "cache")
    assert isinstance(again.X, np.memmap)
    np.testing.assert_array_equal(again.X, w.X)
    assert len(list((tmp_path / "cache").glob("events-tuev-*"))) == 1

    dm = WindowDataModule("tuev", str(tuev_corpus), protocol="official", val_fraction=0.34,
                          batch_size=2, cache_dir=str(tmp_path / "cache"))
    dm.setup("fit")
    assert (dm.n_chans, dm.n_times, dm.sfreq, dm.n_outputs) == (22, 1000, 200.0, 6)
    subjects = {k: set(dm.windows.subject[v]) for k, v in dm.split_index.items()}
    assert subjects["test"] == {"bbbbbbbb"}
    assert len(subjects["val"]) == 1 and not subjects["val"] & subjects["train"]
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape[1:] == (22, 1000)


def test_tuev_unique_events_keep_one_window_per_event(tmp_path):
    """An event marked on three channels is three .rec lines but one pretraining window."""
    root = tmp_path / "tuev"
    write_tuev(root, "train", "aaaaaaaa", 1,
               ["0,3.0,4.0,1", "1,3.0,4.0,1", "14,3.0,4.0,1", "13,10.0,11.0,6"], seed=1)
    write_tuev(root, "eval", "bbbbbbbb", 1, ["7,8.0,9.0,3", "8,8.0,9.0,3"], seed=4)
    per_line = prepare_tuev(root, cache_dir=tmp_path / "cache")
    assert len(per_line) == 6  # the classification protocol: one sample per .rec line
    unique = prepare_tuev(root, cache_dir=tmp_path / "cache", unique_events=True)
    assert unique.y.tolist() == [0, 5, 2]
    assert unique.official_split.tolist() == ["train", "train", "test"]
    np.testing.assert_array_equal(unique.X, per_line.X[[0, 3, 4]])
    assert len(list((tmp_path / "cache").glob("events-tuev-*"))) == 2  # keyed apart
    # window datamodules pass reader_kwargs to the pipeline
    assert len(cached_windows("tuev", root, {"unique_events": True}, tmp_path / "cache")) == 3


def test_tuev_bad_inputs(tmp_path):
    path = write_tuev(tmp_path, "train", "s1", 1, ["0,3.0,4.0,1"], drop="T4")
    with pytest.raises(DataError, match=r"s1_00000001.edf: missing montage electrode\(s\) "
                                        r"\['T4'\]"):
        prepare_tuev(tmp_path, cache_dir=tmp_path / "cache")
    path.unlink()
    path = write_tuev(tmp_path, "train", "s1", 1, ["0,3.0,4.0,7"])
    rec = path.with_suffix(".rec")
    with pytest.raises(DataError, match=r"s1_00000001.rec: line 1: unknown event code 7"):
        list(load("tuev", tmp_path))
    rec.write_text("0,3.0,4.0,1\n22,3.0,4.0,1\n")
    with pytest.raises(DataError, match="line 2: channel 22 outside"):
        read_rec(rec)
    rec.write_text("0;3.0;4.0;1\n")
    with pytest.raises(DataError, match="line 1: expected 'channel,start,end,code'"):
        read_rec(rec)
    rec.write_text("0,3.0,4.0,1\n0,5.0,6.0,2.5\n")
    with pytest.raises(DataError, match="line 2: expected .* integer channel and code"):
        read_rec(rec)
    rec.unlink()
    with pytest.raises(DataError, match=r"s1_00000001.rec: event file \(.rec\) is missing"):
        list(load("tuev", tmp_path))
    rec.write_text("0,3.0,4.0,1\n")
    path.write_bytes(path.read_bytes()[:-3000])  # truncated signal file
    with pytest.raises(DataError, match=r"s1_00000001.edf: truncated or corrupt"):
        list(load("tuev", tmp_path))
    with pytest.raises(DataError, match="no edf/train or edf/eval"):
        load("tuev", tmp_path / "edf" / "train")
    with pytest.raises(DataError, match="does not exist"):
        load("tuev", tmp_path / "missing")


# --- CHB-MIT ----------------------------------------------------------------------------------
SUMMARY_OLD = """Data Sampling Rate: 256 Hz
*************************

Channels in EDF Files:
**********************
{channels}

File Name: chb01_01.edf
File Start Time: 11:42:54
File End Time: 11:43:54
Number of Seizures in File: 0

File Name: chb01_03.edf
File Start Time: 13:43:04
File End Time: 13:44:04
Number of Seizures in File: 1
Seizure Start Time: 25 seconds
Seizure End Time: 37 seconds
"""
SUMMARY_NEW = """Data Sampling Rate: 256 Hz
*************************

File Name: chb24_01.edf
Number of Seizures in File: 2
Seizure 1 Start Time: 5 seconds
Seizure 1 End Time: 9 seconds
Seizure 2 Start Time: 41 seconds
Seizure 2 End Time: 52 seconds
"""


def write_chbmit(root: Path, case: str, files: dict[str, int], summary: str,
                 labels: tuple[str, ...] = CHBMIT_FILE_CHANNELS, seed: int = 0) -> Path:
    """``<case>/<file>.edf`` (60 s at 256 Hz, channel k = k µV + noise) and the summary."""
    folder = root / case
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    channels = "\n".join(f"Channel {i}: {n}" for i, n in enumerate(labels, 1))
    (folder / f"{case}-summary.txt").write_text(summary.format(channels=channels))
    for name, seconds in files.items():
        n = seconds * 256
        data = (np.arange(len(labels))[:, None] + rng.normal(0, 5, (len(labels), n))) * UV
        edf(folder / name, list(labels), data, 256.0)
    return folder


def test_chbmit_summary_both_formats(tmp_path):
    folder = write_chbmit(tmp_path, "chb01", {}, SUMMARY_OLD)
    seizures = read_summary(folder / "chb01-summary.txt")
    assert seizures["chb01_01.edf"].shape == (0, 2)
    assert seizures["chb01_03.edf"].tolist() == [[25.0, 37.0]]
    folder = write_chbmit(tmp_path, "chb24", {}, SUMMARY_NEW)
    assert read_summary(folder / "chb24-summary.txt")["chb24_01.edf"].tolist() == [
        [5.0, 9.0], [41.0, 52.0]]
    bad = tmp_path / "bad-summary.txt"
    bad.write_text(SUMMARY_NEW.replace("Number of Seizures in File: 2",
                                       "Number of Seizures in File: 3"))
    with pytest.raises(DataError, match="chb24_01.edf: 'Number of Seizures in File: 3' but 2"):
        read_summary(bad)
    bad.write_text(SUMMARY_NEW.replace("Seizure 1 Start Time: 5 seconds\n", ""))
    with pytest.raises(DataError, match="line 6: seizure end without a start"):
        read_summary(bad)


def test_chbmit_repeated_labels_and_segments(tmp_path):
    root = tmp_path / "chbmit"
    write_chbmit(root, "chb01", {"chb01_01.edf": 60, "chb01_03.edf": 60}, SUMMARY_OLD)
    write_chbmit(root, "chb24", {"chb24_01.edf": 60}, SUMMARY_NEW, seed=1)
    recs = load("chbmit", root)
    assert len(recs) == 3
    rec = recs[1]
    assert rec.ch_names.count("T8-P8") == 2 and len(rec.ch_names) == 23
    assert rec.events["onset"].tolist() == [25.0] and rec.events["duration"].tolist() == [12.0]
    bipolar, names = chbmit_bipolar(rec)
    assert names == list(CHBMIT_CHANNELS) and bipolar.shape == (16, 60 * 256)
    # The first T8-P8 (file channel 15, offset 14 µV) is used, not its repeat (22 µV).
    assert abs(bipolar[names.index("T8-P8")].mean() / UV - 14) < 1

    w = prepare_chbmit(root, test_subjects=["chb24"], cache_dir=tmp_path / "cache")
    assert w.X.shape == (18, 16, 2000) and w.sfreq == 200.0
    # chb01_03: seizure 25-37 s -> segments 20-30 and 30-40; chb24_01: 5-9 s and 41-52 s.
    assert w.y.tolist() == [0] * 6 + [0, 0, 1, 1, 0, 0] + [1, 0, 0, 0, 1, 1]
    assert w.official_split.tolist() == ["train"] * 12 + ["test"] * 6
    assert w.classes == ["background", "seizure"]
    # prediction reads the file's bipolar channels (the first T8-P8) and conditions as here
    pre = w.meta["preprocessing"]
    assert pre["channels"] == list(CHBMIT_CHANNELS) and (pre["notch"], pre["l_freq"]) == (60, 0.5)
    data, sfreq = read_channels(rec.source, pre["channels"], pre["aliases"], bipolar=True)
    np.testing.assert_array_equal(data, bipolar)
    with pytest.raises(DataError, match=r"test subjects \['chb99'\]"):
        prepare_chbmit(root, test_subjects=["chb99"], cache_dir=tmp_path / "cache")


def test_chbmit_channels_map_onto_the_tcp_montage():
    """The channel-embedding map of a TUEV-pretrained backbone: same electrode pairs."""
    assert CHBMIT_TCP_INDEX == (0, 1, 2, 3, 4, 5, 6, 7, 14, 15, 16, 17, 18, 19, 20, 21)
    for chb, k in zip(CHBMIT_CHANNELS, CHBMIT_TCP_INDEX, strict=True):
        renamed = chb.replace("T7", "T3").replace("P7", "T5").replace("T8", "T4")
        assert "-".join(TCP_MONTAGE[k]) == renamed.replace("P8", "T6")
    assert tcp_index(["f7-t7", "C3-CZ"]) == [1, 10]  # case-insensitive, TCP names too
    with pytest.raises(ValueError, match="'FZ-CZ' .* not in the TCP montage"):
        tcp_index(["FZ-CZ"])


def test_canonical_labels_undo_mne_running_numbers():
    assert canonical_labels(["T8-P8-0", "FZ-CZ", "T8-P8-1", "--0", "--1", "EEG-1"]) == [
        "T8-P8", "FZ-CZ", "T8-P8", "-", "-", "EEG-1"]


def test_chbmit_bad_inputs(tmp_path):
    labels = tuple(c for c in CHBMIT_FILE_CHANNELS if c != "F4-C4")
    write_chbmit(tmp_path, "chb01", {"chb01_01.edf": 20}, SUMMARY_OLD, labels=labels)
    with pytest.raises(DataError, match=r"chb01_01.edf: missing bipolar channel\(s\) "
                                        r"\['F4-C4'\]"):
        prepare_chbmit(tmp_path, cache_dir=tmp_path / "cache")
    write_chbmit(tmp_path / "other", "chb02", {"chb02_07.edf": 20}, SUMMARY_OLD)
    with pytest.raises(DataError, match="chb02_07.edf: not listed in chb02-summary.txt"):
        list(load("chbmit", tmp_path / "other"))
    (tmp_path / "other" / "chb02" / "chb02-summary.txt").unlink()
    with pytest.raises(DataError, match="chb02-summary.txt: summary file is missing"):
        load("chbmit", tmp_path / "other")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no CHB-MIT files"):
        load("chbmit", empty)
    with pytest.raises(DataError, match="no .edf files for subjects"):
        load("chbmit", tmp_path, subjects=["chb05"])


# --- prediction on new recordings -------------------------------------------------------------
def test_tuev_windows_record_how_prediction_reads_a_new_recording(tuev_corpus, tmp_path):
    """The TUEV pipeline reports its bipolar channels and conditioning; reading a referential
    TUEV file through that record gives exactly the pipeline's montage and conditioning."""
    dm = WindowDataModule("tuev", str(tuev_corpus), protocol="official", val_fraction=0.34,
                          cache_dir=str(tmp_path / "cache"))
    pre = dm.preprocessing
    assert pre["channels"] == dm.ch_names and pre["bipolar"] is True
    assert (pre["sfreq"], pre["l_freq"], pre["h_freq"], pre["notch"], pre["scale"]) == (
        200.0, 0.1, 75.0, 50.0, 1e4)
    assert pre["aliases"]["T3"] == ["T7", "EEG T3-REF", "EEG T3-LE", "EEG T7-REF", "EEG T7-LE"]
    recordings = [load("tuev", tuev_corpus, split="train")[i] for i in (0, 1)]
    assert [r.ch_names[0] for r in recordings] == ["EEG FP1-REF", "EEG FP1-LE"]
    for rec in recordings:
        path = rec.source
        data, sfreq = read_channels(path, pre["channels"], pre["aliases"], bipolar=True)
        expected, _ = tcp_bipolar(rec)
        np.testing.assert_allclose(data, expected, atol=1e-9)
        config = conditioning(sfreq, pre["sfreq"], pre["l_freq"], pre["h_freq"], pre["notch"],
                              pre["scale"])
        np.testing.assert_allclose(condition(data, sfreq, config),
                                   condition(expected, sfreq, TUEV_CONFIG), atol=1e-5)
    # without bipolar derivation, or without an electrode, the error names what is missing
    with pytest.raises(DataError, match=r"missing required channel\(s\) \['FP1-F7'"):
        read_channels(path, ["FP1-F7"], pre["aliases"])
    lacking = write_tuev(tmp_path / "lacking", "train", "cccccccc", 1, [], drop="O2")
    with pytest.raises(DataError, match=r"cccccccc.*\['T6-O2', 'P4-O2'\].*'O2'"):
        read_channels(lacking, pre["channels"], pre["aliases"], bipolar=True)


def test_eegkit_predict_labels_a_tuev_recording_with_a_tuev_trained_model(tuev_corpus, tmp_path):
    dm = WindowDataModule("tuev", str(tuev_corpus), protocol="official", val_fraction=0.34,
                          batch_size=4, cache_dir=str(tmp_path / "cache"))
    task = ClassificationTask("eegnet", scheduler="none")
    trainer = L.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, dm)
    trainer.save_checkpoint(tmp_path / "tuev.ckpt")
    new = write_tuev(tmp_path / "new", "eval", "dddddddd", 1, [], seconds=12, reference="LE")
    written = predict_main(["--ckpt", str(tmp_path / "tuev.ckpt"), "--input", str(new),
                            "--out", str(tmp_path / "out")])
    assert [p.name for p in written] == ["dddddddd_00000001_windows.csv",
                                         "dddddddd_00000001_windows.edf"]
    rows = list(csv.DictReader(open(written[0])))
    assert [float(r["onset_s"]) for r in rows] == [0.0, 5.0, 7.0]  # 5-s windows, tail aligned
    assert {r["label"] for r in rows} <= set(TUEV_CLASSES)
    for r in rows:
        assert sum(float(r[f"p_{c}"]) for c in TUEV_CLASSES) == pytest.approx(1, abs=1e-3)
