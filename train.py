r"""Train a model from a YAML config.

With ``--lodo true`` (set in the sleep configs) every leave-one-domain-out fold is trained,
evaluated and reported in ``<out_dir>/<domain>/`` and the summary goes to
``<out_dir>/lodo_summary.{md,csv}``; ``--data.init_args.held_out D`` restricts it to one fold.
Completed folds are skipped and an interrupted fold resumes from its ``last.ckpt``.

With no arguments it runs the embedded demo: SleepDIFFormer leave-one-site-out on the simulated
corpus in ``demo_data/`` of the current folder (generated on first use).
``eegkit fit`` is the same program, installed with the package.

Examples
--------
python train.py
python train.py --config configs/baselines/uci_har_eegnet.yaml \
    --data.init_args.path "UCI HAR Dataset.zip" --trainer.max_epochs 2
python train.py --config configs/sleepdifformer/demo.yaml
python train.py --config demo --data.init_args.held_out hmc   # a bundled config, by name
python train.py --config configs/sleepdifformer/paper.yaml --data.init_args.held_out hmc
python train.py --help
"""

import sys

from eegkit.cli.console import run_script
from eegkit.cli.fit import train

if __name__ == "__main__":
    # bad input (a DataError, a missing file) ends with one line and exit status 2
    sys.exit(run_script(lambda args: train(args, description=__doc__)))
