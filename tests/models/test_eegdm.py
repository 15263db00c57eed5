"""SSMDP backbone, Latent Fusion Transformer and the end-to-end EEGDM model."""

from __future__ import annotations

import pytest
import torch

from eegkit.diffusion import mu_law_encode
from eegkit.models import create_model, list_models, model_info
from eegkit.models.eegdm_lft import extract_latents
from eegkit.models.eegdm_ssmdp import SSMDP

TINY = {"width": 8, "n_blocks": 3, "d_state": 4, "cond_dim": 16}


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_at_paper_defaults():
    # Paper: ~5.9M backbone, ~6.9M LFT. 655,360 of the backbone's are the learned S4D B
    # (20 blocks x 256 channels x 64 complex modes). The last block has no residual
    # projection (128 x 128 + 128 = 16,512 fewer than 20 full blocks: 5,948,161 - 16,512).
    assert _n_params(create_model("eegdm_ssmdp")) == 5_931_649
    # Every one of the 5 pools has its own 16 fusion tokens of width 128: 5 x 16 x 128 =
    # 10,240 token parameters (6,896,134 with one set of 16 x 128 = 2,048 shared by all pools).
    lft = create_model("eegdm_lft", n_chans=22, n_outputs=6, n_times=1000, sfreq=200)
    assert lft.fusion_tokens.shape == (5, 16, 128)
    assert _n_params(lft) == 6_896_134 - 2_048 + 10_240 == 6_904_326


def test_every_backbone_parameter_gets_a_gradient():
    """No dead weights: the last block's residual stream is never read, so it has no W_res."""
    torch.manual_seed(0)
    model = SSMDP(n_channels=2, **TINY)
    # zero-initialised layers would zero the gradients behind them
    for layer in (model.output[-1], *(block.cond_proj for block in model.blocks)):
        torch.nn.init.normal_(layer.weight)
    x = torch.randn(2, 1, 32)
    model(x, torch.tensor([0, 3]), torch.tensor([0, 1])).square().sum().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert dead == []
    assert model.blocks[-1].res_proj is None and model.blocks[0].res_proj is not None


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


def test_every_pool_has_its_own_fusion_tokens():
    torch.manual_seed(0)
    lft = create_model("eegdm_lft", n_chans=3, n_outputs=2, n_times=300, sfreq=100,
                       n_layers=2, width=8, n_fusion_tokens=2, n_heads=2, ffn_dim=16,
                       n_cls_blocks=1).eval()
    assert lft.fusion_tokens.shape == (3, 2, 8)
    # identical latents in every pool: the fused tokens still differ from pool to pool
    lat = torch.randn(1, 3, 2, 1, 8).expand(-1, -1, -1, 3, -1)
    fused = lft.fuse(lat).reshape(3, 2, 8)
    assert not torch.allclose(fused[0], fused[1]) and not torch.allclose(fused[1], fused[2])
    # changing pool 0's tokens changes only pool 0's output
    with torch.no_grad():
        lft.fusion_tokens[0] += 1.0
    after = lft.fuse(lat).reshape(3, 2, 8)
    assert not torch.allclose(after[0], fused[0])
    torch.testing.assert_close(after[1:], fused[1:])


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


def test_eegdm_wrapper_applies_the_pretraining_input_transform_to_volts():
    """A fresh wrapper takes volts: × 1e4 to 100 µV, staged µ-law, S4D rate 200 / sfreq."""
    torch.manual_seed(0)
    model = create_model("eegdm", n_chans=2, n_outputs=2, n_times=200, sfreq=100,
                         backbone_kwargs=TINY, lft_kwargs={"n_fusion_tokens": 2, "n_heads": 2,
                                                           "ffn_dim": 16, "n_cls_blocks": 1})
    volts = torch.randn(3, 2, 200) * 50e-6
    volts[0, 0, 50] = 500e-6  # a 500-µV artefact: 5 units of 100 µV, µ-law compressed
    lat = model.latents(volts)
    # latents follow the signal (without the scaling, 1e-5 inputs gave near-constant ones)
    assert (lat[0] - lat[1]).abs().max() > 1e-2
    reference = extract_latents(model.backbone, mu_law_encode(volts * 1e4), 100, rate=2.0)
    torch.testing.assert_close(lat, reference)
    backbone = model.backbone
    assert (backbone.scale, backbone.mu, backbone.train_sfreq) == (1e4, 255.0, 200.0)


def test_channel_map_picks_the_embedding_of_each_channel():
    torch.manual_seed(0)
    model = SSMDP(n_channels=4, **TINY).eval()
    for block in model.blocks:  # make the channel embedding matter
        torch.nn.init.normal_(block.cond_proj.weight)
    x = torch.randn(2, 4, 100)
    full = extract_latents(model, x, 50)
    torch.testing.assert_close(extract_latents(model, x[:, [3, 1]], 50, channels=[3, 1]),
                               full[:, [3, 1]])
    assert not torch.allclose(extract_latents(model, x[:, [3]], 50), full[:, [3]])
    with pytest.raises(ValueError, match="channel map"):
        extract_latents(model, x[:, :2], 50, channels=[0, 4])
