"""Figures shared by the evaluation reports and the notebooks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_confusion_matrix(cm: np.ndarray, class_names: list[str], title: str = ""):
    """Row-normalised confusion matrix with the counts written in each cell."""
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.1 * len(class_names) + 2, 1.0 * len(class_names) + 1.5))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{norm[i, j]:.2f}\n({cm[i, j]})", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix (row-normalised)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return fig


def plot_hypnogram(y_true, y_pred=None, stage_names=("W", "N1", "N2", "N3", "REM"),
                   epoch_sec: float = 30.0, title: str = ""):
    """True (and predicted) hypnogram; REM drawn in red as is customary."""
    order = [0, 4, 1, 2, 3]  # W, REM, N1, N2, N3 from top to bottom
    rank = {code: -i for i, code in enumerate(order)}
    fig, ax = plt.subplots(figsize=(12, 3))
    hours = np.arange(len(y_true)) * epoch_sec / 3600
    for y, style, label in ((y_true, "k-", "true"), (y_pred, "C1-", "predicted")):
        if y is None:
            continue
        level = np.array([rank.get(int(s), np.nan) for s in y], dtype=float)
        ax.step(hours, level, style, where="post", lw=1.0 if label == "true" else 0.8,
                alpha=1.0 if label == "true" else 0.8, label=label)
    ax.set_yticks([-i for i in range(len(order))], [stage_names[c] for c in order])
    ax.set_xlabel("time (h)")
    ax.set_title(title or "hypnogram")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
