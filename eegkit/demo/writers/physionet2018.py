"""Write PhysioNet/CinC Challenge 2018 training records.

A record ``tr03-0001`` is a folder ``<folder>/training/tr03-0001/`` holding:

- ``tr03-0001.mat``: MATLAB v4 file with one int16 matrix ``val`` of shape (n_signals, n_samples)
  (column-major, so the samples are interleaved as WFDB format 16 after a 24-byte header);
- ``tr03-0001.hea``: WFDB header naming it, one line per signal, e.g.
  ``tr03-0001.mat 16+24 1/uV 16 0 -9 139 0 F3-M2`` (format 16 at byte offset 24, gain 1/uV;
  ``SaO2`` is ``655.35(-32768)/%``, ``ECG`` is ``1000/mV``);
- ``tr03-0001-arousal.mat``: MATLAB v7.3 (HDF5 with a 512-byte MATLAB user block): struct
  ``data`` with ``arousals`` (double, -1 not scored / 0 / 1 per sample) and struct
  ``sleep_stages`` with logical vectors ``wake``, ``nonrem1``, ``nonrem2``, ``nonrem3``,
  ``rem``, ``undefined`` per sample, stored as MATLAB stores 1 x N arrays (h5py shape (1, N));
- ``tr03-0001.arousal``: WFDB annotations, one per stage change (aux note ``W``, ``N1``,
  ``N2``, ``N3``, ``R``), as in the challenge release.

``training/RECORDS`` lists the record folders. The WFDB header carries no start time in the
challenge files; ``start`` is written on the record line only when given.
"""

from __future__ import annotations

import datetime
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import scipy.io
import wfdb

from eegkit.data.types import EPOCH_SEC, UNSCORED

SFREQ = 200.0
#: Channel label -> (gain in ADC units per unit, baseline, unit, volts per unit or None).
CHANNELS: dict[str, tuple[float, int, str, float | None]] = {
    **{c: (1.0, 0, "uV", 1e-6) for c in (
        "F3-M2", "F4-M1", "C3-M2", "C4-M1", "O1-M2", "O2-M1", "E1-M2", "Chin1-Chin2", "ABD",
        "CHEST", "AIRFLOW",
    )},
    "SaO2": (655.35, -32768, "%", None),
    "ECG": (1000.0, 0, "mV", 1e-3),
}
#: Names of the per-sample stage vectors, indexed by stage code (then ``undefined``).
STAGE_VECTORS: tuple[str, ...] = ("wake", "nonrem1", "nonrem2", "nonrem3", "rem")
UNDEFINED = "undefined"
#: Aux note of the stage annotations in the ``.arousal`` file, per stage code.
STAGE_NOTE: dict[int, str] = {0: "W", 1: "N1", 2: "N2", 3: "N3", 4: "R"}
_ADC_RES = 16
_MAT_V4_OFFSET = 24  # 20-byte MAT v4 header + "val\0"
_USERBLOCK = 512


def _digital(values: np.ndarray, label: str) -> np.ndarray:
    gain, baseline, _, volts = CHANNELS[label]
    physical = np.asarray(values, dtype=np.float64) / (volts or 1.0)
    # -32768 is WFDB's "invalid sample" in format 16, so it is never written
    return np.clip(np.round(physical * gain + baseline), -32767, 32767).astype(np.int16)


def _header(name: str, digital: np.ndarray, labels: list[str],
            start: datetime.datetime | None) -> str:
    record = f"{name} {len(labels)} {SFREQ:g} {digital.shape[1]}"
    if start is not None:
        record += f" {start:%H:%M:%S} {start:%d/%m/%Y}"
    lines = [record]
    for row, label in zip(digital, labels, strict=True):
        gain, baseline, unit, _ = CHANNELS[label]
        gain_text = f"{gain:g}" + (f"({baseline})" if baseline else "") + f"/{unit}"
        # WFDB checksum: 16-bit two's complement sum of the samples
        checksum = (int(row.astype(np.int64).sum()) + 32768) % 65536 - 32768
        lines.append(f"{name}.mat {_ADC_RES}+{_MAT_V4_OFFSET} {gain_text} {_ADC_RES} 0 "
                     f"{int(row[0])} {checksum} 0 {label}")
    return "\n".join(lines) + "\n"


def write_arousal_mat(path: Path, per_sample: np.ndarray) -> Path:
    """Write the v7.3 ``-arousal.mat`` for a per-sample stage code vector (-1 undefined)."""
    with h5py.File(path, "w", userblock_size=_USERBLOCK, libver="earliest") as f:
        refs = f.create_group("#refs#")
        empty = refs.create_dataset("a", data=np.zeros(2, dtype=np.uint64))
        empty.attrs["MATLAB_class"] = np.bytes_("double")
        empty.attrs["MATLAB_empty"] = np.uint8(1)
        data = f.create_group("data")
        data.attrs["MATLAB_class"] = np.bytes_("struct")
        arousals = np.where(per_sample == UNSCORED, -1.0, 0.0)[:, None]
        data.create_dataset("arousals", data=arousals).attrs["MATLAB_class"] = np.bytes_("double")
        stages = data.create_group("sleep_stages")
        stages.attrs["MATLAB_class"] = np.bytes_("struct")
        codes = [*range(len(STAGE_VECTORS)), UNSCORED]
        for vector, code in zip([*STAGE_VECTORS, UNDEFINED], codes, strict=True):
            ds = stages.create_dataset(vector, data=(per_sample == code).astype(np.uint8)[None])
            ds.attrs["MATLAB_class"] = np.bytes_("logical")
            ds.attrs["MATLAB_int_decode"] = np.int32(1)
    text = (f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: "
            f"{time.strftime('%a %b %d %H:%M:%S %Y')} HDF5 schema 1.00 .")
    with open(path, "r+b") as f:
        # descriptive text, subsystem offset, version 0x0200, endian indicator
        f.write(text.encode("ascii").ljust(116) + b"\0" * 8 + b"\x00\x02" + b"IM")
    return path


def write_physionet2018(folder: Path, index: int, signals: dict[str, np.ndarray],
                        sfreq: dict[str, float], stages: np.ndarray,
                        start: datetime.datetime | None = None) -> list[Path]:
    """Write training record ``tr03-{index + 1:04d}``.

    Parameters
    ----------
    folder : Path
        Dataset root; the record goes to ``folder / "training" / <record>``.
    index : int
        0-based record number (0 is ``tr03-0001``).
    signals : dict of str to ndarray
        Volts (``SaO2`` in %), keyed by the challenge labels (see :data:`CHANNELS`), all at
        200 Hz and of equal length.
    sfreq : dict of str to float
        Rate of each signal (200 Hz).
    stages : ndarray
        One code per 30-s epoch from the first sample (0..4, -1 = undefined); samples after
        the last epoch are undefined.
    start : datetime, optional
        Written on the WFDB record line when given (the challenge headers have none).

    Returns
    -------
    list of Path
        ``[.mat, .hea, -arousal.mat, .arousal]``.
    """
    unknown = set(signals) - set(CHANNELS)
    if unknown:
        raise ValueError(f"not challenge channel labels: {sorted(unknown)}; "
                         f"known: {list(CHANNELS)}")
    if any(sfreq[c] != SFREQ for c in signals):
        raise ValueError(f"every channel must be at {SFREQ:g} Hz, got {sfreq}")
    labels = [c for c in CHANNELS if c in signals]
    lengths = {len(signals[c]) for c in labels}
    if len(lengths) != 1:
        raise ValueError(f"channels differ in length: { {c: len(signals[c]) for c in labels} }")
    n_samples = lengths.pop()
    stages = np.asarray(stages, dtype=np.int64)
    if not np.isin(stages, [*STAGE_NOTE, UNSCORED]).all():
        raise ValueError(f"stage codes must be -1..4, got {sorted(set(stages.tolist()))}")
    per_epoch = int(EPOCH_SEC * SFREQ)
    per_sample = np.full(n_samples, UNSCORED, dtype=np.int64)
    covered = np.repeat(stages, per_epoch)[:n_samples]
    per_sample[: len(covered)] = covered

    name = f"tr03-{index + 1:04d}"
    training = Path(folder) / "training"
    out = training / name
    out.mkdir(parents=True, exist_ok=True)
    digital = np.stack([_digital(signals[c], c) for c in labels])
    mat = out / f"{name}.mat"
    scipy.io.savemat(mat, {"val": digital}, format="4")
    hea = out / f"{name}.hea"
    hea.write_text(_header(name, digital, labels, start))
    arousal_mat = write_arousal_mat(out / f"{name}-arousal.mat", per_sample)

    change = np.flatnonzero(np.diff(per_sample, prepend=UNSCORED - 1))
    change = change[per_sample[change] != UNSCORED]
    with warnings.catch_warnings():
        # wfdb's annotation writer trips pandas deprecation warnings that are not ours to fix
        warnings.filterwarnings("ignore", module="wfdb")
        wfdb.wrann(name, "arousal", change, symbol=['"'] * len(change),
                   aux_note=[STAGE_NOTE[int(per_sample[i])] for i in change], fs=SFREQ,
                   write_dir=str(out))

    records = training / "RECORDS"
    listed = set(records.read_text().split()) if records.exists() else set()
    records.write_text("".join(f"{r}\n" for r in sorted(listed | {f"{name}/"})))
    return [mat, hea, arousal_mat, out / f"{name}.arousal"]


__all__ = ["CHANNELS", "SFREQ", "STAGE_NOTE", "STAGE_VECTORS", "UNDEFINED",
           "write_arousal_mat", "write_physionet2018"]
