"""Train a model from a YAML config.

Examples
--------
python train.py --config configs/baselines/uci_har_eegnet.yaml
python train.py --config configs/baselines/uci_har_eegnet.yaml --trainer.max_epochs 2
python train.py --help
"""

from eegkit.cli import train

if __name__ == "__main__":
    train(description=__doc__)
