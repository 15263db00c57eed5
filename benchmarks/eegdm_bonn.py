"""EEGDM on the real Bonn epilepsy data, CPU-sized, against a braindecode baseline.

Protocol (both methods see exactly the same windows and split):

- every 4,097-sample segment is cut into 4 windows of 870 samples (5.01 s at 173.61 Hz, i.e. 5
  one-second pools of 174 samples, like a 5-s TUEV sample); the split is by **segment**
  (60/20/20 %, stratified by set, split seed 0), so windows of one segment stay on one side;
- EEGDM: the SSMDP backbone is pretrained by diffusion on the training windows only (crops of
  512 samples, S4D rate 200/173.61, no resampling), then frozen; its EMA weights give float16
  latents (cached on disk) on which the LFT is trained for (a) the five sets Z/O/N/F/S and (b)
  seizure (S) vs rest, with early stopping on validation κ; 3 training seeds;
- baseline: braindecode EEGNet (eegkit ClassificationTask) on the same windows, channel
  standardised with training statistics, same early stopping, same seeds.

CPU-sized: the backbone is width 32, 6 blocks, state 32 (131k parameters, not the paper's
5.3M) trained for 150 steps (16 windows a batch, 512-sample crops, EMA 0.99), and the LFT is
width 32 with 4 fusion tokens and 2 classification blocks, at most 8 epochs (early stopping on
validation κ, patience 3; EEGNet the same). One thread. A smoke-level comparison, not the
paper's setting.

Usage::

    nice -n 10 python benchmarks/eegdm_bonn.py              # prints the table (~15 min)
    python benchmarks/eegdm_bonn.py --quick                  # a 1-minute functional check
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from eegkit.data.datamodules.windows import WindowDataModule
from eegkit.metrics import seed_summary
from eegkit.reports import format_seed_table
from eegkit.tasks.classification import ClassificationTask
from eegkit.tasks.eegdm import EEGDMFinetuneTask, EEGDMPretrainTask
from eegkit.tasks.eegdm_latents import EEGDMLatentDataModule

REPO = Path(__file__).resolve().parents[1]
CHUNK = 870
SPLIT = {"protocol": "group", "val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}
BACKBONE = {"width": 32, "n_blocks": 6, "d_state": 32, "cond_dim": 128}
LFT = {"n_fusion_tokens": 4, "n_heads": 4, "ffn_dim": 128, "n_cls_blocks": 2}
TASKS = {  # name -> (merge_classes, class names)
    "5-class ZONFS": (None, None),
    "seizure vs rest": ([0, 0, 0, 0, 1], ["rest", "seizure"]),
}
METRICS = ("kappa", "bacc", "weighted_f1", "auroc")


class MergedWindowDataModule(WindowDataModule):
    """Window datamodule whose labels are mapped through ``merge_classes`` (for the baseline)."""

    def __init__(self, *args, merge_classes: list[int], merged_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.merge_classes, self.merged_names = merge_classes, merged_names

    n_outputs = property(lambda self: max(self.merge_classes) + 1)
    class_names = property(lambda self: list(self.merged_names))

    def on_after_batch_transfer(self, batch, dataloader_idx):
        batch["y"] = torch.as_tensor(self.merge_classes, device=batch["y"].device)[batch["y"]]
        return batch


def _trainer(out: Path, max_epochs: int, patience: int, **kw) -> L.Trainer:
    callbacks = [EarlyStopping("val/kappa", mode="max", patience=patience),
                 ModelCheckpoint(out, monitor="val/kappa", mode="max", filename="best")]
    return L.Trainer(default_root_dir=out, accelerator="cpu", max_epochs=max_epochs,
                     logger=False, enable_progress_bar=False, enable_model_summary=False,
                     callbacks=callbacks, **kw)


def _test_metrics(trainer: L.Trainer, task, dm) -> dict[str, float]:
    out = trainer.test(task, dm, ckpt_path="best", verbose=False)[0]
    return {k.removeprefix("test/"): float(v) for k, v in out.items()}


def _binary_auroc(trainer, task, dm) -> float:
    from torchmetrics.functional.classification import binary_auroc

    probs, ys = [], []
    task.eval()
    with torch.no_grad():
        for batch in dm.test_dataloader():
            batch = dm.on_after_batch_transfer(batch, 0)
            probs.append(task(batch["x"]).softmax(-1)[:, 1])
            ys.append(batch["y"])
    return float(binary_auroc(torch.cat(probs), torch.cat(ys)))


def pretrain(args, out: Path) -> tuple[Path, float]:
    start = time.perf_counter()
    L.seed_everything(0)
    dm = WindowDataModule("bonn", str(args.data), batch_size=16, reader_kwargs={"chunk": CHUNK},
                          **SPLIT)
    task = EEGDMPretrainTask(BACKBONE, scale=0.01, crop=512, lr=args.pretrain_lr,
                             ema_start=50, ema_every=1, ema_decay=0.99)
    trainer = L.Trainer(default_root_dir=out, accelerator="cpu", max_steps=args.pretrain_steps,
                        gradient_clip_val=1.0, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False,
                        limit_val_batches=4, val_check_interval=None,
                        check_val_every_n_epoch=1000)
    trainer.fit(task, dm)
    ckpt = out / "pretrain.ckpt"
    trainer.save_checkpoint(ckpt)
    return ckpt, time.perf_counter() - start


def run_eegdm(args, ckpt: Path, task_name: str, seed: int, out: Path) -> dict[str, float]:
    merge, names = TASKS[task_name]
    dm = EEGDMLatentDataModule(str(ckpt), "bonn", str(args.data), batch_size=32,
                               reader_kwargs={"chunk": CHUNK}, **SPLIT)
    L.seed_everything(seed)
    task = EEGDMFinetuneTask(str(ckpt), lft_kwargs=LFT, merge_classes=merge, class_names=names,
                             lr=1e-3, ema_decay=0.99, ema_start=0, ema_every=1)
    trainer = _trainer(out, args.max_epochs, args.patience)
    trainer.fit(task, dm)
    return _test_metrics(trainer, task, dm)


def run_baseline(args, task_name: str, seed: int, out: Path) -> dict[str, float]:
    merge, names = TASKS[task_name]
    kw = {"batch_size": 32, "reader_kwargs": {"chunk": CHUNK}, "normalize": "channel", **SPLIT}
    dm = (WindowDataModule("bonn", str(args.data), **kw) if merge is None else
          MergedWindowDataModule("bonn", str(args.data), merge_classes=merge,
                                 merged_names=names, **kw))
    L.seed_everything(seed)
    task = ClassificationTask("eegnet", lr=1e-3, weight_decay=1e-4)
    trainer = _trainer(out, args.max_epochs, args.patience)
    trainer.fit(task, dm)
    result = _test_metrics(trainer, task, dm)
    if merge is not None:
        result["auroc"] = _binary_auroc(trainer, task, dm)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "bonn")
    p.add_argument("--out", type=Path, default=REPO / "runs" / "eegdm_bonn")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pretrain-steps", type=int, default=150)
    p.add_argument("--pretrain-lr", type=float, default=2e-3)
    p.add_argument("--max-epochs", type=int, default=8)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="few steps/epochs, one seed")
    args = p.parse_args()
    if args.quick:
        args.pretrain_steps, args.max_epochs, args.seeds = 5, 1, [0]
    torch.set_num_threads(args.threads)
    wall = time.perf_counter()

    ckpt, t_pre = pretrain(args, args.out / "pretrain")
    print(f"[eegdm_bonn] pretraining: {args.pretrain_steps} steps in {t_pre:.0f} s")
    results: dict[str, dict[str, list]] = {}
    timings: dict[str, float] = {}
    for task_name in TASKS:
        for method in ("EEGDM (LFT)", "EEGNet"):
            start = time.perf_counter()
            runs = []
            for seed in args.seeds:
                out = args.out / task_name.replace(" ", "_") / method.split()[0] / f"seed{seed}"
                runs.append(run_eegdm(args, ckpt, task_name, seed, out)
                            if method.startswith("EEGDM") else
                            run_baseline(args, task_name, seed, out))
                print(f"[eegdm_bonn] {task_name} / {method} / seed {seed}: "
                      + ", ".join(f"{k} {runs[-1][k]:.3f}" for k in METRICS if k in runs[-1]))
            results.setdefault(task_name, {})[method] = runs
            timings[f"{task_name} / {method}"] = time.perf_counter() - start

    print(f"\nBonn, split by segment (870-sample windows), test set, mean ± sd over seeds "
          f"{args.seeds} (%):")
    for task_name, by_method in results.items():
        print(f"\n{task_name}\n")
        print(format_seed_table({m: seed_summary(r) for m, r in by_method.items()}, METRICS))
    print(f"\nwall time: pretraining {t_pre:.0f} s; "
          + "; ".join(f"{k} {v:.0f} s" for k, v in timings.items())
          + f"; total {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main()
