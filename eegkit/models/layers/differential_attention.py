"""Differential attention (Ye et al., "Differential Transformer"), non-causal, self or cross.

Each head ``i`` computes two attention maps from two query/key pairs of size ``d`` and subtracts
them, which cancels attention that both maps put on irrelevant tokens::

    A_i = softmax(Q1 K1^T / sqrt(d)) - lambda * softmax(Q2 K2^T / sqrt(d))
    head_i = (1 - lambda_init) * RMSNorm(A_i V_i)            (V_i has size 2d)
    lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init(layer_index)

Two numerically equivalent paths:

- fused (default): ``A V = softmax(Q1 K1^T) V - lambda softmax(Q2 K2^T) V``. The two maps of
  every head are stacked as ``2h`` heads of one ``scaled_dot_product_attention`` call, each pair
  sharing its ``V`` (an expanded view, no copy). The query/key head size ``d`` differs from the
  value head size ``2d``; PyTorch's flash kernels (CPU and CUDA) need equal sizes, so with
  ``split_values=True`` ``V`` is split into its two halves of size ``d`` (``4h`` heads of equal
  size: the "four calls" form batched into one). ``split_values=None`` splits on CUDA, where
  the flash kernel pays off, and not on CPU, where the unsplit call (math kernel) measured
  faster than the split one (flash kernel) at SleepDIFFormer's sizes.
- eager: explicit softmax maps, used when the maps are requested (``return_maps=True``) or
  recorded (:func:`record_attention`), or when ``fused=False``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F


def lambda_init_for_layer(layer_index: int) -> float:
    """Initial/offset differential weight ``0.8 - 0.6 exp(-0.3 l)`` for 0-based layer ``l``."""
    return 0.8 - 0.6 * math.exp(-0.3 * layer_index)


class DifferentialAttention(nn.Module):
    """Multi-head differential attention.

    Parameters
    ----------
    d_model : int
        Token dimension; must be divisible by ``2 * n_heads``.
    n_heads : int
        Number of differential heads ``h``; each has two query/key maps of size
        ``d = d_model / h / 2`` and one value map of size ``2d``.
    layer_index : int
        0-based depth of the layer, which sets ``lambda_init``.
    lambda_init_std : float
        Standard deviation of the normal initialisation of the four lambda vectors.
    fused : bool
        Use ``scaled_dot_product_attention`` unless maps are requested.
    split_values : bool | None
        Split ``V`` into halves so that the fused kernel sees equal head sizes; ``None``: only
        on CUDA.
    eps : float
        Epsilon of the per-head RMSNorm.
    """

    def __init__(self, d_model: int, n_heads: int, layer_index: int = 0,
                 lambda_init_std: float = 0.1, fused: bool = True,
                 split_values: bool | None = None, eps: float = 1e-5):
        super().__init__()
        if d_model % (2 * n_heads):
            raise ValueError(f"d_model={d_model} must be divisible by 2 * n_heads={2 * n_heads}")
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads // 2
        self.layer_index = layer_index
        self.lambda_init = lambda_init_for_layer(layer_index)
        self.fused = fused
        self.split_values = split_values
        self.q_proj = nn.Linear(d_model, d_model, bias=False)  # 2h maps of size d
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)  # h maps of size 2d
        self.out_proj = nn.Linear(d_model, d_model, bias=False)
        self.lambda_q1 = nn.Parameter(torch.randn(self.head_dim) * lambda_init_std)
        self.lambda_k1 = nn.Parameter(torch.randn(self.head_dim) * lambda_init_std)
        self.lambda_q2 = nn.Parameter(torch.randn(self.head_dim) * lambda_init_std)
        self.lambda_k2 = nn.Parameter(torch.randn(self.head_dim) * lambda_init_std)
        self.head_norm = nn.RMSNorm(2 * self.head_dim, eps=eps, elementwise_affine=True)
        # set by record_attention(): a list that eager forwards append their maps to
        self.recorder: list[dict[str, torch.Tensor]] | None = None

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, n_heads={self.n_heads}, "
                f"layer_index={self.layer_index}, lambda_init={self.lambda_init:.4f}")

    def lambda_full(self) -> torch.Tensor:
        """The current scalar ``lambda`` (shared by the heads of this layer)."""
        return (torch.exp(torch.dot(self.lambda_q1, self.lambda_k1))
                - torch.exp(torch.dot(self.lambda_q2, self.lambda_k2)) + self.lambda_init)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None, return_maps: bool = False):
        """Attend from ``x`` to ``context`` (``x`` itself when ``None``).

        Parameters
        ----------
        x : torch.Tensor
            Queries, ``(B, Nq, d_model)``.
        context : torch.Tensor | None
            Keys/values, ``(B, Nk, d_model)``.
        key_padding_mask : torch.Tensor | None
            ``(B, Nk)`` bool, True marks padded keys that must not be attended (as in
            ``nn.MultiheadAttention``). Every query needs at least one unpadded key.
        return_maps : bool
            Also return a dict with ``softmax1``, ``softmax2`` and ``A`` ``(B, h, Nq, Nk)``
            and ``lambda`` (forces the eager path).

        Returns
        -------
        torch.Tensor or (torch.Tensor, dict)
            ``(B, Nq, d_model)``, plus the maps when ``return_maps``.
        """
        context = x if context is None else context
        b, n_q, _ = x.shape
        n_k = context.shape[1]
        h, d = self.n_heads, self.head_dim
        q = self.q_proj(x).view(b, n_q, 2 * h, d).transpose(1, 2)  # (B, 2h, Nq, d)
        k = self.k_proj(context).view(b, n_k, 2 * h, d).transpose(1, 2)
        v = self.v_proj(context).view(b, n_k, h, 2 * d).transpose(1, 2)  # (B, h, Nk, 2d)
        lam = self.lambda_full()

        want_maps = return_maps or self.recorder is not None
        if self.fused and not want_maps:
            out, maps = self._fused(q, k, v, lam, key_padding_mask), None
        else:
            out, maps = self._eager(q, k, v, lam, key_padding_mask)
            if self.recorder is not None:
                self.recorder.append({name: t.detach() for name, t in maps.items()})

        out = self.head_norm(out) * (1.0 - self.lambda_init)  # (B, h, Nq, 2d)
        out = self.out_proj(out.transpose(1, 2).reshape(b, n_q, self.d_model))
        return (out, maps) if return_maps else out

    def _fused(self, q, k, v, lam, key_padding_mask):
        b, h2, n_q, d = q.shape
        h, n_k = h2 // 2, k.shape[2]
        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
        split = q.is_cuda if self.split_values is None else self.split_values
        if split:
            # (B, 2 maps, 2 halves, h, N, d) flattened to 4h heads of size d
            q4 = q.view(b, h, 2, n_q, d).transpose(1, 2)[:, :, None].expand(b, 2, 2, h, n_q, d)
            k4 = k.view(b, h, 2, n_k, d).transpose(1, 2)[:, :, None].expand(b, 2, 2, h, n_k, d)
            v4 = v.view(b, h, n_k, 2, d).permute(0, 3, 1, 2, 4)[:, None].expand(b, 2, 2, h, n_k, d)
            o = F.scaled_dot_product_attention(q4.reshape(b, 4 * h, n_q, d),
                                               k4.reshape(b, 4 * h, n_k, d),
                                               v4.reshape(b, 4 * h, n_k, d), attn_mask=mask)
            o = o.view(b, 2, 2, h, n_q, d)
            o = torch.cat([o[:, :, 0], o[:, :, 1]], dim=-1)  # (B, 2 maps, h, Nq, 2d)
            return o[:, 0] - lam * o[:, 1]
        v2 = v[:, :, None].expand(b, h, 2, n_k, 2 * d).reshape(b, 2 * h, n_k, 2 * d)
        o = F.scaled_dot_product_attention(q, k, v2, attn_mask=mask).view(b, h, 2, n_q, 2 * d)
        return o[:, :, 0] - lam * o[:, :, 1]

    def _eager(self, q, k, v, lam, key_padding_mask):
        b, h2, n_q, d = q.shape
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)  # (B, 2h, Nq, Nk)
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        probs = scores.softmax(dim=-1).view(b, h2 // 2, 2, n_q, -1)
        attn = probs[:, :, 0] - lam * probs[:, :, 1]  # (B, h, Nq, Nk)
        maps = {"softmax1": probs[:, :, 0], "softmax2": probs[:, :, 1], "A": attn,
                "lambda": lam}
        return attn @ v, maps


@contextmanager
def record_attention(model: nn.Module) -> Iterator[dict[str, list[dict[str, torch.Tensor]]]]:
    """Record the maps of every :class:`DifferentialAttention` in ``model`` while inside.

    Yields a dict ``{module name: [maps of each forward call]}`` filled by the forwards run in
    the ``with`` block (eager path, detached tensors). Recording stops on exit, also on error.
    """
    modules = {name: m for name, m in model.named_modules() if isinstance(m, DifferentialAttention)}
    records: dict[str, list[dict[str, torch.Tensor]]] = {name: [] for name in modules}
    try:
        for name, module in modules.items():
            module.recorder = records[name]
        yield records
    finally:
        for module in modules.values():
            module.recorder = None
