"""AdaCE backbones and models on tiny random configs (no files, no network)."""

from __future__ import annotations

import sys

import pytest
import torch

from eegkit.models import create_model, list_models

transformers = pytest.importorskip("transformers")

from eegkit.models.adace import backbones  # noqa: E402
from eegkit.models.adace.backbones import set_finetune, transformer_blocks  # noqa: E402
from eegkit.models.adace.model import TINY_BERT, TINY_VIT, AdaCEImage, AdaCEText  # noqa: E402

TINY_SWIN = dict(model_type="swin", image_size=32, patch_size=4, embed_dim=8, depths=[1, 2],
                 num_heads=[1, 2], window_size=4)
TINY_GPT2 = dict(model_type="gpt2", n_embd=16, n_layer=3, n_head=2, n_positions=64)


def _n(params):
    return sum(p.numel() for p in params)


def test_blocks_of_encoder_staged_and_decoder_backbones():
    assert len(transformer_blocks(backbones.load_backbone(TINY_BERT))) == 2
    assert len(transformer_blocks(backbones.load_backbone(TINY_SWIN))) == 3  # depths 1 + 2
    assert len(transformer_blocks(backbones.load_backbone(TINY_GPT2))) == 3


def test_finetune_modes_choose_the_trainable_weights():
    model = backbones.load_backbone(TINY_BERT)
    set_finetune(model, "frozen")
    assert _n(p for p in model.parameters() if p.requires_grad) == 0
    set_finetune(model, "partial", trainable_blocks=1)
    trainable = _n(p for p in model.parameters() if p.requires_grad)
    assert trainable == _n(model.encoder.layer[1].parameters()) + _n(model.pooler.parameters())
    assert not any(p.requires_grad for p in model.embeddings.parameters())
    set_finetune(model, "full")
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="trainable_blocks"):
        set_finetune(model, "partial", trainable_blocks=3)
    with pytest.raises(ValueError, match="finetune"):
        set_finetune(model, "lora")


def test_image_model_on_swin_uses_its_resolution_and_probing_trains_only_the_head():
    model = AdaCEImage(9, 6, 128, 50.0, backbone=TINY_SWIN, finetune="frozen")
    assert model.adapter.image_size == (32, 32)
    model.train()
    assert not model.backbone.training and model.head.training
    out = model(torch.randn(3, 9, 128))
    assert out.shape == (3, 6)
    out.sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.head[1].weight.grad.abs().sum() > 0


def test_image_model_full_finetuning_reaches_the_patch_embedding():
    model = AdaCEImage(1, 5, 3000, 100.0, backbone=TINY_VIT, image_size=32, row_length=100)
    assert model.backbone.training
    model(torch.randn(2, 1, 3000)).sum().backward()
    grad = model.backbone.embeddings.patch_embeddings.projection.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_text_model_on_gpt2_pads_and_counts_tokens():
    model = AdaCEText(2, 3, 6, 50.0, backbone=TINY_GPT2, max_length=32, precision=1)
    assert model.backbone.config.vocab_size == len(model.adapter.tokenizer)
    out = model(torch.randn(4, 2, 6))
    assert out.shape == (4, 3)
    stats = model.adapter.stats()
    assert stats["windows"] == 4 and stats["truncation_rate"] == 1.0  # ~50 tokens > 32
    with pytest.raises(ValueError, match="exceeds"):
        AdaCEText(2, 3, 6, 50.0, backbone=TINY_GPT2, max_length=65)


def test_text_model_compact_style_fits_a_window_the_decimals_truncate():
    x = torch.randn(3, 3, 32)
    decimal = AdaCEText(3, 2, 32, 50.0, backbone=TINY_BERT, max_length=128, precision=2)
    decimal(x)
    assert decimal.adapter.stats()["truncation_rate"] == 1.0
    compact = AdaCEText(3, 2, 32, 50.0, backbone=TINY_BERT, max_length=128, style="compact",
                        pool=4)
    assert compact(x).shape == (3, 2)
    # character tokenizer: 3 x (2 + 8) digits, 3 x 9 + 2 x 2 spaces, 2 bars, 2 specials = 65
    assert compact.adapter.stats()["max_tokens"] == 65
    assert compact.adapter.stats()["truncation_rate"] == 0.0
    with pytest.raises(ValueError, match="style"):
        AdaCEText(3, 2, 32, 50.0, backbone=TINY_BERT, style="binary")


def test_models_are_registered_and_build_through_the_registry():
    assert {"adace_image", "adace_text"} <= set(list_models(tag="adace"))
    model = create_model("adace_text", n_chans=1, n_outputs=2, n_times=4, sfreq=10,
                         backbone=TINY_BERT)
    assert model(torch.randn(2, 1, 4)).shape == (2, 2)


def test_building_without_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import now raises ImportError
    assert "adace_image" in list_models()
    with pytest.raises(ImportError, match=r"eegkit\[adace\]"):
        create_model("adace_image", n_chans=9, n_outputs=6, n_times=128, sfreq=50,
                     backbone=TINY_VIT)


def test_unknown_packaged_backbone_is_rejected():
    with pytest.raises(ValueError, match="unknown packaged backbone"):
        backbones.resolve_backbone("packaged:resnet")


def test_registry_imports_without_the_extra():
    import subprocess

    code = ("import sys\n"
            "sys.modules['transformers'] = sys.modules['tokenizers'] = None\n"
            "from eegkit.models import list_models\n"
            "print(sorted(n for n in list_models() if n.startswith('adace')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['adace_image', 'adace_text']"
