"""Read the files of a dataset whether it sits in a folder or in zip archives.

Datasets are distributed as zips (UCI HAR, Bonn) that users may or may not extract. A
:class:`FileTree` lists every file under a folder, looking *inside* any ``.zip`` it meets as if
the archive were a folder of the same name, so a reader never extracts anything to disk and
never cares which form it was given. :class:`LazyRecordings` is the lazy, sized iterable that
event and sleep readers return. :func:`parse_table`, :func:`csv_rows` and :func:`parse_cells`
read the text tables of the window datasets (UCI HAR, Bonn, UCI-ESR) row by row, so a missing
or extra value is reported where it is instead of silently shifting every later window.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Generic, TypeVar

import numpy as np

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


#: Whether each byte value is one that ``bytes.split()`` splits on.
_IS_SPACE = np.zeros(256, dtype=bool)
_IS_SPACE[list(b" \t\n\r\x0b\x0c")] = True


def _line_counts(text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Line numbers (from 1) of the non-blank lines of ``text`` and their counts of cells.

    Lines end as ``bytes.splitlines`` ends them (LF, CRLF or CR); cells are separated by
    whitespace as ``bytes.split()`` separates them. Vectorised: a Python loop over lines
    costs more than parsing the numbers.
    """
    b = np.frombuffer(text, np.uint8)
    space = _IS_SPACE[b]
    lone_cr = (b == 13) & (np.append(b[1:], 0) != 10)
    ends = np.flatnonzero((b == 10) | lone_cr)  # the byte that ends each line
    starts = np.flatnonzero(~space & np.insert(space[:-1], 0, True))  # first byte of each cell
    counts = np.bincount(np.searchsorted(ends, starts), minlength=len(ends) + 1)
    return np.flatnonzero(counts) + 1, counts[counts > 0]


def parse_cells(cells: list[bytes], numbers: np.ndarray, width: int, source: Path, dtype,
                what: str) -> np.ndarray:
    """``cells`` (row-major, ``width`` a row) as a ``(len(numbers), width)`` array.

    Parameters
    ----------
    cells : list of bytes
        The cells of every row, one flat list (parsed several times faster than nested rows).
    numbers : array of int
        The line number of each row, for messages.
    width : int
        Cells per row (the caller has checked that every row has them).
    source : Path
        The file, named in errors.
    dtype : numpy dtype
        Integer or floating type the cells must parse as.
    what : str
        What a row must be, for the message (``"an integer"``, ``"a row of numbers"``).

    Raises
    ------
    DataError
        Naming ``source`` and the line of the first cell that does not parse, or of the first
        NaN/infinite value (Python's float parser accepts ``nan`` and ``inf`` tokens, which are
        never valid samples here).
    """
    try:
        values = np.array(cells, dtype=dtype)
    except ValueError:
        for index, cell in enumerate(cells):
            try:
                np.array(cell, dtype=dtype)
            except ValueError:
                raise DataError(source, f"line {numbers[index // width]} is not {what}: "
                                        f"{cell[:40]!r}") from None
        raise
    values = values.reshape(len(numbers), width)
    if np.issubdtype(values.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        if len(bad):
            raise DataError(source, f"line {numbers[bad[0]]} holds a NaN or infinite value")
    return values


def parse_table(text: bytes, source: Path, dtype, what: str, width: int) -> np.ndarray:
    """The ``(n_rows, width)`` numbers of a whitespace-separated text table.

    Blank lines are skipped; every other line must hold exactly ``width`` numbers, all finite
    (:func:`parse_cells`), and the file must end with a line break: a file cut inside its last
    number would otherwise load with a wrong last value (every file of the distributed UCI HAR
    and Bonn archives ends with one). A :class:`DataError` names ``source`` and the problem.
    """
    if text and not text.endswith((b"\n", b"\r")):
        raise DataError(source, "does not end with a line break: truncated?")
    numbers, counts = _line_counts(text)
    wrong = np.flatnonzero(counts != width)
    if len(wrong):
        raise DataError(source, f"line {numbers[wrong[0]]} has {counts[wrong[0]]} values, "
                                f"expected {width}")
    return parse_cells(text.split(), numbers, width, source, dtype, what)


def csv_rows(text: bytes) -> tuple[np.ndarray, list[list[bytes]]]:
    """Line numbers (from 1) and cells of the non-blank lines of a comma-separated text.

    Cells are stripped of spaces and of the quotes CSV writers put around them.
    """
    numbers, rows = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            numbers.append(number)
            rows.append([c.strip().strip(b'"') for c in line.split(b",")])
    return np.array(numbers, dtype=np.int64), rows
