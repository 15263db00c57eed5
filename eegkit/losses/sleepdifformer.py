"""SleepDIFFormer's training objective: classification + domain alignment + reconstruction."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from eegkit.losses.alignment import domain_alignment


class SleepDIFFormerLoss(nn.Module):
    """``CE + w_align (L_mean + L_cov + L_seq) + w_rec L_rec``.

    Parameters
    ----------
    w_align : float
        Weight of the alignment terms (0 for the ablation without alignment).
    w_rec : float
        Weight of the reconstruction MSE (0 for the ablation without reconstruction).
    label_smoothing : float
        Label smoothing of the cross-entropy.
    ignore_index : int
        Label of epochs left out of the cross-entropy (unscored, -1).

    Call as ``loss(out, y, domain, x)`` with ``out`` from ``SleepDIFFormer.forward_train``
    (``logits`` ``(B, E, K)``, ``mu`` ``(B, E, D)``, ``recon`` ``(B, E, C, T)``), ``y`` ``(B, E)``,
    ``domain`` ``(B,)`` (or ``None``: no alignment) and the input ``x`` ``(B, E, C, T)``.
    Returns ``(total, parts)`` with ``parts`` the detached named terms (``ce``, ``mean``,
    ``cov``, ``seq``, ``rec``).

    Every term is computed and reported whatever its weight: an ablation still shows how far
    apart the domains drift, and every output stays in the graph, so that under DDP every
    parameter gets a gradient (zero for a zero weight) without ``find_unused_parameters``.
    """

    def __init__(self, w_align: float = 0.5, w_rec: float = 0.5, label_smoothing: float = 0.1,
                 ignore_index: int = -1):
        super().__init__()
        self.w_align = w_align
        self.w_rec = w_rec
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index

    def forward(self, out: dict[str, torch.Tensor], y: torch.Tensor,
                domain: torch.Tensor | None, x: torch.Tensor
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits = out["logits"]
        ce = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=self.ignore_index,
                             label_smoothing=self.label_smoothing)
        if domain is None:  # no domain ids: nothing to align
            domain = torch.zeros(len(y), dtype=torch.long, device=y.device)
        parts = {"ce": ce, **domain_alignment(out["mu"], domain),
                 "rec": F.mse_loss(out["recon"], x)}
        align = parts["mean"] + parts["cov"] + parts["seq"]
        total = ce + self.w_align * align + self.w_rec * parts["rec"]
        return total, {name: value.detach() for name, value in parts.items()}
