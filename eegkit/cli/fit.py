"""``eegkit fit`` and ``train.py``: one run, or every leave-one-domain-out fold."""

from __future__ import annotations

import sys

from eegkit.cli.app import EEGKitCLI, fit, make_cli, prepare_args
from eegkit.cli.lodo import run_lodo

FIT_HELP = """Train a model from a YAML config (a file, or the name of a bundled config).

With ``--lodo true`` (set in the sleep configs) every leave-one-domain-out fold is trained,
evaluated and reported in ``<out_dir>/<domain>/`` and the summary goes to
``<out_dir>/lodo_summary.{md,csv}``; ``--data.init_args.held_out D`` restricts it to one fold.
Completed folds are skipped and an interrupted fold resumes from its ``last.ckpt``.

Examples
--------
eegkit fit --config demo              # SleepDIFFormer on the simulated corpus (./demo_data)
eegkit fit --config demo --data.init_args.held_out hmc --trainer.max_epochs 1
eegkit fit --config baselines/uci_har_eegnet --data.init_args.path "UCI HAR Dataset.zip"
eegkit fit --config my.yaml --model SleepStagingTask --model.init_args.lr 1e-4
eegkit fit --import my_readers --config my.yaml      # a reader registered in my_readers.py
"""


def train(args=None, description: str | None = None,
          prog: str | None = None) -> EEGKitCLI | dict:
    """``train.py`` / ``eegkit fit``: one run, or every LODO fold with ``--lodo true``."""
    args = prepare_args(sys.argv[1:] if args is None else args)
    cli = make_cli(args, description, prog)
    if cli.config.get("lodo"):
        return run_lodo(cli, args, description)
    fit(cli)
    return cli


def main(args: list[str] | None = None, prog: str = "eegkit fit"):
    """``eegkit fit``: :func:`train` with this command's help."""
    return train(args, FIT_HELP, prog)
