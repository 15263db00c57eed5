"""A disk cache of preprocessed arrays: memory-mapped, content-keyed, written atomically.

An entry is a folder ``<root>/<name>-<key>/`` holding one ``.npy`` per array and a
``meta.json``. The key is a hash of everything that determines the arrays (dataset, files,
preprocessing config, code version), so a changed config never reads a stale entry. Entries are
built in a temporary sibling folder and renamed into place in one step: an interrupted build
leaves no entry that loads, and the next run rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

CACHE_VERSION = 1
_COMPLETE = "meta.json"  # written last; its presence marks a complete entry


def default_root() -> Path:
    """``$EEGKIT_CACHE`` or ``~/.cache/eegkit``."""
    return Path(os.environ.get("EEGKIT_CACHE", Path.home() / ".cache" / "eegkit"))


@contextmanager
def publish_atomically(final: str | Path, complete: str) -> Iterator[Path]:
    """Build a folder in a temporary sibling and rename it to ``final`` in one step.

    Yields the temporary folder to fill. On success it replaces ``final``; a ``final`` that
    already holds ``complete`` (a concurrent writer won) is kept and the new build discarded; a
    ``final`` without it (an interrupted leftover) is replaced. On any error the temporary
    folder is removed, so nothing half-written is ever visible under ``final``.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            if (final / complete).exists():
                shutil.rmtree(tmp)
                return
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def cache_key(**config: Any) -> str:
    """A stable 16-hex-digit hash of a JSON-able config (keys sorted)."""
    blob = json.dumps({"_v": CACHE_VERSION, **config}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class ArrayCache:
    """Content-keyed store of named numpy arrays under ``root``.

    Examples
    --------
    >>> cache = ArrayCache("/tmp/c")
    >>> arrays, meta = cache.get_or_build("sleep_edf", key, build)  # build(scratch)
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    def path(self, name: str, key: str) -> Path:
        return self.root / f"{name}-{key}"

    def exists(self, name: str, key: str) -> bool:
        return (self.path(name, key) / _COMPLETE).is_file()

    def load(self, name: str, key: str, mmap: bool = True) -> tuple[dict[str, np.ndarray], dict]:
        """Arrays (memory-mapped read-only by default) and the entry's metadata."""
        folder = self.path(name, key)
        meta = json.loads((folder / _COMPLETE).read_text())
        arrays = {
            k: np.load(folder / f"{k}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
            for k in meta["arrays"]
        }
        return arrays, meta.get("user", {})

    def save(self, name: str, key: str, arrays: Mapping[str, np.ndarray],
             meta: dict | None = None) -> Path:
        """Write an entry atomically (temporary folder, then one rename)."""
        final = self.path(name, key)
        with publish_atomically(final, _COMPLETE) as tmp:
            for k, v in arrays.items():
                np.save(tmp / f"{k}.npy", np.ascontiguousarray(v), allow_pickle=False)
            info = {"arrays": list(arrays), "user": meta or {}}
            (tmp / _COMPLETE).write_text(json.dumps(info, default=str))
        return final

    def get_or_build(self, name: str, key: str,
                     build: Callable[[Path], tuple[Mapping[str, np.ndarray], dict]],
                     mmap: bool = True) -> tuple[dict[str, np.ndarray], dict]:
        """Load the entry, building and saving it first on a miss.

        ``build(scratch)`` returns ``(arrays, meta)``. ``scratch`` is a temporary file in the
        cache root that ``build`` may stream its large array into (``np.memmap``,
        ``np.lib.format.open_memmap``), so that a large dataset never sits in memory at once; it
        is deleted once the entry is saved, or when the build fails.
        """
        if not self.exists(name, key):
            self.root.mkdir(parents=True, exist_ok=True)
            fd, scratch = tempfile.mkstemp(prefix=f".{name}-", suffix=".scratch", dir=self.root)
            os.close(fd)
            try:
                arrays, meta = build(Path(scratch))
                self.save(name, key, arrays, meta)
                del arrays  # the memory map of the scratch file, before it is deleted
            finally:
                os.unlink(scratch)
        return self.load(name, key, mmap=mmap)
