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
    two or more groups and ``fraction > 0``. ``fraction = 0`` holds out nothing (a refit on the
    whole pool).
    """
    groups = np.asarray(groups)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    if fraction == 0.0:
        return np.arange(len(groups)), np.zeros(0, dtype=np.int64)
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


def stratified_group_split(
    groups: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/validation/test indices by group, with the class mix kept on every side.

    When every group holds a single class (segments of Bonn, UCI-ESR), a ``test_fraction`` and
    a ``val_fraction`` of each class's groups (rounded) are held out, so all chunks of one
    segment stay together and every class appears on each side. When groups mix classes
    (subjects with several activities), the same fractions of all groups are held out without
    stratification.

    Returns
    -------
    train_idx, val_idx, test_idx : ndarray of int
    """
    groups, y = np.asarray(groups), np.asarray(y)
    if len(groups) != len(y):
        raise ValueError(f"{len(groups)} groups for {len(y)} labels")
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= f < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {f}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError("val_fraction + test_fraction must be < 1")
    if len(y) == 0:
        return tuple(np.zeros(0, dtype=np.int64) for _ in range(3))
    uniq, inverse = np.unique(groups, return_inverse=True)
    counts = np.zeros((len(uniq), int(y.max()) + 1), dtype=np.int64)
    np.add.at(counts, (inverse, y), 1)
    pure = ((counts > 0).sum(1) == 1).all()
    group_class = counts.argmax(1) if pure else np.zeros(len(uniq), dtype=np.int64)
    rng = np.random.default_rng(seed)
    side = np.zeros(len(uniq), dtype=np.int8)  # 0 train, 1 val, 2 test
    for c in np.unique(group_class):
        members = rng.permutation(np.flatnonzero(group_class == c))
        n_test = int(round(test_fraction * len(members)))
        n_val = int(round(val_fraction * len(members)))
        side[members[:n_test]] = 2
        side[members[n_test:n_test + n_val]] = 1
    item_side = side[inverse]
    return tuple(np.flatnonzero(item_side == s) for s in range(3))
