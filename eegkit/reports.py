"""Reports: what a person reads after a run.

- figures: confusion matrix, hypnograms (true vs predicted; clock time for a new recording);
- the evaluation report of one run (``metrics.json``, ``confusion_matrix.png``, hypnograms);
- tables: leave-one-domain-out summaries and runs side by side, mean ± sd over seeds.

Everything here reads metrics (:mod:`eegkit.metrics`) or predictions and writes files or text;
nothing trains.
"""

from __future__ import annotations

import csv
import datetime
import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from eegkit.metrics import mean_sd, summarize  # noqa: E402


# --- figures ---------------------------------------------------------------------------------
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


# --- the report of one evaluation ------------------------------------------------------------
def write_report(out_dir: str | Path, y_true, y_pred, class_names: list[str], title: str = ""):
    """Write ``metrics.json`` and ``confusion_matrix.png`` into ``out_dir``; return the dict."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(np.asarray(y_true), np.asarray(y_pred), class_names)
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    fig = plot_confusion_matrix(np.asarray(summary["confusion"]), class_names, title=title)
    fig.savefig(out_dir / "confusion_matrix.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return summary


def hypnograms(outputs: list[dict[str, torch.Tensor]]) -> dict[int, dict[str, np.ndarray]]:
    """Regroup sleep staging predictions into one night per recording.

    ``outputs`` are :meth:`~eegkit.tasks.sleep_staging.SleepStagingTask.predict_step` results.

    Returns ``{recording id: {"y_true", "y_pred"}}`` with epochs in recording order.
    """
    cat = {k: torch.cat([o[k].flatten() for o in outputs]).cpu().numpy()
           for k in ("y_true", "y_pred", "recording", "position")}
    nights = {}
    for rec in np.unique(cat["recording"]):
        sel = np.flatnonzero(cat["recording"] == rec)
        sel = sel[np.argsort(cat["position"][sel], kind="stable")]
        nights[int(rec)] = {"y_true": cat["y_true"][sel], "y_pred": cat["y_pred"][sel]}
    return nights


def write_hypnograms(
    out_dir, outputs: list[dict[str, torch.Tensor]], class_names: list[str], n: int = 2,
    recording_names: list[str] | None = None, title: str = "",
) -> list[Path]:
    """Save true-vs-predicted hypnograms of the first ``n`` recordings as PNGs in ``out_dir``.

    Returns the paths written. ``recording_names`` maps recording ids to names for file names and
    titles (ids are used when it is ``None``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for rec, night in list(hypnograms(outputs).items())[:n]:
        name = recording_names[rec] if recording_names is not None else f"recording{rec}"
        acc = float(np.mean(night["y_true"] == night["y_pred"]))
        fig = plot_hypnogram(night["y_true"], night["y_pred"], stage_names=tuple(class_names),
                             title=f"{name}: accuracy {100 * acc:.1f} %"
                             + (f" ({title})" if title else ""))
        path = out_dir / f"hypnogram_{name.replace('/', '_')}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


# --- tables ----------------------------------------------------------------------------------
SUMMARY = "lodo_summary"
_HEADLINE = (("acc", "accuracy"), ("macro_f1", "macro-F1"), ("kappa", "κ"))


def read_folds(out_dir: str | Path, folds: Sequence[str] | None = None) -> dict[str, dict]:
    """``{domain: metrics.json}`` of the completed folds of a LODO run, in fold order."""
    out_dir = Path(out_dir)
    if folds is None:  # the run's fold order when its summary exists, else alphabetical
        found = sorted(p.parent.parent.name for p in out_dir.glob("*/report/metrics.json"))
        summary = out_dir / f"{SUMMARY}.csv"
        if summary.exists():
            with open(summary) as f:
                listed = [r["domain"] for r in csv.DictReader(f)]
            found = [d for d in listed if d in found] + [d for d in found if d not in listed]
        folds = found
    found = {}
    for d in folds:
        path = out_dir / d / "report" / "metrics.json"
        if path.exists():
            found[d] = json.loads(path.read_text())
    return found


def summary_rows(metrics: dict[str, dict]) -> tuple[list[str], list[list]]:
    """Columns and rows of the LODO summary: one row per held-out domain, then mean and sd.

    The sd is the sample standard deviation over folds (``ddof=1``; 0 with a single fold).
    """
    classes = list(next(iter(metrics.values()))["per_class_f1"])
    columns = ["domain", "n", *(k for k, _ in _HEADLINE), *(f"f1_{c}" for c in classes)]
    rows = [[d, m["n"], *(m[k] for k, _ in _HEADLINE), *(m["per_class_f1"][c] for c in classes)]
            for d, m in metrics.items()]
    mean, sd = mean_sd([r[2:] for r in rows])
    rows.append(["mean", sum(r[1] for r in rows), *mean])
    rows.append(["sd", "", *sd])
    return columns, rows


def write_summary(out_dir: str | Path, folds: Sequence[str] | None = None) -> dict:
    """Write ``lodo_summary.csv`` (fractions) and ``lodo_summary.md`` (%); print the table."""
    out_dir = Path(out_dir)
    metrics = read_folds(out_dir, folds)
    if not metrics:
        raise SystemExit(f"no completed LODO fold under {out_dir}")
    columns, rows = summary_rows(metrics)
    with open(out_dir / f"{SUMMARY}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows([[f"{v:.6f}" if isinstance(v, float) else v for v in r] for r in rows])
    table = summary_markdown(columns, rows)
    (out_dir / f"{SUMMARY}.md").write_text(table + "\n")
    print(table)
    print(f"[eegkit] LODO summary: {out_dir / SUMMARY}.md, .csv; per-fold reports and plots in "
          f"{out_dir}/<domain>/report/")
    return {"columns": columns, "rows": rows}


def summary_markdown(columns: list[str], rows: list[list]) -> str:
    """The summary rows as a markdown table: percentages, κ as a fraction, mean ± sd."""
    names = {k: v for k, v in _HEADLINE}
    header = ["held-out domain", "epochs",
              *(names.get(c, c.replace("f1_", "F1 ")) for c in columns[2:])]

    def cell(col: str, v: float, sd: float | None = None) -> str:
        scale, fmt = (1.0, "{:.3f}") if col == "kappa" else (100.0, "{:.1f}")
        text = fmt.format(scale * v)
        return text if sd is None else f"{text} ± {fmt.format(scale * sd)}"

    *folds, mean, sd = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in folds:
        lines.append("| " + " | ".join([r[0], str(r[1]),
                                        *(cell(c, v) for c, v in zip(columns[2:], r[2:],
                                                                     strict=True))]) + " |")
    lines.append("| " + " | ".join(["mean ± sd", str(mean[1]),
                                    *(cell(c, m, s) for c, m, s in zip(columns[2:], mean[2:],
                                                                       sd[2:], strict=True))])
                 + " |")
    return "\n".join(lines)


def combined_table(runs: dict[str, str | Path], domains: Sequence[str] | None = None) -> str:
    """Several LODO runs side by side, as the paper's results table: accuracy / macro-F1 (%).

    Parameters
    ----------
    runs : dict
        ``{method name: LODO out_dir}``.
    domains : sequence of str, optional
        Column order; default: every held-out domain found, in order of first appearance.
    """
    metrics = {name: read_folds(path) for name, path in runs.items()}
    if domains is None:
        domains = list(dict.fromkeys(d for m in metrics.values() for d in m))
    lines = ["| method | " + " | ".join([*domains, "avg"]) + " |",
             "|" + "---|" * (len(domains) + 2)]
    for name, folds in metrics.items():
        cells = [f"{100 * folds[d]['acc']:.2f}/{100 * folds[d]['macro_f1']:.2f}"
                 if d in folds else "–" for d in domains]
        if folds and all(d in folds for d in domains):
            acc = np.mean([folds[d]["acc"] for d in domains])
            mf1 = np.mean([folds[d]["macro_f1"] for d in domains])
            cells.append(f"{100 * acc:.2f}/{100 * mf1:.2f}")
        else:
            cells.append("–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: Metrics of EEGDM's evaluation report (TUEV / CHB-MIT tables).
REPORT_METRICS = ("kappa", "bacc", "weighted_f1")


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
