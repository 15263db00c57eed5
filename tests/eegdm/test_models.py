"""SSMDP backbone, Latent Fusion Transformer and the end-to-end EEGDM model."""

from __future__ import annotations

import pytest
import torch

from eegkit.models import create_model, list_models, model_info
from eegkit.models.eegdm_lft import extract_latents
from eegkit.models.eegdm_ssmdp import SSMDP

TINY = {"width": 8, "n_blocks": 3, "d_state": 4, "cond_dim": 16}


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_at_paper_defaults():
    # Paper: ~5.9M backbone, ~6.9M LFT. 655,360 of the backbone's are the learned S4D B
    # (20 blocks x 256 channels x 64 complex modes).
    assert _n_params(create_model("eegdm_ssmdp")) == 5_948_161
    lft = create_model("eegdm_lft", n_chans=22, n_outputs=6, n_times=1000, sfreq=200)
    assert _n_params(lft) == 6_896_134


def test_registration_layouts():
    assert {"eegdm", "eegdm_lft", "eegdm_ssmdp"} <= set(list_models(tag="eegdm"))
    assert model_info("eegdm")["input"] == "epoch"
    assert "input" not in model_info("eegdm_lft")  # takes latents, tested here
    with pytest.raises(ValueError, match="n_outputs must be 1"):
        create_model("eegdm_ssmdp", n_outputs=2)


def test_backbone_starts_at_zero_and_is_conditioned():
    torch.manual_seed(0)
    model = SSMDP(n_channels=3, **TINY)
    x = torch.randn(2, 1, 64)
    t, ch = torch.tensor([0, 5]), torch.tensor([0, 2])
    out = model(x, t, ch)
    assert out.shape == (2, 1, 64) and out.abs().max() == 0  # zero-initialised output layer
    torch.nn.init.normal_(model.output[-1].weight)
    for block in model.blocks:
        torch.nn.init.normal_(block.cond_proj.weight)
    a = model(x[:1], t[:1], ch[:1])
    assert not torch.allclose(a, model(x[:1], torch.tensor([7]), ch[:1]))
    assert not torch.allclose(a, model(x[:1], t[:1], torch.tensor([1])))


def test_gate_latents_are_std_pooled_per_second():
    torch.manual_seed(0)
    model = SSMDP(n_channels=4, **TINY).eval()
    x = torch.randn(2, 4, 250)  # 2.5 s at 100 Hz: the partial last second is dropped
    lat = extract_latents(model, x, pool_size=100)
    assert lat.shape == (2, 4, 3, 2, 8)
    # reference: the gates of block 1, second pool, recomputed directly
    items, ch = x.reshape(8, 1, 250), torch.arange(4).repeat(2)
    gates = [g for _, g in model._run_blocks(items, torch.ones(8, dtype=torch.long), ch, None)]
    ref = gates[1][:, 100:200].std(dim=1, correction=0)
    torch.testing.assert_close(lat[:, :, 1, 1].reshape(8, 8), ref)
    assert (lat >= 0).all() and (lat <= 0.5).all()  # std of values in (0, 1)


def test_lft_shapes_and_layout_check():
    torch.manual_seed(0)
    lft = create_model("eegdm_lft", n_chans=3, n_outputs=4, n_times=300, sfreq=100,
                       n_layers=2, width=8, n_fusion_tokens=2, n_heads=2, ffn_dim=16,
                       n_cls_blocks=1)
    lat = torch.randn(5, 3, 2, 3, 8, requires_grad=True)
    out = lft(lat)
    assert out.shape == (5, 4)
    out.sum().backward()
    assert lat.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="built for"):
        lft(torch.randn(5, 3, 2, 4, 8))


def test_pools_share_fusion_weights_and_order_matters_only_via_position():
    torch.manual_seed(0)
    lft = create_model("eegdm_lft", n_chans=3, n_outputs=2, n_times=200, sfreq=100,
                       n_layers=2, width=8, n_fusion_tokens=2, n_heads=2, ffn_dim=16,
                       n_cls_blocks=1).eval()
    lat = torch.randn(1, 3, 2, 2, 8)
    # permuting channels does not change anything (attention over a set of channel tokens)
    torch.testing.assert_close(lft(lat), lft(lat[:, [2, 0, 1]]))


def test_eegdm_end_to_end_trains_only_the_lft():
    torch.manual_seed(0)
    model = create_model("eegdm", n_chans=2, n_outputs=3, n_times=200, sfreq=100,
                         backbone_kwargs=TINY,
                         lft_kwargs={"n_fusion_tokens": 2, "n_heads": 2, "ffn_dim": 16,
                                     "n_cls_blocks": 1})
    model.train()
    assert not model.backbone.training
    model(torch.randn(2, 2, 200)).sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert any(p.grad is not None for p in model.lft.parameters())
    assert model.backbone.rate == pytest.approx(2.0)  # trained at 200 Hz, applied at 100 Hz
