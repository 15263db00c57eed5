r"""Evaluate a checkpoint and write a report.

Writes ``<out_dir>/report/metrics.json`` (accuracy, macro-F1, κ, per-class F1, confusion),
``confusion_matrix.png`` and, for sleep staging, true-vs-predicted hypnograms. The checkpoint is
``--ckpt_path`` or the run's ``best-*.ckpt``. ``--eval_domain D`` evaluates on the whole of
domain D instead (report in ``<out_dir>/report_D/``); ``--lodo true`` re-evaluates every fold's
best checkpoint on its held-out domain and rewrites ``<out_dir>/lodo_summary.{md,csv}``.

With no arguments it re-evaluates the embedded demo's folds (run from the folder it was trained
in). ``eegkit evaluate`` is the same program, installed with the package.

Examples
--------
python evaluate.py
python evaluate.py --config configs/baselines/uci_har_eegnet.yaml \
    --data.init_args.path "UCI HAR Dataset.zip" --ckpt_path runs/har/checkpoints/last.ckpt
python evaluate.py --config configs/sleepdifformer/demo.yaml
python evaluate.py --config configs/sleepdifformer/demo.yaml \
    --out_dir runs/demo/sleepdifformer/hmc --eval_domain isruc
python evaluate.py --help
"""

import sys

from eegkit.cli.console import run_script
from eegkit.cli.evaluate import evaluate

if __name__ == "__main__":
    # bad input (a DataError, a missing file) ends with one line and exit status 2
    sys.exit(run_script(lambda args: evaluate(args, description=__doc__)))
