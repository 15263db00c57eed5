"""``python -m eegkit.merging run CONFIG`` and ``python -m eegkit.merging table NAME=DIR ...``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from eegkit.merging.runner import load_run, read_results, run, table
from eegkit.utils.argtypes import name_and_dir


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eegkit.merging",
        description="LODO model merging: 'run CONFIG' trains, fine-tunes, merges and evaluates "
                    "every fold (resumable); 'table NAME=DIR ...' prints the held-out results "
                    "side by side (accuracy / macro-F1, %).")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run every fold of a configs/merging/*.yaml")
    p_run.add_argument("config")
    p_run.add_argument("--folds", nargs="+", default=None, help="only these held-out domains")
    p_tab = sub.add_parser("table", help="the LODO table of finished runs")
    p_tab.add_argument("runs", nargs="+", metavar="NAME=DIR", type=name_and_dir)
    p_tab.add_argument("--out", default=None, help="also write the tables to this .md file")
    args = parser.parse_args(argv)
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
