"""Merge wall time and peak memory of eegkit.merging on a model of ≥ 50M parameters.

Synthetic state dicts shaped like a transformer encoder with BatchNorm (``--blocks`` blocks of
width ``--width``: attention projections, a 4× feed-forward, LayerNorms and a BatchNorm with
running statistics, plus a 5-class head): one ancestor and ``--models`` fine-tuned copies
(ancestor + Gaussian noise). Each method is run through :func:`eegkit.merging.merge` with the
default rules (statistics averaged, head merged), and one Evolver generation (``--models``
offspring against an inexpensive hand-built scorer) is timed too.

Wall time and process CPU time (all threads; on a shared machine the CPU time is the steadier
figure) are reported. Each method runs in a fresh subprocess (so memory freed by one method
cannot be reused by the next). Memory is the process's resident set size (RSS, from
``/proc/self/statm``) sampled every 5 ms by a thread while the method runs; "extra peak" is the
peak minus the RSS before the call (the inputs are already resident), i.e. the merged output plus
the temporaries. A full flattened
``n × d`` float32 copy of the task vectors, which the methods avoid, is printed for comparison.
Linux only (``/proc``).

Usage::

    python benchmarks/merging_scale.py                 # 8 blocks × 768: 56.7M parameters
    python benchmarks/merging_scale.py --blocks 1 --width 64   # a seconds-long check
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import torch

from eegkit.merging import evolve, merge

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """Resident set size of this process, bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakRSS:
    """Context manager sampling RSS in a thread; ``extra`` is the peak minus the start."""

    def __init__(self, every: float = 0.005):
        self.every, self.extra = every, 0

    def __enter__(self):
        self.start = self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(self.every)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())
        self.extra = self.peak - self.start


def synthetic_models(blocks: int, width: int, n: int, seed: int = 0):
    """An ancestor and ``n`` fine-tuned state dicts of a transformer-like encoder."""
    g = torch.Generator().manual_seed(seed)
    shapes = {}
    for b in range(blocks):
        p = f"blocks.{b}."
        for name in ("q", "k", "v", "o"):
            shapes[p + f"attn.{name}.weight"] = (width, width)
            shapes[p + f"attn.{name}.bias"] = (width,)
        shapes[p + "ffn.0.weight"] = (4 * width, width)
        shapes[p + "ffn.0.bias"] = (4 * width,)
        shapes[p + "ffn.1.weight"] = (width, 4 * width)
        shapes[p + "ffn.1.bias"] = (width,)
        for norm in ("ln1", "ln2"):
            shapes[p + f"{norm}.weight"] = (width,)
            shapes[p + f"{norm}.bias"] = (width,)
        shapes[p + "bn.weight"] = shapes[p + "bn.bias"] = (width,)
    shapes["head.weight"], shapes["head.bias"] = (5, width), (5,)
    pre = {k: 0.02 * torch.randn(s, generator=g) for k, s in shapes.items()}
    for b in range(blocks):
        pre[f"blocks.{b}.bn.running_mean"] = torch.zeros(width)
        pre[f"blocks.{b}.bn.running_var"] = torch.ones(width)
        pre[f"blocks.{b}.bn.num_batches_tracked"] = torch.tensor(100)
    finetuned = []
    for _ in range(n):
        sd = {}
        for k, v in pre.items():
            if k.endswith("num_batches_tracked"):
                sd[k] = v + 10
            elif k.endswith("running_var"):
                sd[k] = v + 0.1 * torch.rand(v.shape, generator=g)
            else:
                sd[k] = v + 0.002 * torch.randn(v.shape, generator=g)
        finetuned.append(sd)
    return pre, finetuned


RUNS = {
    "weight average": lambda pre, fts: merge("average", pre, fts),
    "task arithmetic λ=0.3": lambda pre, fts: merge("task_arithmetic", pre, fts, lam=0.3),
    "TIES k=20%": lambda pre, fts: merge("ties", pre, fts, density=0.2),
    "PCB r=0.1": lambda pre, fts: merge("pcb", pre, fts, ratio=0.1),
    "Evolver, 1 generation": lambda pre, fts: evolve(
        fts, lambda sd: -float(sd["head.bias"].abs().sum()), steps=1),
}


def measure(args) -> dict:
    """Build the models, run one method, return its wall time and extra peak RSS."""
    torch.set_num_threads(args.threads)
    pre, finetuned = synthetic_models(args.blocks, args.width, args.models)
    with PeakRSS() as mem:
        start, cpu = time.perf_counter(), time.process_time()
        RUNS[args.method](pre, finetuned)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    n_params = sum(v.numel() for k, v in pre.items() if v.is_floating_point()
                   and not k.endswith(("running_mean", "running_var")))
    model_mib = sum(v.numel() * v.element_size() for v in pre.values()) / 2**20
    return {"wall": wall, "cpu": cpu, "extra_mib": mem.extra / 2**20, "params": n_params,
            "model_mib": model_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--models", type=int, default=4, help="fine-tuned models")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--method", choices=list(RUNS), default=None,
                        help="run one method in this process and print its figures as JSON")
    args = parser.parse_args()
    if args.method is not None:
        print(json.dumps(measure(args)))
        return
    lines = ["| method | wall (s) | CPU (s) | extra peak RSS (MiB) | extra / model size |",
             "|---|---|---|---|---|"]
    for name in RUNS:
        cmd = [sys.executable, __file__, "--method", name, "--blocks", str(args.blocks),
               "--width", str(args.width), "--models", str(args.models),
               "--threads", str(args.threads)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                      text=True).stdout.strip().splitlines()[-1])
        if len(lines) == 2:
            print(f"model: {r['params'] / 1e6:.1f}M parameters ({r['model_mib']:.0f} MiB), "
                  f"{args.models} fine-tuned + 1 ancestor resident; a flattened n×d task-vector "
                  f"copy would be {args.models * r['model_mib']:.0f} MiB; {args.threads} "
                  "threads", flush=True)
        lines.append(f"| {name} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['extra_mib']:.0f} | "
                     f"{r['extra_mib'] / r['model_mib']:.2f} |")
        print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
