"""``eegkit predict``: a trained model applied to new EDF recordings (:mod:`eegkit.inference`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from eegkit import inference
from eegkit.inference import input_files, load_model, predict_file


def main(argv: Sequence[str] | None = None, prog: str = "eegkit predict") -> list[Path]:
    """``eegkit predict``; returns the paths written."""
    parser = argparse.ArgumentParser(
        prog=prog, description=inference.__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="checkpoint of a trained task")
    parser.add_argument("--input", required=True,
                        help="an EDF/EDF+ file, or a folder (every EDF with signals in it)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--eeg", help="sleep: EEG channel label (or regular expression)")
    parser.add_argument("--eog", help="sleep: EOG channel label (or regular expression)")
    parser.add_argument("--channels", nargs="+",
                        help="window models: channel labels, in the model's order")
    parser.add_argument("--stride", type=float, help="window models: step in seconds "
                        "(default: one window)")
    parser.add_argument("--seq-len", type=int,
                        help="sleep: epochs per sequence when the checkpoint does not say")
    parser.add_argument("--scale", type=float,
                        help="window models whose checkpoint records no units (trained on a "
                        "text table such as UCI HAR): factor from volts to the training units")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    args = parser.parse_args(argv)
    model = load_model(args.ckpt, map_location=args.device)
    written = []
    for path, name in input_files(args.input):
        written += predict_file(model, path, args.out, name, eeg=args.eeg, eog=args.eog,
                                channels=args.channels, stride_s=args.stride,
                                seq_len=args.seq_len, batch_size=args.batch_size,
                                scale=args.scale)
    for path in written:
        print(f"[eegkit] wrote {path}")
    return written


if __name__ == "__main__":
    main()
