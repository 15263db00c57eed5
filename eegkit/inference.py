"""Apply a trained model to new, unscored recordings: hypnograms and event labels.

The library behind ``eegkit predict --ckpt best.ckpt --input night.edf --out predictions/``
(:mod:`eegkit.cli.predict`): :func:`load_model` reads a checkpoint, :func:`predict_file` reads
any EDF/EDF+ file (:func:`input_files`: or every EDF under a folder); no label file is needed.

- A sleep staging checkpoint (:class:`~eegkit.tasks.sleep_staging.SleepStagingTask`): the
  (EEG, EOG) pair is found by name (``--eeg``/``--eog``, the model's training channels, the
  pairs of the registered sleep readers, then any ``EEG``/``EOG`` label), preprocessed by the
  very functions of the training pipeline
  (:func:`eegkit.data.pipelines.sleep.condition_epochs`) and cut into 30-s epochs over the
  whole recording. Epochs are grouped into sequences of the model's ``seq_len``; the last,
  partial sequence is padded and the padding's outputs discarded.
  Written per recording: ``<name>_stages.csv`` (epoch, onset, duration, clock time, stage and
  one probability per class), ``<name>_stages.edf`` (EDF+ annotations ``Sleep stage <S>``) and
  ``<name>_hypnogram.png`` (clock time from the EDF start). An epoch that cannot be scored (a
  flat or non-finite stretch of a channel, or the incomplete last 30 s) keeps its row with an
  empty stage (``Sleep stage ?`` in the EDF+) and is a gap in the hypnogram.
- A window classifier (:class:`~eegkit.tasks.classification.ClassificationTask`, or EEGDM's
  :class:`~eegkit.tasks.eegdm.EEGDMFinetuneTask`, which carries its frozen backbone):
  windows of the model's length every ``--stride`` seconds (default: one window) over the
  whole recording, the last one aligned to the recording's end so that the tail is labelled
  too; the channels and conditioning it was trained with are repeated (the generic ``edf``
  reader's options; TUEV / CHB-MIT: their bipolar montage, derived from referential electrodes
  when a file has no bipolar channels, and their filters and scale; Bonn / UCI ESR: volts to
  µV), then the training split's per-channel standardisation if it had one. A model whose
  reader recorded no units (UCI HAR) needs ``--scale``. Written:
  ``<name>_windows.csv`` and ``<name>_windows.edf``.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import importlib
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import numpy as np
import torch

from eegkit.cache import default_root, publish_atomically
from eegkit.data import dataset_info, list_datasets
from eegkit.data.edf_writer import write_edf
from eegkit.data.pipelines.sleep import SleepConfig, condition_epochs
from eegkit.data.preprocess import condition
from eegkit.data.readers._psg import _header_labels, find_files
from eegkit.data.readers.edf import (
    DEFAULT_PATTERN,
    conditioning,
    cut_windows,
    read_channels,
    resolve_channels,
    start_time,
)
from eegkit.data.types import EPOCH_SEC, STAGES, UNSCORED, DataError, Recording
from eegkit.models import model_info
from eegkit.reports import plot_hypnogram
from eegkit.tasks.classification import ClassificationTask
from eegkit.tasks.eegdm import EMBEDDED_BACKBONE, EEGDMFinetuneTask
from eegkit.tasks.sleep_staging import SleepStagingTask
from eegkit.utils.checkpoints import read_checkpoint

log = logging.getLogger(__name__)

#: Last resort for the (EEG, EOG) pair: the first label that says EEG, the first that says EOG.
ANY_EEG_EOG = ("(?i).*EEG.*", "(?i).*EOG.*")
#: Start written in the EDF+ output when the input's header has none (EDF's clipping date).
_NO_START = datetime.datetime(1985, 1, 1)
#: EDF+ annotation text of a sleep stage, as the Sleep-EDF/HMC hypnograms write them.
_STAGE_TEXT = {"W": "Sleep stage W", "N1": "Sleep stage N1", "N2": "Sleep stage N2",
               "N3": "Sleep stage N3", "REM": "Sleep stage R"}


# --- the model --------------------------------------------------------------------------------
def _task_class(hparams: dict) -> type[L.LightningModule]:
    # LightningCLI writes the task's class path into the hyper-parameters; only eegkit's own
    # tasks are imported from it (a checkpoint must not choose arbitrary code to import)
    path = hparams.get("_class_path") or ""
    if path.startswith("eegkit.tasks."):
        module, name = path.rsplit(".", 1)
        cls = getattr(importlib.import_module(module), name, None)
        if isinstance(cls, type) and issubclass(cls, (ClassificationTask, EEGDMFinetuneTask)):
            return cls
    if "backbone_ckpt" in hparams:  # an EEGDM LFT trained without LightningCLI
        return EEGDMFinetuneTask
    if model_info(hparams["model"]).get("input") == "sequence":
        return SleepStagingTask
    return ClassificationTask


def load_model(ckpt: str | Path, map_location: str | torch.device = "cpu") -> L.LightningModule:
    """The task saved in checkpoint ``ckpt``, in eval mode.

    Works for :class:`~eegkit.tasks.sleep_staging.SleepStagingTask`,
    :class:`~eegkit.tasks.classification.ClassificationTask` and
    :class:`~eegkit.tasks.eegdm.EEGDMFinetuneTask` checkpoints (and subclasses trained through
    LightningCLI). An EEGDM checkpoint reads its frozen backbone from the ``backbone_ckpt``
    path recorded in training, or, when that file does not exist (the checkpoint was moved to
    another machine), from the copy the checkpoint carries. Its ``hparams`` say what input it
    expects: ``n_chans``, ``n_times``, ``sfreq``, ``class_names``, ``ch_names`` and
    ``preprocessing`` (when the datamodule gave them) and, for sleep staging, ``seq_len``.

    Raises
    ------
    DataError
        When ``ckpt`` is missing or is not a Lightning checkpoint of an eegkit task, when
        an EEGDM model's backbone checkpoint is missing and not carried by ``ckpt``, or when
        the model was trained on standardised windows but does not record the statistics.

    Notes
    -----
    Like any Lightning checkpoint, the file is unpickled: load only checkpoints you trust.
    """
    ckpt = Path(ckpt)
    # memory-mapped: load_from_checkpoint below reads the weights
    checkpoint = read_checkpoint(ckpt, mmap=True)
    try:
        hparams = checkpoint["hyper_parameters"]
        cls = _task_class(hparams)
    except Exception as err:  # no hyper-parameters or an unknown task: not a checkpoint of ours
        raise DataError(ckpt, f"not an eegkit task checkpoint ({type(err).__name__}: {err})"
                        ) from None
    data = checkpoint.get("datamodule_hyper_parameters") or {}
    if data.get("normalize") == "channel" and "mean" not in (hparams.get("preprocessing") or {}):
        raise DataError(ckpt, "trained on standardised windows (normalize: channel) but records "
                              "no training statistics (written before eegkit recorded them): "
                              "new recordings cannot be standardised as its training data "
                              "were; retrain it")
    overrides = {}
    backbone = hparams.get("backbone_ckpt")
    if backbone is not None and not Path(backbone).is_file():
        if EMBEDDED_BACKBONE not in checkpoint:
            raise DataError(ckpt, f"its EEGDM backbone checkpoint {backbone} does not exist, "
                                  "and the LFT checkpoint does not hold the frozen backbone "
                                  "(written before eegkit embedded it)")
        overrides["backbone_ckpt"] = str(_extract_backbone(ckpt, checkpoint[EMBEDDED_BACKBONE]))
    model = cls.load_from_checkpoint(ckpt, map_location=map_location, **overrides)
    return model.eval()


def _extract_backbone(ckpt: Path, record: dict) -> Path:
    """The backbone embedded in LFT checkpoint ``ckpt`` as a file that
    :func:`~eegkit.models.eegdm_ssmdp.load_backbone` reads, written once (atomically) under
    the eegkit cache, keyed by the checkpoint's content."""
    with ckpt.open("rb") as f:  # streamed: the checkpoint is never whole in memory
        digest = hashlib.file_digest(f, "sha256").hexdigest()[:16]
    folder = default_root() / "eegdm_backbones" / digest
    if not (folder / "backbone.ckpt").is_file():
        with publish_atomically(folder, complete="backbone.ckpt") as tmp:
            torch.save(record, tmp / "backbone.ckpt")
    return folder / "backbone.ckpt"


def _is_sleep(model: L.LightningModule) -> bool:
    return isinstance(model, SleepStagingTask)


def _class_names(model: L.LightningModule) -> list[str]:
    names = model.hparams.get("class_names")
    if names:
        return list(names)
    n = model.n_classes
    return list(STAGES) if _is_sleep(model) and n == len(STAGES) else [str(i) for i in range(n)]


@torch.inference_mode()
def _probabilities(model: L.LightningModule, x: np.ndarray, batch_size: int) -> np.ndarray:
    # class probabilities through the task's own predict_step (no labels in the batch)
    device = model.device
    out = []
    for i, start in enumerate(range(0, len(x), batch_size)):
        chunk = torch.from_numpy(np.ascontiguousarray(x[start: start + batch_size]))
        out.append(model.predict_step({"x": chunk.to(device)}, i)["proba"].float().cpu())
    n_classes = model.n_classes
    return torch.cat(out).numpy() if out else np.zeros((0, n_classes), np.float32)


# --- segments that cannot be scored -----------------------------------------------------------
def unusable(data: np.ndarray, sfreq: float, starts_s: np.ndarray, length_s: float) -> np.ndarray:
    """Per segment ``[start, start + length)``: does a channel hold a non-finite sample or stay
    constant over it (an electrode off, a clipped amplifier)?"""
    n = int(round(length_s * sfreq))
    first = np.round(np.asarray(starts_s) * sfreq).astype(np.int64)
    bad = np.zeros(len(first), dtype=bool)
    for i, a in enumerate(first):  # one segment at a time: no copy of the whole recording
        seg = data[:, a: a + n]
        bad[i] = not np.isfinite(seg).all() or bool((np.ptp(seg, axis=1) == 0).any())
    return bad


# --- sleep ------------------------------------------------------------------------------------
def sleep_channel_candidates(model: L.LightningModule, eeg: str | None = None,
                             eog: str | None = None) -> list[tuple[str, str]]:
    """(EEG, EOG) names to look for, in order: the ones given, the model's training channels,
    the pairs of the registered sleep readers, then any label saying EEG / EOG."""
    if eeg or eog:
        return [(eeg or ANY_EEG_EOG[0], eog or ANY_EEG_EOG[1])]
    pairs = []
    trained = model.hparams.get("ch_names")
    if trained and len(trained) == 2:
        pairs.append(tuple(trained))
    pairs += [tuple(dataset_info(n)["sleep_channels"]) for n in list_datasets("sleep")]
    return [*dict.fromkeys(pairs), ANY_EEG_EOG]


def _sleep_pair(path: Path, candidates: list[tuple[str, str]]) -> list[str]:
    labels = _header_labels(path)
    if labels is None:
        return list(candidates[0])  # read_channels raises the DataError that says why
    for pair in candidates:
        try:
            return resolve_channels(path, labels, pair)
        except DataError:
            continue
    raise DataError(path, f"no (EEG, EOG) pair found (tried {candidates}); present: {labels}; "
                          "name them with --eeg and --eog")


def _sleep_config(model: L.LightningModule) -> SleepConfig:
    hp = model.hparams
    pre = hp.get("preprocessing")
    if pre:
        config = SleepConfig.from_dict(pre)
    else:
        log.warning("the checkpoint does not record its preprocessing: the defaults of "
                    "SleepConfig at the model's %g Hz are used", hp["sfreq"])
        config = SleepConfig(sfreq=float(hp["sfreq"]))
    if int(round(EPOCH_SEC * config.sfreq)) != int(hp["n_times"]):
        raise ValueError(f"the model takes {hp['n_times']} samples per epoch, not 30 s at "
                         f"{config.sfreq:g} Hz")
    return config


def predict_sleep(model: L.LightningModule, path: Path, eeg: str | None = None,
                  eog: str | None = None, seq_len: int | None = None, batch_size: int = 8,
                  ) -> dict:
    """Stage probabilities of every 30-s epoch of the EDF ``path``.

    Returns
    -------
    dict
        ``onset_s``, ``duration_s`` (one per epoch of the recording, the incomplete last one
        included), ``proba`` ``(n_epochs, n_classes)`` (NaN rows where unscored), ``pred``
        (class index, ``-1`` where unscored), ``channels`` (the labels read), ``start``.
    """
    seq_len = int(seq_len or model.hparams.get("seq_len") or 0)
    if seq_len < 1:
        raise ValueError("the checkpoint does not record seq_len: pass --seq-len")
    config = _sleep_config(model)
    channels = _sleep_pair(path, sleep_channel_candidates(model, eeg, eog))
    data, sfreq = read_channels(path, channels)
    duration = data.shape[1] / sfreq
    n_full = int(math.floor(duration / EPOCH_SEC + 1e-9))
    n_epochs = int(math.ceil(duration / EPOCH_SEC - 1e-9))
    onset = np.arange(n_epochs) * EPOCH_SEC
    bad = np.ones(n_epochs, dtype=bool)  # the incomplete last epoch stays unscored
    bad[:n_full] = unusable(data, sfreq, onset[:n_full], EPOCH_SEC)
    if n_full:
        # non-finite samples would spread through the filters into good epochs
        np.nan_to_num(data, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        rec = Recording(data=data, ch_names=["eeg", "eog"], sfreq=sfreq, subject=path.stem,
                        recording=path.stem, domain="predict", source=path)
        epochs = condition_epochs(rec, ["eeg", "eog"], config, 0, n_full)
    good = np.flatnonzero(~bad)
    proba = np.full((n_epochs, model.n_classes), np.nan, dtype=np.float32)
    if len(good):
        # consecutive scorable epochs in sequences, as in training (a sequence steps over an
        # epoch that was dropped); the last sequence is padded with zeros, outputs discarded
        n_seq = -(-len(good) // seq_len)
        x = np.zeros((n_seq * seq_len, *epochs.shape[1:]), dtype=np.float32)
        x[: len(good)] = epochs[good]
        p = _probabilities(model, x.reshape(n_seq, seq_len, *epochs.shape[1:]), batch_size)
        proba[good] = p[: len(good)]
    pred = np.where(bad, UNSCORED, np.nan_to_num(proba).argmax(1))
    return {"onset_s": onset, "duration_s": np.minimum(EPOCH_SEC, duration - onset),
            "proba": proba, "pred": pred, "channels": channels, "start": start_time(path)}


# --- windows ----------------------------------------------------------------------------------
def predict_windows(model: L.LightningModule, path: Path,
                    channels: Sequence[str] | None = None, stride_s: float | None = None,
                    batch_size: int = 64, scale: float | None = None) -> dict:
    """Class probabilities of windows cut every ``stride_s`` over the EDF ``path``.

    Channels: ``channels``, else those the model was trained on (with the ``edf`` reader's
    aliases). The conditioning is the one its reader recorded in the checkpoint (filters,
    resampling, the factor from volts to the training units), then the training split's
    per-channel standardisation when the model was trained on standardised windows. A model
    whose reader recorded no units (a text table such as UCI HAR) needs ``scale``, the factor
    from volts to its training units: guessing would feed it numbers 1e4–1e6 off.

    Returns
    -------
    dict
        As :func:`predict_sleep`, one row per window.
    """
    hp = model.hparams
    pre = dict(hp.get("preprocessing") or {})
    channels = list(channels or pre.get("channels") or hp.get("ch_names") or [])
    if not channels:
        raise ValueError("the checkpoint does not record its channels: pass --channels")
    if hp.get("n_chans") is not None and len(channels) != hp["n_chans"]:
        raise ValueError(f"the model takes {hp['n_chans']} channels, got {channels}")
    if "reader" in pre and scale is not None:
        raise ValueError(f"the checkpoint records the units of its {pre['reader']!r} data "
                         f"(volts x {pre.get('scale', 1.0):g}): --scale is only for models "
                         "whose reader did not record them")
    if "reader" not in pre:
        if scale is None:
            raise ValueError("the checkpoint does not record the units of its training data "
                             "(its reader reads a table, not volts): pass --scale, the factor "
                             "from volts to those units (1e6 for µV, 1 to keep volts)")
        pre["scale"] = scale
    data, sfreq = read_channels(path, channels, pre.get("aliases"), pre.get("bipolar", False))
    config = conditioning(sfreq, out_sfreq=float(hp["sfreq"]), l_freq=pre.get("l_freq"),
                          h_freq=pre.get("h_freq"), notch=pre.get("notch"),
                          scale=pre.get("scale", 1.0))
    window_s = hp["n_times"] / hp["sfreq"]
    stride_s = float(stride_s or window_s)
    duration = data.shape[1] / sfreq
    if duration < window_s:
        raise DataError(path, f"recording of {duration:g} s is shorter than one "
                              f"{window_s:g}-s window")
    starts = np.arange(int(math.floor((duration - window_s) / stride_s + 1e-9)) + 1) * stride_s
    if starts[-1] + window_s < duration - 1e-9:  # the tail gets a window aligned to the end
        starts = np.append(starts, duration - window_s)
    bad = unusable(data, sfreq, starts, window_s)
    np.nan_to_num(data, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    x = cut_windows(condition(data, sfreq, config), config.sfreq, starts, window_s, path)
    if "mean" in pre:  # the training split's standardisation (WindowDataModule normalize)
        x = (x - np.float32(pre["mean"])[:, None]) / np.float32(pre["std"])[:, None]
    proba = np.full((len(starts), model.n_classes), np.nan, dtype=np.float32)  # after merging
    good = np.flatnonzero(~bad)
    proba[good] = _probabilities(model, x[good], batch_size)
    pred = np.where(bad, UNSCORED, np.nan_to_num(proba).argmax(1))
    return {"onset_s": starts, "duration_s": np.full(len(starts), window_s), "proba": proba,
            "pred": pred, "channels": channels, "start": start_time(path)}


# --- outputs ----------------------------------------------------------------------------------
def write_table(path: Path, result: dict, class_names: list[str], index: str, label: str,
                ) -> Path:
    """One CSV row per epoch/window: index, onset, duration, clock time, label (empty where
    unscored) and one probability column per class."""
    start = result["start"]
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow([index, "onset_s", "duration_s", "clock_time", label,
                      *(f"p_{c}" for c in class_names)])
        for i, (t, d, y, p) in enumerate(zip(result["onset_s"], result["duration_s"],
                                             result["pred"], result["proba"], strict=True)):
            clock = "" if start is None else (
                start + datetime.timedelta(seconds=float(t))).isoformat(timespec="seconds")
            out.writerow([i, f"{t:g}", f"{d:g}", clock, "" if y < 0 else class_names[y],
                          *("" if y < 0 else f"{v:.4f}" for v in p)])
    return path


def write_annotations(path: Path, result: dict, texts: list[str], unscored: str) -> Path:
    """EDF+ annotation file with one annotation per row of ``result`` (``unscored`` where no
    label), starting when the recording starts."""
    annotations = [(float(t), float(d), unscored if y < 0 else texts[y])
                   for t, d, y in zip(result["onset_s"], result["duration_s"], result["pred"],
                                      strict=True)]
    return write_edf(path, [], start=result["start"] or _NO_START, record_duration=1.0,
                     annotations=annotations)


def write_hypnogram_png(path: Path, result: dict, class_names: list[str], title: str) -> Path:
    """Predicted hypnogram with the clock time on the x axis; unscored epochs are gaps."""
    fig = plot_hypnogram(None, result["pred"], stage_names=tuple(class_names),
                         title=title, start=result["start"])
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def predict_file(model: L.LightningModule, path: str | Path, out_dir: str | Path,
                 name: str | None = None, eeg: str | None = None, eog: str | None = None,
                 channels: Sequence[str] | None = None, stride_s: float | None = None,
                 seq_len: int | None = None, batch_size: int | None = None,
                 scale: float | None = None) -> list[Path]:
    """Predict one EDF with ``model`` and write the outputs to ``out_dir``; their paths.

    ``name`` (default: the file's stem) prefixes the output files; ``scale`` is
    :func:`predict_windows`'s.
    """
    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or path.stem
    names = _class_names(model)
    if _is_sleep(model):
        result = predict_sleep(model, path, eeg, eog, seq_len, batch_size or 8)
        paths = [write_table(out_dir / f"{name}_stages.csv", result, names, "epoch", "stage"),
                 write_annotations(out_dir / f"{name}_stages.edf", result,
                                   [_STAGE_TEXT.get(c, c) for c in names], "Sleep stage ?")]
        if names == list(STAGES):
            paths.append(write_hypnogram_png(
                out_dir / f"{name}_hypnogram.png", result, names,
                f"{name} (predicted; channels {', '.join(result['channels'])})"))
        return paths
    result = predict_windows(model, path, channels, stride_s, batch_size or 64, scale)
    return [write_table(out_dir / f"{name}_windows.csv", result, names, "window", "label"),
            write_annotations(out_dir / f"{name}_windows.edf", result, names, "?")]


def input_files(path: str | Path) -> list[tuple[Path, str]]:
    """``(EDF, output name)`` of an input file, or of every EDF with signals under a folder
    (annotation-only EDF+ files, such as hypnograms, are skipped)."""
    path = Path(path)
    if path.is_file():
        return [(path, path.stem)]
    if not path.exists():
        raise DataError(path, "input does not exist")
    files = [f for f in find_files(path, DEFAULT_PATTERN, "EDF files") if _header_labels(f) != []]
    if not files:
        raise DataError(path, "no EDF file with signals")
    return [(f, f.relative_to(path).with_suffix("").as_posix().replace("/", "_")) for f in files]
