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
        """Decorator registering ``fn`` under ``name`` (default: its ``__name__``).

        A name taken by another function is an error; the same definition registered again
        (its module re-imported after an earlier import of it failed half-way) replaces it.
        """

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            key = name or fn.__name__
            old = self._entries.get(key)
            if old is not None and _origin(old) != _origin(fn):
                raise KeyError(f"{self.kind} {key!r} is registered twice")
            self._entries[key] = fn
            self._meta[key] = meta
            return fn

        return deco

    def _discover(self) -> None:
        """Import every public submodule of :attr:`package` so that its entries register.

        The registry counts as discovered only once all imports succeeded: a failed import
        raises an :class:`ImportError` naming the module, and the next lookup tries again
        instead of working on a partial registry.
        """
        if self._discovered:
            return
        pkg = importlib.import_module(self.package)

        def failed(module: str) -> None:
            # walk_packages ignores a subpackage that fails to import unless told otherwise
            raise ImportError(f"{self.kind} registry: cannot import {module}")

        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{self.package}.",
                                          onerror=failed):
            if info.name.rsplit(".", 1)[-1].startswith("_"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as err:
                raise ImportError(f"{self.kind} registry: cannot import {info.name} "
                                  f"({type(err).__name__}: {err})") from err
        self._discovered = True

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


def _origin(fn: Callable[..., Any]) -> tuple[str, str]:
    # where a registered object is defined; a re-imported module gives new objects, same origin
    return getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn))
