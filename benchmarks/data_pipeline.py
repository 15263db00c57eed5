"""Sleep-EDF data pipeline: eegkit vs braindecode, and eegkit's cache hit.

Both pipelines turn the same Sleep-EDF nights (EDF PSG + EDF+ hypnogram, written by
:func:`eegkit.demo.writers.sleep_edf.write_sleep_edf` with all seven channels at their native
rates) into an array of 30-s (EEG Fpz-Cz, EOG horizontal) epochs, with the same steps:
30 min of wake kept around the sleep period, 0.3-35 Hz band-pass, per-recording per-channel
z-score, unscored/movement epochs dropped.

- eegkit: ``prepare_sleep("sleep_edf", folder)`` (cold cache; also packs 20-epoch sequences
  and writes the cache);
- braindecode: the loading of ``braindecode.datasets.SleepPhysionet`` (``read_raw_edf``, the
  hypnogram as annotations, crop to 30 min of wake) into ``RawDataset`` /
  ``BaseConcatDataset``, ``preprocess`` (pick, MNE band-pass, z-score), then
  ``create_windows_from_events`` and stacking the windows into one array.

Every measurement runs in a fresh process. Wall time is measured without tracing; peak memory
in a separate run with ``tracemalloc`` (numpy and MNE buffers included), reported as the peak
over the state after the imports. The cache hit is the second ``prepare_sleep`` call, alone
(memory-mapped open) and followed by reading every sample.

Usage::

    nice -n 10 python benchmarks/data_pipeline.py             # 3 nights of 20 h
    python benchmarks/data_pipeline.py --nights 1 --hours 10  # quick look
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from eegkit.demo.hypnogram import TRANSITIONS

CHANNELS = ("EEG Fpz-Cz", "EOG horizontal")


def draw_stages(n_epochs: int, rng: np.random.Generator) -> np.ndarray:
    """Wake, then ~8.5 h of Markov-chain sleep (with a few movement epochs), then wake."""
    sleep_len = min(1020, n_epochs - 240)
    chain = np.empty(sleep_len, dtype=np.int8)
    chain[0] = 1
    draws = rng.random(sleep_len)
    cdf = np.cumsum(TRANSITIONS, axis=1)
    for i in range(1, sleep_len):  # a Markov chain is sequential by nature
        chain[i] = min(int(np.searchsorted(cdf[chain[i - 1]], draws[i])), 4)
    chain[rng.choice(sleep_len, 5, replace=False)] = -1
    start = (n_epochs - sleep_len) // 3
    stages = np.zeros(n_epochs, dtype=np.int8)
    stages[start: start + sleep_len] = chain
    return stages


def write_nights(folder: Path, n_nights: int, hours: float) -> None:
    from eegkit.demo.writers.sleep_edf import write_sleep_edf

    rng = np.random.default_rng(0)
    n_epochs = int(hours * 120)
    for night in range(n_nights):
        stages = draw_stages(n_epochs, rng)
        n = n_epochs * 3000
        signals = {c: 20e-6 * rng.standard_normal(n).astype(np.float32) for c in CHANNELS}
        write_sleep_edf(folder, night, signals, dict.fromkeys(CHANNELS, 100.0), stages)


def run_eegkit(folder: Path, cache: Path) -> tuple[np.ndarray, int]:
    from eegkit.data.pipelines.sleep import prepare_sleep

    seqs = prepare_sleep("sleep_edf", folder, cache_dir=cache, progress=False)
    return seqs.X, sum(r["epochs"] for r in seqs.info.values())


def run_braindecode(folder: Path) -> tuple[np.ndarray, int]:
    import mne
    import pandas as pd
    from braindecode.datasets import BaseConcatDataset, RawDataset
    from braindecode.preprocessing import Preprocessor, create_windows_from_events, preprocess

    def standardise(x):
        return (x - x.mean(axis=-1, keepdims=True)) / x.std(axis=-1, keepdims=True)

    datasets = []
    for psg in sorted(folder.rglob("*-PSG.edf")):
        hyp = next(psg.parent.glob(psg.name[:6] + "*-Hypnogram.edf"))
        others = ["EEG Pz-Oz", "Resp oro-nasal", "EMG submental", "Temp rectal", "Event marker"]
        raw = mne.io.read_raw_edf(psg, preload=True, exclude=others, verbose="error")
        annots = mne.read_annotations(hyp)
        raw.set_annotations(annots, emit_warning=False)
        asleep = np.flatnonzero([d[-1] in "1234R" for d in annots.description])
        first, last = annots[asleep[0]], annots[asleep[-1]]
        tmin = first["onset"] - 30 * 60
        tmax = last["onset"] + last["duration"] + 30 * 60
        raw.crop(max(tmin, raw.times[0]), min(tmax, raw.times[-1] + 1 / raw.info["sfreq"]),
                 include_tmax=False)
        datasets.append(RawDataset(raw, pd.Series({"night": psg.name[:6]})))
    concat = BaseConcatDataset(datasets)
    preprocess(concat, [
        Preprocessor("pick", picks=list(CHANNELS)),
        Preprocessor("resample", sfreq=100.0),
        Preprocessor("filter", l_freq=0.3, h_freq=35.0, verbose="error"),
        Preprocessor(standardise),
    ], n_jobs=1)
    mapping = {"Sleep stage W": 0, "Sleep stage 1": 1, "Sleep stage 2": 2, "Sleep stage 3": 3,
               "Sleep stage 4": 3, "Sleep stage R": 4}
    windows = create_windows_from_events(
        concat, window_size_samples=3000, window_stride_samples=3000, mapping=mapping,
        preload=True, n_jobs=1)
    X = np.stack([windows[i][0] for i in range(len(windows))]).astype(np.float32)
    return X, len(X)


def _measure(which: str, folder: str, cache: str, trace: bool, queue) -> None:
    import eegkit.data
    import eegkit.data.pipelines.sleep  # noqa: F401  - imports are not part of the measurement

    eegkit.data.list_datasets()  # imports every reader module

    if which == "braindecode":
        import braindecode.preprocessing  # noqa: F401
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    if which == "eegkit":
        X, n_epochs = run_eegkit(Path(folder), Path(cache))
    else:
        X, n_epochs = run_braindecode(Path(folder))
    out = {"time": time.perf_counter() - t0, "epochs": n_epochs, "shape": tuple(X.shape)}
    if trace:
        out["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if which == "eegkit" and not trace:  # the cache hit, same folder and config
        t1 = time.perf_counter()
        X, _ = run_eegkit(Path(folder), Path(cache))
        out["hit"] = time.perf_counter() - t1
        float(np.asarray(X).sum(dtype=np.float64))
        out["hit_read"] = time.perf_counter() - t1
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(out)


def measure(which: str, folder: Path, cache: Path, trace: bool) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(which, str(folder), str(cache), trace, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nights", type=int, default=3)
    parser.add_argument("--hours", type=float, default=20.0, help="length of each PSG")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sleep-edfx"
        t0 = time.perf_counter()
        write_nights(folder, args.nights, args.hours)
        size = sum(f.stat().st_size for f in folder.rglob("*.edf")) / 2**20
        print(f"wrote {args.nights} nights x {args.hours:g} h ({size:.0f} MiB of EDF) "
              f"in {time.perf_counter() - t0:.1f} s")
        ek = measure("eegkit", folder, Path(tmp) / "cache-time", trace=False)
        ek_mem = measure("eegkit", folder, Path(tmp) / "cache-mem", trace=True)
        bd = measure("braindecode", folder, Path(tmp) / "unused", trace=False)
        bd_mem = measure("braindecode", folder, Path(tmp) / "unused", trace=True)
    print(f"epochs: eegkit {ek['epochs']} (array {ek['shape']}), "
          f"braindecode {bd['epochs']} (array {bd['shape']})")
    print(f"{'':12s} {'wall s':>8s} {'peak MiB':>9s} {'maxrss MiB':>11s}")
    for name, t, m in (("eegkit", ek, ek_mem), ("braindecode", bd, bd_mem)):
        print(f"{name:12s} {t['time']:8.2f} {m['peak'] / 2**20:9.1f} {t['maxrss_mb']:11.0f}")
    print(f"speed-up (braindecode / eegkit wall time): {bd['time'] / ek['time']:.2f}x")
    print(f"peak memory ratio (eegkit / braindecode): {ek_mem['peak'] / bd_mem['peak']:.2f}")
    print(f"cache hit: first {ek['time']:.2f} s, second {ek['hit'] * 1e3:.1f} ms "
          f"({ek['time'] / ek['hit']:.0f}x); second + reading every sample "
          f"{ek['hit_read'] * 1e3:.1f} ms ({ek['time'] / ek['hit_read']:.0f}x)")


if __name__ == "__main__":
    main()
