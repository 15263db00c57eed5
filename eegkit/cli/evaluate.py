"""``eegkit evaluate`` and ``evaluate.py``: a checkpoint's report, on its test split, a whole
domain, or every leave-one-domain-out fold."""

from __future__ import annotations

import sys
from pathlib import Path

from eegkit.cli.app import best_checkpoint, evaluate_checkpoint, make_cli, prepare_args
from eegkit.cli.lodo import evaluate_lodo

EVALUATE_HELP = """Evaluate a checkpoint and write a report.

Writes ``<out_dir>/report/metrics.json`` (accuracy, macro-F1, kappa, per-class F1, confusion),
``confusion_matrix.png`` and, for sleep staging, true-vs-predicted hypnograms. The checkpoint is
``--ckpt_path`` or the run's ``best-*.ckpt``. ``--eval_domain D`` evaluates on the whole of
domain D instead (report in ``<out_dir>/report_D/``); ``--lodo true`` re-evaluates every fold's
best checkpoint on its held-out domain and rewrites ``<out_dir>/lodo_summary.{md,csv}``.

Examples
--------
eegkit evaluate --config demo
eegkit evaluate --config demo --out_dir runs/demo/sleepdifformer/hmc --eval_domain isruc
eegkit evaluate --config baselines/uci_har_eegnet --data.init_args.path "UCI HAR Dataset.zip" \\
    --ckpt_path runs/har/checkpoints/last.ckpt
"""


def evaluate(args=None, description: str | None = None, prog: str | None = None) -> dict:
    """``evaluate.py`` / ``eegkit evaluate``: predict on the test split (or a domain, or every
    LODO fold) and write the report."""
    args = prepare_args(sys.argv[1:] if args is None else args)
    cli = make_cli(args, description, prog)
    domain = cli.config.get("eval_domain")
    if cli.config.get("lodo") and domain is None:
        return evaluate_lodo(cli, args, description)
    report_dir = Path(cli.config["out_dir"]) / "report"
    if domain is not None:
        cli = make_cli([*args, "--data.init_args.held_out", domain], description, prog,
                       announce=False)
        report_dir = report_dir.with_name(f"report_{domain}")
    ckpt = cli.config.get("ckpt_path") or best_checkpoint(cli.config["out_dir"])
    return evaluate_checkpoint(cli, ckpt, report_dir, title=domain or "",
                               name=f"domain {domain}" if domain else "test")


def main(args: list[str] | None = None, prog: str = "eegkit evaluate"):
    """``eegkit evaluate``: :func:`evaluate` with this command's help."""
    return evaluate(args, EVALUATE_HELP, prog)
