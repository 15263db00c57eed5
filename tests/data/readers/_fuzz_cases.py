"""Damaged inputs for every reader, for tests/data/test_fuzz_readers.py.

A :class:`Corpus` is a small clean dataset written by the project's writers (or the test
writers of the format), with the files worth damaging. A :class:`Case` damages one file of a
fresh copy of it; :func:`outcome` loads the copy and says how the reader ended:

- ``"DataError"``: a :class:`DataError` whose message names the damaged file;
- ``"exact"``: the load succeeded and equals the clean load (the damage hit bytes the reader
  does not use, e.g. the patient field of an EDF header);
- anything else (another exception, a DataError naming another file, different data) is
  returned as a description and counted as a failure.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from eegkit.data import load
from eegkit.data.edf_writer import write_edf
from eegkit.data.types import DataError, Recording, Windows
from eegkit.demo.writers import hmc as hmc_w
from eegkit.demo.writers import isruc as isruc_w
from eegkit.demo.writers import physionet2018 as p18_w
from eegkit.demo.writers import shhs as shhs_w
from eegkit.demo.writers import sleep_edf as sleep_edf_w
from tests.data.pipelines.test_events import SUMMARY_OLD, write_chbmit, write_tuev
from tests.data.readers._sleep_format_helpers import noise
from tests.data.readers.test_window_readers import write_bonn_set, write_esr_csv, write_har

#: 6 scored epochs (3 min): every stage once, short enough to read a hundred times.
STAGES = np.array([0, 1, 2, 3, 4, 2], dtype=np.int8)
SECONDS = 30.0 * len(STAGES)


@dataclass
class Corpus:
    """A clean dataset: the reader, its folder, its files by role, and load arguments."""

    reader: str
    folder: Path
    files: dict[str, Path]
    kwargs: dict


@dataclass
class Case:
    """Damage ``mutate`` done to the file of role ``role`` of corpus ``reader``."""

    reader: str
    role: str
    name: str
    mutate: Callable[[Path], None]

    @property
    def id(self) -> str:
        return f"{self.reader}:{self.role}:{self.name}"


# --- clean corpora ----------------------------------------------------------------------------
def _sleep_edf(root: Path) -> Corpus:
    signals, rates = noise({"EEG Fpz-Cz": 100.0, "EOG horizontal": 100.0}, SECONDS)
    psg, hyp = sleep_edf_w.write_sleep_edf(root, 0, signals, rates, STAGES)
    return Corpus("sleep_edf", root, {"edf": psg, "hypnogram": hyp},
                  {"channels": ["EEG Fpz-Cz", "EOG horizontal"]})


def _hmc(root: Path) -> Corpus:
    signals, rates = noise({c: hmc_w.SFREQ for c in hmc_w.CHANNELS}, SECONDS)
    signal, scoring = hmc_w.write_hmc(root, 0, signals, rates, STAGES)
    return Corpus("hmc", root, {"edf": signal, "scoring": scoring}, {})


def _isruc(root: Path) -> Corpus:
    signals, rates = noise({c: isruc_w.SFREQ for c in isruc_w.CHANNELS}, SECONDS)
    rec, labels = isruc_w.write_isruc(root, 0, signals, rates, STAGES)[:2]
    return Corpus("isruc", root, {"edf": rec, "labels": labels}, {})


def _shhs(root: Path) -> Corpus:
    signals, rates = noise({c: rate for c, (rate, _) in shhs_w.CHANNELS.items()}, SECONDS,
                           constant={"SaO2": 95.0})
    edf, nsrr, _ = shhs_w.write_shhs(root, 0, signals, rates, STAGES)
    return Corpus("shhs", root, {"edf": edf, "xml": nsrr}, {})


def _physionet2018(root: Path) -> Corpus:
    signals, rates = noise({c: p18_w.SFREQ for c in p18_w.CHANNELS}, SECONDS,
                           constant={"SaO2": 96.0})
    mat, hea, arousal, _ = p18_w.write_physionet2018(root, 0, signals, rates, STAGES)
    return Corpus("physionet2018", root, {"mat": mat, "hea": hea, "arousal": arousal}, {})


def _chbmit(root: Path) -> Corpus:
    folder = write_chbmit(root, "chb01", {"chb01_01.edf": 60, "chb01_03.edf": 60}, SUMMARY_OLD)
    return Corpus("chbmit", root, {"edf": folder / "chb01_03.edf",
                                   "summary": folder / "chb01-summary.txt"}, {})


def _tuev(root: Path) -> Corpus:
    edf = write_tuev(root, "train", "aaaaaaaa", 1, ["0,3.0,4.0,1", "13,10.0,11.0,6"],
                     seconds=20, seed=1)
    return Corpus("tuev", root, {"edf": edf, "rec": edf.with_suffix(".rec")}, {})


def _bonn(root: Path) -> Corpus:
    rng = np.random.default_rng(0)
    for letter in "ZS":
        write_bonn_set(root / letter, letter, rng.integers(-300, 300, (2, 4097)))
    return Corpus("bonn", root, {"segment": root / "S" / "S002.txt"}, {"sets": "ZS"})


def _uci_har(root: Path) -> Corpus:
    base = write_har(root, np.random.default_rng(0), {"train": [1, 1, 3], "test": [2, 2]})
    return Corpus("uci_har", root, {
        "signal": base / "train" / "Inertial Signals" / "body_gyro_x_train.txt",
        "y": base / "test" / "y_test.txt",
        "subject": base / "train" / "subject_train.txt",
    }, {})


def _uci_esr(root: Path) -> Corpus:
    segments = np.random.default_rng(0).integers(-300, 300, (4, 1, 4097)).astype(np.float32)
    chunks = segments[:, :, :178 * 2].reshape(4, 1, 2, 178).transpose(0, 2, 1, 3)
    windows = Windows(
        X=chunks.reshape(8, 1, 178), y=np.repeat([0, 0, 1, 4], 2),
        subject=np.repeat(["S001", "S002", "F001", "Z001"], 2),
        group=np.repeat(["S001", "S002", "F001", "Z001"], 2), sfreq=173.61, ch_names=["EEG"],
        classes=["S", "F", "N", "O", "Z"], domain="bonn")
    root.mkdir(parents=True, exist_ok=True)
    write_esr_csv(root / "Data.csv", windows)
    return Corpus("uci_esr", root, {"csv": root / "Data.csv"}, {})


CORPORA: dict[str, Callable[[Path], Corpus]] = {
    "sleep_edf": _sleep_edf, "hmc": _hmc, "isruc": _isruc, "shhs": _shhs,
    "physionet2018": _physionet2018, "chbmit": _chbmit, "tuev": _tuev, "bonn": _bonn,
    "uci_har": _uci_har, "uci_esr": _uci_esr,
}


# --- mutations --------------------------------------------------------------------------------
def _bytes(fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def mutate(path: Path) -> None:
        path.write_bytes(fn(path.read_bytes()))
    return mutate


def _text(fn: Callable[[str], str]) -> Callable[[Path], None]:
    def mutate(path: Path) -> None:
        path.write_text(fn(path.read_text()))
    return mutate


def _truncations(blob_size: Callable[[bytes], list[int]]) -> list[tuple[str, Callable]]:
    return [(f"truncate@{k}", _bytes(lambda b, k=k: b[: blob_size(b)[k]])) for k in range(5)]


def _put(blob: bytes, at: int, new: bytes) -> bytes:
    return blob[:at] + new + blob[at + len(new):]


def _edf_fields(blob: bytes) -> dict[str, int]:
    """Offset of one byte inside each header field that matters (signal fields: signal 1)."""
    ns = int(blob[252:256])
    base = 256
    return {"version": 0, "header_bytes": 185, "start_date": 169, "n_records": 237,
            "duration": 245, "n_signals": 253, "label": base + 1,
            "dimension": base + ns * 96, "physical_min": base + ns * 104 + 1,
            "physical_max": base + ns * 112 + 1, "digital_min": base + ns * 120 + 1,
            "digital_max": base + ns * 128 + 1, "samples": base + ns * 216,
            "patient": 9, "reserved": 193}


def _crlf(blob: bytes, n: int) -> bytes:
    header = int(blob[184:192])
    data = blob[header:].replace(b"\n", b"\r\n", n)
    return blob[:header] + data


def edf_mutations() -> list[tuple[str, Callable]]:
    """Size, header and transfer damage of any EDF/EDF+ file."""
    def offsets(b: bytes) -> list[int]:
        header = int(b[184:192])
        return [100, 260, header - 1, header + 1, len(b) - 1]

    out = [("zero-length", _bytes(lambda b: b""))] + _truncations(offsets)
    out += [(f"garbage:{field}", _bytes(lambda b, f=field: _put(b, _edf_fields(b)[f], b"\xff")))
            for field in ("version", "header_bytes", "start_date", "n_records", "duration",
                          "n_signals", "label", "dimension", "physical_min", "physical_max",
                          "digital_min", "digital_max", "samples", "patient", "reserved")]
    out += [(f"letters:{field}", _bytes(lambda b, f=field: _put(b, _edf_fields(b)[f], b"x")))
            for field in ("header_bytes", "n_records", "n_signals", "dimension", "samples")]
    out += [("lf->crlf x1", _bytes(lambda b: _crlf(b, 1))),
            ("lf->crlf x5", _bytes(lambda b: _crlf(b, 5))),
            ("byte dropped", _bytes(lambda b: b[:-100] + b[-99:])),
            ("record appended", _bytes(lambda b: b + b[-200:]))]
    return out


def _annotations(stages_texts: list[tuple[float, float, str]]) -> Callable[[Path], None]:
    """Rewrite an annotation-only EDF+ (hypnogram, scoring) with these annotations."""
    def mutate(path: Path) -> None:
        write_edf(path, [], start=sleep_edf_w.DEFAULT_START, record_duration=1.0,
                  annotations=stages_texts)
    return mutate


def annotation_mutations(prefix: str) -> list[tuple[str, Callable]]:
    """Stage annotations that overlap, start before 0, are not 30 s, or are unknown."""
    good = [(30.0 * i, 30.0, f"{prefix}{s}") for i, s in enumerate("W12R")]
    return [
        ("overlap", _annotations(good[:2] + [(45.0, 30.0, f"{prefix}2")] + good[2:])),
        ("overlap on the grid", _annotations(good[:2] + [(30.0, 30.0, f"{prefix}2")] + good[2:])),
        ("empty stage", _annotations(good + [(120.0, 0.0, f"{prefix}2")])),
        ("negative onset", _annotations([(-30.0, 30.0, f"{prefix}W")] + good)),
        ("20-s stage", _annotations(good[:2] + [(60.0, 20.0, f"{prefix}2")])),
        ("off-grid onset", _annotations(good[:2] + [(65.0, 30.0, f"{prefix}2")])),
        ("unknown stage", _annotations(good[:2] + [(60.0, 30.0, f"{prefix}X")])),
        ("no stage", _annotations([(0.0, 30.0, "Lights off")])),
    ]


def table_mutations(first_value: Callable[[str], str]) -> list[tuple[str, Callable]]:
    """Damage of a text table: truncation, NaN/Inf/garbage tokens, a value moved or lost."""
    def offsets(b: bytes) -> list[int]:
        return [1, len(b) // 3, len(b) // 2, len(b) - 2, len(b) - 1]

    def token(new: str) -> Callable[[Path], None]:
        return _text(lambda t: t.replace(first_value(t), new, 1))

    def shift_value(t: str) -> str:
        # a value lost in line 1 and one extra in line 2: the total is right, so a reader
        # that only counts values shifts every sample in between
        lines = t.splitlines(keepends=True)
        first = lines[0].split(maxsplit=1)
        rest = first[1] if len(first) > 1 else "\n"
        return rest + "7 " + lines[1] + "".join(lines[2:])

    return [("zero-length", _bytes(lambda b: b""))] + _truncations(offsets) + [
        ("nan token", token("NaN")), ("inf token", token("inf")), ("-inf token", token("-Inf")),
        ("garbage byte", _bytes(lambda b: b.replace(b"1", b"\xff", 1))),
        ("letter", token("x1")), ("value shifted to next row", _text(shift_value)),
        ("value lost", _text(lambda t: t.replace(first_value(t), "", 1))),
        ("line doubled", _text(lambda t: t.splitlines(keepends=True)[0] + t)),
    ]


def _first_cell(sep: str, column: int = 0, line: int = 0) -> Callable[[str], str]:
    return lambda t: t.splitlines()[line].split(sep)[column].strip()


def _mat_nan(value: float) -> Callable[[Path], None]:
    def mutate(path: Path) -> None:
        mat = scipy.io.loadmat(path)
        key = next(k for k in mat if not k.startswith("__"))
        data = mat[key].astype(np.float64)
        data.flat[5] = value
        scipy.io.savemat(path, {key: data})
    return mutate


def cases() -> list[Case]:
    """Every damage of every reader, in a fixed order."""
    out: list[Case] = []

    def add(reader: str, role: str, mutations) -> None:
        out.extend(Case(reader, role, name, fn) for name, fn in mutations)

    for reader in ("sleep_edf", "hmc", "isruc", "shhs", "chbmit", "tuev"):
        add(reader, "edf", edf_mutations())
    add("sleep_edf", "hypnogram", edf_mutations()[:6] + annotation_mutations("Sleep stage "))
    add("hmc", "scoring", edf_mutations()[:6] + annotation_mutations("Sleep stage "))
    add("isruc", "labels", [
        ("zero-length", _bytes(lambda b: b"")), ("unknown code", _text(lambda t: "7\n" + t)),
        ("letter", _text(lambda t: "x\n" + t)), ("nan", _text(lambda t: "nan\n" + t)),
        ("scored past the end", _text(lambda t: t + "2\n2\n")),
    ])
    add("shhs", "xml", [
        ("zero-length", _bytes(lambda b: b"")),
        ("truncated", _bytes(lambda b: b[: len(b) // 2])),
        ("unclosed tag", _text(lambda t: t.replace("</ScoredEvent>", "", 1))),
        ("garbage byte", _bytes(lambda b: b[:40] + b"\xff<" + b[42:])),
        ("stage unknown", _text(lambda t: t.replace("Wake|0", "Wake|9", 1))),
        ("duration text", _text(lambda t: t.replace("<Duration>", "<Duration>x", 1))),
        ("negative start", _text(lambda t: t.replace("<Start>30", "<Start>-30", 1))),
        ("overlap", _text(lambda t: t.replace("<Start>30", "<Start>0", 1))),
    ])
    add("physionet2018", "mat", [("nan sample", _mat_nan(np.nan)),
                                 ("inf sample", _mat_nan(np.inf)),
                                 ("zero-length", _bytes(lambda b: b"")),
                                 ("truncated", _bytes(lambda b: b[: len(b) // 2]))])
    add("physionet2018", "hea", [
        ("zero-length", _bytes(lambda b: b"")),
        ("bad sample count", _text(lambda t: t.replace(f" {int(SECONDS * 200)}",
                                                       f" {int(SECONDS * 200) + 7}", 1))),
        ("garbage line", _text(lambda t: t + "x y z\n")),
    ])
    add("physionet2018", "arousal", [("zero-length", _bytes(lambda b: b"")),
                                     ("truncated", _bytes(lambda b: b[: len(b) // 2]))])
    add("chbmit", "summary", [
        ("seizure end missing", _text(lambda t: t.replace("Seizure End Time: 37 seconds", ""))),
        ("end before start", _text(lambda t: t.replace("End Time: 37", "End Time: 20"))),
        ("count mismatch", _text(lambda t: t.replace("Seizures in File: 1",
                                                     "Seizures in File: 2"))),
        ("time before file", _text(lambda t: "Seizure Start Time: 3 seconds\n" + t)),
        ("time garbage", _text(lambda t: t.replace("Start Time: 25 seconds",
                                                   "Start Time: 2x5 seconds"))),
        ("zero-length", _bytes(lambda b: b"")),
    ])
    add("tuev", "rec", [
        ("zero-length", _bytes(lambda b: b"")),
        ("letters", _text(lambda t: "a,b,c,d\n" + t)),
        ("three fields", _text(lambda t: "0,3.0,4.0\n" + t)),
        ("end before start", _text(lambda t: "0,4.0,3.0,1\n" + t)),
        ("negative start", _text(lambda t: "0,-1.0,3.0,1\n" + t)),
        ("unknown code", _text(lambda t: "0,3.0,4.0,9\n" + t)),
        ("channel out of montage", _text(lambda t: "40,3.0,4.0,1\n" + t)),
        ("nan time", _text(lambda t: "0,nan,4.0,1\n" + t)),
        ("truncated mid-line", _bytes(lambda b: b[:-4])),
    ])
    add("bonn", "segment", table_mutations(lambda t: t.split()[0]) + [
        ("sample missing", _text(lambda t: "".join(t.splitlines(keepends=True)[1:]))),
        ("sample added", _text(lambda t: "7\r\n" + t)),
    ])
    har = table_mutations(lambda t: t.split()[0])
    add("uci_har", "signal", har)
    add("uci_har", "y", har[:1] + [("label 7", _text(lambda t: "7\n" + t[2:])),
                                   ("nan", _text(lambda t: "nan\n" + t[2:])),
                                   ("row lost", _text(lambda t: t[2:]))])
    add("uci_har", "subject", har[:1] + [("row added", _text(lambda t: "1\n" + t)),
                                         ("letter", _text(lambda t: "x\n" + t[2:]))])
    add("uci_esr", "csv", table_mutations(_first_cell(",", 3, 1)) + [
        ("column dropped in header", _text(lambda t: t.replace(',"X7"', "", 1))),
        ("cell dropped in a row", _text(lambda t: t.replace(",", "", 3).replace(",", ",,", 2))),
        ("label column lost", _text(lambda t: "\n".join(r.rsplit(",", 1)[0]
                                                        for r in t.splitlines()) + "\n")),
        ("label 6", _text(lambda t: t.rstrip("\n").rsplit(",", 1)[0] + ",6\n")),
    ])
    return out


# --- running a case ---------------------------------------------------------------------------
def materialise(corpus: Corpus) -> list:
    """The full result of loading ``corpus`` (recordings read, not just listed)."""
    result = load(corpus.reader, corpus.folder, **corpus.kwargs)
    return [result] if isinstance(result, Windows) else list(result)


def same(a: list, b: list) -> bool:
    """Whether two loads hold the same data, labels and metadata."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if type(x) is not type(y):
            return False
        fields = (("data", "ch_names", "sfreq", "stages", "events", "epoch_onset", "subject")
                  if isinstance(x, Recording) else ("X", "y", "subject", "group", "classes"))
        for field in fields:
            u, v = getattr(x, field), getattr(y, field)
            if (u is None) != (v is None):
                return False
            if u is not None and not np.array_equal(np.asarray(u), np.asarray(v)):
                return False
    return True


def outcome(case: Case, clean: Corpus, clean_load: list, workdir: Path) -> str:
    """Apply ``case`` to a copy of ``clean`` and classify how the reader ends."""
    folder = workdir / "case"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(clean.folder, folder)
    target = folder / clean.files[case.role].relative_to(clean.folder)
    before = target.read_bytes()
    case.mutate(target)
    if target.read_bytes() == before:  # a damage that damages nothing would count as exact
        return "the mutation left the file unchanged"
    corpus = Corpus(clean.reader, folder, {}, clean.kwargs)
    try:
        loaded = materialise(corpus)
    except DataError as err:
        if target.name in str(err):
            return "DataError"
        return f"DataError not naming {target.name}: {err}"
    except Exception as err:  # the failure this module exists to find
        return f"{type(err).__name__}: {err}"
    return "exact" if same(loaded, clean_load) else "loaded different data"
