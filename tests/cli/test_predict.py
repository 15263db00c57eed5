"""``eegkit predict``: a checkpoint applied to unscored EDF recordings (nothing is trained)."""

from __future__ import annotations

import csv
import datetime

import lightning as L
import mne
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from eegkit.cli.predict import main
from eegkit.data.datamodules.windows import WindowDataModule
from eegkit.data.edf_writer import edf_signals, write_edf
from eegkit.data.pipelines.sleep import SleepConfig
from eegkit.data.types import DataError
from eegkit.inference import load_model, predict_sleep, predict_windows
from eegkit.tasks.classification import ClassificationTask
from eegkit.tasks.sleep_staging import SleepStagingTask
from tests._edf_fixtures import START, noise, write_recording

SEQ_LEN = 3
SFREQ = 100.0


class _SleepData(L.LightningDataModule):
    """Random sequences with the attributes a SleepDataModule gives the task."""

    n_chans, n_outputs, n_times, sfreq = 2, 5, 3000, SFREQ
    seq_len = SEQ_LEN
    class_names = ["W", "N1", "N2", "N3", "REM"]
    preprocessing = {**SleepConfig(seq_len=SEQ_LEN).__dict__}

    def train_dataloader(self):
        x = torch.randn(2, SEQ_LEN, 2, 3000)
        y = torch.randint(0, 5, (2, SEQ_LEN))
        items = [{"x": a, "y": b, "domain": torch.tensor(0)} for a, b in zip(x, y, strict=True)]
        return DataLoader(items, batch_size=2)


def _fit_one_step(task, tmp_path, name, **fit):
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        accelerator="cpu", devices=1)
    trainer.fit(task, **fit)
    path = tmp_path / f"{name}.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def sleep_ckpt(tmp_path_factory):
    """An untrained chambon2018 sequence model whose dimensions come from the datamodule."""
    task = SleepStagingTask("chambon2018_seq", scheduler="none")
    return _fit_one_step(task, tmp_path_factory.mktemp("ckpt"), "sleep", datamodule=_SleepData())


def _unscored_night(path, n_full=8, tail_s=10.0, flat_epoch=2):
    """EEG C3-A2 + EOG left at 100 Hz: ``n_full`` 30-s epochs, a ``tail_s`` partial epoch and
    one epoch where the EOG is flat (electrode off)."""
    n = int((n_full * 30 + tail_s) * SFREQ)
    eeg, eog = noise(n, 0), noise(n, 1)
    eog[int(flat_epoch * 30 * SFREQ): int((flat_epoch + 1) * 30 * SFREQ)] = 5e-6
    return write_recording(path, {"EEG C3-A2": eeg, "EOG left": eog})


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_load_model_returns_the_task_in_eval_mode_with_its_input(sleep_ckpt):
    model = load_model(sleep_ckpt)
    assert isinstance(model, SleepStagingTask) and not model.training
    hp = model.hparams
    assert (hp.n_chans, hp.n_times, hp.sfreq, hp.seq_len) == (2, 3000, SFREQ, SEQ_LEN)
    assert hp.class_names == _SleepData.class_names
    assert hp.preprocessing["l_freq"] == 0.3 and hp.preprocessing["h_freq"] == 35.0


def test_load_model_names_a_file_that_is_no_checkpoint(tmp_path):
    bad = tmp_path / "model.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="model.ckpt: not a readable checkpoint"):
        load_model(bad)
    with pytest.raises(DataError, match="missing.ckpt: no such checkpoint file"):
        load_model(tmp_path / "missing.ckpt")
    foreign = tmp_path / "foreign.ckpt"  # a Lightning checkpoint, but not of an eegkit task
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(DataError, match="foreign.ckpt: not an eegkit task checkpoint"):
        load_model(foreign)


def test_predict_unscored_edf_writes_every_epoch_partial_sequence_included(sleep_ckpt, tmp_path):
    """8 full epochs (one flat: 7 scorable, i.e. sequences of 3 + 3 + a partial 1) and a 10-s
    tail: 9 rows, the flat epoch and the tail without a stage, all others staged."""
    edf = _unscored_night(tmp_path / "night.edf")
    written = main(["--ckpt", str(sleep_ckpt), "--input", str(edf), "--out", str(tmp_path / "o")])
    csv_path, edf_path, png = (tmp_path / "o" / f"night_{s}" for s in
                               ("stages.csv", "stages.edf", "hypnogram.png"))
    assert set(written) == {csv_path, edf_path, png}
    rows = _rows(csv_path)
    n_epochs = int(np.ceil((8 * 30 + 10) / 30))
    assert len(rows) == n_epochs == 9
    stages = [r["stage"] for r in rows]
    assert stages[2] == "" and stages[8] == ""
    assert all(s in _SleepData.class_names for i, s in enumerate(stages) if i not in (2, 8))
    assert float(rows[8]["onset_s"]) == 240.0 and float(rows[8]["duration_s"]) == 10.0
    assert rows[1]["clock_time"] == (START + datetime.timedelta(seconds=30)).isoformat()
    probs = np.array([[float(r[f"p_{c}"]) for c in _SleepData.class_names]
                      for i, r in enumerate(rows) if i not in (2, 8)])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-3)
    ann = mne.read_annotations(edf_path)
    assert len(ann) == n_epochs
    assert list(ann.description).count("Sleep stage ?") == 2
    assert all(d.startswith("Sleep stage ") for d in ann.description)
    np.testing.assert_allclose(ann.onset, np.arange(9) * 30.0)
    assert png.stat().st_size > 0


def test_padded_sequences_map_back_to_their_epochs(sleep_ckpt, tmp_path):
    """chambon2018_seq scores each epoch on its own, so grouping the 7 scorable epochs as
    3 + 3 + 1 (padded) or as one sequence of 7 (no padding) must give the same probabilities
    for every epoch: padding is dropped and each output lands on its own epoch."""
    model = load_model(sleep_ckpt)
    edf = _unscored_night(tmp_path / "a.edf", 8, 0.0)
    padded = predict_sleep(model, edf)
    whole = predict_sleep(model, edf, seq_len=7)
    good = [0, 1, 3, 4, 5, 6, 7]
    assert np.isfinite(padded["proba"][good]).all() and np.isnan(padded["proba"][2]).all()
    np.testing.assert_allclose(padded["proba"], whole["proba"], atol=1e-5)
    assert not np.allclose(padded["proba"][0], padded["proba"][1])  # epochs differ


def test_predict_names_the_channels_to_read_and_explains_when_absent(sleep_ckpt, tmp_path):
    n = int(4 * 30 * SFREQ)
    edf = write_recording(tmp_path / "odd.edf", {"C4": noise(n), "LOC": noise(n, 1),
                                                 "Chin": noise(n, 2)})
    with pytest.raises(DataError, match=r"odd.edf.*no \(EEG, EOG\) pair.*--eeg"):
        main(["--ckpt", str(sleep_ckpt), "--input", str(edf), "--out", str(tmp_path / "o")])
    main(["--ckpt", str(sleep_ckpt), "--input", str(edf), "--out", str(tmp_path / "o"),
          "--eeg", "c4", "--eog", "LO."])
    assert len(_rows(tmp_path / "o" / "odd_stages.csv")) == 4


def test_predict_a_folder_skips_annotation_only_files(sleep_ckpt, tmp_path):
    folder = tmp_path / "study"
    _unscored_night(folder / "s1" / "night.edf", 4, 0.0)
    write_recording(folder / "s1" / "night_scoring.edf", {}, annotations=[(0.0, 30.0, "x")])
    written = main(["--ckpt", str(sleep_ckpt), "--input", str(folder), "--out",
                    str(tmp_path / "o")])
    assert sorted(p.name for p in written) == [
        "s1_night_hypnogram.png", "s1_night_stages.csv", "s1_night_stages.edf"]


# --- window (event) models --------------------------------------------------------------------
def _labelled_recording(path, n_sec=60, seed=0):
    n = int(n_sec * SFREQ)
    ann = [(float(t), 1.0, "spike" if i % 2 else "blink") for i, t in enumerate(range(3, 57, 4))]
    ann.append((0.0, 0.0, "recording start"))  # not in the mapping: ignored
    return write_recording(path, {"EEG FP1-REF": noise(n, seed), "EEG FP2-REF": noise(n, seed + 1)},
                           annotations=ann)


READER_KWARGS = {"channels": ["Fp1", "Fp2"], "aliases": {"Fp1": ["EEG FP1-(REF|LE)"],
                                                         "Fp2": ["EEG FP2-(REF|LE)"]},
                 "mapping": {"blink": "eye", "spike": "spike"}, "window_s": 2.0,
                 "sfreq": 50.0, "l_freq": 0.5, "h_freq": 20.0, "scale": 1e4}


@pytest.fixture(scope="module")
def window_ckpt(tmp_path_factory):
    """EEGNet fitted one step on the ``edf`` reader's windows (the config path of a user)."""
    root = tmp_path_factory.mktemp("labelled")
    for i in range(3):
        _labelled_recording(root / f"r{i}.edf", seed=2 * i)
    dm = WindowDataModule("edf", str(root), protocol="random", batch_size=8,
                          reader_kwargs=READER_KWARGS, cache_dir=str(root / "cache"))
    task = ClassificationTask("eegnet", scheduler="none")
    return _fit_one_step(task, tmp_path_factory.mktemp("ckpt"), "win", datamodule=dm)


def test_window_model_checkpoint_records_channels_and_conditioning(window_ckpt):
    hp = load_model(window_ckpt).hparams
    assert hp.ch_names == ["Fp1", "Fp2"] and hp.class_names == ["eye", "spike"]
    assert (hp.n_times, hp.sfreq) == (100, 50.0)
    assert hp.preprocessing["aliases"] == READER_KWARGS["aliases"]
    assert hp.preprocessing["l_freq"] == 0.5 and hp.preprocessing["scale"] == 1e4


def test_predict_windows_of_a_continuous_unscored_edf(window_ckpt, tmp_path):
    """A 61-s recording, 2-s windows every 2 s: 30 windows plus one aligned to the end."""
    n = int(61 * SFREQ)
    edf = write_recording(tmp_path / "cont.edf", {"EEG FP2-LE": noise(n, 3),
                                                  "EEG FP1-LE": noise(n, 4)})
    main(["--ckpt", str(window_ckpt), "--input", str(edf), "--out", str(tmp_path / "o")])
    rows = _rows(tmp_path / "o" / "cont_windows.csv")
    assert len(rows) == 31
    assert float(rows[-1]["onset_s"]) == 59.0 and float(rows[-2]["onset_s"]) == 58.0
    assert {r["label"] for r in rows} <= {"eye", "spike"}
    ann = mne.read_annotations(tmp_path / "o" / "cont_windows.edf")
    assert len(ann) == 31 and set(ann.description) <= {"eye", "spike"}
    main(["--ckpt", str(window_ckpt), "--input", str(edf), "--out", str(tmp_path / "s"),
          "--stride", "1"])
    assert len(_rows(tmp_path / "s" / "cont_windows.csv")) == 60


def test_hypnogram_has_a_clock_time_axis_and_gaps_for_unscored_epochs():
    import matplotlib.dates as mdates

    from eegkit.reports import plot_hypnogram

    pred = np.array([0, 2, -1, 3, 4, -1])
    fig = plot_hypnogram(None, pred, start=START)
    (line,) = fig.axes[0].lines
    x = mdates.num2date(line.get_xdata())
    assert x[0].replace(tzinfo=None) == START
    assert x[-1].replace(tzinfo=None) == START + datetime.timedelta(seconds=6 * 30)
    y = line.get_ydata()
    assert np.isnan(y[[2, 5]]).all() and np.isfinite(y[[0, 1, 3, 4]]).all()
    assert fig.axes[0].get_ylim() == (-4.5, 0.5)  # one stage predicted keeps every level
    assert "clock time" in fig.axes[0].get_xlabel()


@pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
def test_a_checkpoint_trained_from_a_yaml_config_predicts(tmp_path):
    """The user's path: the ``edf`` reader in a config, train.py, then predict."""
    from eegkit.cli.fit import train

    for i in range(3):
        _labelled_recording(tmp_path / "data" / f"r{i}.edf", seed=2 * i)
    kwargs = "\n".join(f"      {k}: {v!r}".replace("'", '"') for k, v in READER_KWARGS.items())
    config = tmp_path / "edf.yaml"
    config.write_text(f"""
model:
  class_path: eegkit.tasks.classification.ClassificationTask
  init_args: {{model: eegnet, scheduler: none}}
data:
  class_path: eegkit.data.datamodules.windows.WindowDataModule
  init_args:
    dataset: edf
    path: {tmp_path / "data"}
    protocol: random
    batch_size: 8
    cache_dir: {tmp_path / "cache"}
    reader_kwargs:
{kwargs}
trainer: {{max_steps: 1, logger: false, enable_progress_bar: false, accelerator: cpu,
          enable_model_summary: false, limit_val_batches: 1}}
""")
    train(args=["--config", str(config), "--out_dir", str(tmp_path / "run")])
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert type(load_model(ckpt)) is ClassificationTask
    n = int(30 * SFREQ)
    edf = write_recording(tmp_path / "new.edf", {"EEG FP1-REF": noise(n), "EEG FP2-REF": noise(n)})
    main(["--ckpt", str(ckpt), "--input", str(edf), "--out", str(tmp_path / "o")])
    assert len(_rows(tmp_path / "o" / "new_windows.csv")) == 15


def test_unusable_segments_are_non_finite_or_flat_in_a_channel():
    from eegkit.inference import unusable

    x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    x[0, 120] = np.nan  # segment 1
    x[1, 500:600] = 0.3  # segment 5, flat on one channel only
    x[0, 900:1000] = 0.0  # segment 9 flat on channel 0
    bad = unusable(x, 100.0, np.arange(10) * 1.0, 1.0)
    assert np.flatnonzero(bad).tolist() == [1, 5, 9]


def test_input_description_is_filled_from_the_datamodule_even_when_hparams_lack_the_keys():
    """Under LightningCLI the hyper-parameters are the config's arguments: a subclass that does
    not take ``ch_names``/``preprocessing`` (AdaCE) must still build, and gain them."""
    from types import SimpleNamespace

    task = ClassificationTask("eegnet", n_chans=2, n_outputs=2, n_times=128, sfreq=64.0)
    for key in ("ch_names", "preprocessing", "class_names"):
        del task.hparams[key]
    dm = SimpleNamespace(ch_names=["C3", "C4"], class_names=["a", "b"], preprocessing=None)
    task._trainer = SimpleNamespace(datamodule=dm)
    task.configure_model()
    assert task.hparams["ch_names"] == ["C3", "C4"] and task.hparams["class_names"] == ["a", "b"]


def test_predict_windows_of_a_model_with_merged_classes(window_ckpt, tmp_path):
    """Three original classes merged into two: one probability column per predicted class."""
    trained = load_model(window_ckpt).hparams
    task = ClassificationTask("eegnet", n_chans=2, n_outputs=3, n_times=100, sfreq=50.0,
                              merge_classes=[0, 1, 1], class_names=["rest", "event"],
                              ch_names=trained.ch_names, preprocessing=trained.preprocessing)
    edf = write_recording(tmp_path / "m.edf", {"EEG FP1-REF": noise(int(10 * SFREQ), 5),
                                               "EEG FP2-REF": noise(int(10 * SFREQ), 6)})
    result = predict_windows(task.eval(), edf)
    assert result["proba"].shape == (5, 2)
    np.testing.assert_allclose(result["proba"].sum(1), 1.0, rtol=1e-5)


# --- units and standardisation of table datasets --------------------------------------------
def _bonn_model(tmp_path, normalize):
    """EEGNet fitted one step on 2-s chunks of a two-set Bonn folder (integer µV)."""
    from tests.data.readers.test_window_readers import write_bonn_set

    rng = np.random.default_rng(0)
    for k, letter in enumerate("ZS"):
        write_bonn_set(tmp_path / "bonn" / letter, letter,
                       (60 * (k + 1) * rng.standard_normal((4, 4097)) + 30).round())
    dm = WindowDataModule("bonn", str(tmp_path / "bonn"), protocol="group", batch_size=8,
                          val_fraction=0.25, test_fraction=0.25, normalize=normalize,
                          reader_kwargs={"sets": "ZS", "chunk": 348},
                          cache_dir=str(tmp_path / "cache"))
    task = ClassificationTask("eegnet", scheduler="none")
    return load_model(_fit_one_step(task, tmp_path, f"bonn_{normalize}", datamodule=dm)), dm


def _edf_at_bonn_rate(path):
    """A 100-s EDF at Bonn's 173.61 Hz (whole records: no resampling) and its µV samples."""
    uv = (120 * np.random.default_rng(1).standard_normal(17361) - 80).astype(np.float32)
    edf = write_edf(path, edf_signals({"EEG": uv * 1e-6}, {"EEG": 173.61}, {},
                                      record_duration=100.0),
                    start=START, record_duration=100.0)
    return edf, uv


def _inputs(model, edf, **kw):
    """What ``model`` receives when predicting ``edf`` in 348-sample windows."""
    seen = []
    hook = model.register_forward_pre_hook(lambda _, args: seen.append(args[0].clone()))
    result = predict_windows(model, edf, stride_s=348 / 173.61, **kw)
    hook.remove()
    assert result["proba"].shape == (50, 2)  # 49 windows and one aligned to the end
    return torch.cat(seen)[:49].numpy()


def test_a_bonn_model_records_its_units_and_standardisation_and_predict_repeats_them(tmp_path):
    """Bonn files are integer µV and the model saw windows standardised with the training
    split's statistics: an EDF (read in volts) must reach it as the same numbers."""
    model, dm = _bonn_model(tmp_path, "channel")
    pre = model.hparams.preprocessing
    assert (pre["reader"], pre["scale"]) == ("bonn", 1e6)
    train = dm.windows.X[np.sort(dm.split_index["train"])].astype(np.float64)
    np.testing.assert_allclose(pre["mean"], [train.mean()], rtol=1e-5)
    np.testing.assert_allclose(pre["std"], [train.std()], rtol=1e-5)

    edf, uv = _edf_at_bonn_rate(tmp_path / "new.edf")
    # what the model saw: the µV windows standardised as in training (EDF: 16-bit rounding)
    expected = (uv[: 49 * 348].reshape(49, 1, 348) - pre["mean"][0]) / pre["std"][0]
    np.testing.assert_allclose(_inputs(model, edf), expected, atol=1e-3)


def test_a_standardised_model_without_its_statistics_is_refused(tmp_path):
    """A checkpoint trained on standardised windows before the statistics were recorded
    cannot be fed what it was trained on: refused when loaded, naming the file."""
    _bonn_model(tmp_path, "channel")
    saved = torch.load(tmp_path / "bonn_channel.ckpt", weights_only=False)
    assert saved["datamodule_hyper_parameters"]["normalize"] == "channel"
    for key in ("mean", "std"):
        del saved["hyper_parameters"]["preprocessing"][key]
    old = tmp_path / "before_statistics.ckpt"
    torch.save(saved, old)
    with pytest.raises(DataError, match=r"before_statistics.ckpt: trained on standardised "
                                        r"windows \(normalize: channel\) but records no"):
        load_model(old)


def test_predict_asks_for_the_units_a_checkpoint_does_not_record(tmp_path):
    """A model of a table of unknown units (no reader record) cannot be given volts silently;
    --scale supplies the factor, and is refused where the checkpoint records its own."""
    model, _ = _bonn_model(tmp_path, "none")
    edf = write_recording(tmp_path / "new.edf", {"EEG": noise(10 * 200, 2, 50e-6)},
                          sfreq=200.0)
    with pytest.raises(ValueError, match="records the units of its 'bonn' data.*--scale"):
        predict_windows(model, edf, scale=1e6)
    saved = torch.load(tmp_path / "bonn_none.ckpt", weights_only=False)
    saved["hyper_parameters"]["preprocessing"] = None  # as a UCI HAR model's
    ckpt = tmp_path / "no_units.ckpt"
    torch.save(saved, ckpt)
    with pytest.raises(ValueError, match="does not record the units.*--scale"):
        main(["--ckpt", str(ckpt), "--input", str(edf), "--out", str(tmp_path / "o")])
    main(["--ckpt", str(ckpt), "--input", str(edf), "--out", str(tmp_path / "o"),
          "--scale", "1e6"])
    assert len(_rows(tmp_path / "o" / "new_windows.csv")) == 5
    # the factor reaches the model: volts x 1e6 are the µV it was trained on
    bonn_rate, uv = _edf_at_bonn_rate(tmp_path / "bonn_rate.edf")
    seen = _inputs(load_model(ckpt), bonn_rate, scale=1e6)
    np.testing.assert_allclose(seen, uv[: 49 * 348].reshape(49, 1, 348), atol=0.05)
