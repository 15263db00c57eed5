"""EEGDM on the real Bonn epilepsy data: pretrained vs random-init backbone vs EEGNet.

Protocol (all methods see exactly the same windows and splits):

- every 4,097-sample segment is cut into windows of 870 samples (5.01 s at 173.61 Hz, i.e. 5
  one-second pools of 174 samples, like a 5-s TUEV sample) starting every ``--step`` samples
  (default 290: 12 overlapping windows; 870 gives the 4 disjoint ones). The split is by
  **segment** (60/20/20 %, stratified by set), so the windows of one segment stay on one side;
  every split seed gives another partition, and results are mean ± sd over split seeds. The split
  seed is also the seed of every model's initialisation and training on that split.
- two test figures: per **window**, and per **segment** (the mean class probabilities of the
  segment's windows decide; 100 test segments, 20 per set).
- **EEGDM (pretrained)**: per split, the SSMDP backbone is pretrained by diffusion on that
  split's *training* segments only (random 512-sample crops of their 4 disjoint windows, S4D
  rate 200/173.61, no resampling), then frozen; its EMA weights give float16 latents (cached
  on disk) of all windows, on which the LFT is trained. A backbone checkpoint already in
  ``--out`` with the same settings is reused, so an interrupted run resumes there.
- **EEGDM (random init)**: the same backbone, initialised with the same seed but never
  trained (a checkpoint written after 0 diffusion steps), the same latent extraction and the
  same LFT training. Pretrained minus random init is the pretraining gain.
- **EEGNet**: braindecode EEGNet (eegkit ClassificationTask) on the windows, channel
  standardised with training statistics.
- two tasks: the five sets Z/O/N/F/S, and seizure (S) vs rest. Every model is trained with
  the paper's stopping rule: at most ``--max-epochs`` (50), stopped once validation κ has not
  improved for ``--patience`` (3) epochs, counted from epoch ``--start-epoch`` (20); it is
  tested with its best-validation-κ weights (any epoch).
- ``--balanced`` (for seizure vs rest, 1 seizure segment in 5): the spec's binary seizure
  protocol (its CHB-MIT setting): the LFT trains one logit with BCE, the positive class weighted
  by negatives / positives of the training split; EEGNet's cross-entropy weighs each class by
  ``n / (2 n_c)``; early stopping and the kept checkpoint follow validation balanced accuracy
  instead of κ.
- ``--refit``: every model is trained once more from the same initialisation on the training
  and validation segments together (80 % of the data, ``val_fraction=0``; the test split is
  unchanged) and stopped after the epoch that its run with validation chose (the schedule
  still spans ``--max-epochs``); it is tested at that epoch, so no test window chooses
  anything. The backbone is not retrained: it has seen the training segments only. Printed
  as extra rows ("..., refit on train + val").
- ``--seeds N``: every classifier (LFT, EEGNet; and its refit) is trained with N seeds per
  split: the split seed, then split + 100, split + 200, ... (the split, the backbone and the
  windows stay those of the split seed). The method rows are then mean ± sd over all split ×
  seed runs, and an extra row per method scores each split's ensemble: the mean test
  probabilities of its N models ("..., ensemble of N seeds"; mean ± sd over splits).

CPU-sized: the backbone is ``--width`` wide with state ``--d-state`` and ``--blocks`` deep
(default 64, 64 and 6: 398k parameters, not the paper's 5.9M; 142k at 32, 32 and 6; 1.2M at
the paper's 20 blocks; 1.35M at the paper's width and state, 128), pretrained for
``--pretrain-steps`` steps (16 windows a batch, 512-sample crops, EMA 0.99); the LFT is as
wide as the backbone, with 4 fusion tokens and 2 classification blocks (``--lft cpu``; ``--lft
paper`` gives the spec's 16 fusion tokens, 8 heads, FFN 4x and 8 classification blocks at the
backbone's width), one-cycle schedule over ``--max-epochs`` peaking at ``--lft-lr`` (1e-3).
Not the paper's setting.

Usage::

    export EEGKIT_BONN=/path/to/bonn                 # folder of Z/O/N/F/S zips (or --data)
    nice -n 10 python benchmarks/eegdm_bonn.py --threads 1          # the full tables
    python benchmarks/eegdm_bonn.py --quick                          # a ~2-minute check
    python benchmarks/eegdm_bonn.py --only random --task seizure     # rerun one row
    python benchmarks/eegdm_bonn.py --step 870                       # disjoint windows only
    python benchmarks/eegdm_bonn.py --backbones-only --pretrain-steps 4500   # pretraining only
    python benchmarks/eegdm_bonn.py --task 5class --refit     # + refits on train + val
    python benchmarks/eegdm_bonn.py --task 5class --seeds 3   # + 3-seed ensembles

Each backbone's line gives its diffusion loss on the split's validation windows (fixed crops,
steps and noise), to see whether more pretraining steps still lower it.

Every table row is printed with the command that reproduces it.

Each split's results are kept in ``<out>/split<s>/<task>/results.json`` (with the settings
that made them), so splits run as separate processes (one thread each, side by side) make one
table afterwards: ``--report`` prints it from those files without training anything::

    python benchmarks/eegdm_bonn.py --task 5class --splits 0 &   # likewise 1 and 2
    python benchmarks/eegdm_bonn.py --task 5class --report       # mean ± sd over 0, 1, 2
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shlex
import shutil
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torchmetrics.functional.classification import binary_auroc as auroc

from eegkit.data.datamodules.windows import WindowDataModule
from eegkit.metrics import classification_metrics, group_mean, mean_sd, seed_summary
from eegkit.reports import format_seed_table
from eegkit.tasks.classification import ClassificationTask
from eegkit.tasks.eegdm import DelayedEarlyStopping, EEGDMFinetuneTask, EEGDMPretrainTask
from eegkit.tasks.eegdm_latents import EEGDMLatentDataModule
from eegkit.tasks.stopping import StopAfterEpoch
from eegkit.utils.checkpoints import read_checkpoint

REPO = Path(__file__).resolve().parents[1]
CHUNK = 870
SPLIT = {"protocol": "group", "val_fraction": 0.2, "test_fraction": 0.2}
BACKBONE = {"width": 64, "n_blocks": 6, "d_state": 64, "cond_dim": 128}
SAVE_EVERY = 100  # pretraining steps between the backbone checkpoint's interim saves
LFT = {  # --lft name -> LFT shape (its width is the backbone's; FFN width as a multiple)
    "cpu": {"n_fusion_tokens": 4, "n_heads": 4, "ffn_ratio": 2, "n_cls_blocks": 2},
    "paper": {"n_fusion_tokens": 16, "n_heads": 8, "ffn_ratio": 4, "n_cls_blocks": 8},
}
TASKS = {  # --task name -> (title, merge_classes, class names)
    "5class": ("five-class Z/O/N/F/S", None, None),
    "seizure": ("seizure (S) vs rest", [0, 0, 0, 0, 1], ["rest", "seizure"]),
}
METHODS = {  # --only name -> table row
    "pretrained": "EEGDM, pretrained backbone",
    "random": "EEGDM, random-init backbone",
    "eegnet": "EEGNet (braindecode)",
}
REFIT = "-refit"  # suffix of a method's refit row
ENSEMBLE = "-ensemble"  # suffix of the row of a method's seed ensemble
SEED_STRIDE = 100  # classifier seed k of split s: s + 100 k
METRICS = ("kappa", "bacc", "weighted_f1", "auroc")
SEGMENT_METRICS = ("segment_kappa", "segment_bacc", "segment_weighted_f1")
#: the options that decide a split's results (not where or how fast they are computed)
RESULT_SETTINGS = ("data", "pretrain_steps", "pretrain_lr", "width", "d_state", "blocks", "lft",
                   "lft_lr", "step", "max_epochs", "patience", "start_epoch", "balanced",
                   "seeds", "quick")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def window_datamodule(args, split: int, batch_size: int, step: int | None = None,
                      **kw) -> WindowDataModule:
    """Bonn windows of split seed ``split`` (the five sets; tasks merge them), ``step`` apart
    (default: the disjoint windows)."""
    kw = {"batch_size": batch_size, "reader_kwargs": chunking(step), "seed": split,
          **SPLIT, **kw}
    return WindowDataModule("bonn", str(args.data), **kw)


def latent_datamodule(args, split: int, ckpt: Path, **kw) -> EEGDMLatentDataModule:
    """The ``--step`` windows of split ``split`` as backbone latents of ``ckpt``."""
    return EEGDMLatentDataModule(str(ckpt), "bonn", str(args.data), batch_size=32,
                                 reader_kwargs=chunking(args.step), seed=split,
                                 **{**SPLIT, **kw})


def chunking(step: int | None) -> dict[str, int]:
    """The Bonn reader's arguments for windows starting every ``step`` samples."""
    return {"chunk": CHUNK} if step in (None, CHUNK) else {"chunk": CHUNK, "step": step}


# --------------------------------------------------------------------------------------------
# Backbones
# --------------------------------------------------------------------------------------------


def backbone_checkpoint(args, split: int, steps: int, path: Path) -> float | None:
    """Write a backbone checkpoint after ``steps`` diffusion steps; return the seconds taken.

    The backbone is initialised with seed ``split`` and trained on that split's training
    windows only. ``steps=0`` writes the untrained initialisation (the random-init control):
    the same architecture, seed and input transform, so everything downstream is identical.
    A checkpoint already at ``path`` with the same settings is kept (returns ``None``); one of
    the same settings but fewer steps is trained on to ``steps`` (the learning rate is
    constant, so this is the longer run continued, not restarted). Training also writes
    ``path`` every ``SAVE_EVERY`` steps, so an interrupted pretraining (the paper-size backbone
    takes over an hour here) continues from its last save; the seconds returned are this
    process's.
    """
    start = time.perf_counter()
    dm = window_datamodule(args, split, batch_size=16)
    L.seed_everything(split)
    backbone = {**BACKBONE, "width": args.width, "d_state": args.d_state,
                "n_blocks": args.blocks}
    task = EEGDMPretrainTask(backbone, n_chans=dm.n_chans, sfreq=dm.sfreq, scale=0.01,
                             crop=512, lr=args.pretrain_lr, ema_start=50, ema_every=1,
                             ema_decay=0.99)
    done = backbone_steps(path, task, dm)
    if done == steps:
        return None
    resume = path if done is not None and 0 < done < steps else None
    if resume is not None:
        print(f"[eegdm_bonn] split {split}: continuing {path} from step {done} to {steps}",
              flush=True)
    trainer = L.Trainer(default_root_dir=path.parent, accelerator="cpu", max_steps=steps,
                        gradient_clip_val=1.0, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False,
                        limit_val_batches=0, num_sanity_val_steps=0,
                        callbacks=[SaveEvery(path, SAVE_EVERY)])
    trainer.fit(task, dm, ckpt_path=resume)
    save_atomically(trainer, path)
    return time.perf_counter() - start


class SaveEvery(L.Callback):
    """Write the training state to ``path`` every ``every`` optimiser steps."""

    def __init__(self, path: Path, every: int):
        self.path, self.every = path, every

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step % self.every == 0 and trainer.global_step < trainer.max_steps:
            save_atomically(trainer, self.path)


def save_atomically(trainer: L.Trainer, path: Path) -> None:
    write_atomically(path, trainer.save_checkpoint)


def write_atomically(path: Path, write) -> None:
    """``write(partial)`` a sibling file, then rename it to ``path``: an interrupted write
    leaves the previous file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    write(partial)
    os.replace(partial, path)


def backbone_steps(path: Path, task: L.LightningModule, dm: L.LightningDataModule
                   ) -> int | None:
    """The diffusion steps done by the backbone checkpoint at ``path`` if it has ``task``'s
    settings and was trained on ``dm``'s data and split; ``None`` otherwise."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):
        return None  # absent, or cut short by an interrupted write
    data = {**saved.get("datamodule_hyper_parameters", {}), "path": None}
    same = (saved.get("hyper_parameters") == dict(task.hparams)
            and data == {**dm.hparams, "path": None}
            and Path(saved["datamodule_hyper_parameters"]["path"]).resolve()
            == Path(dm.hparams.path).resolve())
    return saved.get("global_step") if same else None


def validation_loss(args, split: int, ckpt: Path) -> float:
    """The diffusion loss of the EMA backbone in ``ckpt`` on split ``split``'s validation
    windows, with fixed crops, steps and noise: how far pretraining has converged."""
    dm = window_datamodule(args, split, batch_size=16)
    task = EEGDMPretrainTask.load_from_checkpoint(ckpt, map_location="cpu")
    L.seed_everything(split, verbose=False)  # the same crops for every checkpoint
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False)
    return float(trainer.validate(task, dm, verbose=False)[0]["val/loss"])


def extract_latents(args, split: int, ckpt: Path) -> float:
    """Compute (and cache) the latents of all windows; return the seconds taken."""
    start = time.perf_counter()
    latent_datamodule(args, split, ckpt).setup()
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------
# Training to early stopping
# --------------------------------------------------------------------------------------------


def fit_and_test(args, task, dm, out: Path, refit_epochs: int | None = None
                 ) -> dict[str, float]:
    """Train to early stopping on validation κ (``--balanced``: balanced accuracy); test
    metrics of the best epoch. With ``refit_epochs`` (``dm`` has no validation split): train
    exactly that many epochs of the ``--max-epochs`` schedule and test the last.

    Adds ``epochs`` (epochs run) and ``best_epoch`` (1-based) to the metrics.
    """
    shutil.rmtree(out, ignore_errors=True)
    if refit_epochs is None:
        monitor = "val/bacc" if args.balanced else "val/kappa"
        best = ModelCheckpoint(out, monitor=monitor, mode="max", filename="best")
        loop = {"callbacks": [DelayedEarlyStopping(monitor, mode="max", patience=args.patience,
                                                   start_epoch=args.start_epoch), best]}
    else:  # no validation data: stop after the chosen epoch and test the weights it ends with
        loop = {"callbacks": [StopAfterEpoch(refit_epochs - 1)], "enable_checkpointing": False,
                "limit_val_batches": 0, "num_sanity_val_steps": 0}
    trainer = L.Trainer(default_root_dir=out, accelerator="cpu", max_epochs=args.max_epochs,
                        logger=False, enable_progress_bar=False, enable_model_summary=False,
                        **loop)
    trainer.fit(task, dm)
    ckpt_path = "best" if refit_epochs is None else None
    result = trainer.test(task, dm, ckpt_path=ckpt_path, verbose=False)[0]
    result = {k.removeprefix("test/"): float(v) for k, v in result.items()}
    result["epochs"] = trainer.current_epoch
    # memory-mapped: only the epoch is read, not the weights that test() just used
    result["best_epoch"] = refit_epochs or read_checkpoint(
        best.best_model_path, mmap=True)["epoch"] + 1
    return result


def refit_split(refit_epochs: int | None) -> dict[str, float]:
    """The datamodule overrides of a refit (train + val, no validation split); none else."""
    return {} if refit_epochs is None else {"val_fraction": 0.0}


def test_predictions(task, dm: WindowDataModule
                     ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Class probabilities, (merged) labels and segment names of the test windows of ``dm``
    (windows or their latents), in split order."""
    probs, ys = [], []
    task.eval()
    with torch.no_grad():
        for i, batch in enumerate(dm.test_dataloader()):
            out = task.predict_step(batch, i)  # labels merged by the task
            probs.append(out["proba"])
            ys.append(out["y_true"])
    return torch.cat(probs), torch.cat(ys), dm.windows.group[dm.split_index["test"]]


def prediction_scores(proba: torch.Tensor, y: torch.Tensor, segments: np.ndarray
                      ) -> dict[str, float]:
    """Per-window and per-segment test metrics (the mean probabilities of a segment's windows
    decide) and, for two classes, the per-window AUROC."""
    n_classes, keys = proba.shape[1], ("kappa", "bacc", "weighted_f1")
    windows = classification_metrics(n_classes)(proba.argmax(-1), y)
    seg_proba, seg_y, _ = group_mean(proba, y, segments)
    per_segment = classification_metrics(n_classes)(seg_proba.argmax(-1), seg_y)
    result = {k: float(windows[k]) for k in keys}
    result.update({f"segment_{k}": float(per_segment[k]) for k in keys})
    if n_classes == 2:
        result["auroc"] = float(auroc(proba[:, 1], y))
    return result


def scored(result: dict[str, float], predictions: tuple) -> tuple[dict[str, float], tuple]:
    """A run's metrics with its prediction scores added (the window metrics of the test loop
    kept), and its test predictions (for seed ensembles). The two must agree on κ: an ensemble
    of predictions that are not the tested models' would be meaningless."""
    scores = prediction_scores(*predictions)
    if abs(scores["kappa"] - result["kappa"]) > 1e-4:
        raise RuntimeError(f"test loop κ {result['kappa']:.4f} but predictions give "
                           f"{scores['kappa']:.4f}: the predictions are not the tested model's")
    return {**scores, **result}, predictions


def run_eegdm(args, split: int, ckpt: Path, task_name: str, out: Path,
              refit_epochs: int | None, seed: int) -> tuple[dict[str, float], tuple]:
    """The LFT on the latents of backbone ``ckpt`` (``refit_epochs``: on train + val), seeded
    with ``seed``; its metrics and test predictions."""
    _, merge, names = TASKS[task_name]
    dm = latent_datamodule(args, split, ckpt, **refit_split(refit_epochs))
    L.seed_everything(seed)
    binary = {"loss": "bce", "pos_weight": "auto"} if args.balanced else {}
    task = EEGDMFinetuneTask(str(ckpt), lft_kwargs=lft_kwargs(args), merge_classes=merge,
                             class_names=names, lr=args.lft_lr, ema_decay=0.99, ema_start=0,
                             ema_every=1, **binary)
    result = fit_and_test(args, task, dm, out, refit_epochs)
    return scored(result, test_predictions(task, dm))


def ensemble_scores(predictions: list[tuple]) -> dict[str, float]:
    """The scores of the mean test probabilities of several models of one split."""
    probas, ys, segments = zip(*predictions, strict=True)
    if not all(torch.equal(y, ys[0]) for y in ys):
        raise ValueError("the models of an ensemble were tested on different windows")
    return prediction_scores(torch.stack(probas).mean(0), ys[0], segments[0])


def lft_kwargs(args) -> dict[str, int]:
    """The LFT's constructor arguments for ``--lft`` at the backbone's ``--width``."""
    shape = dict(LFT[args.lft])
    shape["ffn_dim"] = shape.pop("ffn_ratio") * args.width
    return shape


def run_eegnet(args, split: int, task_name: str, out: Path, refit_epochs: int | None,
               seed: int) -> tuple[dict[str, float], tuple]:
    """braindecode EEGNet on the channel-standardised windows (``refit_epochs``: on
    train + val), seeded with ``seed``; its metrics and test predictions."""
    _, merge, names = TASKS[task_name]
    dm = window_datamodule(args, split, batch_size=32, step=args.step, normalize="channel",
                           **refit_split(refit_epochs))
    L.seed_everything(seed)
    task = ClassificationTask("eegnet", lr=1e-3, weight_decay=1e-4, merge_classes=merge,
                              class_names=names,
                              class_weights="balanced" if args.balanced else None)
    result = fit_and_test(args, task, dm, out, refit_epochs)
    return scored(result, test_predictions(task, dm))


# --------------------------------------------------------------------------------------------
# Results kept per split
# --------------------------------------------------------------------------------------------


def results_path(args, split: int, task_name: str) -> Path:
    return args.out / f"split{split}" / task_name / "results.json"


def result_settings(args) -> dict:
    """The values of :data:`RESULT_SETTINGS` (the data folder resolved)."""
    settings = {k: getattr(args, k) for k in RESULT_SETTINGS}
    settings["data"] = str(Path(args.data).resolve())
    return settings


def read_results(args, split: int, task_name: str) -> dict:
    """The rows kept for ``split`` / ``task_name`` (``{}`` when none, or kept with other
    settings); each row is ``{"runs": [metrics per seed], "seconds": training time}``."""
    path = results_path(args, split, task_name)
    if not path.is_file():
        return {}
    kept = json.loads(path.read_text())
    return kept["rows"] if kept["settings"] == result_settings(args) else {}


def save_results(args, split: int, task_name: str, rows: dict) -> None:
    """Add ``rows`` to the split's kept results (other settings' results are replaced); the
    file is replaced atomically."""
    record = {"settings": result_settings(args),
              "rows": {**read_results(args, split, task_name), **rows}}
    write_atomically(results_path(args, split, task_name),
                     lambda partial: partial.write_text(json.dumps(record, indent=1)))


def empty_tables(args, rows: list[str]) -> tuple[dict, dict]:
    """Empty ``results`` (runs per task and row) and ``timings`` (seconds per task and
    trained row) as :func:`print_tables` takes them."""
    results = {t: {m: [] for m in rows} for t in args.task}
    timings = {(t, m): 0.0 for t in args.task for m in rows if not m.endswith(ENSEMBLE)}
    return results, timings


def add_split(results: dict, timings: dict, task_name: str, rows: dict) -> None:
    """Append one split's ``rows`` (as :func:`save_results` keeps them) to the ``results``
    and ``timings`` that :func:`print_tables` takes."""
    for m, row in rows.items():
        results[task_name][m] += row["runs"]
        if (task_name, m) in timings:  # ensembles train nothing of their own
            timings[task_name, m] += row["seconds"]


def kept_results(args, rows: list[str]) -> tuple[dict, dict]:
    """``results`` and ``timings`` as :func:`print_tables` takes them, from the files of
    every split and task asked for; exits naming the first file that lacks a row."""
    results, timings = empty_tables(args, rows)
    for split in args.splits:
        for task_name in args.task:
            kept = read_results(args, split, task_name)
            missing = [m for m in rows if m not in kept]
            if missing:
                path = results_path(args, split, task_name)
                why = ("kept with other settings" if path.is_file() and not kept
                       else f"no row {', '.join(missing)}")
                raise SystemExit(f"{path}: {why}; run split {split} with these options "
                                 "(without --report) first")
            add_split(results, timings, task_name, {m: kept[m] for m in rows})
    return results, timings


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def title(method: str, seeds: int = 1) -> str:
    """The table row of ``method`` (a name of :data:`METHODS`, possibly with the refit and
    then the ensemble suffix; ``seeds``: the ensemble's size)."""
    single = method.removesuffix(ENSEMBLE)
    base = single.removesuffix(REFIT)
    return (METHODS[base] + (", refit on train + val" if single != base else "")
            + (f", ensemble of {seeds} seeds" if method != single else ""))


def command_for(args, method: str, task_name: str) -> str:
    """The command line that reruns one table row (a refit row reruns its run too)."""
    parts = ["python", "benchmarks/eegdm_bonn.py", "--data", str(args.data),
             "--splits", *map(str, args.splits), "--max-epochs", str(args.max_epochs),
             "--patience", str(args.patience), "--start-epoch", str(args.start_epoch),
             "--pretrain-steps", str(args.pretrain_steps),
             "--pretrain-lr", str(args.pretrain_lr), "--width", str(args.width),
             "--d-state", str(args.d_state), "--blocks", str(args.blocks),
             "--step", str(args.step),
             "--threads", str(args.threads), "--lft", args.lft, "--lft-lr", str(args.lft_lr),
             "--only", method.removesuffix(ENSEMBLE).removesuffix(REFIT), "--task", task_name]
    if args.seeds > 1:
        parts += ["--seeds", str(args.seeds)]
    flags = [f for f, on in (("--balanced", args.balanced), ("--quick", args.quick),
                             ("--refit", REFIT in method)) if on]
    return shlex.join(parts + flags)


def print_tables(args, results, timings) -> None:
    """Per task: metrics mean ± sd over splits, epochs, wall time, the pretraining gain."""
    print(f"\nBonn, split by segment (870-sample windows every {args.step} samples), test "
          f"set, mean ± sd over split seeds {args.splits}"
          + (f" × {args.seeds} classifier seeds (ensembles: over splits)" if args.seeds > 1
             else "") + " (%); backbone pretraining "
          f"{args.pretrain_steps} steps; "
          f"(width {args.width}, state {args.d_state}, {args.blocks} blocks); LFT {args.lft} "
          f"({lft_kwargs(args)}), peak learning rate {args.lft_lr}; "
          + ("class-balanced losses, early stopping on validation BAcc, " if args.balanced
             else "early stopping on validation κ, ")
          + f"patience {args.patience} from epoch {args.start_epoch}, at most "
          f"{args.max_epochs} epochs:")
    for task_name, by_method in results.items():
        print(f"\n{TASKS[task_name][0]}\n")
        metrics = METRICS if TASKS[task_name][1] is not None else METRICS[:-1]
        summaries = {title(m, args.seeds): seed_summary(r) for m, r in by_method.items()}
        print("per window:\n")
        print(format_seed_table(summaries, metrics))
        print("\nper segment (the mean probabilities of its windows decide):\n")
        print(format_seed_table(summaries, SEGMENT_METRICS))
        print("\n| method | epochs run (best epoch) per run | training wall time, all runs |")
        print("|---|---|---|")
        for m, runs in by_method.items():
            if m.endswith(ENSEMBLE):
                continue
            epochs = ", ".join(f"{r['epochs']} ({r['best_epoch']})" for r in runs)
            print(f"| {title(m)} | {epochs} | {timings[task_name, m]:.0f} s |")
        for suffix in ("", REFIT, ENSEMBLE, REFIT + ENSEMBLE):
            pre, rand = by_method.get("pretrained" + suffix), by_method.get("random" + suffix)
            if pre is None or rand is None:
                continue
            gains = []
            for k in (*metrics, "segment_kappa"):
                mean, sd = mean_sd([p[k] - r[k] for p, r in zip(pre, rand, strict=True)])
                gains.append(f"{k} {100 * mean:+.2f} ± {100 * sd:.2f}")
            what = {"": "", REFIT: " of the refits", ENSEMBLE: " of the ensembles",
                    REFIT + ENSEMBLE: " of the refit ensembles"}[suffix]
            print(f"\npretraining gain{what} (pretrained − random init, per run, mean ± sd): "
                  + "; ".join(gains))
        print()
        for m in by_method:
            print(f"  {title(m, args.seeds)}: {command_for(args, m, task_name)}")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=os.environ.get("EEGKIT_BONN"),
                   help="Bonn folder of the Z/O/N/F/S zips (default: $EEGKIT_BONN)")
    p.add_argument("--out", type=Path, default=REPO / "runs" / "eegdm_bonn")
    p.add_argument("--splits", type=int, nargs="+", default=[0, 1, 2], help="split seeds")
    p.add_argument("--pretrain-steps", type=int, default=1500)
    p.add_argument("--pretrain-lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=BACKBONE["width"], help="backbone width")
    p.add_argument("--d-state", type=int, default=BACKBONE["d_state"], help="S4D state size")
    p.add_argument("--blocks", type=int, default=BACKBONE["n_blocks"],
                   help="backbone residual blocks (the LFT gets one fusion block each)")
    p.add_argument("--lft", choices=list(LFT), default="cpu",
                   help="LFT shape: 'cpu' (4 fusion tokens, 2 classification blocks) or "
                        "'paper' (the spec's 16 tokens, 8 heads, FFN 4x, 8 blocks)")
    p.add_argument("--lft-lr", type=float, default=1e-3, help="LFT one-cycle peak rate")
    p.add_argument("--step", type=int, default=None,
                   help=f"samples between window starts (default 290: 12 windows a segment, "
                        f"with --quick {CHUNK}: the 4 disjoint windows)")
    # the paper's rule: at most 50 epochs, patience 3 counted from epoch 20
    p.add_argument("--max-epochs", type=int, default=50)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--start-epoch", type=int, default=20,
                   help="first epoch (0-based) that early stopping checks")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", choices=list(METHODS), nargs="+", default=list(METHODS),
                   help="methods to run (default: all)")
    p.add_argument("--task", choices=list(TASKS), nargs="+", default=list(TASKS),
                   help="tasks to run (default: both)")
    p.add_argument("--balanced", action="store_true",
                   help="seizure task: class-weighted losses (LFT: BCE with pos_weight), "
                        "early stopping on validation balanced accuracy")
    p.add_argument("--refit", action="store_true",
                   help="also refit every model on train + val for the epochs its run with "
                        "validation chose, and test that (extra table rows)")
    p.add_argument("--seeds", type=int, default=1,
                   help="classifier seeds per split (split seed + 100 k); with more than one, "
                        "also score each split's ensemble (mean test probabilities)")
    p.add_argument("--backbones-only", action="store_true",
                   help="pretrain (or reuse) the backbones and print their validation "
                        "diffusion loss; no latents, no classifiers")
    p.add_argument("--report", action="store_true",
                   help="train nothing: print the tables from the results kept in --out by "
                        "earlier runs of these splits with these options")
    p.add_argument("--quick", action="store_true",
                   help="functional check: split 0, 5 pretraining steps, 1 epoch, disjoint windows")
    args = p.parse_args()
    if args.data is None:
        p.error("no Bonn data: give --data /path/to/bonn (or set EEGKIT_BONN)")
    if args.report and args.backbones_only:
        p.error("--report prints kept classifier results; --backbones-only trains backbones")
    if args.seeds < 1:
        p.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.quick:
        args.splits, args.pretrain_steps, args.max_epochs, args.patience = [0], 5, 1, 1
        args.start_epoch = 0
    if args.step is None:
        args.step = CHUNK if args.quick else 290
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    wall = time.perf_counter()
    methods = [m + suffix for m in args.only for suffix in ("", REFIT)[:1 + args.refit]]
    rows = [m + suffix for m in methods for suffix in ("", ENSEMBLE)[:1 + (args.seeds > 1)]]
    if args.report:
        print_tables(args, *kept_results(args, rows))
        return
    results, timings = empty_tables(args, rows)
    backbone_time = {m: 0.0 for m in ("pretrained", "random") if m in args.only}
    for split in args.splits:
        out = args.out / f"split{split}"
        ckpts = {}
        for method, steps in (("pretrained", args.pretrain_steps), ("random", 0)):
            if method in args.only:
                ckpts[method] = out / f"backbone-{method}.ckpt"
                t_ckpt = backbone_checkpoint(args, split, steps, ckpts[method])
                loss = validation_loss(args, split, ckpts[method])
                t_lat = 0.0 if args.backbones_only else extract_latents(args, split,
                                                                        ckpts[method])
                backbone_time[method] += (t_ckpt or 0.0) + t_lat
                trained = "reused" if t_ckpt is None else f"{t_ckpt:.0f} s"
                print(f"[eegdm_bonn] split {split}: {method} backbone ({steps} diffusion "
                      f"steps) {trained}, validation diffusion loss {loss:.4f}, latents "
                      f"{t_lat:.0f} s", flush=True)
        if args.backbones_only:
            continue
        for task_name in args.task:
            chosen = {}  # (method, seed) -> the best epoch of its run with validation
            kept = {m: {"runs": [], "seconds": 0.0} for m in rows}  # this split's rows
            for method in methods:
                base = method.removesuffix(REFIT)
                predictions = []
                for seed in range(split, split + SEED_STRIDE * args.seeds, SEED_STRIDE):
                    start = time.perf_counter()
                    # a refit trains for the epochs that its run with validation chose
                    epochs = chosen[base, seed] if method != base else None
                    run_out = out / task_name / (method + (f"-seed{seed}" if seed != split
                                                           else ""))
                    r, p = (run_eegnet(args, split, task_name, run_out, epochs, seed)
                            if base == "eegnet" else
                            run_eegdm(args, split, ckpts[base], task_name, run_out, epochs,
                                      seed))
                    chosen[method, seed] = r["best_epoch"]
                    kept[method]["seconds"] += time.perf_counter() - start
                    kept[method]["runs"].append(r)
                    predictions.append(p)
                    print(f"[eegdm_bonn] split {split} / {task_name} / {method} / seed {seed}: "
                          + ", ".join(f"{k} {r[k]:.3f}" for k in (*METRICS, *SEGMENT_METRICS)
                                      if k in r)
                          + f"; {r['epochs']} epochs (best {r['best_epoch']}), "
                          f"{time.perf_counter() - start:.0f} s", flush=True)
                if args.seeds > 1:
                    kept[method + ENSEMBLE]["runs"].append(ensemble_scores(predictions))
            save_results(args, split, task_name, kept)
            add_split(results, timings, task_name, kept)
    if args.backbones_only:
        return
    print_tables(args, results, timings)
    for method, seconds in backbone_time.items():
        print(f"{METHODS[method]}: backbone checkpoint + latent extraction {seconds:.0f} s "
              f"over {len(args.splits)} split(s), shared by both tasks")
    print(f"\nthreads {args.threads}; total wall time {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main()
