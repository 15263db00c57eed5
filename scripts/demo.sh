#!/usr/bin/env bash
# README command 1: set up (or reuse) the environment, write the SIMULATED five-site sleep corpus
# into demo_data/ (skipped when it is there), run leave-one-site-out sleep staging on it with
# SleepDIFFormer and a braindecode baseline (each: one model per held-out site, best checkpoint
# on validation macro-F1, report on the whole held-out site), then print the tables and where
# the plots are. Sized for a 2-core CPU (see the demo configs).
#
#   scripts/demo.sh               # SleepDIFFormer + Chambon2018: about 9 minutes on 2 free cores
#   EEGKIT_DEMO_RUNS="sleepdifformer sleepdifformer_no_align chambon2018 attn_sleep usleep" \
#       scripts/demo.sh           # the full table: alignment ablation and three baselines
#
# Re-running resumes: finished folds are skipped, an interrupted one continues from last.ckpt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
start=$(date +%s)

if [ -f demo_data/demo_corpus.json ]; then
    echo "[eegkit] reusing the simulated corpus in demo_data/"
else
    python -m eegkit.demo --out demo_data
fi

# name -> config; the run goes to the config's out_dir (runs/demo/<name>).
declare -A CONFIGS=(
    [sleepdifformer]=configs/sleepdifformer/demo.yaml
    [sleepdifformer_no_align]=configs/sleepdifformer/demo_no_align.yaml
    [chambon2018]=configs/sleep_baselines/demo_chambon2018.yaml
    [attn_sleep]=configs/sleep_baselines/demo_attn_sleep.yaml
    [usleep]=configs/sleep_baselines/demo_usleep.yaml
)
declare -A LABELS=(
    [sleepdifformer]="SleepDIFFormer"
    [sleepdifformer_no_align]="SleepDIFFormer, no alignment"
    [chambon2018]="Chambon2018 (braindecode)"
    [attn_sleep]="AttnSleep (braindecode, EEG only)"
    [usleep]="U-Sleep (braindecode)"
)
RUNS=${EEGKIT_DEMO_RUNS:-"sleepdifformer chambon2018"}

table_args=()
for run in $RUNS; do
    [ -n "${CONFIGS[$run]:-}" ] || { echo "[eegkit] unknown demo run '$run'" >&2; exit 2; }
    echo "[eegkit] === leave-one-site-out: ${LABELS[$run]} (${CONFIGS[$run]}) ==="
    python train.py --config "${CONFIGS[$run]}" --trainer.enable_progress_bar false
    table_args+=("${LABELS[$run]}=runs/demo/$run")
done

echo
echo "[eegkit] accuracy / macro-F1 (%) per held-out simulated site (layout of the paper's table):"
python -m eegkit lodo table "${table_args[@]}" --out runs/demo/lodo_table.md
echo
echo "[eegkit] per-run summaries (accuracy, macro-F1, kappa, per-class F1, mean ± sd):"
for run in $RUNS; do echo "  runs/demo/$run/lodo_summary.md (.csv)"; done
echo "[eegkit] plots: runs/demo/<run>/<held-out site>/report/confusion_matrix.png and"
echo "        hypnogram_*.png (true vs predicted); combined table: runs/demo/lodo_table.md"
echo "[eegkit] SIMULATED data: these numbers check the pipeline, they say nothing about real EEG."
echo "[eegkit] demo finished in $(( $(date +%s) - start )) s"
