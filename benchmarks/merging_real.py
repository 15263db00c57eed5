"""Model merging on real data: UCI HAR, one EEGNet per subject group, merged, on unseen subjects.

Protocol (real recordings, ``../shared/data/uci-har``; never copied into the repository):

- the official subject split: the 21 training subjects are the sources, the 9 official test
  subjects the held-out target; 20 % of the training subjects are the source validation set
  (WindowDataModule ``protocol="official"``, channels standardised with training statistics);
- the remaining training subjects are dealt round-robin into ``--groups`` subject groups (the
  "domains"); one multi-source braindecode EEGNet is trained on all of them (the ancestor), then
  one copy is fine-tuned per group on that group's windows only;
- rows: the multi-source model, each per-group model, their output ensemble and the merges
  (weight averaging with BatchNorm statistics averaged or recomputed on unlabelled target windows,
  task arithmetic, TIES, PCB, task arithmetic with per-model λ searched on source validation data,
  Evolver); accuracy / macro-F1 on all official test windows.

CPU-sized: ``--epochs`` (multi-source) and ``--finetune-epochs`` (per group), batch 64. One seed;
a smoke-level comparison, not a tuned result.

Usage::

    python benchmarks/merging_real.py    # ≈ 5 min of CPU time (12.5 min wall on a busy 2-core box)
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from eegkit.data.datamodules.windows import WindowDataModule, WindowDataset
from eegkit.merging import evolve, merge, search_coefficients, validation_scorer
from eegkit.merging.runner import held_out_metrics, probabilities
from eegkit.tasks.classification import ClassificationTask

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EEGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
HEAD = ("final_layer.",)


def fit(task: ClassificationTask, loader: DataLoader, epochs: int) -> dict:
    """Train ``task`` for ``epochs`` epochs; return a copy of its network's state dict."""
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0,
                        num_sanity_val_steps=0)
    trainer.fit(task, train_dataloaders=loader)
    return {k: v.detach().clone() for k, v in task.net.state_dict().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    archive = DATA / "uci-har" / "UCI HAR Dataset.zip"
    if not archive.exists():
        raise SystemExit(f"real data {archive} is absent (set EEGKIT_SHARED_DATA)")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    torch.set_num_threads(2)
    L.seed_everything(args.seed, verbose=False)

    dm = WindowDataModule("uci_har", str(archive), protocol="official", val_fraction=0.2,
                          batch_size=64, normalize="channel")
    dm.setup()
    w, train = dm.windows, dm.train_dataloader().dataset
    subjects = np.unique(w.subject[train.index])
    groups = [subjects[g::args.groups] for g in range(args.groups)]
    dims = {"n_chans": dm.n_chans, "n_outputs": dm.n_outputs, "n_times": dm.n_times,
            "sfreq": dm.sfreq, "class_names": dm.class_names}

    def task() -> ClassificationTask:
        return ClassificationTask(model="eegnet", lr=1e-3, weight_decay=1e-4, **dims)

    def loader(index: np.ndarray) -> DataLoader:
        ds = WindowDataset(w.X, w.y, train.subject_code, index, train.mean, train.std)
        return DataLoader(ds, batch_size=64, shuffle=True,
                          generator=torch.Generator().manual_seed(args.seed))

    start = time.perf_counter()
    ancestor = fit(task(), dm.train_dataloader(), args.epochs)
    finetuned = []
    for members in groups:
        t = task()
        t.net.load_state_dict(ancestor)
        index = train.index[np.isin(w.subject[train.index], members)]
        finetuned.append(fit(t, loader(index), args.finetune_epochs))
    train_s = time.perf_counter() - start

    model = task()
    test = [(b["x"], b["y"]) for b in dm.test_dataloader()]
    x_test, y_test = [x for x, _ in test], torch.cat([y for _, y in test]).numpy()
    names = list(dm.class_names)
    score = validation_scorer(model.net, dm, forward=lambda net, x: model(x))
    rules = {"head_prefixes": HEAD, "model": model.net, "forward": lambda net, x: model(x)}

    rows = {"multi-source": held_out_metrics(y_test, probabilities(model, ancestor, x_test),
                                             names)}
    probs = [probabilities(model, sd, x_test) for sd in finetuned]
    for g, p in enumerate(probs):
        rows[f"subject group {g} ({len(groups[g])} subj.)"] = held_out_metrics(y_test, p, names)
    rows["output ensemble"] = held_out_metrics(y_test, torch.stack(probs).mean(0), names)

    def searched_ta():
        def build(x):
            return merge("task_arithmetic", ancestor, finetuned, lam=list(x), **rules)
        return build(search_coefficients(lambda x: score(build(x)), [0.3] * len(finetuned),
                                         max_evals=12).x)

    merges = {
        "weight average": lambda: merge("average", ancestor, finetuned, **rules),
        "weight average, BN recompute": lambda: merge(
            "average", ancestor, finetuned, norm="recompute", target=x_test[:8], **rules),
        "task arithmetic λ=0.5": lambda: merge("task_arithmetic", ancestor, finetuned, lam=0.5,
                                               **rules),
        "TIES k=20% λ=1": lambda: merge("ties", ancestor, finetuned, density=0.2, **rules),
        "PCB r=0.1 λ=1": lambda: merge("pcb", ancestor, finetuned, ratio=0.1, **rules),
        "task arithmetic, searched λ per model": searched_ta,
        "Evolver (weight average)": lambda: evolve(
            finetuned, score, steps=1, seed=args.seed,
            merger=lambda pop: merge("average", ancestor, pop, **rules)).model,
    }
    seconds = {}
    for name, build in merges.items():
        t0 = time.perf_counter()
        state = build()
        seconds[name] = time.perf_counter() - t0
        rows[name] = held_out_metrics(y_test, probabilities(model, state, x_test), names)

    print(f"UCI HAR, official test subjects held out ({len(y_test)} windows); "
          f"{len(subjects)} source subjects in {args.groups} groups; training {train_s:.0f} s")
    print("| model | accuracy | macro-F1 | merge time (s) |\n|---|---|---|---|")
    for name, m in rows.items():
        sec = f"{seconds[name]:.2f}" if name in seconds else "–"
        print(f"| {name} | {100 * m['acc']:.1f} | {100 * m['macro_f1']:.1f} | {sec} |")


if __name__ == "__main__":
    main()
