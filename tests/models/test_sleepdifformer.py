"""SleepDIFFormer: shapes, pinned parameter count, chained layers, cross modes."""

from __future__ import annotations

import pytest
import torch

from eegkit.models import create_model, list_models, model_info
from eegkit.models.sleepdifformer import SleepDIFFormer

TINY = {"n_times": 300, "d_model": 16, "n_heads": 2, "n_layers": 3, "seq_heads": 2,
        "seq_mlp_dim": 32}

# Paper defaults (d_model 128, 4 heads, 4 layers, shared attention, 8-head sequence encoders of
# depth 1 and width 256, 2 x 3000 samples): parameters per top-level module.
DEFAULT_PARAMS = {
    "embed_eeg": 147_328,  # convs 3,136 + 57,472 + 82,048, BNs 896, pos 3,840, global 128
    "embed_eog": 147_328,
    "layers": 1_584_896,  # 4 x (DSA 65,632 + DCA 65,632 + 2 FFN 131,712 + 6 LN 256)
    "epoch_encoder": 401_408,
    "global_encoder": 401_408,
    "projection": 65_792,  # shared by mu and the classifier path
    "classifier": 1_285,
    "decoder": 543_778,
}


def _tiny(**kwargs):
    torch.manual_seed(0)
    return SleepDIFFormer(**{**TINY, **kwargs})


def test_registered():
    assert "sleepdifformer" in list_models(tag="sleep")
    info = model_info("sleepdifformer")
    assert info["input"] == "sequence"
    assert isinstance(create_model("sleepdifformer", **TINY), SleepDIFFormer)


def test_default_parameter_count():
    model = create_model("sleepdifformer", n_chans=2, n_outputs=5, n_times=3000, sfreq=100)
    counts = {name: sum(p.numel() for p in child.parameters())
              for name, child in model.named_children()}
    total = sum(p.numel() for p in model.parameters())
    print(f"SleepDIFFormer parameters: {total:,}", counts)
    assert counts == DEFAULT_PARAMS
    assert total == 3_293_223
    # one differential attention: 4 projections 128x128 + 4 lambda vectors of 16 + RMSNorm 32
    assert sum(p.numel() for p in model.layers[0].self_attn.parameters()) == 65_632
    unshared = create_model("sleepdifformer", share_attention=False)
    assert sum(p.numel() for p in unshared.parameters()) == total + 4 * 2 * 65_632


def test_shapes():
    model = _tiny()
    x = torch.randn(2, 4, 2, 300)
    assert model(x).shape == (2, 4, 5)
    out = model.forward_train(x)
    assert out["logits"].shape == (2, 4, 5)
    assert out["mu"].shape == (2, 4, 32)
    assert out["recon"].shape == x.shape
    patches, globals_ = model.forward_features(x)
    assert patches.shape == globals_.shape == (2, 4, 32)
    assert model.forward_head((patches, globals_), pre_logits=True).shape == (2, 4, 32)


@pytest.mark.slow
def test_paper_size_shapes():
    model = create_model("sleepdifformer").eval()
    x = torch.randn(1, 20, 2, 3000)
    with torch.no_grad():
        out = model.forward_train(x)
    assert out["logits"].shape == (1, 20, 5)
    assert out["mu"].shape == (1, 20, 256)
    assert out["recon"].shape == (1, 20, 2, 3000)


def test_embed_channels_set_the_embedding_widths():
    model = _tiny(embed_channels=(8, 12))
    convs = [m for m in model.embed_eog.convs if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 8), (8, 12), (12, 16)]
    assert model(torch.randn(2, 3, 2, 300)).shape == (2, 3, 5)


def test_bad_configuration():
    with pytest.raises(ValueError, match="n_chans=2"):
        SleepDIFFormer(n_chans=1)
    with pytest.raises(ValueError, match="multiple of 100"):
        SleepDIFFormer(n_times=3050)
    with pytest.raises(ValueError, match="cross"):
        _tiny(cross="both")
    with pytest.raises(ValueError, match="exceeds n_epochs"):
        _tiny(n_epochs=3)(torch.randn(1, 4, 2, 300))
    with pytest.raises(ValueError, match="expected"):
        _tiny()(torch.randn(1, 4, 3, 300))


@pytest.mark.parametrize("share_attention", [True, False])
@pytest.mark.parametrize("cross", ["tokens", "global"])
def test_every_layer_trains(cross, share_attention):
    """Regression guard against the released code's unchained layers (only the last trained)."""
    model = _tiny(cross=cross, share_attention=share_attention)
    x = torch.randn(2, 3, 2, 300)
    out = model.forward_train(x)
    (out["logits"].pow(2).mean() + out["mu"].pow(2).mean() + out["recon"].pow(2).mean()).backward()
    for index, layer in enumerate(model.layers):
        for name, p in layer.named_parameters():
            if cross == "global" and name.startswith("cross_attn") and (
                    "q_proj" in name or "k_proj" in name or "lambda" in name):
                continue  # one key: constant softmaxes, lambda only via RMSNorm's eps
            assert p.grad is not None and p.grad.abs().sum() > 0, f"layer {index}: {name}"


def test_layers_are_chained():
    # Changing the first layer must change what the last layer produces.
    model = _tiny().eval()
    x = torch.randn(1, 2, 2, 300)
    with torch.no_grad():
        before = model(x)
        model.layers[0].ffn[0][0].weight.mul_(2.0)
        after = model(x)
    assert not torch.allclose(before, after)


def test_cross_global_reduces_to_normalised_value():
    """cross="global": one key, both softmaxes equal 1, so the DCA ignores its query.

    The cross-attention's query/key projections then get exactly zero gradient, and its output
    is (1 - lambda_init) RMSNorm((1 - lambda) V) of the other global token, where lambda only
    acts through RMSNorm's eps.
    """
    model = _tiny(cross="global")
    out = model.forward_train(torch.randn(2, 3, 2, 300))
    (out["logits"].sum() + out["mu"].sum()).backward()
    for layer in model.layers:
        dca = layer.cross_attn[0]
        for p in (dca.q_proj.weight, dca.k_proj.weight):
            assert p.grad is None or p.grad.abs().max() == 0
        assert dca.v_proj.weight.grad.abs().sum() > 0


def test_cross_modes_differ():
    torch.manual_seed(0)
    tokens = _tiny(cross="tokens").eval()
    glob = _tiny(cross="global").eval()
    glob.load_state_dict(tokens.state_dict())
    x = torch.randn(1, 2, 2, 300)
    with torch.no_grad():
        assert not torch.allclose(tokens(x), glob(x))


def test_fused_and_eager_models_agree():
    fused = _tiny().eval()
    eager = _tiny(fused_attention=False).eval()
    eager.load_state_dict(fused.state_dict())
    x = torch.randn(2, 3, 2, 300)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), eager(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("share_attention", [True, False])
def test_attention_maps(share_attention):
    from eegkit.interpret.attention import attention_maps, global_token_attention

    model = _tiny(share_attention=share_attention)
    model.train()
    x = torch.randn(2, 3, 2, 300)
    maps = attention_maps(model, x)
    assert model.training  # restored
    assert all(m.recorder is None for m in model.modules() if hasattr(m, "recorder"))
    n_layers, h, n = 3, 2, 3 + 1  # 300 samples -> 3 tokens + the global token
    for modality in ("eeg", "eog"):
        dsa, dca = maps["dsa"][modality], maps["dca"][modality]
        assert dsa["A"].shape == (n_layers, 2, 3, h, n, n)
        assert dca["softmax1"].shape == (n_layers, 2, 3, h, 1, n)
        lam = maps["lambda"]["dsa"][modality]
        assert lam.shape == (n_layers,)
        torch.testing.assert_close(dsa["A"], dsa["softmax1"] - lam[:, None, None, None, None,
                                                                    None] * dsa["softmax2"])
    assert global_token_attention(maps, "eog").shape == (n_layers, 2, 3, h, 3)
    with torch.no_grad():
        torch.testing.assert_close(maps["logits"], model.eval()(x))

    # EEG/EOG are not swapped: recompute layer 0's EOG self-attention directly
    eog_tokens = model.embed_eog(x[:, :, 1].reshape(6, -1))
    module = model.layers[0].self_attn[-1]
    with torch.no_grad():
        _, direct = module(model.layers[0].self_norm[1](eog_tokens), return_maps=True)
    torch.testing.assert_close(maps["dsa"]["eog"]["A"][0], direct["A"].view(2, 3, h, n, n))
    torch.testing.assert_close(maps["lambda"]["dsa"]["eog"][0], direct["lambda"])


def test_attention_plots():
    import matplotlib.pyplot as plt

    from eegkit.interpret.attention import attention_maps, plot_attention_over_signal, plot_lambdas

    signal, attention = torch.randn(2, 300).numpy(), torch.randn(2, 3).numpy()
    fig = plot_attention_over_signal(signal, attention, sfreq=100.0)
    assert len(fig.axes) == 5  # EEG, its strip, EOG, its strip, colour bar
    assert fig.axes[1].images[0].get_extent() == [0.0, 3.0, 0.0, 1.0]  # 3 s of tokens
    plt.close(fig)
    fig = plot_lambdas(attention_maps(_tiny(), torch.randn(1, 2, 2, 300)))
    assert len(fig.axes[0].lines) == 4  # DSA and DCA of both modalities
    plt.close(fig)
