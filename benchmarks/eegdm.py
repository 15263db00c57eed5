"""EEGDM on the CPU: backbone training-step throughput, latent-extraction throughput, cache size.

- ``train``: one DDPM v-prediction step of the SSMDP backbone (forward, MSE, backward, AdamW)
  on ``--batch`` single-channel items of ``--length`` samples; items per second.
- ``extract``: latents (clean input, t = 1, std-pooled gates of all blocks) of ``--windows``
  windows of ``--chans`` x ``--length`` samples; windows and channel-seconds per second.
- cache: bytes per window of the float16 latent cache against float32 (the authors' cache),
  for the configured layout and for TUEV (22 channels x 20 layers x 5 pools x 128).

Usage::

    nice -n 10 python benchmarks/eegdm.py                     # paper backbone, 5-s TUEV windows
    nice -n 10 python benchmarks/eegdm.py --width 32 --blocks 6 --state 32   # CPU-sized backbone
    python benchmarks/eegdm.py --device cuda --dtype bfloat16 --batch 64      # GPU (gpu.sh)
"""

from __future__ import annotations

import argparse

import torch

from eegkit.diffusion import GaussianDiffusion
from eegkit.models.eegdm_lft import extract_latents
from eegkit.models.eegdm_ssmdp import SSMDP
from eegkit.utils.timing import DTYPES, autocast, median_step_seconds


def latent_bytes(chans: int, layers: int, pools: int, width: int, itemsize: int) -> int:
    """Bytes of one window's latents ``(C, layers, pools, width)``."""
    return chans * layers * pools * width * itemsize


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--blocks", type=int, default=20)
    p.add_argument("--state", type=int, default=128)
    p.add_argument("--cond", type=int, default=512)
    p.add_argument("--length", type=int, default=1000, help="samples per item (5 s at 200 Hz)")
    p.add_argument("--batch", type=int, default=8, help="single-channel items per train step")
    p.add_argument("--chans", type=int, default=22)
    p.add_argument("--windows", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=list(DTYPES),
                   help="autocast precision of the steps (float32: none)")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = SSMDP(n_channels=args.chans, width=args.width, n_blocks=args.blocks,
                  d_state=args.state, cond_dim=args.cond).to(device)
    n_params = sum(q.numel() for q in model.parameters())
    diffusion = GaussianDiffusion(50).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.99, 0.999))
    x = torch.randn(args.batch, 1, args.length, device=device)
    channel = torch.randint(0, args.chans, (args.batch,), device=device)

    def train_step():
        with autocast(device, args.dtype):
            loss = diffusion.loss(model, x, channel=channel)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    windows = torch.randn(args.windows, args.chans, args.length, device=device)

    def extract():
        with torch.no_grad(), autocast(device, args.dtype):
            extract_latents(model, windows, 200)

    t_train = median_step_seconds(train_step, args.steps, args.warmup, device)
    model.eval()
    t_extract = median_step_seconds(extract, args.steps, args.warmup, device)

    pools = args.length // 200
    ours = latent_bytes(args.chans, args.blocks, pools, args.width, 2)
    tuev16, tuev32 = latent_bytes(22, 20, 5, 128, 2), latent_bytes(22, 20, 5, 128, 4)
    print(f"backbone: width {args.width}, {args.blocks} blocks, state {args.state}: "
          f"{n_params:,} parameters; {args.threads} thread(s), device {args.device}, {args.dtype}")
    print(f"train step: {args.batch} items x {args.length} samples: {t_train:.3f} s/step, "
          f"{args.batch / t_train:.1f} items/s")
    chan_sec = args.windows * args.chans * args.length / 200
    print(f"latent extraction: {args.windows} windows x {args.chans} ch x {args.length} samples:"
          f" {args.windows / t_extract:.2f} windows/s, {chan_sec / t_extract:.1f} channel-s/s")
    print(f"cache per window (this layout, float16): {ours:,} bytes")
    print(f"cache per TUEV sample (22 x 20 x 5 x 128): float16 {tuev16:,} bytes, "
          f"float32 {tuev32:,} bytes (authors)")


if __name__ == "__main__":
    main()
