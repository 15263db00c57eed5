"""DifferentialAttention: fused == eager, lambda_init schedule, masks, single-key cross mode."""

from __future__ import annotations

import math

import pytest
import torch

from eegkit.models.layers.differential_attention import (
    DifferentialAttention,
    lambda_init_for_layer,
    record_attention,
)

D_MODEL, HEADS = 32, 4


def _layer(layer_index=1, **kwargs):
    torch.manual_seed(0)
    return DifferentialAttention(D_MODEL, HEADS, layer_index=layer_index, **kwargs).double()


def _inputs(n_q=7, n_k=9, batch=3):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, n_q, D_MODEL, generator=g, dtype=torch.float64)
    ctx = torch.randn(batch, n_k, D_MODEL, generator=g, dtype=torch.float64)
    mask = torch.zeros(batch, n_k, dtype=torch.bool)
    mask[0, -3:] = True  # sequences of different lengths
    mask[2, -1:] = True
    return x, ctx, mask


def test_lambda_init_schedule():
    assert lambda_init_for_layer(0) == pytest.approx(0.2)
    assert lambda_init_for_layer(1) == pytest.approx(0.8 - 0.6 * 0.7408182207)
    assert lambda_init_for_layer(3) == pytest.approx(0.5560581)
    assert _layer(layer_index=2).lambda_init == pytest.approx(0.8 - 0.6 * math.exp(-0.6))


def test_shapes_and_parameters():
    layer = _layer()
    assert layer.head_dim == D_MODEL // HEADS // 2
    for proj in (layer.q_proj, layer.k_proj, layer.v_proj, layer.out_proj):
        assert proj.bias is None and proj.weight.shape == (D_MODEL, D_MODEL)
    assert layer.lambda_q1.shape == (layer.head_dim,)
    assert layer.head_norm.normalized_shape == (2 * layer.head_dim,)
    with pytest.raises(ValueError, match="divisible"):
        DifferentialAttention(30, 4)


def test_lambda_init_std_is_a_parameter():
    torch.manual_seed(0)
    wide = DifferentialAttention(256, 1, lambda_init_std=0.1)
    narrow = DifferentialAttention(256, 1, lambda_init_std=0.02)
    assert wide.lambda_q1.std().item() == pytest.approx(0.1, rel=0.25)
    assert narrow.lambda_q1.std().item() == pytest.approx(0.02, rel=0.25)


@pytest.mark.parametrize("split_values", [False, True])
@pytest.mark.parametrize("cross", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_matches_eager(split_values, cross, masked):
    x, ctx, mask = _inputs(n_k=9 if cross else 7)
    context = ctx if cross else None
    mask = mask if masked else None
    fused = _layer(fused=True, split_values=split_values)
    eager = _layer(fused=False)
    eager.load_state_dict(fused.state_dict())
    out_f = fused(x, context=context, key_padding_mask=mask)
    out_e = eager(x, context=context, key_padding_mask=mask)
    torch.testing.assert_close(out_f, out_e, atol=1e-5, rtol=0)
    # with return_maps the same module takes the eager path and returns the same output
    out_maps, _ = fused(x, context=context, key_padding_mask=mask, return_maps=True)
    torch.testing.assert_close(out_maps, out_f, atol=1e-5, rtol=0)

    target = torch.randn_like(out_f)
    (out_f * target).sum().backward()
    (out_e * target).sum().backward()
    for (name, p_f), p_e in zip(fused.named_parameters(), eager.parameters(), strict=True):
        torch.testing.assert_close(p_f.grad, p_e.grad, atol=1e-5, rtol=0, msg=name)


def test_fused_matches_eager_float32():
    x, ctx, mask = _inputs()
    fused = _layer(split_values=True).float()
    out_f = fused(x.float(), context=ctx.float(), key_padding_mask=mask)
    out_e, _ = fused(x.float(), context=ctx.float(), key_padding_mask=mask, return_maps=True)
    torch.testing.assert_close(out_f, out_e, atol=1e-5, rtol=0)


def test_maps_and_padding():
    x, ctx, mask = _inputs()
    layer = _layer()
    out, maps = layer(x, context=ctx, key_padding_mask=mask, return_maps=True)
    lam = maps["lambda"]
    assert maps["A"].shape == (3, HEADS, 7, 9)
    torch.testing.assert_close(maps["A"], maps["softmax1"] - lam * maps["softmax2"])
    ones = torch.ones(3, HEADS, 7, dtype=torch.float64)
    torch.testing.assert_close(maps["softmax1"].sum(-1), ones)
    torch.testing.assert_close(maps["A"].sum(-1), ones * (1 - lam))
    assert (maps["softmax1"][0, ..., -3:] == 0).all() and (maps["softmax2"][2, ..., -1] == 0).all()
    # padded keys have no influence on the output, in both paths
    changed = ctx.clone()
    changed[0, -3:] += 100.0
    changed[2, -1:] -= 50.0
    for fused in (True, False):
        layer.fused = fused
        torch.testing.assert_close(layer(x, context=changed, key_padding_mask=mask), out)


def test_single_key_cross_attention_is_normalised_value():
    """With one key both softmaxes are 1, A = 1 - lambda, and the query has no influence.

    RMSNorm is scale-invariant, so the (1 - lambda) factor of the spec's note is absorbed:
    the head output is (1 - lambda_init) * RMSNorm((1 - lambda) V) ≈ (1 - lambda_init) *
    RMSNorm(V) for lambda < 1 (exactly so up to RMSNorm's eps).
    """
    layer = _layer(layer_index=2)
    x, ctx, _ = _inputs(n_q=1)
    key = ctx[:, :1]
    out = layer(x, context=key)
    other_query = layer(torch.randn_like(x), context=key)
    torch.testing.assert_close(out, other_query)

    h, d = HEADS, layer.head_dim
    lam = layer.lambda_full()
    assert lam < 1
    v = layer.v_proj(key).view(3, 1, h, 2 * d)
    exact = layer.out_proj(
        ((1 - layer.lambda_init) * layer.head_norm((1 - lam) * v)).reshape(3, 1, D_MODEL))
    torch.testing.assert_close(out, exact)
    scale_free = layer.out_proj(
        ((1 - layer.lambda_init) * layer.head_norm(v)).reshape(3, 1, D_MODEL))
    torch.testing.assert_close(out, scale_free, atol=1e-4, rtol=1e-4)


def test_record_attention_is_scoped():
    layer = _layer()
    x, _, _ = _inputs()
    with record_attention(layer) as records:
        layer(x)
        layer(x)
    assert len(records[""]) == 2 and records[""][0]["A"].shape == (3, HEADS, 7, 7)
    assert layer.recorder is None
    with pytest.raises(RuntimeError), record_attention(layer):
        raise RuntimeError("boom")
    assert layer.recorder is None


def test_head_outputs_are_rms_normalised_and_scaled():
    # With an identity output projection every head's 2d outputs have RMS (1 - lambda_init).
    layer = _layer(layer_index=3, fused=False)
    with torch.no_grad():
        layer.out_proj.weight.copy_(torch.eye(D_MODEL))
        layer.v_proj.weight.mul_(100.0)  # makes RMSNorm's eps negligible
        out = layer(_inputs()[0])
    rms = out.view(3, 7, HEADS, 2 * layer.head_dim).pow(2).mean(-1).sqrt()
    torch.testing.assert_close(rms, torch.full_like(rms, 1 - layer.lambda_init), atol=1e-4,
                               rtol=0)
