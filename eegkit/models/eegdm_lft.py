"""EEGDM's Latent Fusion Transformer (LFT) and the end-to-end EEGDM classifier.

The LFT classifies the latents of a frozen SSMDP backbone, shaped
``(B, C, n_layers, n_pools, width)``: the std-pooled gate activations of every backbone block for
every channel and every 1-s pool (:meth:`eegkit.models.eegdm_ssmdp.SSMDP.extract_gates`).

- Fusion: every pool has its own ``n_fusion_tokens`` learnable tokens (``(n_pools, n_fusion_tokens,
  width)`` in all); they pass through ``n_layers`` fusion blocks, block ``i`` cross-attending
  to the ``C`` channel tokens of backbone layer ``i``. Block weights are shared across pools
  (pools are run as one batch).
- Classification: the ``n_pools * n_fusion_tokens`` fused tokens plus a learnable positional
  embedding pass ``n_cls_blocks`` pre-LN transformer blocks, are mean-pooled and classified.

At the defaults (TUEV: 22 channels, 20 layers, 5 pools, 6 classes) the LFT has 6,904,326
parameters, in line with the paper's 6.9M.

:class:`EEGDM` chains a frozen backbone and an LFT so that the whole method takes raw windows
``(B, C, T)`` in the pretraining data's units (braindecode's contract, registered as
``"eegdm"``); it applies the backbone's pretraining input transform (:func:`raw_latents`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from eegkit.models import register_model
from eegkit.models.eegdm_ssmdp import SSMDP, load_backbone


def _ffn(width: int, hidden: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(width), nn.Linear(width, hidden), nn.GELU(),
                         nn.Dropout(dropout), nn.Linear(hidden, width), nn.Dropout(dropout))


class FusionBlock(nn.Module):
    """Pre-LN self-attention among fusion tokens, cross-attention to channel tokens, FFN."""

    def __init__(self, width: int, n_heads: int, ffn_dim: int, dropout: float = 0.0):
        super().__init__()
        self.self_norm = nn.LayerNorm(width)
        self.self_attn = nn.MultiheadAttention(width, n_heads, dropout=dropout, batch_first=True)
        self.query_norm = nn.LayerNorm(width)
        self.context_norm = nn.LayerNorm(width)
        self.cross_attn = nn.MultiheadAttention(width, n_heads, dropout=dropout, batch_first=True)
        self.ffn = _ffn(width, ffn_dim, dropout)

    def forward(self, tokens: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        h = self.self_norm(tokens)
        tokens = tokens + self.self_attn(h, h, h, need_weights=False)[0]
        q, kv = self.query_norm(tokens), self.context_norm(context)
        tokens = tokens + self.cross_attn(q, kv, kv, need_weights=False)[0]
        return tokens + self.ffn(tokens)


class EncoderBlock(nn.Module):
    """Pre-LN transformer encoder block (self-attention, FFN)."""

    def __init__(self, width: int, n_heads: int, ffn_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, n_heads, dropout=dropout, batch_first=True)
        self.ffn = _ffn(width, ffn_dim, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.ffn(x)


class LatentFusionTransformer(nn.Module):
    """Classify backbone latents ``(B, C, n_layers, n_pools, width)`` → logits ``(B, K)``.

    Parameters
    ----------
    n_outputs : int
        Number of classes.
    n_layers, n_pools, width : int
        Latent layout: backbone blocks, 1-s pools per sample, backbone width.
    n_fusion_tokens : int
        Learnable fusion tokens of each pool (every pool has its own).
    n_heads, ffn_dim : int
        Attention heads and FFN hidden width (fusion and classification blocks).
    n_cls_blocks : int
        Transformer blocks of the classification module.
    dropout : float
    """

    def __init__(
        self,
        n_outputs: int,
        n_layers: int = 20,
        n_pools: int = 5,
        width: int = 128,
        n_fusion_tokens: int = 16,
        n_heads: int = 8,
        ffn_dim: int = 512,
        n_cls_blocks: int = 8,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.n_layers, self.n_pools, self.width = n_layers, n_pools, width
        self.fusion_tokens = nn.Parameter(torch.randn(n_pools, n_fusion_tokens, width) * 0.02)
        self.fusion = nn.ModuleList(
            FusionBlock(width, n_heads, ffn_dim, dropout) for _ in range(n_layers)
        )
        self.pos_embedding = nn.Parameter(torch.randn(n_pools * n_fusion_tokens, width) * 0.02)
        self.encoder = nn.ModuleList(
            EncoderBlock(width, n_heads, ffn_dim, dropout) for _ in range(n_cls_blocks)
        )
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, n_outputs)

    def fuse(self, latents: torch.Tensor) -> torch.Tensor:
        """Fusion-module output ``(B, n_pools * n_fusion_tokens, width)``, pools in order."""
        b, c, n_layers, n_pools, width = latents.shape
        expected = (self.n_layers, self.n_pools, self.width)
        if (n_layers, n_pools, width) != expected:
            raise ValueError(f"latents have (layers, pools, width) = {(n_layers, n_pools, width)}"
                             f", the model was built for {expected}")
        # Pools become batch items: (B * P, layers, C, width).
        context = latents.permute(0, 3, 2, 1, 4).reshape(b * n_pools, n_layers, c, width)
        tokens = self.fusion_tokens.expand(b, -1, -1, -1).reshape(b * n_pools, -1, width)
        for i, block in enumerate(self.fusion):
            tokens = block(tokens, context[:, i])
        return tokens.reshape(b, -1, width)

    def forward_features(self, latents: torch.Tensor) -> torch.Tensor:
        """Fused tokens ``(B, n_pools * n_fusion_tokens, width)`` after the encoder."""
        tokens = self.fuse(latents) + self.pos_embedding
        for block in self.encoder:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward_head(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(tokens.mean(dim=1))

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(latents))


class EEGDM(nn.Module):
    """Frozen SSMDP backbone → latents → LFT: raw windows ``(B, C, T)`` to logits ``(B, K)``.

    Windows at ``sfreq`` are taken through the backbone's pretraining input transform and S4D
    rate (:func:`raw_latents`); the backbone sees each channel separately (clean signal,
    diffusion step ``t_extract``, channel-embedding index from ``channels``), its gates are
    std-pooled per second, and the LFT classifies them. Only the LFT is trained: the
    backbone's parameters are frozen and it always runs in eval mode.
    """

    def __init__(self, backbone: SSMDP, lft: LatentFusionTransformer, sfreq: float,
                 t_extract: int = 1, channels: list[int] | None = None):
        super().__init__()
        self.backbone = backbone.requires_grad_(False).eval()
        self.lft = lft
        self.sfreq = sfreq
        self.t_extract = t_extract
        self.channels = channels

    def train(self, mode: bool = True) -> EEGDM:
        super().train(mode)
        self.backbone.eval()
        return self

    @torch.no_grad()
    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """Latents ``(B, C, n_blocks, n_pools, width)`` of raw windows ``x`` (B, C, T)."""
        return raw_latents(self.backbone, x, self.sfreq, self.t_extract, self.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lft(self.latents(x))


def extract_latents(backbone: SSMDP, x: torch.Tensor, pool_size: int, t: int = 1,
                    rate: float | None = None,
                    channels: list[int] | None = None) -> torch.Tensor:
    """Std-pooled gate latents ``(B, C, n_blocks, T // pool_size, width)`` of windows ``x``.

    Every channel of every window is one backbone item, fed clean at diffusion step ``t``, with
    channel-embedding index ``channels[c]`` (default: its position ``c``; a map lets a backbone
    pretrained on one montage embed another one's channels). ``x`` must already be in the
    backbone's input scale (see :func:`raw_latents`).
    """
    b, c, n = x.shape
    n_embed = backbone.channel_embedding.num_embeddings
    if channels is None:
        if c > n_embed:
            raise ValueError(f"{c} channels, but the backbone embeds only {n_embed}")
        channels = range(c)
    elif len(channels) != c or not all(0 <= k < n_embed for k in channels):
        raise ValueError(f"channel map {list(channels)} must give one index in [0, {n_embed}) "
                         f"for each of the {c} channels")
    items = x.reshape(b * c, 1, n)
    steps = torch.full((b * c,), t, dtype=torch.long, device=x.device)
    index = torch.as_tensor(list(channels), dtype=torch.long, device=x.device).repeat(b)
    gates = backbone.extract_gates(items, steps, index, pool_size, rate=rate)
    return gates.unflatten(0, (b, c))


def raw_latents(backbone: SSMDP, x: torch.Tensor, sfreq: float, t: int = 1,
                channels: list[int] | None = None) -> torch.Tensor:
    """Latents of windows ``x`` (B, C, T) in the pretraining data's units, sampled at ``sfreq``.

    Applies the backbone's pretraining input transform (:meth:`SSMDP.prepare_input`: scale to
    100 µV and staged µ-law) and S4D rate (:meth:`SSMDP.rate_for`), and pools over 1-s windows
    of ``round(sfreq)`` samples (:func:`extract_latents`).
    """
    return extract_latents(backbone, backbone.prepare_input(x), int(round(sfreq)), t,
                           rate=backbone.rate_for(sfreq), channels=channels)


@register_model("eegdm_lft", tags=("eegdm",), source="eegkit")
def eegdm_lft(n_chans: int, n_outputs: int, n_times: int, sfreq: float,
              **kwargs: Any) -> LatentFusionTransformer:
    """The LFT alone; it takes latents, not raw windows, so it registers no ``input`` layout.

    ``n_pools`` is the number of whole seconds in ``n_times`` samples at ``sfreq``;
    ``n_chans`` is implied by the latents (attention is over channels, any count works).
    """
    del n_chans
    n_pools = kwargs.pop("n_pools", int(n_times // round(sfreq)))
    return LatentFusionTransformer(n_outputs, n_pools=n_pools, **kwargs)


_TINY_BACKBONE = {"width": 8, "n_blocks": 2, "d_state": 4, "cond_dim": 16}
_TINY_LFT = {"n_fusion_tokens": 2, "n_heads": 2, "ffn_dim": 16, "n_cls_blocks": 1}


@register_model(
    "eegdm", tags=("eegdm",), input="epoch", source="eegkit",
    test_kwargs={"n_chans": 2, "n_times": 200, "sfreq": 100,
                 "backbone_kwargs": _TINY_BACKBONE, "lft_kwargs": _TINY_LFT},
)
def eegdm(n_chans: int, n_outputs: int, n_times: int, sfreq: float,
          backbone_ckpt: str | None = None, backbone: SSMDP | None = None,
          backbone_kwargs: dict | None = None, lft_kwargs: dict | None = None,
          t_extract: int = 1, channels: list[int] | None = None) -> EEGDM:
    """EEGDM end to end on raw windows: frozen backbone + LFT.

    The backbone is the EMA backbone of the pretraining checkpoint ``backbone_ckpt`` (its input
    scale, µ-law and S4D ``train_sfreq`` come from the pretraining hyper-parameters), or a
    given ``backbone``, or, for shape checks only, a fresh one built with ``backbone_kwargs``
    (defaults: volts in, ``scale`` 1e4, µ = 255, ``train_sfreq`` 200 Hz). The pool is one
    second (``round(sfreq)`` samples) and the S4D rate ``train_sfreq / sfreq``.
    """
    if backbone_ckpt is not None:
        backbone, _ = load_backbone(backbone_ckpt)
    elif backbone is None:
        kw = {"scale": 1e4, "mu": 255.0, "train_sfreq": 200.0, **(backbone_kwargs or {})}
        backbone = SSMDP(n_channels=n_chans, rate=kw["train_sfreq"] / sfreq, **kw)
    lft = LatentFusionTransformer(
        n_outputs, n_layers=backbone.n_blocks, n_pools=n_times // int(round(sfreq)),
        width=backbone.width, **(lft_kwargs or {}),
    )
    return EEGDM(backbone, lft, sfreq, t_extract, channels)


__all__ = ["EEGDM", "EncoderBlock", "FusionBlock", "LatentFusionTransformer", "eegdm",
           "eegdm_lft", "extract_latents", "raw_latents"]
