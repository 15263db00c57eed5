#!/usr/bin/env bash
# README command 1: set up (or reuse) the environment and run the main job on the demo data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
echo "[eegkit] the demo job is assembled by the demo-corpus and SleepDIFFormer work; until it"
echo "[eegkit] lands, this checks the installation: registered models and a braindecode forward."
python - <<'PY'
import torch
from eegkit.models import create_model, list_models
print("models:", ", ".join(list_models()))
m = create_model("usleep", n_chans=2, n_outputs=5, n_times=3000, sfreq=100)
print("usleep on a (1, 20, 2, 3000) sequence ->", tuple(m(torch.randn(1, 20, 2, 3000)).shape))
PY
