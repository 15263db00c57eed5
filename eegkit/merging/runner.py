"""LODO driver: multi-source model → one fine-tune per source domain → merges → held-out domain.

For every held-out domain (fold) of a sleep LODO config (e.g. ``configs/sleepdifformer/demo.yaml``):

1. train one multi-source model on all source domains (the shared ancestor θ_pre);
2. fine-tune one copy of it per source domain, on that domain's training subjects only;
3. merge the per-domain models with every configured method (weight averaging, task arithmetic,
   TIES, PCB, searched coefficients, Evolver); coefficient searches and Evolver are scored on the
   source domains' validation subjects only (:func:`~eegkit.merging.search.validation_scorer`);
4. evaluate on the whole held-out domain: the multi-source model, each per-domain model, the
   output ensemble of the per-domain models (mean of their softmax) and every merge.

Everything of a fold lives in ``<out_dir>/<domain>/``: ``multisource.pt``, ``finetuned_<d>.pt``
(state dicts of the network) and ``results.json`` (metrics per row, merge wall times). A fold with
``results.json`` is skipped and trained networks are reused, so an interrupted run resumes.

The run config (``configs/merging/*.yaml``) names the LODO config (``base``) and the budgets; see
``configs/merging/demo_sleepdifformer.yaml`` for every key.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
import yaml

from eegkit.data.datamodules.sleep import SleepDataModule
from eegkit.merging.evolver import evolve
from eegkit.merging.rules import merge
from eegkit.merging.search import (
    as_coefficients,
    layer_groups,
    search_coefficients,
    validation_scorer,
)
from eegkit.metrics import summarize
from eegkit.tasks.sleep_staging import SleepStagingTask
from eegkit.utils.resources import load_config

RESULTS = "results.json"
ROW_MULTI, ROW_ENSEMBLE = "multi-source", "output ensemble"


def load_run(path: str | Path) -> dict:
    """The merging run config with its ``base`` LODO config (fragments composed in) loaded
    under ``base_config``."""
    config = yaml.safe_load(Path(path).read_text())
    config["base_config"] = load_config(config["base"])
    return config


def _datamodule(base: dict, **overrides) -> SleepDataModule:
    return SleepDataModule(**{**base["data"]["init_args"], **overrides})


def _task(base: dict, dm: SleepDataModule, **overrides) -> SleepStagingTask:
    args = {**base["model"]["init_args"], **overrides}
    dims = {"n_chans": dm.n_chans, "n_outputs": dm.n_outputs, "n_times": dm.n_times,
            "sfreq": dm.sfreq, "class_names": list(dm.class_names)}
    return SleepStagingTask(**{**dims, **args})


def _fit(task: SleepStagingTask, dm: SleepDataModule, base: dict, max_steps: int) -> None:
    """Train for ``max_steps`` steps with the base config's trainer settings, no validation."""
    trainer_cfg = base.get("trainer", {})
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=max_steps, max_epochs=-1,
                        gradient_clip_val=trainer_cfg.get("gradient_clip_val"),
                        limit_val_batches=0, num_sanity_val_steps=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, use_distributed_sampler=False)
    trainer.fit(task, dm)


def _trained(path: Path, build) -> dict:
    """The state dict saved at ``path``, or ``build()`` saved there first (resumable runs)."""
    if path.exists():
        return torch.load(path, weights_only=True)
    state = build()
    torch.save(state, path)
    return state


def _net_state(task: SleepStagingTask) -> dict:
    return {k: v.detach().clone() for k, v in task.net.state_dict().items()}


@torch.no_grad()
def probabilities(task, state: dict, batches: list) -> torch.Tensor:
    """Class probabilities ``(items, classes)`` of ``task`` with network weights ``state``."""
    task.net.load_state_dict(state)
    task.eval()
    return torch.cat([task(x).softmax(-1).flatten(0, -2) for x in batches])


def held_out_metrics(y: np.ndarray, prob: torch.Tensor, names: list[str]) -> dict:
    """Accuracy, macro-F1, κ and the number of items of the predictions ``prob.argmax(-1)``."""
    m = summarize(y, prob.argmax(-1).numpy(), names)
    return {k: m[k] for k in ("acc", "macro_f1", "kappa", "n")}


def merge_row(spec: dict, ancestor: dict, finetuned: list, rules: dict, score, target: list,
              seed: int = 0) -> tuple[dict, dict]:
    """The merged network of one table row and what its search found (``{}`` without one).

    Parameters
    ----------
    spec : dict
        ``method`` plus its options and rules (``norm``, ``head``, ``lam``...), optionally
        ``search`` (``start``, ``bounds``, ``optimiser``, ``max_evals``, ``step``, ``layer_depth``
        for one λ per layer and model) or ``evolver`` (options of :func:`evolve`).
    ancestor, finetuned : state dicts
    rules : dict
        Keyword arguments of :func:`merge` shared by every row (head prefixes, model, forward).
    score : callable
        Source-validation score of a state dict (searches and Evolver only).
    target : list
        Unlabelled held-out inputs for ``norm: recompute``.
    seed : int
    """
    spec = copy.deepcopy(spec)
    method, search, evolver = spec.pop("method"), spec.pop("search", None), spec.pop("evolver",
                                                                                     None)
    if spec.get("norm") == "recompute":
        spec["target"] = target
    options = {**rules, **spec}

    def merged(coeffs=None, members=None) -> dict:
        extra = {} if coeffs is None else {"lam": coeffs}
        return merge(method, ancestor, members or finetuned, **options, **extra)

    n = len(finetuned)
    if search is not None:
        depth = search.get("layer_depth")
        groups = layer_groups(list(ancestor), depth) if depth else None
        result = search_coefficients(
            lambda x: score(merged(as_coefficients(x, n, groups))),
            [search.get("start", 0.5)] * (n * (len(groups) if groups else 1)),
            tuple(search.get("bounds", (0.0, 1.5))), search.get("optimiser", "nelder-mead"),
            search.get("max_evals", 12), search.get("step", 0.2))
        return merged(as_coefficients(result.x, n, groups)), {
            "x": result.x.tolist(), "source_val": result.score, "evals": result.n_evals}
    if evolver is not None:
        result = evolve(finetuned, score, merger=lambda pop: merged(members=pop), seed=seed,
                        **evolver)
        return result.model, {"source_val": result.score, "offspring": len(result.history),
                              "accepted": sum(h["accepted"] for h in result.history)}
    return merged(), {}


def run_fold(config: dict, held_out: str, seed: int = 0) -> dict:
    """Train, fine-tune, merge and evaluate one fold; write and return its ``results.json``."""
    base = config["base_config"]
    out = Path(config["out_dir"]) / held_out
    out.mkdir(parents=True, exist_ok=True)
    domains = base["data"]["init_args"]["domains"]
    sources = [d for d in domains if d != held_out]
    dm = _datamodule(base, held_out=held_out)
    L.seed_everything(seed, verbose=False)

    def multisource() -> dict:
        task = _task(base, dm)
        _fit(task, dm, base, config["multisource_steps"])
        return _net_state(task)

    ancestor = _trained(out / "multisource.pt", multisource)
    finetuned = []
    for d in sources:
        def finetune(d=d) -> dict:
            one = _datamodule(base, domains={d: domains[d]}, held_out=None)
            task = _task(base, dm, **config.get("finetune_model", {}))
            task.net.load_state_dict(ancestor)
            _fit(task, one, base, config["finetune_steps"])
            return _net_state(task)

        finetuned.append(_trained(out / f"finetuned_{d}.pt", finetune))

    task = _task(base, dm)
    test = [(b["x"], b["y"]) for b in dm.test_dataloader()]
    x_test, y_test = [x for x, _ in test], torch.cat([y.flatten() for _, y in test]).numpy()
    names = list(dm.class_names)
    target = x_test[:config.get("recompute_batches", 8)]  # unlabelled target inputs (x only)
    score = validation_scorer(task.net, dm, metric=config.get("metric", "macro_f1"),
                              forward=lambda net, x: task(x))
    rules = {"head_prefixes": config.get("head_prefixes", ()),
             "model": task.net, "forward": lambda net, x: task(x)}

    rows, timing, searched = {}, {}, {}
    rows[ROW_MULTI] = held_out_metrics(y_test, probabilities(task, ancestor, x_test), names)
    probs = [probabilities(task, sd, x_test) for sd in finetuned]
    for d, p in zip(sources, probs, strict=True):
        rows[f"per-domain: {d}"] = held_out_metrics(y_test, p, names)
    rows[ROW_ENSEMBLE] = held_out_metrics(y_test, torch.stack(probs).mean(0), names)

    for row, spec in config["merges"].items():
        start = time.perf_counter()
        state, info = merge_row(spec, ancestor, finetuned, rules, score, target, seed)
        timing[row] = time.perf_counter() - start
        if info:
            searched[row] = info
        rows[row] = held_out_metrics(y_test, probabilities(task, state, x_test), names)

    results = {"held_out": held_out, "sources": sources, "rows": rows,
               "merge_seconds": timing, "search": searched}
    (out / RESULTS).write_text(json.dumps(results, indent=2))
    return results


def run(config: dict) -> dict[str, dict]:
    """Every fold of the run config (``folds`` or all domains); completed folds are read back."""
    domains = list(config["base_config"]["data"]["init_args"]["domains"])
    folds = config.get("folds") or domains
    results = {}
    for i, d in enumerate(folds, 1):
        path = Path(config["out_dir"]) / d / RESULTS
        if path.exists():
            print(f"[eegkit.merging] fold {i}/{len(folds)} ({d}) is complete, skipping")
            results[d] = json.loads(path.read_text())
            continue
        print(f"[eegkit.merging] fold {i}/{len(folds)}: held-out domain {d}")
        start = time.perf_counter()
        results[d] = run_fold(config, d, seed=config.get("seed", 0))
        print(f"[eegkit.merging] fold {d} done in {time.perf_counter() - start:.0f} s")
    return results


def read_results(out_dir: str | Path) -> dict[str, dict]:
    """``{held-out domain: results.json}`` of the completed folds under ``out_dir``."""
    return {p.parent.name: json.loads(p.read_text())
            for p in sorted(Path(out_dir).glob(f"*/{RESULTS}"))}


def table(results: dict[str, dict], metric: str = "macro_f1") -> str:
    """Rows: methods; columns: held-out folds and their mean; cells: accuracy / macro-F1 (%).

    Per-domain models differ per fold, so they appear as their mean and their best (oracle:
    chosen on the held-out domain, an upper bound no deployable method reaches).
    """
    folds = list(results)
    per_fold = {}
    for d, r in results.items():
        rows = dict(r["rows"])
        single = {k: v for k, v in rows.items() if k.startswith("per-domain: ")}
        rows = {k: v for k, v in rows.items() if k not in single}
        rows["per-domain (mean)"] = {k: float(np.mean([v[k] for v in single.values()]))
                                     for k in ("acc", "macro_f1")}
        rows["per-domain (oracle best)"] = max(single.values(), key=lambda v: v[metric])
        per_fold[d] = rows
    order = list(dict.fromkeys(k for rows in per_fold.values() for k in rows))
    lines = ["| method | " + " | ".join([*folds, "mean"]) + " |",
             "|---|" + "---|" * (len(folds) + 1)]
    for name in order:
        cells, accs, f1s = [], [], []
        for d in folds:
            m = per_fold[d].get(name)
            cells.append("–" if m is None else f"{100 * m['acc']:.1f} / {100 * m['macro_f1']:.1f}")
            if m is not None:
                accs.append(m["acc"])
                f1s.append(m["macro_f1"])
        cells.append(f"{100 * np.mean(accs):.1f} / {100 * np.mean(f1s):.1f}"
                     if len(accs) == len(folds) else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
