from __future__ import annotations

import sys
import uuid

import pytest

from eegkit.data import DataError, list_datasets, load
from eegkit.models import create_model, list_models
from eegkit.registry import Registry


def test_registry_rejects_unknown_names_and_lists_known():
    with pytest.raises(KeyError, match="unknown model 'nope'.*attn_sleep"):
        create_model("nope")


def test_registry_rejects_double_registration():
    reg = Registry("thing", "eegkit.utils")

    @reg.register("a")
    def a():
        return 1

    with pytest.raises(KeyError, match="registered twice"):
        reg.register("a")(lambda: 2)


def _flaky_package(root, fail_times: int = 1) -> str:
    """A package of three entries whose module ``bad`` fails on its first ``fail_times`` imports.

    ``bad`` registers one entry before failing, as a module does when a dependency it imports
    half-way down is broken.
    """
    name = f"flaky_{uuid.uuid4().hex[:8]}"
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        f"from eegkit.registry import Registry\nREG = Registry('thing', {name!r})\n")
    (pkg / "good.py").write_text(f"from {name} import REG\n\n@REG.register()\ndef good():\n"
                                 "    return 1\n")
    (pkg / "bad.py").write_text(
        f"from pathlib import Path\nfrom {name} import REG\n\n"
        "@REG.register()\ndef early():\n    return 2\n\n"
        "runs = Path(__file__).with_name('runs')\n"
        "n = int(runs.read_text()) if runs.exists() else 0\n"
        "runs.write_text(str(n + 1))\n"
        f"if n < {fail_times}:\n    raise RuntimeError('simulated broken dependency')\n\n"
        "@REG.register()\ndef late():\n    return 3\n")
    return name


@pytest.fixture
def flaky(tmp_path, monkeypatch):
    """``flaky(fail_times)``: the registry of a new :func:`_flaky_package` and its name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names = []

    def make(fail_times: int = 1):
        names.append(_flaky_package(tmp_path, fail_times))
        return __import__(names[-1]).REG, names[-1]

    yield make
    for module in [m for m in sys.modules if m.split(".")[0] in names]:
        del sys.modules[module]


def test_failed_import_is_named_and_a_retry_completes_the_registry(flaky):
    # the flag used to be set before importing: after one failure the registry stayed partial
    reg, name = flaky()
    with pytest.raises(ImportError, match=rf"thing registry: cannot import {name}\.bad "
                                          r"\(RuntimeError: simulated broken dependency\)"):
        reg.names()
    assert reg.names() == ["early", "good", "late"]
    assert reg.get("late")() == 3


def test_registry_fails_every_time_while_the_import_fails(flaky):
    reg, name = flaky(fail_times=2)
    for _ in range(2):
        with pytest.raises(ImportError, match=rf"cannot import {name}\.bad"):
            reg.get("good")
    assert reg.get("late")() == 3


def test_braindecode_baselines_are_registered():
    names = list_models(tag="baseline")
    for expected in ("attn_sleep", "usleep", "chambon2018", "deepsleepnet", "eegnet"):
        assert expected in names


def test_load_names_a_missing_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="nowhere.*does not exist"):
        load("anything", missing)


def test_every_dataset_of_the_spec_has_a_registered_reader_of_its_kind():
    assert list_datasets("sleep") == ["hmc", "isruc", "physionet2018", "shhs", "sleep_edf"]
    assert list_datasets("events") == ["chbmit", "tuev"]
    assert list_datasets("windows") == ["bonn", "uci_esr", "uci_har"]
    assert list_datasets("generic") == ["edf"]  # any EDF folder, windows or sleep epochs
    assert sorted(list_datasets()) == sorted(
        list_datasets("sleep") + list_datasets("events") + list_datasets("windows")
        + list_datasets("generic"))
