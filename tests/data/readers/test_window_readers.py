"""Window datasets: UCI HAR, Bonn, UCI-ESR readers, their splits and WindowDataModule."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from eegkit.data import dataset_info, list_datasets, load
from eegkit.data.datamodules.windows import WindowDataModule
from eegkit.data.readers import uci_har
from eegkit.data.readers.bonn import SEGMENT_SAMPLES
from eegkit.data.readers.uci_esr import CLASSES as ESR_CLASSES
from eegkit.data.splits import random_holdout, stratified_group_split
from eegkit.data.types import DataError

HAR_TEST_SUBJECTS = [2, 4, 9, 10, 12, 13, 18, 20, 24]
HAR_ACTIVITIES = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING",
                  "LAYING"]


# --- format-faithful writers ------------------------------------------------------------------
def write_har(root: Path, rng: np.random.Generator, layout: dict[str, list[int]]) -> Path:
    """A ``UCI HAR Dataset`` folder; ``layout`` maps split -> subject per window."""
    base = root / "UCI HAR Dataset"
    base.mkdir(parents=True)
    (base / "activity_labels.txt").write_text(
        "".join(f"{i} {name}\n" for i, name in enumerate(HAR_ACTIVITIES, 1)))
    for split, subjects in layout.items():
        n = len(subjects)
        (base / split / "Inertial Signals").mkdir(parents=True)
        (base / split / f"subject_{split}.txt").write_text("".join(f"{s}\n" for s in subjects))
        labels = rng.integers(1, 7, n)
        (base / split / f"y_{split}.txt").write_text("".join(f"{v}\n" for v in labels))
        for channel in uci_har.CHANNELS:
            rows = rng.normal(0, 0.5, (n, 128))
            text = "".join(" ".join(f"{v:.7e}" for v in row) + "\n" for row in rows)
            (base / split / "Inertial Signals" / f"{channel}_{split}.txt").write_text(text)
    return base


def zip_folder(folder: Path, archive: Path, arc_root: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for file in sorted(folder.rglob("*")):
            z.write(file, arc_root + file.relative_to(folder).as_posix())
    return archive


def write_bonn_set(folder: Path, letter: str, segments: np.ndarray) -> None:
    """One set as distributed: ``<SET><NNN>.txt`` (``.TXT`` for N), CRLF, one integer a line."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".TXT" if letter == "N" else ".txt"
    for i, seg in enumerate(segments, 1):
        (folder / f"{letter}{i:03d}{suffix}").write_bytes(
            "".join(f"{int(v)}\r\n" for v in seg).encode())


def write_esr_csv(file: Path, bonn) -> np.ndarray:
    """Data.csv in the UCI layout built from chunked Bonn windows; returns the row order.

    Segment names are reused across sets (``V1.<n>``), as in the real table, and rows are
    shuffled.
    """
    label = {s: i + 1 for i, s in enumerate(ESR_CLASSES)}  # S -> 1 ... Z -> 5
    k = np.zeros(len(bonn), dtype=int)
    for g in np.unique(bonn.group):
        idx = np.flatnonzero(bonn.group == g)
        k[idx] = np.arange(1, len(idx) + 1)
    order = np.random.default_rng(0).permutation(len(bonn))
    lines = ['"",' + ",".join(f'"X{i}"' for i in range(1, 179)) + ',"y"']
    for j in order:
        seg = bonn.group[j]
        values = ",".join(str(int(v)) for v in bonn.X[j, 0])
        lines.append(f'"X{k[j]}.V1.{int(seg[1:])}",{values},{label[seg[0]]}')
    file.write_text("\n".join(lines) + "\n")
    return order


# --- UCI HAR ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def har_real(shared_data):
    return load("uci_har", shared_data / "uci-har" / "UCI HAR Dataset.zip")


@pytest.mark.real_data
def test_har_real_official_split_matches_the_files(har_real, shared_data):
    w = har_real
    train, test = w.official_split == "train", w.official_split == "test"
    assert w.X.shape == (10299, 9, 128) and w.X.dtype == np.float32
    assert train.sum() == 7352 and test.sum() == 2947
    assert len(np.unique(w.subject[train])) == 21
    assert np.unique(w.subject[test]).tolist() == HAR_TEST_SUBJECTS
    assert not np.isin(w.subject[train], HAR_TEST_SUBJECTS).any()
    assert w.classes == HAR_ACTIVITIES and w.sfreq == 50.0
    assert w.ch_names == list(uci_har.CHANNELS)
    # Class counts, checked against the label files read independently of the reader.
    with zipfile.ZipFile(shared_data / "uci-har" / "UCI HAR Dataset.zip") as z:
        for split, mask in (("train", train), ("test", test)):
            raw = np.array(z.read(f"UCI HAR Dataset/{split}/y_{split}.txt").split(), dtype=int)
            counts = np.bincount(w.y[mask], minlength=6)
            print(f"UCI HAR {split} class counts:",
                  dict(zip(w.classes, counts.tolist(), strict=True)))
            assert counts.sum() == mask.sum()
            np.testing.assert_array_equal(counts, np.bincount(raw - 1, minlength=6))
            first = np.array(z.read(f"UCI HAR Dataset/{split}/Inertial Signals/"
                                    f"total_acc_z_{split}.txt").split(b"\n", 1)[0].split(),
                             dtype=np.float32)
            np.testing.assert_array_equal(w.X[np.flatnonzero(mask)[0], 8], first)


@pytest.mark.real_data
def test_har_real_random_and_subject_splits(har_real):
    w = har_real
    pool = np.flatnonzero(w.official_split == "train")
    keep, held = random_holdout(len(pool), 0.2, seed=0)
    assert len(held) == round(0.2 * 7352) and len(keep) + len(held) == 7352
    # The paper's random split shares every training subject between its two sides.
    assert set(w.subject[pool[held]]) == set(w.subject[pool[keep]])


def test_har_folder_and_zip_read_the_same(tmp_path):
    rng = np.random.default_rng(0)
    base = write_har(tmp_path / "folder", rng, {"train": [1, 1, 3, 3, 3], "test": [2, 2]})
    archive = zip_folder(base, tmp_path / "UCI HAR Dataset.zip", arc_root="UCI HAR Dataset/")
    a, b, c = (load("uci_har", p) for p in (base, archive, tmp_path / "folder"))
    for other in (b, c):
        np.testing.assert_array_equal(a.X, other.X)
        np.testing.assert_array_equal(a.y, other.y)
    assert a.X.shape == (7, 9, 128)
    assert a.subject.tolist() == [1, 1, 3, 3, 3, 2, 2]
    assert a.official_split.tolist() == ["train"] * 5 + ["test"] * 2
    labels = np.array((base / "train" / "y_train.txt").read_text().split(), dtype=int)
    np.testing.assert_array_equal(a.y[:5], labels - 1)
    gyro_y = np.array((base / "test/Inertial Signals/body_gyro_y_test.txt").read_text().split(),
                      dtype=np.float32).reshape(2, 128)
    np.testing.assert_array_equal(a.X[5:, 4], gyro_y)
    assert dataset_info("uci_har")["kind"] == "windows"
    assert {"uci_har", "bonn", "uci_esr"} <= set(list_datasets("windows"))


def test_har_bad_inputs_name_the_file(tmp_path):
    rng = np.random.default_rng(1)
    base = write_har(tmp_path, rng, {"train": [1, 1], "test": [2]})
    signal = base / "train" / "Inertial Signals" / "body_gyro_z_train.txt"
    good = signal.read_text()
    signal.write_text(good.splitlines()[0] + "\n")  # truncated: one row of two
    with pytest.raises(DataError, match="body_gyro_z_train.txt.*expected 2 rows"):
        load("uci_har", base)
    first = good.split()[0]
    signal.write_text(good.replace(first, "abc", 1))
    with pytest.raises(DataError, match=r"body_gyro_z_train.txt: line 1 is not a row of numbers"):
        load("uci_har", base)
    signal.write_text(good)
    (base / "test" / "y_test.txt").write_text("7\n")
    with pytest.raises(DataError, match="y_test.txt.*labels must be 1..6"):
        load("uci_har", base)
    (base / "test" / "y_test.txt").write_text("1\n")
    (base / "activity_labels.txt").unlink()
    with pytest.raises(DataError, match="activity_labels.txt"):
        load("uci_har", base)
    with pytest.raises(DataError, match="does not exist"):
        load("uci_har", tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="activity_labels"):
        load("uci_har", empty)
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="broken.zip: not a readable zip"):
        load("uci_har", tmp_path / "broken.zip")


def test_har_nan_tokens_and_ragged_rows_are_errors(tmp_path):
    # numpy parses "NaN" as a float, and a 127-value row followed by a 129-value one has the
    # right total: both used to load, the second with the samples between the two shifted
    base = write_har(tmp_path, np.random.default_rng(5), {"train": [1, 1], "test": [2]})
    signal = base / "train" / "Inertial Signals" / "total_acc_x_train.txt"
    rows = [line.split() for line in signal.read_text().splitlines()]
    rows[1][3] = "NaN"
    signal.write_text("".join(" ".join(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"total_acc_x_train.txt: line 2 holds a NaN"):
        load("uci_har", base)
    rows[1][3] = "0.5"
    lost = rows[0].pop(5)
    rows[1].insert(0, "0.25")
    signal.write_text("".join(" ".join(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"total_acc_x_train.txt: line 1 has 127 values, "
                                        r"expected 128"):
        load("uci_har", base)
    (base / "test" / "y_test.txt").write_text("2\n\n")  # a blank line holds no row
    rows[0].insert(5, lost)
    rows[1].pop(0)
    signal.write_text("".join(" ".join(r) + "\n" for r in rows))
    assert len(load("uci_har", base)) == 3


def test_har_missing_files_are_reported_together(tmp_path):
    base = write_har(tmp_path, np.random.default_rng(6), {"train": [1], "test": [2]})
    (base / "activity_labels.txt").unlink()
    (base / "train" / "subject_train.txt").unlink()
    (base / "test" / "Inertial Signals" / "body_acc_y_test.txt").unlink()
    with pytest.raises(DataError, match=r"UCI HAR Dataset: 3 file\(s\) missing") as err:
        load("uci_har", base)
    for name in ("activity_labels.txt", "subject_train.txt", "body_acc_y_test.txt"):
        assert name in str(err.value)
    assert "not a UCI HAR" not in str(err.value)


# --- Bonn -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bonn_real(shared_data):
    return load("bonn", shared_data / "bonn")


@pytest.mark.real_data
def test_bonn_real_sets(bonn_real, shared_data):
    w = bonn_real
    assert w.X.shape == (500, 1, SEGMENT_SAMPLES)
    assert w.classes == ["Z", "O", "N", "F", "S"] and w.sfreq == 173.61
    assert np.bincount(w.y).tolist() == [100] * 5
    assert len(np.unique(w.group)) == 500
    # Spot-check against the archive read independently (set N ships upper-case .TXT).
    with zipfile.ZipFile(shared_data / "bonn" / "N.zip") as z:
        raw = np.array(z.read("N042.TXT").split(), dtype=np.float32)
    np.testing.assert_array_equal(w.X[w.group.tolist().index("N042"), 0], raw)


@pytest.mark.real_data
def test_bonn_real_chunks_keep_their_segment(bonn_real, shared_data):
    c = load("bonn", shared_data / "bonn", chunk=178)
    assert c.X.shape == (11500, 1, 178)
    assert set(np.unique(c.group, return_counts=True)[1]) == {23}
    i = bonn_real.group.tolist().index("S017")
    rows = np.flatnonzero(c.group == "S017")
    np.testing.assert_array_equal(c.X[rows, 0], bonn_real.X[i, 0, :23 * 178].reshape(23, 178))
    train, val, test = stratified_group_split(c.group, c.y, 0.2, 0.2, seed=0)
    sides = [set(c.group[s]) for s in (train, val, test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert len(train) + len(val) + len(test) == 11500
    # 20 of the 100 segments of every set go to test, 20 to validation.
    assert np.bincount(c.y[test]).tolist() == [20 * 23] * 5
    assert np.bincount(c.y[val]).tolist() == [20 * 23] * 5


def test_bonn_zips_and_folders_read_the_same(tmp_path):
    rng = np.random.default_rng(2)
    data = {s: rng.integers(-2048, 2048, (2, SEGMENT_SAMPLES)) for s in "ZONFS"}
    (tmp_path / "zips").mkdir()
    for s, segs in data.items():
        write_bonn_set(tmp_path / "folders" / s, s, segs)
        zip_folder(tmp_path / "folders" / s, tmp_path / "zips" / f"{s}.zip")
    a, b = load("bonn", tmp_path / "folders"), load("bonn", tmp_path / "zips")
    np.testing.assert_array_equal(a.X, b.X)
    assert a.group.tolist() == b.group.tolist() == [f"{s}00{i}" for s in "ZONFS" for i in (1, 2)]
    np.testing.assert_array_equal(a.X[7, 0], data["F"][1])  # Z1 Z2 O1 O2 N1 N2 F1 F2
    zs = load("bonn", tmp_path / "zips", sets="SZ")
    assert zs.classes == ["S", "Z"] and zs.y.tolist() == [0, 0, 1, 1]
    single = load("bonn", tmp_path / "zips" / "N.zip", sets="N")
    np.testing.assert_array_equal(single.X[:, 0], data["N"])
    with pytest.raises(DataError, match=r"set\(s\) \['O'\]"):
        load("bonn", tmp_path / "zips" / "N.zip", sets="NO")


def test_bonn_overlapping_chunks_are_the_segment_at_each_start(tmp_path):
    rng = np.random.default_rng(3)
    data = {s: rng.integers(-2048, 2048, (2, SEGMENT_SAMPLES)) for s in "ZONFS"}
    for s, segs in data.items():
        write_bonn_set(tmp_path / s, s, segs)
    plain = load("bonn", tmp_path, chunk=870)
    default_step = load("bonn", tmp_path, chunk=870, step=870)
    np.testing.assert_array_equal(plain.X, default_step.X)  # step = chunk: no overlap
    assert plain.X.shape == (10 * 4, 1, 870)
    np.testing.assert_array_equal(plain.X[7 * 4 + 3, 0], data["F"][1][3 * 870: 4 * 870])
    w = load("bonn", tmp_path, chunk=870, step=290)
    k = (SEGMENT_SAMPLES - 870) // 290 + 1
    assert k == 12 and w.X.shape == (10 * k, 1, 870)
    assert w.group.tolist() == [f"{s}00{i}" for s in "ZONFS" for i in (1, 2) for _ in range(k)]
    assert np.bincount(w.y).tolist() == [2 * k] * 5
    segment = data["F"][1]  # the 8th segment: its chunks start at 0, 290, ..., 290 (k - 1)
    for j in (0, 5, k - 1):
        np.testing.assert_array_equal(w.X[7 * k + j, 0], segment[290 * j: 290 * j + 870])
    with pytest.raises(ValueError, match="positive"):
        load("bonn", tmp_path, chunk=870, step=0)
    with pytest.raises(ValueError, match="step needs chunk"):
        load("bonn", tmp_path, step=290)


def _mkdir(p: Path) -> Path:
    p.mkdir()
    return p


def test_bonn_bad_segments_name_file_and_line(tmp_path):
    seg = np.arange(SEGMENT_SAMPLES)
    write_bonn_set(tmp_path / "Z", "Z", [seg, seg])
    bad = tmp_path / "Z" / "Z002.txt"
    lines = bad.read_text().splitlines()
    bad.write_text("\n".join(lines[:-1]) + "\n")  # 4,096 samples
    with pytest.raises(DataError, match=r"Z002.txt: expected 4097 samples, found 4096"):
        load("bonn", tmp_path, sets="Z")
    lines[9] = "12.5"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"Z002.txt: line 10 is not an integer"):
        load("bonn", tmp_path, sets="Z")
    for token, message in (("NaN", "line 10 is not an integer: b'NaN'"),
                           ("12 13", "line 10 has 2 values, expected 1")):
        lines[9] = token
        bad.write_text("\n".join(lines) + "\n")
        with pytest.raises(DataError, match=rf"Z002.txt: {message}"):
            load("bonn", tmp_path, sets="Z")
    with pytest.raises(DataError, match="no segment files"):
        load("bonn", _mkdir(tmp_path / "empty"))
    with pytest.raises(ValueError, match="sets must be"):
        load("bonn", tmp_path, sets="ZX")


# --- UCI Epileptic Seizure Recognition --------------------------------------------------------
@pytest.mark.real_data
def test_esr_from_real_bonn_agrees_with_bonn(tmp_path, shared_data):
    bonn = load("bonn", shared_data / "bonn", chunk=178)
    order = write_esr_csv(tmp_path / "Data.csv", bonn)
    esr = load("uci_esr", tmp_path)
    assert esr.X.shape == (11500, 1, 178) and esr.classes == list(ESR_CLASSES)
    np.testing.assert_array_equal(esr.X, bonn.X[order])
    # Same segment in the same class: Bonn "Z017" is ESR label 5 (index 4), name "V1.17".
    assert [ESR_CLASSES[v] for v in esr.y] == [bonn.classes[v] for v in bonn.y[order]]
    assert np.bincount(esr.y).tolist() == [2300] * 5
    # Segment names are reused across classes, yet groups match Bonn's segments one to one.
    assert len(np.unique(esr.group)) == 500
    pairs = set(zip(esr.group.tolist(), bonn.group[order].tolist(), strict=True))
    assert len(pairs) == 500
    binary = load("uci_esr", tmp_path / "Data.csv", binary=True)
    assert binary.classes == ["non-seizure", "seizure"]
    assert binary.y.sum() == 2300 and (binary.y == (esr.y == 0)).all()


def test_esr_bad_rows_name_the_line(tmp_path):
    header = '"",' + ",".join(f'"X{i}"' for i in range(1, 179)) + ',"y"\n'
    row = ",".join(["5"] * 178)
    file = tmp_path / "Data.csv"
    file.write_text(header + f'"X1.V1.1",{row},1\n' + f'"X2.V1.1",{row},6\n')
    with pytest.raises(DataError, match="Data.csv: line 3: label y must be 1..5, got 6"):
        load("uci_esr", file)
    file.write_text(header + f'"X1.V1.1",{row},1\n' + f'"X2.V1.1",{row}\n')
    with pytest.raises(DataError, match="line 3 has 179 columns"):
        load("uci_esr", file)
    file.write_text(header + f'"X1.V1.1",{row},1\n' + f'"segment",{row},2\n')
    with pytest.raises(DataError, match="line 3: id"):
        load("uci_esr", file)
    file.write_text(header + f'"X1.V1.1",{row.replace("5", "x", 1)},1\n')
    with pytest.raises(DataError, match="line 2 is not a row of numbers"):
        load("uci_esr", file)
    for token in ("NaN", "inf", "-Infinity"):
        file.write_text(header + f'"X1.V1.1",{row},1\n' + f'"X2.V1.1",{token},{row[2:]},1\n')
        with pytest.raises(DataError, match="Data.csv: line 3 holds a NaN or infinite value"):
            load("uci_esr", file)
    file.write_text(header.replace(',"X7"', "") + f'"X1.V1.1",{row[2:]},1\n')
    with pytest.raises(DataError, match="header must be .*179 columns"):
        load("uci_esr", file)
    file.write_text(header)
    with pytest.raises(DataError, match="Data.csv: no data row"):
        load("uci_esr", file)
    file.write_text("id,a,b\n")
    with pytest.raises(DataError, match="header must be"):
        load("uci_esr", file)
    with pytest.raises(DataError, match="no Data.csv"):
        load("uci_esr", _mkdir(tmp_path / "empty"))


# --- splits and the datamodule ----------------------------------------------------------------
def test_stratified_group_split_never_separates_a_group():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(40), rng.integers(1, 6, 40))
    y = (groups % 4).astype(np.int64)
    train, val, test = stratified_group_split(groups, y, 0.2, 0.3, seed=1)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(groups)))
    sides = [set(groups[s]) for s in (train, val, test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    # 10 groups per class: round(0.3 * 10) = 3 test and 2 validation groups per class.
    for c in range(4):
        assert len({g for g in sides[2] if g % 4 == c}) == 3
        assert len({g for g in sides[1] if g % 4 == c}) == 2
    again = stratified_group_split(groups, y, 0.2, 0.3, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    # Groups with several classes (subjects): the same fractions of all groups, unstratified.
    mixed = rng.integers(0, 4, len(groups))
    train, val, test = stratified_group_split(groups, mixed, 0.2, 0.3, seed=1)
    sides = [set(groups[s]) for s in (train, val, test)]
    assert [len(s) for s in sides] == [20, 8, 12]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])


def test_datamodule_protocols_on_har_fixture(tmp_path):
    rng = np.random.default_rng(4)
    layout = {"train": [s for s in (1, 3, 5, 6, 7) for _ in range(4)], "test": [2] * 3 + [4] * 3}
    base = write_har(tmp_path, rng, layout)
    dm = WindowDataModule("uci_har", str(base), protocol="official", val_fraction=0.2,
                          batch_size=4, normalize="channel", cache_dir=str(tmp_path / "cache"))
    dm.setup("fit")
    assert (dm.n_chans, dm.n_times, dm.sfreq, dm.n_outputs) == (9, 128, 50.0, 6)
    assert dm.class_names == HAR_ACTIVITIES
    w = dm.windows
    idx = dm.split_index
    assert set(w.subject[idx["test"]]) == {2, 4}
    assert len(set(w.subject[idx["val"]])) == 1  # round(0.2 * 5 subjects)
    assert not set(w.subject[idx["val"]]) & set(w.subject[idx["train"]])
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"x", "y", "subject"}
    assert batch["x"].shape == (4, 9, 128) and batch["x"].dtype == torch.float32
    assert batch["y"].dtype == torch.long and batch["subject"].dtype == torch.long
    train_x = torch.stack([dm._datasets["train"][i]["x"] for i in range(len(idx["train"]))])
    assert torch.allclose(train_x.mean(dim=(0, 2)), torch.zeros(9), atol=1e-5)
    assert torch.allclose(train_x.std(dim=(0, 2), unbiased=False), torch.ones(9), atol=1e-4)
    assert sum(len(b["y"]) for b in dm.predict_dataloader()) == 6
    assert len(list((tmp_path / "cache").glob("windows-uci_har-*"))) == 1

    # val_fraction=0: a refit on every training subject, the same test split, no validation.
    refit = WindowDataModule("uci_har", str(base), protocol="official", val_fraction=0.0,
                             batch_size=4, cache_dir=str(tmp_path / "cache"))
    refit.setup()
    assert set(refit.split_index) == {"train", "test"} and not refit.has_validation
    assert len(refit.split_index["train"]) == 20 and refit.val_dataloader() == []
    assert np.array_equal(refit.split_index["test"], idx["test"])
    with pytest.raises(ValueError, match="val_fraction must be in"):
        WindowDataModule("uci_har", str(base), val_fraction=1.0)

    # A refit's model is tested on windows standardised as in its training (train + val).
    standardised = WindowDataModule("uci_har", str(base), protocol="official", val_fraction=0.0,
                                    normalize="channel", cache_dir=str(tmp_path / "cache"))
    refit_stats = standardised.preprocessing
    assert not dm.standardise_as(dm.preprocessing)  # its own: nothing changes
    assert dm.standardise_as(refit_stats)
    assert dm.preprocessing["mean"] == pytest.approx(refit_stats["mean"])
    raw = np.asarray(w.X[idx["test"][0]], dtype=np.float32)
    expected = (raw - np.float32(refit_stats["mean"])[:, None]) / np.float32(
        refit_stats["std"])[:, None]
    np.testing.assert_allclose(dm._datasets["test"][0]["x"].numpy(), expected, rtol=1e-6)
    assert not refit.standardise_as(refit_stats)  # no standardisation to replace
    with pytest.raises(ValueError, match="statistics are for 2 channels.*has 9"):
        dm.standardise_as({"mean": [0.0, 0.0], "std": [1.0, 1.0]})

    rnd = WindowDataModule("uci_har", str(base), protocol="random", test_fraction=0.25,
                           cache_dir=str(tmp_path / "cache"))
    rnd.setup()
    assert (rnd.windows.official_split[rnd.split_index["test"]] == "train").all()
    assert len(rnd.split_index["test"]) == 5  # 25 % of the 20 training windows
    rnd_refit = WindowDataModule("uci_har", str(base), protocol="random", test_fraction=0.25,
                                 val_fraction=0.0, cache_dir=str(tmp_path / "cache"))
    rnd_refit.setup()
    assert np.array_equal(rnd_refit.split_index["test"], rnd.split_index["test"])
    assert np.array_equal(np.sort(rnd_refit.split_index["train"]),
                          np.sort(np.concatenate([rnd.split_index["train"],
                                                  rnd.split_index["val"]])))
    grp = WindowDataModule("uci_har", str(base), protocol="group",
                           cache_dir=str(tmp_path / "cache"))
    grp.setup()
    sides = [set(grp.windows.group[grp.split_index[s]]) for s in ("train", "val", "test")]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])


def test_datamodule_errors(tmp_path):
    seg = np.zeros((1, SEGMENT_SAMPLES), dtype=int)
    for s in "ZS":
        write_bonn_set(tmp_path / s, s, seg)
    kw = {"cache_dir": str(tmp_path / "cache"), "reader_kwargs": {"sets": "ZS"}}
    with pytest.raises(DataError, match="no official split"):
        WindowDataModule("bonn", str(tmp_path), protocol="official", **kw).setup()
    # One segment per set: nothing left for validation or test.
    with pytest.raises(DataError, match="is empty"):
        WindowDataModule("bonn", str(tmp_path), protocol="group", **kw).setup()
    with pytest.raises(DataError, match="does not exist"):
        WindowDataModule("bonn", str(tmp_path / "missing"), **kw).setup()
    with pytest.raises(ValueError, match="protocol"):
        WindowDataModule("bonn", str(tmp_path), protocol="loso")


def test_bonn_and_esr_windows_record_their_units_through_the_cache(tmp_path):
    """Both readers record that their integers are µV; the window cache keeps the record, so a
    model trained on a cache hit knows it as well as one trained on a fresh read."""
    from eegkit.data.datamodules.windows import WindowDataModule

    rng = np.random.default_rng(4)
    for s in "ZONFS":
        write_bonn_set(tmp_path / "bonn" / s, s, rng.integers(-2048, 2048, (2, SEGMENT_SAMPLES)))
    (tmp_path / "esr").mkdir()
    write_esr_csv(tmp_path / "esr" / "Data.csv", load("bonn", tmp_path / "bonn", chunk=178))
    for dataset, reader in (("bonn", "bonn"), ("uci_esr", "esr")):
        assert load(dataset, tmp_path / reader).meta["preprocessing"]["scale"] == 1e6
        for _ in ("build", "hit"):
            dm = WindowDataModule(dataset, str(tmp_path / reader), protocol="group",
                                  cache_dir=str(tmp_path / "cache"))
            assert dm.preprocessing == {"reader": dataset, "scale": 1e6}
