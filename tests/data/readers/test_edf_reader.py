"""The generic ``edf`` reader: any EDF/EDF+ folder, channels by name, labels from annotations."""

from __future__ import annotations

import numpy as np
import pytest

from eegkit.data import dataset_info, load
from eegkit.data.pipelines.sleep import SleepConfig, prepare_sleep
from eegkit.data.readers.edf import resolve_channels, window_starts
from eegkit.data.types import DataError, Windows
from tests._edf_fixtures import noise, write_recording

SFREQ = 100.0
MAPPING = {"blink": "eye", "spike": "spike"}


def _tones(n_sec, hz, sfreq=SFREQ):
    t = np.arange(int(n_sec * sfreq)) / sfreq
    return 40e-6 * np.sin(2 * np.pi * hz * t)


def _labelled(folder, name, labels=("EEG FP1-REF", "EEG FP2-REF", "ECG")):
    """40 s; a 1-s ``spike`` at 10 s, a 6-s ``blink`` from 20 s, a comment at 0 s."""
    sig = {labels[0]: _tones(40, 5.0), labels[1]: _tones(40, 12.0), labels[2]: noise(4000)}
    ann = [(0.0, 0.0, "Recording starts"), (10.0, 1.0, "spike"), (20.0, 6.0, "blink")]
    return write_recording(folder / name, sig, annotations=ann)


def test_edf_is_registered_as_a_generic_reader():
    assert dataset_info("edf")["kind"] == "generic"


def test_windows_from_annotations_with_aliases_and_conditioning(tmp_path):
    _labelled(tmp_path / "d", "a.edf")
    _labelled(tmp_path / "d" / "sub", "b.edf", labels=("Fp1", "EEG FP2-LE", "ECG"))
    w = load("edf", tmp_path / "d", channels=["Fp2", "Fp1"], mapping=MAPPING, window_s=2.0,
             stride_s=2.0, sfreq=50.0, aliases={"Fp1": ["EEG FP1-(REF|LE)"],
                                                "Fp2": ["EEG FP2-(REF|LE)"]})
    assert isinstance(w, Windows)
    # per file: 1 window on the 1-s spike + 3 windows along the 6-s blink
    assert w.X.shape == (8, 2, 100) and w.sfreq == 50.0 and w.ch_names == ["Fp2", "Fp1"]
    assert w.classes == ["eye", "spike"]
    assert w.y.tolist() == [1, 0, 0, 0] * 2
    assert w.group.tolist() == ["a"] * 4 + ["sub/b"] * 4
    # channels come in the order asked for: Fp2 (12 Hz) first, whatever the file order
    spec = np.abs(np.fft.rfft(w.X, axis=-1)).argmax(-1) * 50.0 / 100
    assert (spec[:, 0] == 12.0).all() and (spec[:, 1] == 5.0).all()


def test_window_starts_centre_short_events_and_tile_long_ones():
    starts, owner = window_starts(np.array([10.0, 20.0, 0.5]), np.array([1.0, 5.0, 0.0]),
                                  window_s=2.0, stride_s=1.5, n_sec=40.0)
    assert starts.tolist() == [9.5, 20.0, 21.5, 23.0, 0.0]  # the last one shifted inside
    assert owner.tolist() == [0, 1, 1, 1, 2]


def test_channel_matching_by_name_alias_and_regex():
    labels = ["EEG Fpz-Cz", "EEG(sec)", "EOG E1-M2"]
    assert resolve_channels(None, labels, ["eeg fpz-cz"]) == ["EEG Fpz-Cz"]
    assert resolve_channels(None, labels, ["C3", "EOG"], {"C3": ["EEG(sec)"],
                                                          "EOG": [r"EOG E\d-M2"]}) == [
        "EEG(sec)", "EOG E1-M2"]
    with pytest.raises(DataError, match=r"f.edf: missing required channel\(s\) \['C4'\].*"
                                         r"present: \['EEG Fpz-Cz'"):
        resolve_channels("f.edf", labels, ["C4", "EEG Fpz-Cz"])


def test_epochs_target_feeds_the_sleep_pipeline(tmp_path):
    """Stages from a companion EDF+ scoring file that starts 60 s into the signal."""
    stages = ["W", "N1", "N2", "N2", "N3", "REM", "W", "N2"]
    n_sec = 60 + 30 * len(stages) + 20
    write_recording(tmp_path / "p1.edf", {"C3-A2": noise(int(n_sec * SFREQ)),
                                          "LOC-A2": noise(int(n_sec * SFREQ), 1)})
    text = {"W": "Wake", "N1": "Stage1", "N2": "Stage2", "N3": "Stage3", "REM": "REM"}
    ann = [(60.0 + 30 * i, 30.0, text[s]) for i, s in enumerate(stages)]
    ann[3] = (150.0, 30.0, "Unsure")
    write_recording(tmp_path / "p1_scoring.edf", {}, annotations=[(0.0, 0.0, "Lights off"), *ann])
    mapping = {v: k for k, v in text.items()} | {"Unsure": "?"}
    (rec,) = list(load("edf", tmp_path, channels=["C3-A2", "LOC-A2"], mapping=mapping,
                       target="epochs", annotation_suffix="_scoring.edf"))
    assert rec.epoch_onset == 60.0 and rec.recording == "p1"
    assert rec.stages.tolist() == [0, 1, 2, -1, 3, 4, 0, 2]
    seqs = prepare_sleep("edf", tmp_path, SleepConfig(seq_len=3), progress=False,
                         channels=["C3-A2", "LOC-A2"], mapping=mapping, target="epochs",
                         annotation_suffix="_scoring.edf")
    assert seqs.ch_names == ["C3-A2", "LOC-A2"] and seqs.X.shape == (2, 3, 2, 3000)
    assert seqs.y.ravel().tolist() == [0, 1, 2, 3, 4, 0]  # the unsure epoch dropped
    with pytest.raises(ValueError, match="names no .EEG, EOG. pair"):
        prepare_sleep("edf", tmp_path, mapping=mapping, target="epochs")


def test_bad_input_names_the_file_and_the_problem(tmp_path):
    good = _labelled(tmp_path, "a.edf")
    with pytest.raises(DataError, match=r"a.edf: no annotation named in the mapping.*spike"):
        load("edf", good, channels=["ECG"], mapping={"seizure": "sz"}, window_s=2.0)
    with pytest.raises(DataError, match=r"a.edf: missing required channel\(s\) \['Cz'\]"):
        load("edf", good, channels=["Cz"], mapping=MAPPING, window_s=2.0)
    with pytest.raises(DataError, match=r"a.edf: stage annotations are not 30-s epochs"):
        list(load("edf", good, channels=["ECG"], mapping={"spike": "N2"}, target="epochs"))
    with pytest.raises(ValueError, match="not stages"):
        list(load("edf", good, channels=["ECG"], mapping={"spike": "deep"}, target="epochs"))
    with pytest.raises(ValueError, match="window_s"):
        load("edf", good, channels=["ECG"], mapping=MAPPING)
    truncated = tmp_path / "t" / "cut.edf"
    truncated.parent.mkdir()
    truncated.write_bytes(good.read_bytes()[:-500])
    with pytest.raises(DataError, match="cut.edf"):
        load("edf", truncated, channels=["ECG"], mapping=MAPPING, window_s=2.0)


def test_edf_reader_from_a_yaml_config(tmp_path):
    from eegkit.cli.app import make_cli

    for i in range(3):
        _labelled(tmp_path / "data", f"r{i}.edf")
    config = tmp_path / "edf.yaml"
    config.write_text(f"""
model:
  class_path: eegkit.tasks.classification.ClassificationTask
  init_args: {{model: eegnet}}
data:
  class_path: eegkit.data.datamodules.windows.WindowDataModule
  init_args:
    dataset: edf
    path: {tmp_path / "data"}
    protocol: group
    val_fraction: 0.34
    test_fraction: 0.34
    cache_dir: {tmp_path / "cache"}
    reader_kwargs:
      channels: [Fp1, Fp2]
      aliases: {{Fp1: ["EEG FP1-REF"], Fp2: ["EEG FP2-REF"]}}
      mapping: {{blink: eye, spike: spike}}
      window_s: 2.0
""")
    dm = make_cli(["--config", str(config), "--trainer.logger", "false"]).datamodule
    assert (dm.n_chans, dm.n_times, dm.n_outputs) == (2, 200, 2)
    assert dm.ch_names == ["Fp1", "Fp2"] and dm.preprocessing["window_s"] == 2.0
    dm.setup()
    assert sum(len(v) for v in dm.split_index.values()) == 12
