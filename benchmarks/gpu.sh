#!/usr/bin/env bash
# The GPU figures of issue 12 in one run (about 5 minutes on one H100/H200): SleepDIFFormer at
# the paper's batch (16 x 20 x 2 x 3000) fused vs eager attention in float32 and bfloat16,
# a training step of the paper-size EEGDM backbone, an AdaCE-I ViT-S/14 fine-tuning step at
# 224 px. Each script prints its own table; everything is copied to $OUT/gpu_figures.txt
# (default runs/gpu/). Needs torch with CUDA and eegkit's dependencies on the machine:
#   EEGKIT_TORCH="" bash scripts/test.sh -m "not slow"    # or any environment with them
#   bash benchmarks/gpu.sh
# A row that fails (say, an operator without a bfloat16 kernel) prints its error and the
# next row still runs: one missing figure must not cost the others.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${OUT:-runs/gpu}"
mkdir -p "$out"
log="$out/gpu_figures.txt"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
device="${EEGKIT_GPU_DEVICE:-cuda}"

row() {  # row <title> <command...>: print the command, run it under a 5-minute limit
    echo "### $1" | tee -a "$log"
    echo "\$ ${*:2}" | tee -a "$log"
    timeout 300 "${@:2}" 2>&1 | grep -v Warning | tee -a "$log"
    echo | tee -a "$log"
}

: > "$log"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} 2>&1 | tee -a "$log"
for dtype in float32 bfloat16; do
    row "SleepDIFFormer vs AttnSleep, $dtype" python benchmarks/sleepdifformer.py \
        --device "$device" --dtype "$dtype" --steps 20 --warmup 3
done
row "EEGDM backbone (paper size), bfloat16" python benchmarks/eegdm.py --device "$device" \
    --dtype bfloat16 --batch 64 --windows 32 --steps 10 --warmup 2
row "EEGDM backbone (paper size), float32" python benchmarks/eegdm.py --device "$device" \
    --batch 64 --windows 32 --steps 10 --warmup 2
row "AdaCE-I ViT-S/14 224 px, full fine-tuning, bfloat16" python benchmarks/adace_step.py \
    --device "$device" --dtype bfloat16 --batch 64 --steps 20 --warmup 3
echo "figures in $log"
