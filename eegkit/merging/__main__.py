"""``python -m eegkit.merging run CONFIG``, ``... table NAME=DIR ...`` and
``... checkpoints A.ckpt B.ckpt --out SOUP.ckpt``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from eegkit.merging.checkpoints import merge_checkpoints
from eegkit.merging.methods import METHODS
from eegkit.merging.runner import load_run, read_results, run, table
from eegkit.utils.argtypes import name_and_dir


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eegkit.merging",
        description="LODO model merging: 'run CONFIG' trains, fine-tunes, merges and evaluates "
                    "every fold (resumable); 'table NAME=DIR ...' prints the held-out results "
                    "side by side (accuracy / macro-F1, %); 'checkpoints A B --out C' merges "
                    "fine-tuned checkpoints into one (a model soup) that evaluate.py and "
                    "predict load like any other.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run every fold of a configs/merging/*.yaml")
    p_run.add_argument("config")
    p_run.add_argument("--folds", nargs="+", default=None, help="only these held-out domains")
    p_tab = sub.add_parser("table", help="the LODO table of finished runs")
    p_tab.add_argument("runs", nargs="+", metavar="NAME=DIR", type=name_and_dir)
    p_tab.add_argument("--out", default=None, help="also write the tables to this .md file")
    p_ckpt = sub.add_parser("checkpoints", help="merge checkpoints into one checkpoint")
    p_ckpt.add_argument("checkpoints", nargs="+", help="two or more .ckpt of one architecture")
    p_ckpt.add_argument("--out", required=True, help="the merged .ckpt to write")
    p_ckpt.add_argument("--method", default="average", choices=sorted(METHODS))
    p_ckpt.add_argument("--ancestor", default=None,
                        help="checkpoint of the shared ancestor (task-vector methods)")
    p_ckpt.add_argument("--preprocessing-from", type=int, default=None, metavar="INDEX",
                        help="keep the input preprocessing of this checkpoint (0-based), "
                             "needed when the checkpoints record different ones")
    p_ckpt.add_argument("--weights", nargs="+", type=float, default=None,
                        help="average: one weight per checkpoint (default: equal)")
    p_ckpt.add_argument("--lam", type=float, default=None, help="task-vector scaling λ")
    p_ckpt.add_argument("--density", type=float, default=None, help="TIES: kept fraction")
    p_ckpt.add_argument("--ratio", type=float, default=None, help="PCB: kept fraction")
    args = parser.parse_args(argv)
    if args.command == "checkpoints":
        options = {k: getattr(args, k) for k in ("weights", "lam", "density", "ratio")
                   if getattr(args, k) is not None}
        try:
            out = merge_checkpoints(args.checkpoints, args.out, args.method, args.ancestor,
                                    args.preprocessing_from, **options)
        except ValueError as err:  # DataError included: name the file, no traceback
            parser.exit(2, f"python -m eegkit.merging checkpoints: error: {err}\n")
        print(f"[eegkit] {args.method} of {len(args.checkpoints)} checkpoints -> {out}")
        return
    if args.command == "run":
        # Dozens of short Trainer runs: keep their start-up banners out of the log.
        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
        config = load_run(args.config)
        if args.folds:
            config["folds"] = args.folds
        print(table(run(config)))
        return
    parts = []
    for name, path in args.runs:
        results = read_results(path)
        if not results:
            parser.error(f"no completed fold under {path}")
        parts.append(f"### {name}\n\n{table(results)}\n")
    text = "\n".join(parts)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
