"""Write the simulated demo corpus.

Examples
--------
python -m eegkit.demo --out demo-corpus
python -m eegkit.demo --out demo-corpus --subjects-per-site 10 --hours 8 --seed 1
"""

from __future__ import annotations

import argparse
import time

from eegkit.demo import DEFAULT_HOURS, DEFAULT_SUBJECTS_PER_SITE, SITES, generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eegkit.demo",
        description="Write the SIMULATED five-site sleep PSG demo corpus in the real datasets' "
                    "file formats (DIR/<reader name>/...).",
    )
    parser.add_argument("--out", required=True, help="corpus folder (created if missing)")
    parser.add_argument("--subjects-per-site", type=int, default=DEFAULT_SUBJECTS_PER_SITE,
                        help="nights per site (default %(default)s)")
    parser.add_argument("--hours", type=float, default=DEFAULT_HOURS,
                        help="length of each night in hours, >= 1 (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--sites", nargs="+", choices=list(SITES), default=None,
                        help="subset of sites (default: all five)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    generate(args.out, args.subjects_per_site, args.hours, args.seed, args.sites, verbose=True)
    print(f"simulated corpus written to {args.out} in {time.perf_counter() - t0:.1f} s "
          f"(see {args.out}/README_SIMULATED.txt)")


if __name__ == "__main__":
    main()
