"""Leave-one-domain-out (LODO) runs and their tables.

A LODO run of a config trains one model per held-out domain on the other domains, selects the
checkpoint with the best validation macro-F1 and evaluates it on the whole held-out domain::

    <out_dir>/<domain>/checkpoints/{best-*.ckpt,last.ckpt}
    <out_dir>/<domain>/report/{metrics.json,confusion_matrix.png,hypnogram_*.png}
    <out_dir>/lodo_summary.md, lodo_summary.csv

A fold whose ``report/metrics.json`` exists is complete and skipped; an interrupted fold resumes
from its ``last.ckpt``. Several runs (SleepDIFFormer with and without alignment, baselines) are
put side by side with :func:`combined_table` (``python -m eegkit.lodo table NAME=DIR ...``).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eegkit.data.splits import lodo_splits
from eegkit.metrics import mean_sd

SUMMARY = "lodo_summary"
_HEADLINE = (("acc", "accuracy"), ("macro_f1", "macro-F1"), ("kappa", "κ"))


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
    from eegkit.cli import best_checkpoint, evaluate_checkpoint, fit, make_cli

    out_dir = Path(cli.config["out_dir"])
    folds = folds_of(cli)
    for i, domain in enumerate(folds, 1):
        report = out_dir / domain / "report"
        if (report / "metrics.json").exists():
            print(f"[eegkit] LODO fold {i}/{len(folds)} ({domain}) is complete, skipping")
            continue
        print(f"[eegkit] LODO fold {i}/{len(folds)}: held-out domain {domain}")
        fold = make_cli([*args, *_fold_overrides(domain, out_dir)], description)
        fit(fold)
        if fold.trainer.is_global_zero:
            evaluate_checkpoint(fold, best_checkpoint(out_dir / domain), report,
                                title=f"held out: {domain}", name=f"fold {domain}")
    if not cli.trainer.is_global_zero:
        return {}
    return write_summary(out_dir, folds)


def evaluate_lodo(cli, args: Sequence[str], description: str | None = None) -> dict:
    """Re-evaluate the best checkpoint of every fold on its held-out domain; write the summary."""
    from eegkit.cli import best_checkpoint, evaluate_checkpoint, make_cli

    out_dir = Path(cli.config["out_dir"])
    folds = [d for d in folds_of(cli) if (out_dir / d / "checkpoints").is_dir()]
    if not folds:
        raise SystemExit(f"no trained LODO fold under {out_dir}")
    for domain in folds:
        fold = make_cli([*args, *_fold_overrides(domain, out_dir)], description)
        evaluate_checkpoint(fold, best_checkpoint(out_dir / domain),
                            out_dir / domain / "report", title=f"held out: {domain}",
                            name=f"fold {domain}")
    return write_summary(out_dir, folds)


def read_folds(out_dir: str | Path, folds: Sequence[str] | None = None) -> dict[str, dict]:
    """``{domain: metrics.json}`` of the completed folds of a LODO run, in fold order."""
    out_dir = Path(out_dir)
    if folds is None:  # the run's fold order when its summary exists, else alphabetical
        found = sorted(p.parent.parent.name for p in out_dir.glob("*/report/metrics.json"))
        summary = out_dir / f"{SUMMARY}.csv"
        if summary.exists():
            with open(summary) as f:
                listed = [r["domain"] for r in csv.DictReader(f)]
            found = [d for d in listed if d in found] + [d for d in found if d not in listed]
        folds = found
    found = {}
    for d in folds:
        path = out_dir / d / "report" / "metrics.json"
        if path.exists():
            found[d] = json.loads(path.read_text())
    return found


def summary_rows(metrics: dict[str, dict]) -> tuple[list[str], list[list]]:
    """Columns and rows of the LODO summary: one row per held-out domain, then mean and sd.

    The sd is the sample standard deviation over folds (``ddof=1``; 0 with a single fold).
    """
    classes = list(next(iter(metrics.values()))["per_class_f1"])
    columns = ["domain", "n", *(k for k, _ in _HEADLINE), *(f"f1_{c}" for c in classes)]
    rows = [[d, m["n"], *(m[k] for k, _ in _HEADLINE), *(m["per_class_f1"][c] for c in classes)]
            for d, m in metrics.items()]
    mean, sd = mean_sd([r[2:] for r in rows])
    rows.append(["mean", sum(r[1] for r in rows), *mean])
    rows.append(["sd", "", *sd])
    return columns, rows


def write_summary(out_dir: str | Path, folds: Sequence[str] | None = None) -> dict:
    """Write ``lodo_summary.csv`` (fractions) and ``lodo_summary.md`` (%); print the table."""
    out_dir = Path(out_dir)
    metrics = read_folds(out_dir, folds)
    if not metrics:
        raise SystemExit(f"no completed LODO fold under {out_dir}")
    columns, rows = summary_rows(metrics)
    with open(out_dir / f"{SUMMARY}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows([[f"{v:.6f}" if isinstance(v, float) else v for v in r] for r in rows])
    table = summary_markdown(columns, rows)
    (out_dir / f"{SUMMARY}.md").write_text(table + "\n")
    print(table)
    print(f"[eegkit] LODO summary: {out_dir / SUMMARY}.md, .csv; per-fold reports and plots in "
          f"{out_dir}/<domain>/report/")
    return {"columns": columns, "rows": rows}


def summary_markdown(columns: list[str], rows: list[list]) -> str:
    """The summary rows as a markdown table: percentages, κ as a fraction, mean ± sd."""
    names = {k: v for k, v in _HEADLINE}
    header = ["held-out domain", "epochs",
              *(names.get(c, c.replace("f1_", "F1 ")) for c in columns[2:])]

    def cell(col: str, v: float, sd: float | None = None) -> str:
        scale, fmt = (1.0, "{:.3f}") if col == "kappa" else (100.0, "{:.1f}")
        text = fmt.format(scale * v)
        return text if sd is None else f"{text} ± {fmt.format(scale * sd)}"

    *folds, mean, sd = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in folds:
        lines.append("| " + " | ".join([r[0], str(r[1]),
                                        *(cell(c, v) for c, v in zip(columns[2:], r[2:],
                                                                     strict=True))]) + " |")
    lines.append("| " + " | ".join(["mean ± sd", str(mean[1]),
                                    *(cell(c, m, s) for c, m, s in zip(columns[2:], mean[2:],
                                                                       sd[2:], strict=True))])
                 + " |")
    return "\n".join(lines)


def combined_table(runs: dict[str, str | Path], domains: Sequence[str] | None = None) -> str:
    """Several LODO runs side by side, as the paper's results table: accuracy / macro-F1 (%).

    Parameters
    ----------
    runs : dict
        ``{method name: LODO out_dir}``.
    domains : sequence of str, optional
        Column order; default: every held-out domain found, in order of first appearance.
    """
    metrics = {name: read_folds(path) for name, path in runs.items()}
    if domains is None:
        domains = list(dict.fromkeys(d for m in metrics.values() for d in m))
    lines = ["| method | " + " | ".join([*domains, "avg"]) + " |",
             "|" + "---|" * (len(domains) + 2)]
    for name, folds in metrics.items():
        cells = [f"{100 * folds[d]['acc']:.2f}/{100 * folds[d]['macro_f1']:.2f}"
                 if d in folds else "–" for d in domains]
        if folds and all(d in folds for d in domains):
            acc = np.mean([folds[d]["acc"] for d in domains])
            mf1 = np.mean([folds[d]["macro_f1"] for d in domains])
            cells.append(f"{100 * acc:.2f}/{100 * mf1:.2f}")
        else:
            cells.append("–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str = "python -m eegkit.lodo") -> None:
    """``eegkit lodo`` / ``python -m eegkit.lodo``: the summary of one run, or runs side by side."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="LODO tables. 'summary DIR' rewrites a run's lodo_summary.{md,csv}; "
                    "'table NAME=DIR ...' prints runs side by side (accuracy/macro-F1, %).")
    sub = parser.add_subparsers(dest="command", required=True)
    p_sum = sub.add_parser("summary", help="rewrite a run's lodo_summary.{md,csv}")
    p_sum.add_argument("out_dir")
    p_tab = sub.add_parser("table", help="several runs side by side")
    p_tab.add_argument("runs", nargs="+", metavar="NAME=DIR")
    p_tab.add_argument("--domains", nargs="+", default=None, help="column order")
    p_tab.add_argument("--out", default=None, help="also write the table to this .md file")
    args = parser.parse_args(argv)
    if args.command == "summary":
        write_summary(args.out_dir)
        return
    runs = {}
    for item in args.runs:
        name, sep, path = item.partition("=")
        if not sep:
            parser.error(f"expected NAME=DIR, got {item!r}")
        runs[name] = path
    table = combined_table(runs, args.domains)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
