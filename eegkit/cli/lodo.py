"""Leave-one-domain-out (LODO): the driver of ``--lodo true`` runs, and ``eegkit lodo``.

A LODO run of a config trains one model per held-out domain on the other domains, selects the
checkpoint with the best validation macro-F1 and evaluates it on the whole held-out domain::

    <out_dir>/<domain>/checkpoints/{best-*.ckpt,last.ckpt}
    <out_dir>/<domain>/report/{metrics.json,confusion_matrix.png,hypnogram_*.png}
    <out_dir>/lodo_summary.md, lodo_summary.csv

A fold whose ``report/metrics.json`` exists is complete and skipped; an interrupted fold resumes
from its ``last.ckpt``. Several runs (SleepDIFFormer with and without alignment, baselines) are
put side by side with :func:`eegkit.reports.combined_table` (``eegkit lodo table NAME=DIR ...``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from eegkit.cli.app import best_checkpoint, evaluate_checkpoint, fit, make_cli
from eegkit.data.splits import lodo_splits
from eegkit.reports import combined_table, write_summary
from eegkit.utils.argtypes import name_and_dir


def _fold_overrides(domain: str, out_dir: Path) -> list[str]:
    return ["--lodo", "false", "--data.init_args.held_out", domain,
            "--out_dir", str(out_dir / domain)]


def folds_of(cli) -> list[str]:
    """Held-out domains of a parsed config: ``held_out`` if set, else every domain."""
    data = cli.config["data"]["init_args"]
    held = data.get("held_out")
    domains = list(data.get("domains") or getattr(cli.datamodule, "domain_names", None) or [])
    if held is not None:
        if held not in domains:
            raise SystemExit(f"held_out {held!r} is not one of the domains {domains}")
        return [held]
    return [d for _, d in lodo_splits(domains)]


def run_lodo(cli, args: Sequence[str], description: str | None = None) -> dict:
    """Train, evaluate and report every fold of the config parsed in ``cli``; write the summary.

    Parameters
    ----------
    cli : EEGKitCLI
        The parsed config (used for its domains and ``out_dir``).
    args : sequence of str
        The command line it was parsed from; each fold re-parses it with its overrides.
    """
    out_dir = Path(cli.config["out_dir"])
    folds = folds_of(cli)
    for i, domain in enumerate(folds, 1):
        report = out_dir / domain / "report"
        if (report / "metrics.json").exists():
            print(f"[eegkit] LODO fold {i}/{len(folds)} ({domain}) is complete, skipping")
            continue
        print(f"[eegkit] LODO fold {i}/{len(folds)}: held-out domain {domain}")
        fold = make_cli([*args, *_fold_overrides(domain, out_dir)], description, announce=False)
        fit(fold)
        if fold.trainer.is_global_zero:
            evaluate_checkpoint(fold, best_checkpoint(out_dir / domain), report,
                                title=f"held out: {domain}", name=f"fold {domain}")
    if not cli.trainer.is_global_zero:
        return {}
    return write_summary(out_dir, folds)


def evaluate_lodo(cli, args: Sequence[str], description: str | None = None) -> dict:
    """Re-evaluate the best checkpoint of every fold on its held-out domain; write the summary."""
    out_dir = Path(cli.config["out_dir"])
    folds = [d for d in folds_of(cli) if (out_dir / d / "checkpoints").is_dir()]
    if not folds:
        raise SystemExit(f"no trained LODO fold under {out_dir}")
    for domain in folds:
        fold = make_cli([*args, *_fold_overrides(domain, out_dir)], description, announce=False)
        evaluate_checkpoint(fold, best_checkpoint(out_dir / domain),
                            out_dir / domain / "report", title=f"held out: {domain}",
                            name=f"fold {domain}")
    return write_summary(out_dir, folds)


def main(argv: Sequence[str] | None = None, prog: str = "eegkit lodo") -> None:
    """``eegkit lodo``: the summary of one run, or runs side by side."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="LODO tables. 'summary DIR' rewrites a run's lodo_summary.{md,csv}; "
                    "'table NAME=DIR ...' prints runs side by side (accuracy/macro-F1, %).")
    sub = parser.add_subparsers(dest="command", required=True)
    p_sum = sub.add_parser("summary", help="rewrite a run's lodo_summary.{md,csv}")
    p_sum.add_argument("out_dir")
    p_tab = sub.add_parser("table", help="several runs side by side")
    p_tab.add_argument("runs", nargs="+", metavar="NAME=DIR", type=name_and_dir)
    p_tab.add_argument("--domains", nargs="+", default=None, help="column order")
    p_tab.add_argument("--out", default=None, help="also write the table to this .md file")
    args = parser.parse_args(argv)
    if args.command == "summary":
        write_summary(args.out_dir)
        return
    table = combined_table(dict(args.runs), args.domains)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
