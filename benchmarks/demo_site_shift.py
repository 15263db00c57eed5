"""Measure the simulated demo corpus: generation time, stage signatures and the site shift.

Generates the corpus (default size unless told otherwise), reads every site back through the
ordinary readers, and fits a linear discriminant on spectral epoch features
(:mod:`eegkit.data.demo.features`): within-site accuracy is leave-one-night-out, cross-site
accuracy trains on all nights of one site and tests on all nights of another.

Examples
--------
nice -n 10 python benchmarks/demo_site_shift.py
nice -n 10 python benchmarks/demo_site_shift.py --subjects-per-site 8 --hours 8 --seed 1
nice -n 10 python benchmarks/demo_site_shift.py --corpus DIR   # an existing corpus
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from eegkit.data.demo import DEFAULT_HOURS, DEFAULT_SUBJECTS_PER_SITE, SITES, generate
from eegkit.data.demo.features import BANDS, site_features, site_shift, stage_medians
from eegkit.data.types import STAGES


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
