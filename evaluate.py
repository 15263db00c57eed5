"""Evaluate a checkpoint on the test split of a config's datamodule and write a report.

Writes ``<out_dir>/report/metrics.json`` (accuracy, macro-F1, κ, per-class F1, confusion) and
``confusion_matrix.png``.

Examples
--------
python evaluate.py --config configs/baselines/uci_har_eegnet.yaml \
    --ckpt_path runs/har/checkpoints/last.ckpt
python evaluate.py --help
"""

from eegkit.cli import evaluate

if __name__ == "__main__":
    evaluate(description=__doc__)
