"""SleepDIFFormer: multi-channel differential transformer for cross-domain sleep staging.

Chin et al., "SleepDIFFormer: Sleep Stage Classification via Multivariate Differential
Transformer" (arXiv 2508.15215). Written from ``specs/sleepdifformer.md``; the released code's
defects are kept out (its encoder layers are not chained and unused modules are built).

Data flow for an input ``(B, E, 2, T)`` (E epochs of one EEG and one EOG channel):

1. :class:`SignalEmbedding` per modality: each epoch → ``T/100`` tokens (one per second at
   100 Hz) plus a learnable global token.
2. ``n_layers`` chained :class:`MDTALayer`: differential self-attention within each modality,
   differential cross-attention from each global token to the other modality, feed-forward.
3. Epoch features (mean of the patch tokens of both modalities) → :class:`EpochSequenceEncoder`
   → shared linear → ``mu`` (aligned across domains, decoded for reconstruction).
   Global tokens of both modalities → a second :class:`EpochSequenceEncoder` → the same
   linear → classifier → logits per epoch.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from eegkit.models import register_model
from eegkit.models.layers.differential_attention import DifferentialAttention

# Max-pool factors of the signal embedding: 3000 samples at 100 Hz -> 30 one-second tokens.
POOLS = (5, 5, 4)
TOKEN_SAMPLES = POOLS[0] * POOLS[1] * POOLS[2]


class SignalEmbedding(nn.Module):
    """One modality's epoch → ``n_times / 100`` tokens + positional embedding + global token.

    Parameters
    ----------
    n_times : int
        Samples per epoch, a multiple of 100.
    d_model : int
        Token dimension.
    dropout : float
        Dropout on the tokens.
    channels : tuple of int
        Widths of the first two convolutions (64, 128 in the paper).
    """

    def __init__(self, n_times: int, d_model: int, dropout: float,
                 channels: tuple[int, int] = (64, 128)):
        super().__init__()
        self.n_tokens = n_times // TOKEN_SAMPLES
        c1, c2 = channels
        specs = [(1, c1, 49), (c1, c2, 7), (c2, d_model, 5)]  # (in, out, kernel)
        blocks = []
        for (c_in, c_out, kernel), pool in zip(specs, POOLS, strict=True):
            blocks += [nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.BatchNorm1d(c_out),
                       nn.GELU(), nn.MaxPool1d(pool)]
        self.convs = nn.Sequential(*blocks)
        self.pos_embedding = nn.Parameter(torch.randn(1, self.n_tokens, d_model) * 0.02)
        self.global_token = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T)`` → ``(N, n_tokens + 1, d_model)``, the global token last."""
        tokens = self.convs(x.unsqueeze(1)).transpose(1, 2) + self.pos_embedding
        glob = self.global_token.expand(tokens.shape[0], -1, -1)
        return self.dropout(torch.cat([tokens, glob], dim=1))


class FeedForward(nn.Sequential):
    """``d → 4d → d`` with GELU."""

    def __init__(self, d_model: int, dropout: float):
        super().__init__(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(4 * d_model, d_model))


class MDTALayer(nn.Module):
    """One multivariate differential transformer layer over the EEG and EOG token sequences.

    a. differential self-attention (DSA) per modality: pre-LayerNorm, residual;
    b. differential cross-attention (DCA): each modality's global token queries the other
       modality (all its tokens, ``cross="tokens"``, or only its global token,
       ``cross="global"``); residual, LayerNorm; only the global tokens change;
    c. feed-forward per modality: residual, LayerNorm.

    With ``cross="global"`` there is a single key, both softmaxes are 1 and ``A = 1 - lambda``:
    the DCA ignores its query and returns ``(1 - lambda_init) RMSNorm((1 - lambda) V)`` of the
    other global token, i.e. a normalised linear map of it (``lambda`` only acts through
    RMSNorm's eps; the query/key projections get no gradient).

    Parameters
    ----------
    d_model, n_heads : int
        Token dimension and number of differential heads.
    layer_index : int
        0-based depth (sets the differential attention's ``lambda_init``).
    cross : {"tokens", "global"}
        Keys/values of the cross-attention.
    share_attention : bool
        One DSA and one DCA module for both modalities (as released) or one per modality.
    dropout, lambda_init_std : float
        Residual-branch dropout; std of the lambda vectors' initialisation.
    fused : bool
        Fused attention kernel (see :class:`DifferentialAttention`).
    """

    def __init__(self, d_model: int, n_heads: int, layer_index: int, cross: str = "tokens",
                 share_attention: bool = True, dropout: float = 0.1,
                 lambda_init_std: float = 0.1, fused: bool = True):
        super().__init__()
        if cross not in ("tokens", "global"):
            raise ValueError(f"cross must be 'tokens' or 'global', got {cross!r}")
        self.cross = cross
        n_attn = 1 if share_attention else 2

        def attention():
            return DifferentialAttention(d_model, n_heads, layer_index, lambda_init_std, fused)

        self.self_attn = nn.ModuleList(attention() for _ in range(n_attn))
        self.cross_attn = nn.ModuleList(attention() for _ in range(n_attn))
        self.self_norm = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(2))
        self.cross_norm = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(2))
        self.ffn = nn.ModuleList(FeedForward(d_model, dropout) for _ in range(2))
        self.ffn_norm = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(2))
        self.dropout = nn.Dropout(dropout)

    def _attend(self, modules: nn.ModuleList, queries: list[torch.Tensor],
                contexts: list[torch.Tensor]) -> list[torch.Tensor]:
        # A shared module runs both modalities in one call (batch-concatenated, EEG first).
        if len(modules) == 1:
            out = modules[0](torch.cat(queries), context=torch.cat(contexts))
            return list(out.chunk(2))
        return [m(q, context=c) for m, q, c in zip(modules, queries, contexts, strict=True)]

    def forward(self, eeg: torch.Tensor, eog: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both ``(N, n_tokens + 1, d_model)`` with the global token last; same shapes out."""
        tokens = [eeg, eog]
        normed = [norm(t) for norm, t in zip(self.self_norm, tokens, strict=True)]
        attended = self._attend(self.self_attn, normed, normed)
        tokens = [t + self.dropout(a) for t, a in zip(tokens, attended, strict=True)]

        globals_ = [t[:, -1:] for t in tokens]
        others = tokens[::-1] if self.cross == "tokens" else globals_[::-1]
        exchanged = self._attend(self.cross_attn, globals_, others)
        tokens = [torch.cat([t[:, :-1], norm(g + self.dropout(c))], dim=1)
                  for t, g, c, norm in zip(tokens, globals_, exchanged, self.cross_norm,
                                           strict=True)]

        eeg, eog = (norm(t + self.dropout(ffn(t)))
                    for t, ffn, norm in zip(tokens, self.ffn, self.ffn_norm, strict=True))
        return eeg, eog


class EpochSequenceEncoder(nn.Module):
    """Pre-LN transformer encoder over the epochs of a sequence, with a final LayerNorm.

    Parameters
    ----------
    dim : int
        Feature dimension per epoch.
    n_epochs : int
        Maximum sequence length (size of the learnable positional embedding).
    n_heads, mlp_dim, depth : int
        Attention heads, feed-forward width and number of layers.
    dropout : float
        Dropout (embedding, attention, feed-forward).
    """

    def __init__(self, dim: int, n_epochs: int, n_heads: int = 8, mlp_dim: int = 256,
                 depth: int = 1, dropout: float = 0.1):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.randn(1, n_epochs, dim) * 0.02)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(dim, n_heads, mlp_dim, dropout, activation="gelu",
                                           layer_norm_eps=1e-6, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(dim, eps=1e-6),
                                             enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, E, dim)`` with ``E <= n_epochs`` → ``(B, E, dim)``."""
        n_max = self.pos_embedding.shape[1]
        if x.shape[1] > n_max:
            raise ValueError(f"sequence of {x.shape[1]} epochs exceeds n_epochs={n_max}")
        return self.encoder(self.dropout(x + self.pos_embedding[:, : x.shape[1]]))


def _upsample(c_in: int, c_out: int, factor: int) -> nn.ConvTranspose1d:
    # Kernel about twice the stride so neighbouring outputs overlap; output length = factor * in.
    kernel = 2 * factor - factor % 2
    return nn.ConvTranspose1d(c_in, c_out, kernel, stride=factor, padding=(kernel - factor) // 2)


class SequenceDecoder(nn.Module):
    """``mu`` per epoch → the two input channels of that epoch (for the reconstruction loss).

    A transposed convolution spreads the feature vector over the ``n_tokens`` seconds, then
    three transposed convolutions undo the embedding's pooling factors (4, 5, 5).
    """

    def __init__(self, dim: int, n_tokens: int, n_chans: int, d_model: int):
        super().__init__()
        width = max(d_model // 2, 8)
        layers: list[nn.Module] = [nn.ConvTranspose1d(dim, width, n_tokens)]
        channels = [(width, width), (width, width // 2), (width // 2, n_chans)]
        for (c_in, c_out), factor in zip(channels, POOLS[::-1], strict=True):
            layers += [nn.BatchNorm1d(c_in), nn.GELU(), _upsample(c_in, c_out, factor)]
        self.layers = nn.Sequential(*layers)

    def forward(self, mu: torch.Tensor) -> torch.Tensor:
        """``(B, E, dim)`` → ``(B, E, n_chans, n_tokens * 100)``."""
        b, e, dim = mu.shape
        out = self.layers(mu.reshape(b * e, dim, 1))
        return out.view(b, e, *out.shape[1:])


class SleepDIFFormer(nn.Module):
    """SleepDIFFormer on sequences of EEG + EOG epochs, ``(B, E, 2, T) → (B, E, n_outputs)``.

    Parameters
    ----------
    n_chans : int
        Must be 2: channel 0 is the EEG, channel 1 the EOG.
    n_outputs : int
        Number of sleep stages (5).
    n_times : int
        Samples per epoch, a multiple of 100 (3000 = 30 s at 100 Hz; one token per 100 samples).
    sfreq : float
        Sampling frequency (100 Hz in the paper; tokens then span one second).
    n_epochs : int
        Maximum number of epochs per sequence (20).
    d_model, n_heads, n_layers : int
        Token dimension, differential heads and MDTA layers (128, 4, 4).
    cross : {"tokens", "global"}
        What each global token attends to in the other modality (see :class:`MDTALayer`).
    share_attention : bool
        Share DSA/DCA weights between EEG and EOG (the released code's choice).
    dropout : float
        Dropout of the embedding, the residual branches and the sequence encoders.
    lambda_init_std : float
        Std of the differential attention's lambda vectors at initialisation.
    seq_heads, seq_mlp_dim, seq_depth : int
        Sequence encoders' heads (8), feed-forward width (256) and depth (1).
    fused_attention : bool
        Use the fused attention kernel (the eager path is used when maps are recorded).
    embed_channels : tuple of int
        Widths of the signal embedding's first two convolutions (64, 128); narrower ones make
        the embedding, most of the compute, cheaper for CPU demos.
    """

    def __init__(self, n_chans: int = 2, n_outputs: int = 5, n_times: int = 3000,
                 sfreq: float = 100.0, n_epochs: int = 20, d_model: int = 128, n_heads: int = 4,
                 n_layers: int = 4, cross: str = "tokens", share_attention: bool = True,
                 dropout: float = 0.1, lambda_init_std: float = 0.1, seq_heads: int = 8,
                 seq_mlp_dim: int = 256, seq_depth: int = 1, fused_attention: bool = True,
                 embed_channels: tuple[int, int] = (64, 128)):
        super().__init__()
        if n_chans != 2:
            raise ValueError(f"SleepDIFFormer needs n_chans=2 (EEG, EOG), got n_chans={n_chans}")
        if n_times % TOKEN_SAMPLES or n_times < TOKEN_SAMPLES:
            raise ValueError(f"n_times={n_times} must be a positive multiple of {TOKEN_SAMPLES}")
        self.n_chans, self.n_outputs, self.n_times, self.sfreq = n_chans, n_outputs, n_times, sfreq
        self.n_epochs = n_epochs
        feature_dim = 2 * d_model
        self.embed_eeg = SignalEmbedding(n_times, d_model, dropout, tuple(embed_channels))
        self.embed_eog = SignalEmbedding(n_times, d_model, dropout, tuple(embed_channels))
        self.layers = nn.ModuleList(
            MDTALayer(d_model, n_heads, index, cross, share_attention, dropout, lambda_init_std,
                      fused_attention)
            for index in range(n_layers))

        def sequence_encoder():
            return EpochSequenceEncoder(feature_dim, n_epochs, seq_heads, seq_mlp_dim, seq_depth,
                                        dropout)

        self.epoch_encoder = sequence_encoder()
        self.global_encoder = sequence_encoder()
        # One projection for both paths: mu and the classifier's features share it (spec).
        self.projection = nn.Linear(feature_dim, feature_dim)
        self.classifier = nn.Linear(feature_dim, n_outputs)
        self.decoder = SequenceDecoder(feature_dim, self.embed_eeg.n_tokens, n_chans, d_model)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, E, 2, T)`` → epoch features and global features, both ``(B, E, 2 d_model)``."""
        if x.ndim != 4 or x.shape[2] != self.n_chans or x.shape[3] != self.n_times:
            raise ValueError(f"expected (B, E, {self.n_chans}, {self.n_times}), got "
                             f"{tuple(x.shape)}")
        b, e = x.shape[:2]
        eeg = self.embed_eeg(x[:, :, 0].reshape(b * e, -1))
        eog = self.embed_eog(x[:, :, 1].reshape(b * e, -1))
        for layer in self.layers:
            eeg, eog = layer(eeg, eog)
        patches = torch.cat([eeg[:, :-1], eog[:, :-1]], dim=-1).mean(dim=1)
        globals_ = torch.cat([eeg[:, -1], eog[:, -1]], dim=-1)
        return patches.view(b, e, -1), globals_.view(b, e, -1)

    def forward_head(self, features: tuple[torch.Tensor, torch.Tensor],
                     pre_logits: bool = False) -> torch.Tensor:
        """Global features → logits ``(B, E, n_outputs)`` (or the projected features)."""
        out = self.projection(self.global_encoder(features[1]))
        return out if pre_logits else self.classifier(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, E, 2, T)`` → logits ``(B, E, n_outputs)``."""
        return self.forward_head(self.forward_features(x))

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Everything the training objective needs.

        Returns
        -------
        dict
            ``logits`` ``(B, E, n_outputs)``, ``mu`` ``(B, E, 2 d_model)`` (the aligned epoch
            features) and ``recon`` ``(B, E, 2, T)`` (decoded from ``mu``).
        """
        features = self.forward_features(x)
        mu = self.projection(self.epoch_encoder(features[0]))
        return {"logits": self.forward_head(features), "mu": mu, "recon": self.decoder(mu)}


@register_model("sleepdifformer", tags=("sleep",), input="sequence", source="eegkit",
                test_kwargs={"n_times": 300, "n_epochs": 3, "d_model": 16, "n_heads": 2,
                             "n_layers": 2, "seq_heads": 2, "seq_mlp_dim": 32})
def sleepdifformer(n_chans: int = 2, n_outputs: int = 5, n_times: int = 3000, sfreq: float = 100.0,
                   **kwargs) -> SleepDIFFormer:
    """SleepDIFFormer with the paper's defaults; see :class:`SleepDIFFormer`."""
    return SleepDIFFormer(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times, sfreq=sfreq,
                          **kwargs)
