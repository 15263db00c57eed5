"""A small name → factory registry, shared by the model and dataset registries.

Entries are registered with a decorator in the module that defines them; the registry imports
every module of its package on first use, so adding a file is enough to add an entry (no central
list to edit).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any


class Registry:
    """Maps names to factories.

    Parameters
    ----------
    kind : str
        What the entries are ("model", "dataset"), used in error messages.
    package : str
        Dotted package whose submodules register entries when imported.
    """

    def __init__(self, kind: str, package: str):
        self.kind = kind
        self.package = package
        self._entries: dict[str, Callable[..., Any]] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._discovered = False

    def register(self, name: str | None = None, **meta: Any) -> Callable:
        """Decorator registering ``fn`` under ``name`` (default: its ``__name__``)."""

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            key = name or fn.__name__
            if key in self._entries and self._entries[key] is not fn:
                raise KeyError(f"{self.kind} {key!r} is registered twice")
            self._entries[key] = fn
            self._meta[key] = meta
            return fn

        return deco

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        pkg = importlib.import_module(self.package)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{self.package}."):
            if not info.name.rsplit(".", 1)[-1].startswith("_"):
                importlib.import_module(info.name)

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._entries)

    def meta(self, name: str) -> dict[str, Any]:
        self.get(name)
        return dict(self._meta[name])

    def get(self, name: str) -> Callable[..., Any]:
        self._discover()
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}") from None
