"""Measure the simulated demo corpus: generation time, stage signatures and the site shift.

Generates the corpus (default size unless told otherwise), reads every site back through the
ordinary readers, and fits a linear discriminant on spectral epoch features
(:mod:`eegkit.demo.features`): within-site accuracy is leave-one-night-out, cross-site
accuracy trains on all nights of one site and tests on all nights of another, and the
leave-one-site-out figures train on all nights of the four other sites and test on every
night of the held-out one -- the folds of ``scripts/demo.sh``, so this is the linear bar the
networks of the demo must beat (they see fewer source nights: 25 % go to validation).

Examples
--------
nice -n 10 python benchmarks/demo_site_shift.py
nice -n 10 python benchmarks/demo_site_shift.py --subjects-per-site 8 --hours 8 --seed 1
nice -n 10 python benchmarks/demo_site_shift.py --corpus demo_data   # the corpus of scripts/demo.sh
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from eegkit.data.splits import lodo_splits
from eegkit.data.types import STAGES
from eegkit.demo import DEFAULT_HOURS, DEFAULT_SUBJECTS_PER_SITE, SITES, generate
from eegkit.demo.features import (
    BANDS,
    LinearDiscriminant,
    _stack,
    site_features,
    site_shift,
    stage_medians,
)
from eegkit.metrics import mean_sd, summarize


def lodo_lda(features: dict[str, list[tuple[np.ndarray, np.ndarray]]]) -> dict[str, dict]:
    """Leave-one-site-out linear discriminant: one fold per held-out site, in LODO order.

    Parameters
    ----------
    features : dict
        Site name -> (features, stages) per recording
        (:func:`eegkit.demo.features.site_features`).

    Returns
    -------
    dict
        Held-out site -> :func:`eegkit.metrics.summarize` of the LDA fitted on every recording
        of the other sites and applied to every scored epoch of the held-out site.
    """
    folds = {}
    for sources, held_out in lodo_splits(list(features)):
        model = LinearDiscriminant.fit(*_stack(r for s in sources for r in features[s]))
        x, y = _stack(features[held_out])
        folds[held_out] = summarize(y, model.predict(x), list(STAGES))
    return folds


def print_lodo(folds: dict[str, dict]) -> None:
    """Print accuracy, macro-F1 and per-class F1 (%) per held-out site, then mean ± sd."""
    head = ["held-out site", "epochs", "acc", "MF1", *(f"F1 {s}" for s in STAGES)]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    rows = [[m["acc"], m["macro_f1"], *m["per_class_f1"].values()] for m in folds.values()]
    for (site, m), row in zip(folds.items(), rows, strict=True):
        print(f"| {site} | {m['n']} | " + " | ".join(f"{100 * v:.1f}" for v in row) + " |")
    mean, sd = mean_sd(rows)
    print(f"| mean ± sd | {sum(m['n'] for m in folds.values())} | "
          + " | ".join(f"{100 * a:.1f} ± {100 * b:.1f}" for a, b in zip(mean, sd, strict=True))
          + " |")


def report(root: Path) -> dict:
    t0 = time.perf_counter()
    features = {name: site_features(name, root / name) for name in SITES}
    print(f"read + features: {time.perf_counter() - t0:.1f} s")

    print("\nmedian feature per stage (log10 power relative to the recording's 0.3-35 Hz mean;"
          " eye = log1p(fast eye movements per min))")
    columns = [("EEG delta", 0), ("EEG alpha", 2), ("EEG sigma", 3), ("eye", 2 * len(BANDS))]
    for name, feats in features.items():
        med = stage_medians(feats)
        print(f"  {name}")
        for label, c in columns:
            print(f"    {label:>9}: " + " ".join(f"{s}={med[k, c]:+.2f}"
                                              for k, s in enumerate(STAGES)))

    result = site_shift(features)
    acc = result["accuracy"]
    print("\naccuracy: rows = trained on, columns = tested on (diagonal: leave-one-night-out)")
    print(" " * 15 + "".join(f"{b:>14}" for b in SITES))
    for a in SITES:
        print(f"{a:>15}" + "".join(f"{acc[a][b]:14.3f}" for b in SITES))
    print(f"\nmean within-site accuracy {result['mean_within']:.3f}, "
          f"mean cross-site accuracy {result['mean_cross']:.3f}, "
          f"drop {result['mean_within'] - result['mean_cross']:.3f}")
    for key in ("within", "cross"):
        summary = result[key]
        f1 = " ".join(f"{s}={v:.3f}" for s, v in summary["per_class_f1"].items())
        print(f"{key:>6}: acc {summary['acc']:.3f}, macro-F1 {summary['macro_f1']:.3f}, "
              f"kappa {summary['kappa']:.3f}; F1 {f1}")
    print("\nleave-one-site-out (train on the four other sites, test on every night of the"
          " held-out one; %):")
    result["lodo"] = lodo_lda(features)
    print_lodo(result["lodo"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=None,
                        help="an existing corpus (default: generate one in a temporary folder)")
    parser.add_argument("--subjects-per-site", type=int, default=DEFAULT_SUBJECTS_PER_SITE)
    parser.add_argument("--hours", type=float, default=DEFAULT_HOURS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eegkit-demo-") as tmp:
        root = args.corpus
        if root is None:
            root = Path(tmp)
            t0, c0 = time.perf_counter(), time.process_time()
            generate(root, args.subjects_per_site, args.hours, args.seed, verbose=True)
            print(f"generation: {time.perf_counter() - t0:.1f} s wall, "
                  f"{time.process_time() - c0:.1f} s CPU "
                  f"({args.subjects_per_site} nights x {args.hours} h x {len(SITES)} sites, "
                  f"{sum(f.stat().st_size for f in root.rglob('*') if f.is_file()) / 1e6:.0f} MB)")
        result = report(root)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
