"""Differential-attention maps of SleepDIFFormer for an input, and plots against the signal.

    maps = attention_maps(model, x)            # x: (B, E, 2, T)
    maps["dsa"]["eeg"]["A"]                     # (L, B, E, h, N+1, N+1), global token last
    maps["dca"]["eog"]["softmax1"]              # (L, B, E, h, 1, Nk)
    maps["lambda"]["dsa"]["eeg"]                # (L,)

The model runs in eval mode under ``torch.no_grad`` with its attention modules switched to the
eager path for this one call only; training mode and the fused setting are restored after.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from eegkit.models.layers.differential_attention import record_attention
from eegkit.reports import plt

MODALITIES = ("eeg", "eog")
MAP_NAMES = ("softmax1", "softmax2", "A")


def _split_modalities(calls: list[dict[str, torch.Tensor]], b: int, e: int):
    # A shared module sees both modalities in one call (EEG rows first); separate modules
    # each see one modality, EEG's first: in both cases concatenating gives [EEG; EOG].
    maps = {name: torch.cat([c[name] for c in calls]) for name in MAP_NAMES}
    lambdas = torch.stack([c["lambda"] for c in calls])
    out = {}
    for index, modality in enumerate(MODALITIES):
        out[modality] = {name: m.chunk(2)[index].reshape(b, e, *m.shape[1:])
                         for name, m in maps.items()}
        out[modality]["lambda"] = lambdas[min(index, len(calls) - 1)]
    return out


def attention_maps(model: nn.Module, x: torch.Tensor) -> dict:
    """Per-layer, per-head DSA and DCA maps and lambdas of a SleepDIFFormer for ``x``.

    Parameters
    ----------
    model : SleepDIFFormer
        The model (any module with ``layers`` of :class:`~eegkit.models.sleepdifformer.MDTALayer`).
    x : torch.Tensor
        ``(B, E, 2, T)`` input.

    Returns
    -------
    dict
        ``{"dsa" | "dca": {"eeg" | "eog": {"softmax1", "softmax2", "A": (L, B, E, h, Nq, Nk)}},
        "lambda": {"dsa" | "dca": {"eeg" | "eog": (L,)}}, "logits": (B, E, K)}``. DSA maps
        are over the ``N + 1`` tokens of a modality (patch tokens, then the global token);
        DCA maps have the modality's global token as the single query and the other
        modality's tokens (or its global token, ``cross="global"``) as keys.
    """
    b, e = x.shape[:2]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), record_attention(model) as records:
            logits = model(x)
    finally:
        model.train(was_training)

    result: dict = {"dsa": {}, "dca": {}, "lambda": {"dsa": {}, "dca": {}}, "logits": logits}
    for kind, attr in (("dsa", "self_attn"), ("dca", "cross_attn")):
        per_layer = []
        for index, layer in enumerate(model.layers):
            names = [f"layers.{index}.{attr}.{i}" for i in range(len(getattr(layer, attr)))]
            per_layer.append(_split_modalities([c for n in names for c in records[n]], b, e))
        for modality in MODALITIES:
            result[kind][modality] = {name: torch.stack([lay[modality][name] for lay in per_layer])
                                      for name in MAP_NAMES}
            result["lambda"][kind][modality] = torch.stack(
                [lay[modality]["lambda"] for lay in per_layer])
    return result


def global_token_attention(maps: dict, modality: str = "eeg", kind: str = "dsa",
                           map_name: str = "A") -> torch.Tensor:
    """Attention of a modality's global token over the patch tokens, ``(L, B, E, h, N)``.

    For ``kind="dsa"`` the row of the global token (last query) without its own column; for
    ``kind="dca"`` (``cross="tokens"``) the single query's row over the other modality's patch
    tokens.
    """
    return maps[kind][modality][map_name][..., -1, :-1]


def plot_attention_over_signal(signal: np.ndarray, attention: np.ndarray, sfreq: float,
                               labels=("EEG", "EOG"), title: str = ""):
    """Raw EEG/EOG of one epoch with per-token attention drawn as a heat strip under each trace.

    Parameters
    ----------
    signal : np.ndarray
        ``(2, T)`` one epoch.
    attention : np.ndarray
        ``(2, N)``: for each channel, a weight per token (e.g. the head-averaged global-token
        row of its DSA ``A``); tokens split the epoch into ``N`` equal spans.
    sfreq : float
        Sampling frequency, for the time axis in seconds.
    """
    signal, attention = np.asarray(signal), np.asarray(attention)
    n_tokens = attention.shape[-1]
    duration = signal.shape[-1] / sfreq
    fig, axes = plt.subplots(4, 1, figsize=(12, 5), sharex=True,
                             gridspec_kw={"height_ratios": [3, 0.6, 3, 0.6]})
    t = np.arange(signal.shape[-1]) / sfreq
    limit = float(np.abs(attention).max()) or 1.0
    for channel, label in enumerate(labels):
        ax_sig, ax_att = axes[2 * channel], axes[2 * channel + 1]
        ax_sig.plot(t, signal[channel], "k-", lw=0.6)
        ax_sig.set_ylabel(label)
        im = ax_att.imshow(attention[channel][None], aspect="auto", cmap="RdBu_r",
                           vmin=-limit, vmax=limit, extent=(0, duration, 0, 1))
        ax_att.set_yticks([])
        ax_att.set_ylabel("A", rotation=0, ha="right", va="center")
    axes[-1].set_xlabel(f"time (s); {n_tokens} tokens of {duration / n_tokens:g} s")
    fig.colorbar(im, ax=list(axes), fraction=0.02, label="attention of the global token")
    fig.suptitle(title or "global-token differential attention over the epoch")
    return fig


def plot_lambdas(maps: dict):
    """lambda per layer for DSA and DCA of each modality."""
    fig, ax = plt.subplots(figsize=(5, 3))
    for kind, style in (("dsa", "o-"), ("dca", "s--")):
        for modality in MODALITIES:
            values = maps["lambda"][kind][modality].cpu().numpy()
            ax.plot(np.arange(len(values)), values, style, label=f"{kind.upper()} {modality}")
    ax.set_xlabel("layer")
    ax.set_ylabel("lambda")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
