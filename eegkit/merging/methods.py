"""Weight averaging, task arithmetic, TIES and PCB merging over state dicts, chunk by chunk.

With ``n`` fine-tuned models θ_i sharing the ancestor θ_pre and task vectors τ_i = θ_i − θ_pre,
every method here returns θ = θ_pre + Σ_i λ_i w_i ⊙ τ_i with a method-specific entry weight w_i
(weight averaging: θ = Σ_i a_i θ_i, no ancestor needed). A scalar λ is the papers' single
scaling; one λ per model (or per layer, see :data:`~eegkit.merging.core.Coefficients`) is what
:mod:`eegkit.merging.search` tunes.

The functions merge the floating-point tensors ``names`` (default: all of them) and return only
those; which tensors to merge (BatchNorm statistics, integer buffers, the classifier head) is
decided by :func:`eegkit.merging.rules.merge`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from eegkit.merging.core import (
    CHUNK,
    Coefficients,
    StateDict,
    check_compatible,
    coefficient,
    flat,
    is_float,
    kth_largest,
    new_like,
    stacked_chunks,
    task_vector_chunks,
)


def _float_names(finetuned: Sequence[StateDict], names: Sequence[str] | None,
                 pretrained: StateDict | None = None) -> list[str]:
    all_names = check_compatible(pretrained, finetuned)
    names = all_names if names is None else list(names)
    return [n for n in names if is_float(finetuned[0][n])]


def _combine(out: dict, name: str, sl: slice, pre: torch.Tensor, lam: Coefficients,
             weighted: torch.Tensor) -> None:
    """Write θ_pre + Σ_i λ_i · weighted_i into ``out[name][sl]`` (``weighted``: (n, m))."""
    coeffs = coefficient(lam, name, len(weighted)).to(weighted.dtype)
    flat(out[name])[sl] = pre + (coeffs[:, None] * weighted).sum(0)


def weight_average(finetuned: Sequence[StateDict], weights: Sequence[float] | None = None,
                   names: Sequence[str] | None = None, chunk: int = CHUNK
                   ) -> dict[str, torch.Tensor]:
    """θ = Σ_i a_i θ_i with ``a = weights / Σ weights`` (default: the plain mean).

    Parameters
    ----------
    finetuned : sequence of state dicts
    weights : sequence of float, optional
        Non-negative model weights (normalised to sum to 1).
    names : sequence of str, optional
        Tensors to merge (default: every floating-point tensor).
    chunk : int
        Elements per chunk.
    """
    names = _float_names(finetuned, names)
    a = torch.ones(len(finetuned), dtype=torch.float64) if weights is None else torch.as_tensor(
        weights, dtype=torch.float64)
    if len(a) != len(finetuned) or bool((a < 0).any()) or float(a.sum()) <= 0:
        raise ValueError(f"weights must be {len(finetuned)} non-negative values with a positive "
                         f"sum, got {a.tolist()}")
    a = a / a.sum()
    out = new_like(finetuned[0], names)
    for name, sl, _, stack in stacked_chunks(None, finetuned, names, chunk):
        flat(out[name])[sl] = (a.to(stack.dtype)[:, None] * stack).sum(0)
    return out


def task_arithmetic(pretrained: StateDict, finetuned: Sequence[StateDict],
                    lam: Coefficients = 0.3, names: Sequence[str] | None = None,
                    chunk: int = CHUNK) -> dict[str, torch.Tensor]:
    """θ = θ_pre + Σ_i λ_i τ_i (one λ for all: θ_pre + λ Σ_i τ_i).

    Parameters
    ----------
    pretrained : state dict
        The shared ancestor θ_pre.
    finetuned : sequence of state dicts
    lam : float, sequence or mapping
        Scaling λ: one value, one per model, or per layer (:data:`Coefficients`).
    names : sequence of str, optional
    chunk : int
    """
    names = _float_names(finetuned, names, pretrained)
    out = new_like(pretrained, names)
    for name, sl, pre, tau in task_vector_chunks(pretrained, finetuned, names, chunk):
        _combine(out, name, sl, pre, lam, tau)
    return out


def _total(sd: StateDict, names: Sequence[str]) -> int:
    return sum(sd[n].numel() for n in names)


def ties(pretrained: StateDict, finetuned: Sequence[StateDict], density: float = 0.2,
         lam: Coefficients = 1.0, names: Sequence[str] | None = None, chunk: int = CHUNK
         ) -> dict[str, torch.Tensor]:
    """TIES-merging: trim, elect sign, disjoint mean; θ = θ_pre + λ τ_m.

    1. Trim: keep the entries of τ_i whose magnitude is at least the ``k``-th largest
       ``|τ_i|`` over the whole model, ``k = ceil(density · d)`` (ties at the threshold are kept,
       as a ``kthvalue`` threshold does); the threshold is exact (:func:`kth_largest`).
    2. Elect: γ = sign(Σ_i τ̂_i) per entry, over the trimmed vectors τ̂_i.
    3. Disjoint mean: τ_m = mean of the τ̂_i that are non-zero with sign γ (0 where none is).

    Per-model λ_i scale each model's share: θ = θ_pre + Σ_i λ_i [i agrees] τ̂_i / #agree.

    Parameters
    ----------
    pretrained, finetuned : state dicts
    density : float
        Fraction of entries kept per model (the "top-k %"), in (0, 1].
    lam : float, sequence or mapping
        Scaling λ (:data:`Coefficients`).
    names : sequence of str, optional
    chunk : int
    """
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    names = _float_names(finetuned, names, pretrained)
    k = max(1, math.ceil(density * _total(pretrained, names)))

    def magnitudes() -> Iterator[torch.Tensor]:
        for *_, tau in task_vector_chunks(pretrained, finetuned, names, chunk):
            yield tau.abs()

    threshold = kth_largest(magnitudes, [k] * len(finetuned))
    out = new_like(pretrained, names)
    for name, sl, pre, tau in task_vector_chunks(pretrained, finetuned, names, chunk):
        trimmed = torch.where(tau.abs().to(torch.float32) >= threshold[:, None], tau, 0.0)
        elected = torch.sign(trimmed.sum(0))
        agree = (torch.sign(trimmed) == elected) & (trimmed != 0)
        count = agree.sum(0).clamp_min(1)
        _combine(out, name, sl, pre, lam, torch.where(agree, trimmed, 0.0) / count)
    return out


def _minmax(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Min–max normalisation per row with the row's whole-model ``lo``/``hi`` (0 if constant)."""
    span = (hi - lo)[:, None]
    return torch.where(span > 0, (x - lo[:, None]) / torch.where(span > 0, span, 1.0), 0.0)


def pcb(pretrained: StateDict, finetuned: Sequence[StateDict], ratio: float = 0.1,
        lam: Coefficients = 1.0, intra: bool = True, inter: bool = True,
        names: Sequence[str] | None = None, chunk: int = CHUNK) -> dict[str, torch.Tensor]:
    """PCB-merging (Parameter Competition Balancing).

    With S = Σ_j τ_j and Norm the min–max normalisation over all entries of one model:

    1. intra-balancing β_intra,i = exp(n · Norm(τ_i ⊙ τ_i));
    2. inter-balancing β_inter,i = tanh(Norm(τ_i ⊙ S));
    3. β_i = β_intra,i ⊙ β_inter,i; the threshold t_i is the ``ceil(ratio · d)``-th largest
       β_i of model i (exact, :func:`kth_largest`): entries below it are dropped (a drop ratio
       of ``1 − ratio``) and the kept ones are rescaled to s_i = (β_i − t_i) / (max β_i − t_i),
       i.e. min–max over the scores clipped from below at t_i, as in the paper;
    4. τ_m = Σ_i s_i τ_i / Σ_i s_i (0 where every s_i is 0); θ = θ_pre + λ τ_m
       (per-model λ_i: θ_pre + Σ_i λ_i s_i τ_i / Σ_i s_i).

    Parameters
    ----------
    pretrained, finetuned : state dicts
    ratio : float
        Fraction r of entries kept per model (top-r quantile of β_i), in (0, 1].
    lam : float, sequence or mapping
        Scaling λ (:data:`Coefficients`; the paper uses 1–1.2 or searched per-model values).
    intra, inter : bool
        Use the intra- / inter-balancing factor (``False`` replaces it by 1, for ablations).
    names : sequence of str, optional
    chunk : int
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    names = _float_names(finetuned, names, pretrained)
    n = len(finetuned)
    k = max(1, math.ceil(ratio * _total(pretrained, names)))

    # Pass 1: whole-model ranges of the two quantities Norm is applied to.
    inf = torch.full((n,), math.inf, dtype=torch.float64)
    lo_sq, hi_sq, lo_x, hi_x = inf.clone(), -inf, inf.clone(), -inf
    for *_, tau in task_vector_chunks(pretrained, finetuned, names, chunk):
        sq, cross = tau * tau, tau * tau.sum(0)
        lo_sq, hi_sq = torch.minimum(lo_sq, sq.amin(1)), torch.maximum(hi_sq, sq.amax(1))
        lo_x, hi_x = torch.minimum(lo_x, cross.amin(1)), torch.maximum(hi_x, cross.amax(1))

    def scores(tau: torch.Tensor) -> torch.Tensor:
        beta = torch.ones_like(tau)
        if intra:
            beta = beta * torch.exp(n * _minmax(tau * tau, lo_sq.to(tau.dtype),
                                                hi_sq.to(tau.dtype)))
        if inter:
            beta = beta * torch.tanh(_minmax(tau * tau.sum(0), lo_x.to(tau.dtype),
                                             hi_x.to(tau.dtype)))
        return beta

    def all_scores() -> Iterator[torch.Tensor]:
        for *_, tau in task_vector_chunks(pretrained, finetuned, names, chunk):
            yield scores(tau)

    # Pass 2: the largest score of each model (the top of the rescaling); passes 3-4: threshold.
    top = torch.stack([b.amax(1).to(torch.float64) for b in all_scores()]).amax(0)
    threshold = kth_largest(all_scores, [k] * n).to(torch.float64)
    span = top - threshold
    out = new_like(pretrained, names)
    for name, sl, pre, tau in task_vector_chunks(pretrained, finetuned, names, chunk):
        beta = scores(tau)
        t, s_span = threshold.to(beta.dtype)[:, None], span.to(beta.dtype)[:, None]
        s = torch.where(s_span > 0, (beta - t).clamp_min(0) / torch.where(s_span > 0, s_span, 1),
                        0.0)
        total = s.sum(0)
        share = torch.where(total > 0, s * tau / torch.where(total > 0, total, 1.0), 0.0)
        _combine(out, name, sl, pre, lam, share)
    return out


#: Mergers by name (all take ``pretrained`` first except weight averaging).
METHODS = {"average": weight_average, "task_arithmetic": task_arithmetic, "ties": ties,
           "pcb": pcb}
