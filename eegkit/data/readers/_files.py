"""Read the files of a dataset whether it sits in a folder or in zip archives.

Datasets are distributed as zips (UCI HAR, Bonn) that users may or may not extract. A
:class:`FileTree` lists every file under a folder, looking *inside* any ``.zip`` it meets as if
the archive were a folder of the same name, so a reader never extracts anything to disk and
never cares which form it was given. :class:`LazyRecordings` is the lazy, sized iterable that
event and sleep readers return.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Generic, TypeVar

from eegkit.data.types import DataError

T = TypeVar("T")


class FileTree:
    """The files of a folder or a zip archive, by relative POSIX path.

    Parameters
    ----------
    path : Path
        A folder (zips inside it are opened as sub-folders named like the zip file) or a single
        ``.zip`` file (its members are the files).

    Notes
    -----
    :meth:`source` gives the path used in error messages: a member of an archive reads as
    ``<archive>.zip/<member>``.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._zips: dict[str, zipfile.ZipFile] = {}
        # relative path -> (archive key or None, name inside the archive or absolute file path)
        self._files: dict[str, tuple[str | None, str]] = {}
        if self.path.is_file():
            self._add_zip(self.path, prefix="")
        elif self.path.is_dir():
            for file in sorted(p for p in self.path.rglob("*") if p.is_file()):
                rel = file.relative_to(self.path).as_posix()
                if file.suffix.lower() == ".zip":
                    self._add_zip(file, prefix=rel + "/")
                else:
                    self._files[rel] = (None, str(file))
        else:
            raise DataError(self.path, "dataset path does not exist")

    def _add_zip(self, file: Path, prefix: str) -> None:
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, OSError) as err:
            raise DataError(file, f"not a readable zip archive ({err})") from None
        key = str(file)
        self._zips[key] = archive
        for info in archive.infolist():
            if not info.is_dir():
                self._files[prefix + info.filename] = (key, info.filename)

    def __enter__(self) -> FileTree:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for archive in self._zips.values():
            archive.close()
        self._zips.clear()

    def names(self) -> list[str]:
        """All file paths, relative to :attr:`path`, sorted."""
        return sorted(self._files)

    def find(self, filename: str) -> list[str]:
        """Relative paths whose last component is ``filename``."""
        return [n for n in self.names() if PurePosixPath(n).name == filename]

    def source(self, name: str) -> Path:
        """A path naming file ``name`` for error messages."""
        return self.path / name

    def read(self, name: str) -> bytes:
        """The bytes of file ``name``; a :class:`DataError` if it is absent or unreadable."""
        try:
            archive, inner = self._files[name]
        except KeyError:
            raise DataError(self.source(name), "file is missing") from None
        try:
            if archive is None:
                return Path(inner).read_bytes()
            return self._zips[archive].read(inner)
        except (OSError, zipfile.BadZipFile, EOFError) as err:
            raise DataError(self.source(name), f"cannot be read ({err})") from None


class LazyRecordings(Generic[T]):
    """A sized iterable that builds one item per source only when it is reached.

    Parameters
    ----------
    sources : sequence
        What each item is read from (typically file paths), in order.
    read : callable
        ``read(source) -> item``.
    """

    def __init__(self, sources: Sequence, read: Callable[..., T]):
        self.sources = list(sources)
        self._read = read

    def __len__(self) -> int:
        return len(self.sources)

    def __iter__(self) -> Iterator[T]:
        for source in self.sources:
            yield self._read(source)

    def __getitem__(self, index: int) -> T:
        return self._read(self.sources[index])


def path_fingerprint(path: str | Path) -> list[tuple[str, int, int]]:
    """(relative name, size, mtime in ns) of every file under ``path`` (or of ``path`` itself).

    Part of cache keys: a changed, added or removed input file changes the key.
    """
    path = Path(path).resolve()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = []
    for file in files:
        stat = file.stat()
        out.append((file.relative_to(path).as_posix() if file != path else str(path),
                    stat.st_size, stat.st_mtime_ns))
    return out
