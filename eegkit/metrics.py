"""Classification metrics (torchmetrics) and their summaries over seeds or folds.

Figures and tables made from them are in :mod:`eegkit.reports`.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassCohenKappa,
    MulticlassF1Score,
)


def classification_metrics(n_classes: int, prefix: str = "") -> MetricCollection:
    """Accuracy, macro-F1, weighted-F1, balanced accuracy and Cohen's κ."""
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(n_classes, average="micro"),
            "bacc": MulticlassAccuracy(n_classes, average="macro"),
            "macro_f1": MulticlassF1Score(n_classes, average="macro"),
            "weighted_f1": MulticlassF1Score(n_classes, average="weighted"),
            "kappa": MulticlassCohenKappa(n_classes),
        },
        prefix=prefix,
    )


def summarize(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict:
    """All report figures for one evaluation, as plain Python numbers."""
    n = len(class_names)
    t, p = torch.as_tensor(y_true).long(), torch.as_tensor(y_pred).long()
    out = {k: float(v) for k, v in classification_metrics(n)(p, t).items()}
    per_class = MulticlassF1Score(n, average="none")(p, t).tolist()
    out["per_class_f1"] = dict(zip(class_names, per_class, strict=True))
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    out["confusion"] = cm.tolist()
    out["n"] = int(len(y_true))
    return out


def mean_sd(values, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample standard deviation (``ddof=1``; 0 for a single value) along ``axis``."""
    values = np.asarray(values, dtype=np.float64)
    sd = values.std(axis=axis, ddof=1) if values.shape[axis] > 1 else np.zeros_like(
        values.mean(axis=axis))
    return values.mean(axis=axis), sd


def seed_summary(results: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """Mean and sample standard deviation of every metric over runs (one dict per seed)."""
    if not results:
        raise ValueError("no results to summarise")
    keys = [k for k in results[0] if all(k in r for r in results)]
    mean, sd = mean_sd([[r[k] for k in keys] for r in results])
    return {k: (float(m), float(s)) for k, m, s in zip(keys, mean, sd, strict=True)}


def group_mean(proba, y, groups) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Mean class probabilities of the windows of every group (a segment, a recording).

    Parameters
    ----------
    proba : array-like, shape (n_windows, n_classes)
        Class probabilities of each window.
    y : array-like, shape (n_windows,)
        Label of each window; all windows of a group must share it.
    groups : array-like, shape (n_windows,)
        Group of each window.

    Returns
    -------
    proba, y, names
        ``(n_groups, n_classes)`` mean probabilities, the ``(n_groups,)`` labels and the group
        names, in sorted name order.
    """
    proba, y = torch.as_tensor(proba), torch.as_tensor(y)
    names, index = np.unique(np.asarray(groups), return_inverse=True)
    if not len(proba) == len(y) == len(index):
        raise ValueError(f"{len(proba)} probability rows, {len(y)} labels and {len(index)} groups")
    index = torch.as_tensor(index.reshape(-1))
    sums = torch.zeros(len(names), proba.shape[1], dtype=proba.dtype).index_add_(0, index, proba)
    counts = torch.bincount(index, minlength=len(names)).to(proba.dtype)
    labels = torch.zeros(len(names), dtype=y.dtype).scatter_(0, index, y)
    mixed = labels[index] != y
    if mixed.any():
        name = str(names[int(index[mixed][0])])
        raise ValueError(f"group {name!r} has windows with different labels")
    return sums / counts[:, None], labels, names
