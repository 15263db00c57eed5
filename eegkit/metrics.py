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
