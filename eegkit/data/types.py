"""The two shapes every reader returns.

- :class:`Recording`: one continuous recording (PSG night, clinical EEG file) with its labels,
  either sleep stages per 30-s epoch or a table of events.
- :class:`Windows`: a dataset that is distributed already cut into fixed windows
  (UCI HAR, Bonn, UCI Epileptic Seizure Recognition).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Sleep stages in AASM order; the integer code of a stage is its index.
STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")
#: Code of an epoch without a usable stage (R&K "?", movement time, "Unscored").
UNSCORED: int = -1
#: Length of one scored sleep epoch, seconds.
EPOCH_SEC: float = 30.0

#: Dtype of :attr:`Recording.events`.
EVENT_DTYPE = np.dtype(
    [("onset", "f8"), ("duration", "f8"), ("code", "i4"), ("channel", "i4")]
)


class DataError(ValueError):
    """Bad input data; the message names the file and the problem."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path is not None else problem)


@dataclass
class Recording:
    """One continuous recording.

    Attributes
    ----------
    data : ndarray, shape (n_channels, n_samples), float32
        Signals in physical units (volts for EEG/EOG/EMG, as MNE returns them).
    ch_names : list of str
        Channel names as the reader exposes them (after any derivation it made).
    sfreq : float
        Sampling rate of ``data`` in Hz (one rate for all channels).
    subject, recording, domain : str
        Subject id, recording id (unique within the dataset) and dataset/site name.
    source : Path
        The signal file, for error messages.
    stages : ndarray of int8, shape (n_epochs,), optional
        Sleep stage per 30-s epoch (index into :data:`STAGES`, :data:`UNSCORED` = -1).
    epoch_onset : float
        Time (s) from the start of ``data`` to the start of ``stages[0]``.
    events : structured ndarray of :data:`EVENT_DTYPE`, optional
        Annotated events (onset and duration in s, integer class code, channel index or -1).
    """

    data: np.ndarray
    ch_names: list[str]
    sfreq: float
    subject: str
    recording: str
    domain: str
    source: Path
    stages: np.ndarray | None = None
    epoch_onset: float = 0.0
    events: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def n_times(self) -> int:
        return int(self.data.shape[-1])

    def channel(self, name: str) -> np.ndarray:
        """The samples of channel ``name``; a :class:`DataError` names what is there if absent."""
        try:
            return self.data[self.ch_names.index(name)]
        except ValueError:
            raise DataError(
                self.source, f"missing required channel {name!r}; present: {self.ch_names}"
            ) from None


@dataclass
class Windows:
    """A dataset of fixed-length windows.

    Attributes
    ----------
    X : ndarray, shape (n_windows, n_channels, n_times), float32
    y : ndarray of int64, shape (n_windows,)
        Class index into ``classes``.
    subject : ndarray, shape (n_windows,)
        Subject id per window (or the segment id where subjects are unknown).
    group : ndarray, shape (n_windows,)
        Windows cut from one original segment share a group; splits never separate a group.
    sfreq : float
    ch_names : list of str
    classes : list of str
    domain : str
    official_split : ndarray of str, optional
        ``"train"``/``"test"`` per window where the dataset ships an official split.
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    group: np.ndarray
    sfreq: float
    ch_names: list[str]
    classes: list[str]
    domain: str
    official_split: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def subset(self, index: np.ndarray) -> Windows:
        """The windows at ``index`` (integer or boolean), metadata kept."""
        split = None if self.official_split is None else self.official_split[index]
        return Windows(
            self.X[index], self.y[index], self.subject[index], self.group[index], self.sfreq,
            self.ch_names, self.classes, self.domain, split, dict(self.meta),
        )
