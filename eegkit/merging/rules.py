"""What a merge does with normalisation statistics, integer buffers and the classifier head.

:func:`merge` splits a state dict into four groups and treats each by its rule:

- learnable floating-point tensors: merged by the chosen method;
- normalisation statistics (``running_mean`` / ``running_var`` of BatchNorm-style layers): they
  are not task-vector quantities (a λ-scaled sum of variances can be negative), so rule
  ``"average"`` takes their mean over the fine-tuned models (weighted like the weights when the
  method is a weighted average), and rule ``"recompute"`` (REPAIR-style) loads the merged
  weights into a model and re-estimates them on unlabelled target inputs
  (:func:`recompute_norm_stats`);
- integer buffers (``num_batches_tracked``): copied from the ancestor (they only count updates);
- the classifier head (tensors under ``head_prefixes``): ``"merge"`` treats it like any other
  parameter, ``"average"`` takes the mean of the fine-tuned heads (weighted likewise),
  ``"ancestor"`` keeps the shared ancestor's head (in the LODO driver the ancestor is the
  multi-source model, whose head was trained on every source domain at once).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from eegkit.data.types import DataError
from eegkit.merging.core import CHUNK, StateDict, check_compatible, is_float
from eegkit.merging.methods import METHODS, weight_average

NORM_RULES = ("average", "recompute")
HEAD_RULES = ("merge", "average", "ancestor")
#: Name endings of normalisation statistics (BatchNorm running estimates).
STAT_SUFFIXES = ("running_mean", "running_var")


def is_norm_stat(name: str) -> bool:
    """Whether the tensor ``name`` is a running normalisation statistic."""
    return name.rsplit(".", 1)[-1] in STAT_SUFFIXES


def check_method(method: str, options: Mapping[str, object]) -> None:
    """Raise ``ValueError`` for an unknown method or an option the method does not take."""
    if method not in METHODS:
        raise ValueError(f"unknown merging method {method!r}; known: {sorted(METHODS)}")
    takes = set(inspect.signature(METHODS[method]).parameters) - {
        "pretrained", "finetuned", "names", "chunk"}
    if set(options) - takes:
        raise ValueError(f"method {method!r} takes the options {sorted(takes)}, not "
                         f"{sorted(set(options) - takes)}")


def merge(method: str, pretrained: StateDict, finetuned: Sequence[StateDict], *,
          norm: str = "average", head: str = "merge", head_prefixes: Sequence[str] = (),
          model: nn.Module | None = None, target: Iterable | None = None,
          forward: Callable[[nn.Module, object], object] | None = None, chunk: int = CHUNK,
          **options) -> dict[str, torch.Tensor]:
    """Merge fine-tuned state dicts with a method and the statistics / head rules.

    Parameters
    ----------
    method : {"average", "task_arithmetic", "ties", "pcb"}
        The merger (:data:`eegkit.merging.methods.METHODS`).
    pretrained : state dict
        The shared ancestor (also the source of integer buffers and of the ``"ancestor"`` head).
    finetuned : sequence of state dicts
    norm : {"average", "recompute"}
        Rule for normalisation statistics (see the module docstring). ``"recompute"`` needs
        ``model`` and ``target``.
    head : {"merge", "average", "ancestor"}
        Rule for the tensors whose name starts with one of ``head_prefixes``.
    head_prefixes : sequence of str
        Name prefixes of the classifier head (e.g. ``("classifier.",)``).
    model : nn.Module, optional
        Architecture of the state dicts; with ``norm="recompute"`` the merged weights are loaded
        into it and its statistics re-estimated (the model is modified in place).
    target : iterable, optional
        Unlabelled target inputs for ``norm="recompute"`` (passed to ``forward``).
    forward : callable, optional
        ``forward(model, item)`` runs the model on one item of ``target`` (default:
        ``model(item)``).
    chunk : int
        Elements per chunk.
    **options
        Method options (``lam``, ``density``, ``ratio``, ``weights``...).

    Returns
    -------
    dict
        The complete merged state dict.
    """
    check_method(method, options)
    if norm not in NORM_RULES:
        raise ValueError(f"norm must be one of {NORM_RULES}, got {norm!r}")
    if head not in HEAD_RULES:
        raise ValueError(f"head must be one of {HEAD_RULES}, got {head!r}")
    if norm == "recompute" and (model is None or target is None):
        raise ValueError("norm='recompute' needs the model and unlabelled target inputs")
    names = check_compatible(pretrained, finetuned)
    in_head = [n for n in names if head_prefixes and n.startswith(tuple(head_prefixes))]
    if head != "merge" and not in_head:
        raise DataError(None, f"head rule {head!r}: no tensor starts with {list(head_prefixes)}")
    stats = [n for n in names if is_norm_stat(n) and is_float(pretrained[n])]
    special = set(stats) | (set(in_head) if head != "merge" else set())
    learnable = [n for n in names if is_float(pretrained[n]) and n not in special]

    merger = METHODS[method]
    if method == "average":
        merged = merger(finetuned, names=learnable, chunk=chunk, **options)
    else:
        merged = merger(pretrained, finetuned, names=learnable, chunk=chunk, **options)
    # a weighted soup weighs the statistics (and an averaged head) as it weighs the weights
    weights = options.get("weights") if method == "average" else None
    merged.update(weight_average(finetuned, weights, names=stats, chunk=chunk))
    if head == "average":
        merged.update(weight_average(finetuned, weights, names=in_head, chunk=chunk))
    elif head == "ancestor":
        merged.update({n: pretrained[n].clone() for n in in_head})
    merged.update({n: pretrained[n].clone() for n in names if not is_float(pretrained[n])})
    merged = {n: merged[n] for n in names}  # the original order
    if norm == "recompute":
        model.load_state_dict(merged)
        recompute_norm_stats(model, target, forward)
        merged = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return merged


def _norm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recompute_norm_stats(model: nn.Module, target: Iterable,
                         forward: Callable[[nn.Module, object], object] | None = None) -> int:
    """Re-estimate BatchNorm running statistics on unlabelled inputs (REPAIR-style reset).

    The statistics are reset and every BatchNorm layer is put in training mode with
    ``momentum=None`` (a cumulative average over all batches); every other module stays in
    evaluation mode so dropout does not distort the statistics. No gradient is computed and no
    weight changes. Modes and momenta are restored afterwards.

    Parameters
    ----------
    model : nn.Module
    target : iterable
        Unlabelled inputs (each passed to ``forward``).
    forward : callable, optional
        ``forward(model, item)``; default ``model(item)``.

    Returns
    -------
    int
        The number of target items used (0 when the model has no BatchNorm layer).
    """
    layers = _norm_layers(model)
    if not layers:
        return 0
    forward = forward or (lambda m, x: m(x))
    modes = {m: m.training for m in model.modules()}
    momenta = {m: m.momentum for m in layers}
    model.eval()
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    seen = 0
    try:
        for item in target:
            forward(model, item)
            seen += 1
    finally:
        for m, mode in modes.items():
            m.train(mode)
        for m, momentum in momenta.items():
            m.momentum = momentum
    if seen == 0:
        raise DataError(None, "no unlabelled target batch to recompute normalisation statistics")
    return seen
