"""SleepDIFFormer throughput and peak memory: fused vs eager attention, and vs AttnSleep.

Every (model, mode) pair runs in a fresh subprocess so that its peak memory is its own:
on CPU the peak resident set size (``ru_maxrss``) of that process, reported in total and as
the increase over the state after the model and batch were built (activations, gradients,
optimiser state); on CUDA ``torch.cuda.max_memory_allocated``.

- ``train``: forward (``forward_train`` for SleepDIFFormer), loss (SleepDIFFormerLoss with
  two domains in the batch; cross-entropy for AttnSleep), backward, Adam step;
- ``infer``: eval mode, ``torch.no_grad``, logits only.

AttnSleep is a single-channel epoch classifier: it gets the ``B x E`` EEG epochs of the same
batch, ``(B E, 1, T)``.

- ``attention``: one differential-attention layer alone at the model's shapes (the DSA of both
  modalities of the batch: ``2 B E`` sequences of 31 tokens, d_model 128, 4 heads), forward
  and backward, for the fused kernel with and without splitting V, and the eager path. The
  convolutional embedding dominates the full model's time, which hides this difference.

Usage::

    nice -n 10 python benchmarks/sleepdifformer.py                    # paper batch 16 x 20
    python benchmarks/sleepdifformer.py --batch 2 --steps 2 --warmup 1  # quick look
    python benchmarks/sleepdifformer.py --device cuda --dtype bfloat16  # GPU (benchmarks/gpu.sh)

``--dtype bfloat16`` runs every step under autocast (the fused attention then reaches the
flash / memory-efficient kernels of ``scaled_dot_product_attention`` on a GPU).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource

MODELS = ("sleepdifformer-fused", "sleepdifformer-eager", "attn_sleep")
ATTENTION_VARIANTS = ("attention-fused", "attention-fused-split", "attention-eager")


def _run_attention(name: str, args: argparse.Namespace, device):
    import torch

    from eegkit.models.layers.differential_attention import DifferentialAttention

    layer = DifferentialAttention(128, 4, layer_index=1, fused=name != "attention-eager",
                                  split_values=name.endswith("split")).to(device)
    x = torch.randn(2 * args.batch * args.epochs, 31, 128, device=device, requires_grad=True)

    def step():
        layer(x).sum().backward()

    return layer, step


def _run(name: str, mode: str, args: argparse.Namespace) -> dict:
    import torch
    import torch.nn.functional as F

    from eegkit.losses import SleepDIFFormerLoss
    from eegkit.models import create_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if mode == "attention":
        model, step = _run_attention(name, args, device)
        return _measure(name, mode, model, step, device, args)
    b, e, t = args.batch, args.epochs, 3000
    x = torch.randn(b, e, 2, t, device=device)
    y = torch.randint(0, 5, (b, e), device=device)
    domain = torch.arange(b, device=device) % 2
    if name == "attn_sleep":
        model = create_model("attn_sleep", n_chans=1, n_outputs=5, n_times=t, sfreq=100)
        inputs = x[:, :, :1].reshape(b * e, 1, t).contiguous()

        def loss_of(out):
            return F.cross_entropy(out, y.flatten())
    else:
        model = create_model("sleepdifformer", n_epochs=e,
                             fused_attention=name.endswith("fused"))
        inputs = x
        criterion = SleepDIFFormerLoss()

        def loss_of(out):
            return criterion(out, y, domain, x)[0]
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-4)

    def step():
        if mode == "infer":
            with torch.no_grad():
                model(inputs)
            return
        out = model.forward_train(inputs) if name != "attn_sleep" else model(inputs)
        optimiser.zero_grad(set_to_none=True)
        loss_of(out).backward()
        optimiser.step()

    model.train(mode == "train")
    return _measure(name, mode, model, step, device, args)


def _measure(name, mode, model, step, device, args) -> dict:
    import torch

    from eegkit.utils.timing import autocast, median_step_seconds

    b = args.batch
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB on Linux
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated() / 2**20

    def precise_step():
        with autocast(device, args.dtype):
            step()

    seconds = median_step_seconds(precise_step, args.steps, args.warmup, device)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"model": name, "mode": mode, "s_per_step": seconds, "seq_per_s": b / seconds,
            "peak_mib": peak, "extra_mib": peak - baseline,
            "params": sum(p.numel() for p in model.parameters())}


def _child(name, mode, args, queue):
    queue.put(_run(name, mode, args))


def main(argv=None) -> list[dict]:
    from eegkit.utils.timing import DTYPES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=16, help="sequences per batch (16)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per sequence (20)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=list(DTYPES),
                        help="autocast precision of every step (float32: none)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--modes", nargs="+", default=["train", "infer", "attention"],
                        choices=["train", "infer", "attention"])
    args = parser.parse_args(argv)

    context = mp.get_context("spawn")
    rows = []
    print(f"batch {args.batch} x {args.epochs} epochs x 2 x 3000, {args.steps} timed steps "
          f"(median), {args.threads} threads, device {args.device}, {args.dtype}")
    print(f"{'model':22s} {'mode':9s} {'s/step':>8s} {'seq/s':>8s} {'peak MiB':>9s} "
          f"{'extra MiB':>9s} {'params':>10s}")
    for mode in args.modes:
        for name in ATTENTION_VARIANTS if mode == "attention" else args.models:
            queue = context.Queue()
            process = context.Process(target=_child, args=(name, mode, args, queue))
            process.start()
            row = queue.get()
            process.join()
            rows.append(row)
            print(f"{name:22s} {mode:9s} {row['s_per_step']:8.3f} {row['seq_per_s']:8.2f} "
                  f"{row['peak_mib']:9.0f} {row['extra_mib']:9.0f} {row['params']:10,d}",
                  flush=True)

    table = {(r["model"], r["mode"]): r for r in rows}
    print("ratios (time per step; extra memory):")
    for mode in args.modes:
        for num, den in (("sleepdifformer-eager", "sleepdifformer-fused"),
                         ("sleepdifformer-fused", "attn_sleep"),
                         ("attention-eager", "attention-fused"),
                         ("attention-fused-split", "attention-fused")):
            if (num, mode) in table and (den, mode) in table:
                a, b = table[num, mode], table[den, mode]
                print(f"  {mode:9s} {num} / {den}: time {a['s_per_step'] / b['s_per_step']:.2f}x,"
                      f" extra memory {a['extra_mib'] / max(b['extra_mib'], 1e-9):.2f}x")
    return rows


if __name__ == "__main__":
    main()
