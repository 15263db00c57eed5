"""Gradient-free search of merging coefficients on the SOURCE domains' validation data.

The coefficients (one λ per model, or one per model and layer) are tuned with a derivative-free
optimiser from :func:`scipy.optimize.minimize` (Powell or Nelder–Mead) to maximise a validation
score. The score comes from :func:`validation_scorer`, which reads only the datamodule's
validation loader, i.e. the held-out subjects of the source domains; it refuses any batch from
the held-out (target) domain, so the target never steers the search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import minimize

from eegkit.data.types import DataError
from eegkit.metrics import summarize

OPTIMISERS = ("nelder-mead", "powell")


@dataclass
class SearchResult:
    """Best coefficients found, their score and every evaluation (``history``: (x, score))."""

    x: np.ndarray
    score: float
    n_evals: int
    history: list = field(default_factory=list)


def search_coefficients(objective: Callable[[np.ndarray], float], x0: Sequence[float],
                        bounds: tuple[float, float] = (0.0, 1.5), method: str = "nelder-mead",
                        max_evals: int = 20, step: float = 0.2) -> SearchResult:
    """Maximise ``objective(x)`` over ``x`` in the box ``bounds`` without gradients.

    Parameters
    ----------
    objective : callable
        Validation score of a coefficient vector (higher is better).
    x0 : sequence of float
        Starting point (e.g. the method's default λ for every model).
    bounds : (float, float)
        Box for every coefficient; candidates are clipped into it.
    method : {"nelder-mead", "powell"}
    max_evals : int
        Budget of objective evaluations (the optimiser stops at it; the best seen is returned).
    step : float
        Nelder–Mead: edge of the initial simplex along each axis (scipy's default, 5 % of x0, is
        too small to move anywhere within a budget of a few evaluations).
    """
    if method not in OPTIMISERS:
        raise ValueError(f"method must be one of {OPTIMISERS}, got {method!r}")
    lo, hi = bounds
    history: list[tuple[np.ndarray, float]] = []

    def loss(x: np.ndarray) -> float:
        if len(history) >= max_evals:  # the budget is spent: a flat landscape ends the search
            return -history[-1][1]
        x = np.clip(np.asarray(x, dtype=np.float64), lo, hi)
        value = float(objective(x))
        history.append((x.copy(), value))
        return -value

    x0 = np.clip(np.asarray(x0, dtype=np.float64), lo, hi)
    if method == "nelder-mead":
        options = {"maxfev": max_evals, "xatol": 1e-3,
                   "initial_simplex": np.vstack([x0, x0 + step * np.eye(len(x0))])}
    else:
        options = {"maxfev": max_evals, "xtol": 1e-3}
    minimize(loss, x0, method="Powell" if method == "powell" else "Nelder-Mead",
             bounds=[(lo, hi)] * len(x0), options=options)
    best_x, best = max(history, key=lambda h: h[1])
    return SearchResult(best_x, best, len(history), history)


def layer_groups(names: Sequence[str], depth: int = 1) -> list[str]:
    """Layer prefixes of tensor names: their first ``depth`` dotted components plus a dot."""
    return list(dict.fromkeys(".".join(n.split(".")[:depth]) + "." for n in names))


def as_coefficients(x: Sequence[float], n_models: int, groups: Sequence[str] | None = None):
    """A search vector as merging coefficients.

    ``groups=None``: one λ per model. Otherwise one λ per (layer, model), ``x`` laid out
    layer-major; returned as ``{layer prefix: [λ per model]}``.
    """
    x = np.asarray(x, dtype=np.float64)
    if groups is None:
        if len(x) != n_models:
            raise ValueError(f"{len(x)} coefficients for {n_models} models")
        return x.tolist()
    if len(x) != len(groups) * n_models:
        raise ValueError(f"{len(x)} coefficients for {len(groups)} layers × {n_models} models")
    return {g: row.tolist() for g, row in zip(groups, x.reshape(len(groups), n_models),
                                               strict=True)}


def validation_scorer(module: torch.nn.Module, datamodule, metric: str = "macro_f1",
                      forward: Callable | None = None) -> Callable[[dict], float]:
    """``score(state_dict)``: the metric of ``module`` loaded with it on the source validation set.

    Only ``datamodule.val_dataloader()`` is read (once; its batches are kept in memory for the
    repeated evaluations of a search). Batches carry a ``domain`` index; one from the held-out
    domain (``datamodule.held_out``) raises :class:`DataError`.

    Parameters
    ----------
    module : nn.Module
        Maps ``batch["x"]`` to logits ``(..., n_classes)``.
    datamodule : LightningDataModule
        With ``val_dataloader``, ``class_names``, ``domain_names`` and ``held_out``.
    metric : str
        A key of :func:`eegkit.metrics.summarize` (``"macro_f1"``, ``"acc"``, ``"kappa"``...).
    forward : callable, optional
        ``forward(module, x)``; default ``module(x)``.
    """
    held = getattr(datamodule, "held_out", None)
    held_index = datamodule.domain_names.index(held) if held is not None else None
    batches = []
    for batch in datamodule.val_dataloader():
        if held_index is not None and bool((batch["domain"] == held_index).any()):
            raise DataError(None, f"validation batch from the held-out domain {held!r}: the "
                            "coefficient search must only see source domains")
        batches.append((batch["x"], batch["y"]))
    if not batches:
        raise DataError(None, "no source-domain validation batch for the coefficient search")
    forward = forward or (lambda m, x: m(x))
    names = list(datamodule.class_names)

    @torch.no_grad()
    def score(state: dict) -> float:
        module.load_state_dict(state)
        module.eval()
        pred = [forward(module, x).argmax(-1).flatten() for x, _ in batches]
        true = torch.cat([y.flatten() for _, y in batches]).numpy()
        return float(summarize(true, torch.cat(pred).numpy(), names)[metric])

    return score
