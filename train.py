"""Train a model from a YAML config.

With ``--lodo true`` (set in the sleep configs) every leave-one-domain-out fold is trained,
evaluated and reported in ``<out_dir>/<domain>/`` and the summary goes to
``<out_dir>/lodo_summary.{md,csv}``; ``--data.init_args.held_out D`` restricts it to one fold.
Completed folds are skipped and an interrupted fold resumes from its ``last.ckpt``.

With no arguments (from the repository root) it runs the embedded demo: SleepDIFFormer
leave-one-site-out on the simulated corpus in ``demo_data/`` (generated on first use).

Examples
--------
python train.py
python train.py --config configs/baselines/uci_har_eegnet.yaml --trainer.max_epochs 2
python train.py --config configs/sleepdifformer/demo.yaml
python train.py --config configs/sleepdifformer/paper.yaml --data.init_args.held_out hmc
python train.py --help
"""

from eegkit.cli import train

if __name__ == "__main__":
    train(description=__doc__)
