from __future__ import annotations

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
    assert sorted(list_datasets()) == sorted(
        list_datasets("sleep") + list_datasets("events") + list_datasets("windows"))
