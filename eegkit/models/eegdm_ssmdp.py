"""SSMDP: the structured state-space diffusion backbone of EEGDM (Puah et al., 2025).

A DiffWave-style residual stack of bidirectional S4D blocks that denoises **one EEG channel at a
time**: input ``(B, 1, L)``, the diffusion step ``t`` and the channel's index, output the
model's prediction (``v`` in EEGDM) with the input's shape. After pretraining, the gate
activations ``sigmoid(g)`` of every block are the representation used downstream
(:meth:`SSMDP.extract_gates`).

At the defaults (width 128, 20 blocks, state 128, 22 channels) the model has 5,931,649
parameters (the paper quotes about 5.9M), pinned in ``tests/eegdm/test_models.py``. The last
block has no residual projection: only the skips reach the output, so it would get no gradient.

The backbone also records its input transform (the pretraining hyper-parameters): ``scale``
takes the data's units to 100 µV, ``mu`` is the staged µ-law constant and ``train_sfreq`` the
rate its S4D time constants refer to. :meth:`SSMDP.prepare_input` and :meth:`SSMDP.rate_for`
apply them, so every consumer of a pretrained backbone transforms its input the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from eegkit.data.types import DataError
from eegkit.diffusion.mulaw import to_backbone_scale
from eegkit.models import register_model
from eegkit.models.layers.s4d import S4D
from eegkit.utils.checkpoints import read_checkpoint


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer-style sinusoidal embedding of integer steps ``t`` (B,) → (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / max(1, half - 1))
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.SiLU(), nn.Linear(d_hidden, d_out),
                         nn.SiLU())


class SSMDPBlock(nn.Module):
    """One residual block: condition, expand, bidirectional S4D, gated activation, project.

    ``h = LN(x) + W_c c``; ``(g, f) = S4D(W_in h)``; ``z = sigmoid(g) * tanh(f)``;
    returns ``x + W_res z``, the skip ``W_skip z`` and the gate ``sigmoid(g)``.
    Tensors are ``(B, L, width)``. With ``residual=False`` (the last block, whose residual
    stream nothing reads) there is no ``W_res`` and ``x`` is returned unchanged.
    """

    def __init__(self, width: int, cond_dim: int, d_state: int, bidirectional: bool = True,
                 residual: bool = True):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.cond_proj = nn.Linear(cond_dim, width)
        nn.init.zeros_(self.cond_proj.weight)  # a fresh block starts unconditioned
        nn.init.zeros_(self.cond_proj.bias)
        self.in_proj = nn.Linear(width, 2 * width)
        self.ssm = S4D(2 * width, d_state, bidirectional=bidirectional)
        self.res_proj = nn.Linear(width, width) if residual else None
        self.skip_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, rate: float = 1.0):
        h = self.norm(x) + self.cond_proj(cond)[:, None, :]
        h = self.ssm(self.in_proj(h).transpose(1, 2), rate=rate).transpose(1, 2)
        g, f = h.chunk(2, dim=-1)
        gate = torch.sigmoid(g)
        z = gate * torch.tanh(f)
        if self.res_proj is not None:
            x = x + self.res_proj(z)
        return x, self.skip_proj(z), gate


class SSMDP(nn.Module):
    """Single-channel diffusion denoiser with S4D residual blocks.

    Parameters
    ----------
    n_channels : int
        Size of the channel-embedding table (the montage's channel count; 22 for TUEV).
    width : int
        Residual width ``H`` (the S4D layers run on ``2 H`` channels).
    n_blocks : int
        Number of residual blocks (= latent layers).
    d_state : int
        S4D state size (``d_state / 2`` complex modes).
    cond_dim : int
        Width of the conditioning vector (step embedding + channel embedding).
    rate : float
        Default S4D step-size factor (``train sfreq / input sfreq``), see :class:`S4D`.
    scale, mu, train_sfreq : float
        Input transform of the pretraining data (see the module docstring): multiplier to
        100 µV, staged µ-law constant (None: none) and the rate of the S4D time constants.
    """

    def __init__(
        self,
        n_channels: int = 22,
        width: int = 128,
        n_blocks: int = 20,
        d_state: int = 128,
        cond_dim: int = 512,
        rate: float = 1.0,
        scale: float = 1.0,
        mu: float | None = None,
        train_sfreq: float = 200.0,
    ):
        super().__init__()
        self.width = width
        self.n_blocks = n_blocks
        self.rate = rate
        self.scale, self.mu, self.train_sfreq = scale, mu, train_sfreq
        self.input_proj = nn.Sequential(nn.Linear(1, width), nn.ReLU())
        self.step_mlp = _mlp(width, cond_dim, cond_dim)
        self.channel_embedding = nn.Embedding(n_channels, width)
        self.channel_mlp = _mlp(width, cond_dim, cond_dim)
        self.blocks = nn.ModuleList(
            SSMDPBlock(width, cond_dim, d_state, residual=i < n_blocks - 1)
            for i in range(n_blocks)
        )
        self.output = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1))
        nn.init.zeros_(self.output[-1].weight)  # the untrained model predicts zero
        nn.init.zeros_(self.output[-1].bias)

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Data in the pretraining units → the backbone's input (× ``scale``, staged µ-law)."""
        return to_backbone_scale(x, self.scale, self.mu)

    def rate_for(self, sfreq: float) -> float:
        """S4D rate for a signal sampled at ``sfreq`` (``train_sfreq / sfreq``)."""
        return self.train_sfreq / sfreq

    def condition(self, t: torch.Tensor, channel: torch.Tensor) -> torch.Tensor:
        """Conditioning vector ``(B, cond_dim)`` from the step and the channel index."""
        step = self.step_mlp(sinusoidal_embedding(t, self.width))
        return step + self.channel_mlp(self.channel_embedding(channel))

    def _run_blocks(self, x, t, channel, rate) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(skip, gate)`` of every block, in order; ``x`` is ``(B, 1, L)``."""
        rate = self.rate if rate is None else rate
        cond = self.condition(t, channel)
        h = self.input_proj(x.transpose(1, 2))
        for block in self.blocks:
            h, skip, gate = block(h, cond, rate)
            yield skip, gate

    def forward(self, x: torch.Tensor, t: torch.Tensor, channel: torch.Tensor,
                rate: float | None = None) -> torch.Tensor:
        """Prediction ``(B, 1, L)`` for noisy input ``x`` at steps ``t`` of channels ``channel``."""
        skips = sum(skip for skip, _ in self._run_blocks(x, t, channel, rate))
        return self.output(skips).transpose(1, 2)

    def extract_gates(self, x: torch.Tensor, t: torch.Tensor, channel: torch.Tensor,
                      pool_size: int, rate: float | None = None) -> torch.Tensor:
        """Gate activations of all blocks, std-pooled over windows of ``pool_size`` samples.

        Returns ``(B, n_blocks, L // pool_size, width)``; a trailing partial window is dropped.
        Each block is pooled as soon as it runs, so memory stays at one block's activations.
        """
        n_pools = x.shape[-1] // pool_size
        if n_pools < 1:
            raise ValueError(f"signal of {x.shape[-1]} samples is shorter than one pool "
                             f"({pool_size} samples)")
        pooled = []
        for _, gate in self._run_blocks(x, t, channel, rate):
            windows = gate[:, : n_pools * pool_size].unflatten(1, (n_pools, pool_size))
            pooled.append(windows.std(dim=2, correction=0))
        return torch.stack(pooled, dim=1)


@register_model("eegdm_ssmdp", tags=("eegdm", "diffusion", "pretraining"), source="eegkit")
def eegdm_ssmdp(n_chans: int = 22, n_outputs: int = 1, n_times: int | None = None,
                sfreq: float = 200.0, train_sfreq: float = 200.0, **kwargs) -> SSMDP:
    """EEGDM's SSMDP backbone (a denoiser, not a classifier: no ``input`` layout registered).

    ``n_chans`` sizes the channel embedding, ``n_outputs`` must be 1 (one predicted channel),
    ``n_times`` is unused (any length works) and ``sfreq`` / ``train_sfreq`` set the S4D rate.
    """
    if n_outputs != 1:
        raise ValueError(f"SSMDP predicts one channel; n_outputs must be 1, got {n_outputs}")
    del n_times
    return SSMDP(n_channels=n_chans, rate=train_sfreq / sfreq, train_sfreq=train_sfreq,
                 **kwargs)


_EMA_PREFIX = "ema.model."  # the pretraining task's EMA copy: the weights the backbone uses
_BACKBONE_HPARAMS = ("n_chans", "sfreq", "train_sfreq", "scale", "mu")


def load_backbone(checkpoint: str | Path) -> tuple[SSMDP, dict[str, Any]]:
    """The frozen EMA backbone of a pretraining checkpoint and its hyper-parameters.

    ``checkpoint`` is a Lightning checkpoint of :class:`~eegkit.tasks.eegdm.EEGDMPretrainTask`;
    it is read here, without the task, so that models (the end-to-end ``eegdm``) never depend
    on training code. The backbone carries the pretraining input transform (``scale``, ``mu``,
    ``train_sfreq``).

    Raises
    ------
    DataError
        When the file is missing, unreadable, or not a pretraining checkpoint.
    """
    ckpt = read_checkpoint(checkpoint)
    hp = dict(ckpt.get("hyper_parameters") or {})
    missing = [k for k in _BACKBONE_HPARAMS if k not in hp]
    if missing or not any(k.startswith(_EMA_PREFIX) for k in ckpt["state_dict"]):
        # say, a fine-tuned classifier's checkpoint given as the backbone
        problem = f"hyper-parameters lack {', '.join(missing)}" if missing else (
            "no EMA backbone weights")
        raise DataError(checkpoint, f"not an EEGDM pretraining checkpoint ({problem})")
    backbone = SSMDP(n_channels=hp["n_chans"], rate=hp["train_sfreq"] / hp["sfreq"],
                     scale=hp["scale"], mu=hp["mu"], train_sfreq=hp["train_sfreq"],
                     **(hp.get("backbone_kwargs") or {}))
    # checkpoints written before the last block lost its residual projection hold its (never
    # trained) weights: they are dropped
    stale = f"blocks.{backbone.n_blocks - 1}.res_proj."
    state = {k.removeprefix(_EMA_PREFIX): v for k, v in ckpt["state_dict"].items()
             if k.startswith(_EMA_PREFIX) and not k.removeprefix(_EMA_PREFIX).startswith(stale)}
    backbone.load_state_dict(state)
    return backbone.requires_grad_(False).eval(), hp


def backbone_record(backbone: SSMDP, hparams: dict[str, Any]) -> dict[str, Any]:
    """The part of a pretraining checkpoint that :func:`load_backbone` reads: the
    hyper-parameters and the (EMA) backbone weights. Saved with ``torch.save`` it is a file
    that :func:`load_backbone` loads like the original checkpoint."""
    return {"hyper_parameters": dict(hparams),
            "state_dict": {_EMA_PREFIX + k: v.detach().cpu().clone()
                           for k, v in backbone.state_dict().items()}}


__all__ = ["SSMDP", "SSMDPBlock", "backbone_record", "eegdm_ssmdp", "load_backbone",
           "sinusoidal_embedding"]
