"""Splits that never leak: by domain, by subject, by group.

All functions return integer index arrays (or lists of names) and are deterministic given
``seed``. "Group" is whatever must stay on one side: a subject for sleep data, an original
segment for datasets cut into chunks (Bonn / UCI-ESR).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eegkit.data.types import DataError


def lodo_splits(domains: Sequence[str]) -> list[tuple[list[str], str]]:
    """Leave-one-domain-out folds: ``[(train_domains, held_out), ...]`` in the given order."""
    domains = list(dict.fromkeys(domains))
    if len(domains) < 2:
        raise DataError(None, f"leave-one-domain-out needs at least 2 domains, got {domains}")
    return [([d for d in domains if d != held], held) for held in domains]


def group_holdout(
    groups: np.ndarray, fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices so that a ``fraction`` of the *groups* (not items) is held out.

    Returns ``(keep_idx, holdout_idx)``; at least one group goes to each side when there are
    two or more groups.
    """
    groups = np.asarray(groups)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    uniq = np.unique(groups)
    if len(uniq) < 2:
        raise DataError(None, f"cannot hold out a fraction of {len(uniq)} group(s): need >= 2")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(uniq)
    n_out = min(len(uniq) - 1, max(1, int(round(fraction * len(uniq)))))
    held = np.isin(groups, perm[:n_out])
    return np.flatnonzero(~held), np.flatnonzero(held)


def random_holdout(n: int, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Plain random split of ``n`` items (only for protocols that ask for it, e.g. AdaCE's)."""
    return group_holdout(np.arange(n), fraction, seed)


def check_nonempty(name: str, index: np.ndarray, what: str = "split") -> np.ndarray:
    """Raise a clear error for an empty split instead of failing later inside a DataLoader."""
    if len(index) == 0:
        raise DataError(None, f"{what} {name!r} is empty")
    return index
