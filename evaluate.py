"""Evaluate a checkpoint and write a report.

Writes ``<out_dir>/report/metrics.json`` (accuracy, macro-F1, κ, per-class F1, confusion),
``confusion_matrix.png`` and, for sleep staging, true-vs-predicted hypnograms. The checkpoint is
``--ckpt_path`` or the run's ``best-*.ckpt``. ``--eval_domain D`` evaluates on the whole of
domain D instead (report in ``<out_dir>/report_D/``); ``--lodo true`` re-evaluates every fold's
best checkpoint on its held-out domain and rewrites ``<out_dir>/lodo_summary.{md,csv}``.

With no arguments (from the repository root) it re-evaluates the embedded demo's folds.

Examples
--------
python evaluate.py
python evaluate.py --config configs/baselines/uci_har_eegnet.yaml \
    --ckpt_path runs/har/checkpoints/last.ckpt
python evaluate.py --config configs/sleepdifformer/demo.yaml
python evaluate.py --config configs/sleepdifformer/demo.yaml \
    --out_dir runs/demo/sleepdifformer/hmc --eval_domain isruc
python evaluate.py --help
"""

from eegkit.cli import evaluate

if __name__ == "__main__":
    evaluate(description=__doc__)
