"""Sleep-EDF reader and writer on format-faithful files (and the real hypnograms)."""

from __future__ import annotations

import datetime
import logging

import edfio
import mne
import numpy as np
import pytest

from eegkit.data import dataset_info, load
from eegkit.data.readers._psg import check_channels
from eegkit.data.readers.sleep_edf import (
    SLEEP_CHANNELS,
    find_nights,
    read_hypnogram,
)
from eegkit.data.types import DataError
from eegkit.demo.writers.sleep_edf import (
    PSG_CHANNELS,
    write_hypnogram,
    write_psg,
    write_sleep_edf,
)

STAGES_SHORT = np.array([0, 0, 1, 2, 2, 3, 4, -1, 4, 0], dtype=np.int8)


def _noise(n_epochs, rate=100.0, seed=0, channels=SLEEP_CHANNELS):
    rng = np.random.default_rng(seed)
    n = int(n_epochs * 30 * rate)
    return {c: 30e-6 * rng.standard_normal(n) for c in channels}, {c: rate for c in channels}


def _hypnogram_with(path, labels_durations):
    """An EDF+ hypnogram with arbitrary annotation texts (onsets follow each other)."""
    onsets = np.concatenate([[0], np.cumsum([d for _, d in labels_durations])[:-1]])
    ann = [edfio.EdfAnnotation(float(o), float(d), t)
           for o, (t, d) in zip(onsets, labels_durations, strict=True)]
    edfio.Edf([], annotations=ann).write(path)
    return path


def test_writer_layout_labels_and_rates(tmp_path):
    signals, rates = _noise(len(STAGES_SHORT))
    psg, hyp = write_sleep_edf(tmp_path, 7, signals, rates, STAGES_SHORT)
    assert psg == tmp_path / "sleep-cassette" / "SC4071E0-PSG.edf"
    assert hyp == tmp_path / "sleep-cassette" / "SC4071EC-Hypnogram.edf"
    edf = edfio.read_edf(psg)
    assert [(s.label, s.sampling_frequency) for s in edf.signals] == [
        (c[0], c[1]) for c in PSG_CHANNELS
    ]
    assert edf.data_record_duration == 30
    assert edf.duration == 30 * len(STAGES_SHORT)
    ann = mne.read_annotations(hyp)
    assert list(ann.description) == [
        "Sleep stage W", "Sleep stage 1", "Sleep stage 2", "Sleep stage 3", "Sleep stage R",
        "Sleep stage ?", "Sleep stage R", "Sleep stage W",
    ]
    assert list(ann.duration) == [60, 30, 60, 30, 30, 30, 30, 30]


def test_roundtrip_signals_stages_and_ids(tmp_path):
    signals, rates = _noise(len(STAGES_SHORT))
    write_sleep_edf(tmp_path, 3, signals, rates, STAGES_SHORT,
                    start=datetime.datetime(2000, 1, 2, 22, 30))
    assert dataset_info("sleep_edf")["sleep_channels"] == SLEEP_CHANNELS
    nights = load("sleep_edf", tmp_path, channels=list(SLEEP_CHANNELS))
    assert len(nights) == 1
    rec = nights[0]
    assert (rec.subject, rec.recording, rec.domain) == ("SC403", "SC4031", "sleep_edf")
    assert rec.ch_names == list(SLEEP_CHANNELS) and rec.sfreq == 100.0
    assert rec.data.dtype == np.float32 and rec.data.shape == (2, 3000 * len(STAGES_SHORT))
    np.testing.assert_array_equal(rec.stages, STAGES_SHORT)
    # 16-bit EDF quantisation: error well below 0.1 % of the range
    for i, c in enumerate(SLEEP_CHANNELS):
        err = np.abs(rec.data[i] - signals[c]).max()
        assert err < 1e-3 * np.ptp(signals[c])
    everything = load("sleep_edf", tmp_path)[0]
    assert everything.ch_names == [c[0] for c in PSG_CHANNELS]


def test_stage_vocabulary_rk_merge_and_unknown_label(tmp_path):
    hyp = _hypnogram_with(tmp_path / "SC4001EC-Hypnogram.edf", [
        ("Sleep stage W", 60), ("Sleep stage 3", 30), ("Sleep stage 4", 60),
        ("Movement time", 30), ("Sleep stage R", 30), ("Sleep stage ?", 30),
    ])
    np.testing.assert_array_equal(read_hypnogram(hyp), [0, 0, 3, 3, 3, -1, 4, -1])
    bad = _hypnogram_with(tmp_path / "SC4002EC-Hypnogram.edf",
                          [("Sleep stage W", 30), ("Sleep stage N2", 30)])
    with pytest.raises(DataError, match="Sleep stage N2") as err:
        read_hypnogram(bad)
    assert err.value.path == bad
    odd = _hypnogram_with(tmp_path / "SC4003EC-Hypnogram.edf", [("Sleep stage W", 45)])
    with pytest.raises(DataError, match="multiples of 30"):
        read_hypnogram(odd)


def test_telemetry_and_flat_layouts_pair_on_six_characters(tmp_path):
    signals, rates = _noise(4)
    tele = tmp_path / "sleep-telemetry"
    write_psg(tele / "ST7011J0-PSG.edf", signals, rates, 120.0)
    write_hypnogram(tele / "ST7011JP-Hypnogram.edf", np.array([0, 1, 2, 2]))
    write_psg(tmp_path / "SC4121E0-PSG.edf", signals, rates, 120.0)  # flat, next to the folder
    write_hypnogram(tmp_path / "SC4121EC-Hypnogram.edf", np.array([0, 0, 2, 4]))
    nights = load("sleep_edf", tmp_path, channels=list(SLEEP_CHANNELS))
    assert [n[0] for n in nights.sources] == ["SC4121", "ST7011"]
    assert [(r.subject, r.recording) for r in nights] == [("SC412", "SC4121"),
                                                          ("ST701", "ST7011")]


def test_unscored_tail_beyond_signal_is_trimmed(tmp_path):
    signals, rates = _noise(4)
    write_psg(tmp_path / "SC4001E0-PSG.edf", signals, rates, 120.0)
    # as PhysioNet ships it: a long "?" annotation after the end of the signal
    write_hypnogram(tmp_path / "SC4001EC-Hypnogram.edf", np.array([0, 1, 2, 0, -1, -1, -1]))
    rec = load("sleep_edf", tmp_path)[0]
    np.testing.assert_array_equal(rec.stages, [0, 1, 2, 0])


def test_scored_epochs_beyond_signal_are_an_error(tmp_path, caplog):
    signals, rates = _noise(4)
    write_psg(tmp_path / "SC4001E0-PSG.edf", signals, rates, 120.0)
    write_hypnogram(tmp_path / "SC4001EC-Hypnogram.edf", np.array([0, 1, 2, 2, 2, 0]))
    with pytest.raises(DataError, match="2 scored epochs lie beyond"):
        load("sleep_edf", tmp_path)[0]
    # a single (incomplete) last epoch is dropped with a warning
    write_hypnogram(tmp_path / "SC4001EC-Hypnogram.edf", np.array([0, 1, 2, 2, 0]))
    with caplog.at_level(logging.WARNING):
        rec = load("sleep_edf", tmp_path)[0]
    assert len(rec.stages) == 4 and "incomplete" in caplog.text


def test_signal_longer_than_scoring_is_marked_unscored(tmp_path):
    signals, rates = _noise(6)
    write_psg(tmp_path / "SC4001E0-PSG.edf", signals, rates, 180.0)
    write_hypnogram(tmp_path / "SC4001EC-Hypnogram.edf", np.array([0, 2, 2]))
    rec = load("sleep_edf", tmp_path)[0]
    np.testing.assert_array_equal(rec.stages, [0, 2, 2, -1, -1, -1])


def test_missing_channel_lists_present_ones(tmp_path):
    signals, rates = _noise(2, channels=("EEG Fpz-Cz",))
    psg = write_psg(tmp_path / "SC4001E0-PSG.edf", signals, rates, 60.0,
                    channels=("EEG Fpz-Cz", "EEG Pz-Oz"))
    write_hypnogram(tmp_path / "SC4001EC-Hypnogram.edf", np.array([0, 2]))
    expected = r"missing required channel.*EOG horizontal.*present.*Pz-Oz"
    with pytest.raises(DataError, match=expected) as e:
        load("sleep_edf", tmp_path)[0]
    assert e.value.path == psg


def test_truncated_and_corrupt_psg_name_the_file(tmp_path):
    signals, rates = _noise(4)
    psg = write_psg(tmp_path / "SC4001E0-PSG.edf", signals, rates, 120.0)
    write_hypnogram(tmp_path / "SC4001EC-Hypnogram.edf", np.array([0, 1, 2, 2]))
    blob = psg.read_bytes()
    psg.write_bytes(blob[: len(blob) - 1000])
    with pytest.raises(DataError, match="truncated or corrupt") as e:
        load("sleep_edf", tmp_path)[0]
    assert e.value.path == psg
    psg.write_bytes(b"not an EDF file" * 10)
    with pytest.raises(DataError, match="SC4001E0-PSG.edf"):
        load("sleep_edf", tmp_path)[0]


def test_flat_and_nan_channels_are_errors(tmp_path):
    signals, rates = _noise(2)
    signals["EOG horizontal"] = np.zeros_like(signals["EOG horizontal"])
    write_sleep_edf(tmp_path, 0, signals, rates, np.array([0, 2]))
    with pytest.raises(DataError, match="'EOG horizontal' is flat"):
        load("sleep_edf", tmp_path)[0]
    data = np.ones((2, 10), np.float32)
    data[1] = np.linspace(0, 1, 10)
    data[0, 3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        check_channels(tmp_path / "x.edf", data, ["a", "b"], ["a"])
    check_channels(tmp_path / "x.edf", data, ["a", "b"], ["b"])


def test_empty_folder_and_unpaired_files(tmp_path):
    with pytest.raises(DataError, match="no Sleep-EDF PSG/hypnogram pairs"):
        load("sleep_edf", tmp_path)
    write_hypnogram(tmp_path / "SC4001EC-Hypnogram.edf", np.array([0, 2]))
    with pytest.raises(DataError, match="no Sleep-EDF"):
        find_nights(tmp_path)


@pytest.mark.real_data
def test_real_hypnograms_parse(shared_data):
    files = sorted((shared_data / "sleep-edf-hypnograms").glob("*-Hypnogram.edf"))
    assert len(files) == 20
    stages = read_hypnogram(files[0])
    # SC4001: 24 h of annotation; the scored part ends at 79,500 s where the "?" tail starts
    assert files[0].name.startswith("SC4001")
    assert len(stages) == 2880 and (stages[:2650] >= 0).all() and (stages[2650:] == -1).all()
    assert all(set(np.unique(read_hypnogram(f))) <= {-1, 0, 1, 2, 3, 4} for f in files)
