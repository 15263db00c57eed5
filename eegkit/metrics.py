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


#: Metrics of EEGDM's evaluation report (TUEV / CHB-MIT tables).
REPORT_METRICS = ("kappa", "bacc", "weighted_f1")


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


def format_seed_table(rows: dict[str, dict[str, tuple[float, float]]],
                      metrics: tuple[str, ...] = REPORT_METRICS) -> str:
    """A markdown table: one row per method, ``mean ± sd`` in % per metric."""
    lines = ["| method | " + " | ".join(metrics) + " |",
             "|---|" + "---|" * len(metrics)]
    for name, summary in rows.items():
        cells = [f"{100 * summary[m][0]:.2f} ± {100 * summary[m][1]:.2f}" if m in summary
                 else "–" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
