"""The full demo table over several seeds: leave-one-site-out on the SIMULATED demo corpus.

Trains every run of ``scripts/demo.sh`` (SleepDIFFormer with and without domain alignment, and
the braindecode baselines) once per seed through the ordinary LODO harness of ``train.py``,
then prints accuracy and macro-F1 (%) per held-out site as mean ± sd over the seeds, the
average over sites (mean ± sd over seeds of each seed's site average) and the per-class F1
averaged over sites and seeds (a class at 0 means the model never predicts it). Every fold is
evaluated on the whole held-out site. Runs go to ``<root>/<run>/seed<S>``; re-running skips
finished folds (the harness does), so an interrupted table resumes.

Examples
--------
nice -n 10 python benchmarks/demo_lodo_seeds.py                          # 5 runs x 3 seeds
nice -n 10 python benchmarks/demo_lodo_seeds.py --runs sleepdifformer sleepdifformer_no_align
nice -n 10 python benchmarks/demo_lodo_seeds.py --table-only             # print what is done
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

from eegkit.data.types import STAGES
from eegkit.metrics import mean_sd
from eegkit.reports import read_folds

ROOT = Path(__file__).resolve().parent.parent

#: Run name -> (config, label), as in scripts/demo.sh.
RUNS: dict[str, tuple[str, str]] = {
    "sleepdifformer": ("configs/sleepdifformer/demo.yaml", "SleepDIFFormer"),
    "sleepdifformer_no_align": ("configs/sleepdifformer/demo_no_align.yaml",
                                "SleepDIFFormer, no alignment"),
    "chambon2018": ("configs/sleep_baselines/demo_chambon2018.yaml",
                    "Chambon2018 (braindecode)"),
    "attn_sleep": ("configs/sleep_baselines/demo_attn_sleep.yaml",
                   "AttnSleep (braindecode, EEG only)"),
    "usleep": ("configs/sleep_baselines/demo_usleep.yaml", "U-Sleep (braindecode)"),
}


def train_command(run: str, seed: int, root: Path, extra: list[str]) -> list[str]:
    """The ``train.py`` command of one run and seed (all folds; the harness skips done ones)."""
    return [sys.executable, "train.py", "--config", RUNS[run][0], "--seed_everything", str(seed),
            "--out_dir", str(root / run / f"seed{seed}"), "--trainer.enable_progress_bar",
            "false", *extra]


def seed_table(run_dirs: dict[str, list[Path]]) -> str:
    """Accuracy / macro-F1 (%) per held-out site and on average, mean ± sd over seeds.

    Parameters
    ----------
    run_dirs : dict
        Label -> the LODO output folder of each seed. A seed counts for a site when its fold is
        complete; the average column only uses seeds whose folds are all complete.

    Returns
    -------
    str
        A markdown table: one row per run, cells ``acc ± sd / MF1 ± sd (n seeds)``, then the
        per-class F1 averaged over sites and seeds.
    """
    folds = {label: [read_folds(d) for d in dirs] for label, dirs in run_dirs.items()}
    sites = list(dict.fromkeys(s for seeds in folds.values() for f in seeds for s in f))

    def cell(values: list[list[float]]) -> str:
        if not values:
            return "–"
        (acc, mf1), (acc_sd, mf1_sd) = mean_sd(values)
        return (f"{100 * acc:.1f} ± {100 * acc_sd:.1f} / {100 * mf1:.1f} ± {100 * mf1_sd:.1f}"
                f" ({len(values)})")

    head = ["method", *sites, "avg", *(f"F1 {s}" for s in STAGES)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, seeds in folds.items():
        cells = [cell([[f[s]["acc"], f[s]["macro_f1"]] for f in seeds if s in f])
                 for s in sites]
        complete = [f for f in seeds if sites and all(s in f for s in sites)]
        cells.append(cell([np.mean([[f[s]["acc"], f[s]["macro_f1"]] for s in sites], axis=0)
                           for f in complete]))
        done = [f[s] for f in seeds for s in f]
        cells += [f"{100 * np.mean([m['per_class_f1'][c] for m in done]):.1f}" if done else "–"
                  for c in STAGES]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--root", type=Path, default=Path("runs/demo_seeds"))
    parser.add_argument("--table-only", action="store_true", help="train nothing, print")
    parser.add_argument("overrides", nargs="*",
                        help="passed on to train.py after '--' (e.g. -- --data.init_args."
                             "held_out hmc)")
    args = parser.parse_args(argv)
    if not args.table_only:
        for run in args.runs:
            for seed in args.seeds:
                cmd = train_command(run, seed, args.root, args.overrides)
                print("[eegkit] " + shlex.join(cmd), flush=True)
                subprocess.run(cmd, cwd=ROOT, check=True)
    print("\naccuracy ± sd / macro-F1 ± sd (%) over seeds (n seeds) per held-out simulated site;"
          " per-class F1 averaged over sites and seeds")
    print(seed_table({RUNS[r][1]: [args.root / r / f"seed{s}" for s in args.seeds]
                      for r in args.runs}))
    print(f"commands (S in {' '.join(map(str, args.seeds))}):")
    for run in args.runs:
        cmd = train_command(run, 0, args.root, args.overrides)
        cmd[cmd.index("--seed_everything") + 1] = "S"
        cmd[cmd.index("--out_dir") + 1] = str(args.root / run / "seedS")
        print(f"  {RUNS[run][1]}: python " + shlex.join(cmd[1:]))

if __name__ == "__main__":
    main()
