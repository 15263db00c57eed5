"""Classification metrics (torchmetrics) and the evaluation report written by evaluate.py."""

from __future__ import annotations

import json
from pathlib import Path

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


def write_report(out_dir: str | Path, y_true, y_pred, class_names: list[str], title: str = ""):
    """Write ``metrics.json`` and ``confusion_matrix.png`` into ``out_dir``; return the dict."""
    from eegkit.interpret.plots import plot_confusion_matrix

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(np.asarray(y_true), np.asarray(y_pred), class_names)
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    fig = plot_confusion_matrix(np.asarray(summary["confusion"]), class_names, title=title)
    fig.savefig(out_dir / "confusion_matrix.png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return summary
