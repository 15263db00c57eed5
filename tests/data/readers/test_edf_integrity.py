"""EDF integrity: file size against the header, unit spellings, plausible amplitudes.

Each test builds a small EDF with edfio and damages or mislabels it the way real files come
damaged (a text-mode transfer, a unit written ``UV``), then reads it through the shared EDF
path of the PSG/event readers (:func:`eegkit.data.readers._psg.read_edf`) or the Sleep-EDF
reader, which reads its nights in pieces through its own MNE call.
"""

from __future__ import annotations

import numpy as np
import pytest
from edfio import Edf, EdfAnnotation, EdfSignal

from eegkit.data.readers._psg import (
    MAX_ROBUST_VOLTS,
    check_edf_size,
    read_edf,
    volt_factor,
)
from eegkit.data.readers.sleep_edf import read_hypnogram, read_psg
from eegkit.data.types import DataError

SFREQ = 100.0
RECORD_BYTES = 2 * int(SFREQ)  # one 1-s record of one 16-bit signal


def _uv(seconds: int = 10, seed: int = 0) -> np.ndarray:
    """EEG-like noise in microvolts (30 µV standard deviation)."""
    return np.random.default_rng(seed).normal(0.0, 30.0, int(seconds * SFREQ))


def _write(path, samples: np.ndarray, unit: str = "uV", label: str = "EEG Fpz-Cz",
           annotations=None):
    Edf([EdfSignal(samples, SFREQ, label=label, physical_dimension=unit)],
        annotations=annotations).write(path)
    return path


def _crlf(path, n: int) -> None:
    """Turn the first ``n`` LF bytes after the header into CRLF, as a text-mode copy does."""
    blob = path.read_bytes()
    header = int(blob[184:192])
    data = bytearray()
    for byte in blob[header:]:
        if byte == 0x0A and n:
            data += b"\r"
            n -= 1
        data.append(byte)
    path.write_bytes(blob[:header] + bytes(data))


def test_crlf_surplus_below_one_record_is_an_error(tmp_path):
    # MNE reads this file without a warning and every sample after the first CR is shifted
    path = _write(tmp_path / "night.edf", _uv())
    _crlf(path, 10)
    assert 0 < path.stat().st_size - 512 - 10 * RECORD_BYTES < RECORD_BYTES
    with pytest.raises(DataError, match=r"night.edf: truncated or corrupt EDF: 10 bytes too long"
                                        r".*CRLF conversion\?") as err:
        read_edf(path, None)
    assert err.value.path == path


def test_size_deficit_below_one_record_and_bad_header_are_errors(tmp_path):
    path = _write(tmp_path / "short.edf", _uv())
    blob = path.read_bytes()
    path.write_bytes(blob[:-7])
    with pytest.raises(DataError, match=r"short.edf: .*7 bytes too short for 10 data records"):
        check_edf_size(path)
    path.write_bytes(blob[:100])
    with pytest.raises(DataError, match=r"100 bytes, too short for the 256-byte fixed header"):
        check_edf_size(path)
    path.write_bytes(blob[:184] + b"garbage!" + blob[192:])
    with pytest.raises(DataError, match=r"header field 'number of header bytes' is not an "
                                        r"integer: 'garbage!'"):
        check_edf_size(path)
    path.write_bytes(blob[:300])
    with pytest.raises(DataError, match=r"300 bytes: shorter than its own 512-byte header"):
        check_edf_size(path)


def test_unknown_record_count_needs_whole_records(tmp_path):
    path = _write(tmp_path / "live.edf", _uv())
    blob = bytearray(path.read_bytes())
    blob[236:244] = b"-1      "
    path.write_bytes(bytes(blob))
    check_edf_size(path)  # 10 whole records
    path.write_bytes(bytes(blob) + b"\r")
    with pytest.raises(DataError, match=r"live.edf: .*: 2001 data bytes are not a whole "
                                        r"number of 200-byte data records"):
        check_edf_size(path)


def test_edf_plus_and_rec_extension_pass_and_are_checked(tmp_path):
    # EDF+ as edfio writes it (an annotation signal next to the data) passes the size check;
    # ISRUC's ".rec" is EDF under another name and is checked the same way
    samples = _uv()
    rec = _write(tmp_path / "1.rec", samples,
                 annotations=[EdfAnnotation(0.0, 30.0, "Sleep stage W")])
    data, names, sfreq = read_edf(rec, None)
    assert names == ["EEG Fpz-Cz"] and sfreq == SFREQ
    np.testing.assert_allclose(data[0], samples * 1e-6, atol=1e-8)
    _crlf(rec, 1)
    with pytest.raises(DataError, match=r"1.rec: truncated or corrupt EDF: 1 bytes too long"):
        read_edf(rec, None)


def _damage_annotation(path) -> None:
    blob = path.read_bytes()
    at = blob.index(b"Sleep stage W")
    path.write_bytes(blob[:at] + b"\xff\xfe" + blob[at + 2:])  # same size, invalid UTF-8


def test_corrupt_annotations_do_not_suggest_latin1(tmp_path):
    # MNE's advice (encoding='latin1') decodes the damage into garbage stage labels
    psg = _write(tmp_path / "psg.edf", _uv(), annotations=[EdfAnnotation(0.0, 30.0,
                                                                         "Sleep stage W")])
    _damage_annotation(psg)
    with pytest.raises(DataError, match="psg.edf: truncated or corrupt EDF .*invalid byte "
                                        "in at least one annotations channel") as err:
        read_edf(psg, None)
    assert "latin" not in str(err.value) and "encoding" not in str(err.value)
    hypnogram = tmp_path / "SC4001EC-Hypnogram.edf"
    Edf([], annotations=[EdfAnnotation(0.0, 30.0, "Sleep stage W")]).write(hypnogram)
    _damage_annotation(hypnogram)
    with pytest.raises(DataError, match="SC4001EC-Hypnogram.edf: unreadable hypnogram") as err:
        read_hypnogram(hypnogram)
    assert "latin" not in str(err.value)


@pytest.mark.parametrize("unit, volts", [
    ("uV", 1e-6), ("UV", 1e-6), ("µV", 1e-6), ("μV", 1e-6), ("microvolts", 1e-6),
    ("Microvolt", 1e-6), ("uvolt", 1e-6), ("mV", 1e-3), ("MV", 1e-3), ("millivolts", 1e-3),
    ("V", 1.0), ("volts", 1.0), ("nV", 1e-9), ("%", None), ("", None), ("bpm", None),
    ("degC", None),
])
def test_unit_spellings_are_normalised(unit, volts):
    assert volt_factor(unit) == volts


@pytest.mark.parametrize("unit, scale", [("UV", 1.0), ("uvolts", 1.0), ("MV", 1e-3),
                                         ("uV", 1.0), ("V", 1e-6)])
def test_read_edf_returns_volts_whatever_the_unit_spelling(tmp_path, unit, scale):
    # "UV" used to come back 1e6 too large: MNE scales only the exact spellings uV/µV/mV
    samples = _uv()
    path = _write(tmp_path / "rec.edf", samples * scale, unit=unit)
    data, _, _ = read_edf(path, None)
    np.testing.assert_allclose(data[0], samples * 1e-6, atol=1e-8)


def test_sleep_edf_psg_is_read_in_volts_and_size_checked(tmp_path):
    eeg, eog = _uv(seed=1), _uv(seed=2)
    path = tmp_path / "SC4001E0-PSG.edf"
    Edf([EdfSignal(eeg, SFREQ, label="EEG Fpz-Cz", physical_dimension="UV"),
         EdfSignal(eog, SFREQ, label="EOG horizontal", physical_dimension="uvolt")]
        ).write(path)
    required = ["EEG Fpz-Cz", "EOG horizontal"]
    data, names, _ = read_psg(path, None, required)
    assert names == required
    np.testing.assert_allclose(data, np.stack([eeg, eog]) * 1e-6, atol=1e-8)
    _crlf(path, 3)
    with pytest.raises(DataError, match=r"SC4001E0-PSG.edf: .*3 bytes too long"):
        read_psg(path, None, required)


def test_implausible_voltage_amplitude_is_an_error(tmp_path):
    # microvolt numbers declared as volts: a 30-V EEG
    path = _write(tmp_path / "rec.edf", _uv(), unit="V")
    with pytest.raises(DataError, match=r"rec.edf: channel 'EEG Fpz-Cz' \('V'\) has a median "
                                        r"absolute deviation of .* V, implausible"):
        read_edf(path, None)
    psg = _write(tmp_path / "SC4001E0-PSG.edf", _uv(), unit="mV")
    with pytest.raises(DataError, match="SC4001E0-PSG.edf: channel 'EEG Fpz-Cz' .*implausible"):
        read_psg(psg, None, ["EEG Fpz-Cz"])


def test_amplitude_limit_spares_real_biosignals_and_other_units(tmp_path):
    # a 5-mV ECG (large for a surface ECG) in volts passes; so does a large non-voltage channel
    ecg = _write(tmp_path / "ecg.edf", 5e-3 * np.sin(np.arange(1000) / 5.0), unit="V",
                 label="ECG")
    data, _, _ = read_edf(ecg, None)
    assert np.median(np.abs(data[0] - np.median(data[0]))) < MAX_ROBUST_VOLTS
    spo2 = _write(tmp_path / "spo2.edf", 90 + 5 * np.sin(np.arange(1000) / 50.0), unit="%",
                  label="SpO2")
    assert read_edf(spo2, None)[0].max() > 90
