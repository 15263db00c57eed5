"""User code that registers readers and models: ``--import my_pkg`` and the ``eegkit.plugins``
entry-point group.

A reader or model of one's own is registered with :func:`eegkit.data.register_dataset` /
:func:`eegkit.models.register_model` in a module of one's own; configs can then name it once that
module has been imported. :func:`import_user_modules` imports the modules named on the command
line and every module that an installed distribution declares in the entry-point group
:data:`ENTRY_POINT_GROUP`, e.g. in its ``pyproject.toml``::

    [project.entry-points."eegkit.plugins"]
    my_readers = "my_pkg.readers"
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

ENTRY_POINT_GROUP = "eegkit.plugins"


def import_user_modules(names: Iterable[str] = (), entry_point_group: str = ENTRY_POINT_GROUP,
                        ) -> list[ModuleType]:
    """Import the modules ``names`` (dotted names, as for ``--import``) and every entry point
    of ``entry_point_group``; the modules imported, in that order.

    The current directory is searched first, as ``python -m`` would, so a ``my_readers.py``
    next to the config is found without installing it.

    Raises
    ------
    ImportError
        Naming the module, or the entry point and its distribution, that failed to import.
    """
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as err:
            raise ImportError(f"--import {name}: cannot import it ({err})") from err
    for ep in entry_points(group=entry_point_group):
        try:
            loaded = ep.load()
        except Exception as err:  # any failure of a third-party module, reported with its name
            dist = getattr(ep.dist, "name", "?")
            raise ImportError(f"entry point {ep.name} = {ep.value} of {dist} "
                              f"({entry_point_group}) failed to import: {err}") from err
        modules.append(loaded if isinstance(loaded, ModuleType)
                       else importlib.import_module(ep.module))
    return modules


__all__ = ["ENTRY_POINT_GROUP", "import_user_modules"]
