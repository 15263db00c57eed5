"""Staged µ-law companding: compress only the large values.

Values with ``|x| <= 1`` pass unchanged; larger ones become
``sign(x) * ln(1 + µ|x|) / ln(1 + µ)``, which equals 1 at ``|x| = 1`` (the map is continuous and
strictly increasing, hence invertible). EEGDM applies it to signals in units of 100 µV, so
ordinary EEG is untouched and rare large artefacts are squashed.
"""

from __future__ import annotations

import math

import torch


def mu_law_encode(x: torch.Tensor, mu: float = 255.0) -> torch.Tensor:
    """Compress ``|x| > 1`` with the µ-law; identity elsewhere."""
    big = x.abs() > 1
    compressed = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    return torch.where(big, compressed, x)


def mu_law_decode(u: torch.Tensor, mu: float = 255.0) -> torch.Tensor:
    """Inverse of :func:`mu_law_encode`."""
    big = u.abs() > 1
    expanded = torch.sign(u) * torch.expm1(u.abs() * math.log1p(mu)) / mu
    return torch.where(big, expanded, u)


def to_backbone_scale(x: torch.Tensor, scale: float, mu: float | None = 255.0) -> torch.Tensor:
    """Signals in the backbone's input units: ``x * scale`` (→ 100 µV), then staged µ-law."""
    x = x * scale
    return x if mu is None else mu_law_encode(x, mu)
