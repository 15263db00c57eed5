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
                   epoch_sec: float = 30.0, title: str = "", start=None):
    """True and/or predicted hypnogram (``y_true=None`` for a recording nobody scored).

    Epochs coded ``-1`` (unscored, or not predicted) are left as gaps. With ``start`` (a
    :class:`datetime.datetime`, the recording's start) the time axis is clock time; otherwise
    hours from the first epoch.
    """
    import datetime

    import matplotlib.dates as mdates

    order = [0, 4, 1, 2, 3]  # W, REM, N1, N2, N3 from top to bottom
    rank = {code: -i for i, code in enumerate(order)}
    fig, ax = plt.subplots(figsize=(12, 3))
    # one edge more than epochs, so that the last epoch is drawn for its whole duration
    edges = np.arange(len(y_true if y_true is not None else y_pred) + 1) * epoch_sec
    if start is None:
        x = edges / 3600
        ax.set_xlabel("time (h)")
    else:
        x = mdates.date2num([start + datetime.timedelta(seconds=float(t)) for t in edges])
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_xlabel(f"clock time (start {start:%Y-%m-%d %H:%M:%S})")
    for y, style, label in ((y_true, "k-", "true"), (y_pred, "C1-", "predicted")):
        if y is None:
            continue
        level = np.array([rank.get(int(s), np.nan) for s in y], dtype=float)
        ax.step(x, np.append(level, level[-1:]), style, where="post",
                lw=1.0 if label == "true" else 0.8, alpha=1.0 if label == "true" else 0.8,
                label=label)
    ax.set_yticks([-i for i in range(len(order))], [stage_names[c] for c in order])
    # fixed limits: a night predicted as one stage must not be rescaled onto another's label
    ax.set_ylim(-len(order) + 0.5, 0.5)
    ax.set_title(title or "hypnogram")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
