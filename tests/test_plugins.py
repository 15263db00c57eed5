"""User readers found from configs: ``--import my_pkg`` and the ``eegkit.plugins`` entry points."""

from __future__ import annotations

import sys

import pytest

from eegkit.data import DATASETS, list_datasets
from eegkit.plugins import ENTRY_POINT_GROUP, import_user_modules

READER = '''
from eegkit.data import register_dataset

@register_dataset("{name}", kind="windows")
def read(path):
    return None
'''


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A scratch folder; the registry, sys.path and the user modules are undone afterwards."""
    DATASETS.names()  # discover the built-in readers before taking the copies restored later
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(DATASETS, "_entries", dict(DATASETS._entries))
    monkeypatch.setattr(DATASETS, "_meta", dict(DATASETS._meta))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for name in ("my_readers", "toy_pkg"):
        sys.modules.pop(name, None)


def test_import_option_registers_a_user_reader_from_the_working_folder(sandbox):
    (sandbox / "my_readers.py").write_text(READER.format(name="my_toy"))
    assert "my_toy" not in list_datasets()
    (module,) = import_user_modules(["my_readers"], entry_point_group="eegkit.none")
    assert module.__name__ == "my_readers" and "my_toy" in list_datasets("windows")


def test_entry_point_group_is_loaded(sandbox):
    pkg = sandbox / "site"
    (pkg / "toy_pkg").mkdir(parents=True)
    (pkg / "toy_pkg" / "__init__.py").write_text(READER.format(name="toy_from_entry_point"))
    info = pkg / "toy_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntoy = toy_pkg\n")
    sys.path.insert(0, str(pkg))
    modules = import_user_modules()
    assert "toy_pkg" in [m.__name__ for m in modules]
    assert "toy_from_entry_point" in list_datasets()


def test_a_module_that_does_not_import_is_named(sandbox):
    with pytest.raises(ImportError, match="--import no_such_module_xyz"):
        import_user_modules(["no_such_module_xyz"], entry_point_group="eegkit.none")
