"""Command line of the data layer.

``eegkit data summary NAME PATH`` prints, as JSON, what a registered dataset holds:
recordings, subjects, windows per split, class counts, channels and sampling rates. For sleep
datasets it runs (or reads from the cache) the sleep pipeline, so it also prepares the arrays
that training uses; windows datasets are split by their official split where they ship one.

``eegkit data card NAME`` prints the dataset card shipped with eegkit
(``datasets/NAME.md``): where to get the data, the folder layout the reader expects, its labels.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from eegkit.data import dataset_info, list_datasets, load
from eegkit.data.pipelines.sleep import class_counts, prepare_sleep
from eegkit.data.types import DataError
from eegkit.utils.resources import dataset_card


def _sleep_summary(name: str, path: Path, cache_dir: str | None, progress: bool) -> dict:
    seqs = prepare_sleep(name, path, cache_dir=cache_dir, progress=progress)
    per_rec = seqs.info
    return {
        "recordings": len(per_rec),
        "subjects": len({r["subject"] for r in per_rec.values()}),
        "splits": {"all": {
            "epochs": sum(r["epochs"] for r in per_rec.values()),  # scored, before packing
            "epochs_in_sequences": int(seqs.y.size),
            "sequences": len(seqs),
        }},
        "class_counts": class_counts(seqs.y),
        "dropped_unscored_epochs": sum(r["dropped_unscored"] for r in per_rec.values()),
        "channels": seqs.ch_names,
        "native_sfreq": sorted({r["native_sfreq"] for r in per_rec.values()}),
        "sfreq": seqs.sfreq,
        "seq_len": int(seqs.y.shape[1]),
    }


def _events_summary(name: str, path: Path) -> dict:
    classes = dataset_info(name).get("classes")

    def label(code: int) -> str:
        return classes[code] if classes is not None and 0 <= code < len(classes) else str(code)

    splits: dict[str, dict] = {}
    subjects, rates, channels, n = set(), set(), None, 0
    for rec in load(name, path):
        n += 1
        subjects.add(rec.subject)
        rates.add(rec.sfreq)
        channels = channels or rec.ch_names
        split = splits.setdefault(str(rec.meta.get("split", "all")),
                                  {"recordings": 0, "subjects": set(), "events": Counter()})
        split["recordings"] += 1
        split["subjects"].add(rec.subject)
        if rec.events is not None:
            split["events"].update(label(int(c)) for c in rec.events["code"])
    total = sum((s["events"] for s in splits.values()), Counter())
    return {
        "recordings": n, "subjects": len(subjects),
        "splits": {k: {"recordings": s["recordings"], "subjects": len(s["subjects"]),
                       "events": sum(s["events"].values()), "class_counts": dict(s["events"])}
                   for k, s in sorted(splits.items())},
        "class_counts": dict(sorted(total.items())),
        "channels": channels or [], "sfreq": sorted(rates),
    }


def _windows_summary(name: str, path: Path) -> dict:
    w = load(name, path)
    split = w.official_split if w.official_split is not None else np.full(len(w), "all")
    splits = {}
    for s in np.unique(split):
        y = w.y[split == s]
        splits[str(s)] = {
            "windows": int(len(y)),
            "subjects": int(len(np.unique(w.subject[split == s]))),
            "class_counts": {c: int((y == i).sum()) for i, c in enumerate(w.classes)},
        }
    return {
        "recordings": int(len(np.unique(w.group))), "subjects": int(len(np.unique(w.subject))),
        "splits": splits,
        "class_counts": {c: int((w.y == i).sum()) for i, c in enumerate(w.classes)},
        "channels": list(w.ch_names), "sfreq": w.sfreq, "n_times": int(w.X.shape[-1]),
    }


def summary(name: str, path: str | Path, cache_dir: str | None = None,
            progress: bool = False) -> dict:
    """The summary dict printed by ``eegkit data summary``."""
    kind = dataset_info(name).get("kind")
    path = Path(path).expanduser()
    if kind == "sleep":
        body = _sleep_summary(name, path, cache_dir, progress)
    elif kind == "events":
        body = _events_summary(name, path)
    elif kind == "windows":
        body = _windows_summary(name, path)
    else:
        raise ValueError(f"dataset {name!r} has unknown kind {kind!r}")
    return {"dataset": name, "kind": kind, "path": str(path), **body}


def main(argv: list[str] | None = None, prog: str = "eegkit data") -> int:
    """``eegkit data``; the exit status."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("summary", help="print a JSON summary of a dataset")
    p.add_argument("name", choices=list_datasets())
    p.add_argument("path", type=Path)
    p.add_argument("--cache-dir", default=None, help="cache root (default $EEGKIT_CACHE)")
    p.add_argument("--progress", action="store_true", help="progress bar while preparing")
    c = sub.add_parser("card", help="print a bundled dataset card (datasets/NAME.md)")
    c.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "card":
            print(dataset_card(args.name))
            return 0
        out = summary(args.name, args.path, args.cache_dir, args.progress)
    except (DataError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
