"""Parameter-free adapters that turn a multichannel signal into a transformer's input.

- :func:`signal_to_planes` / :class:`SignalToImage` (AdaCE-I): a window ``(B, C, T)`` becomes
  three "RGB" planes (channels distributed over the planes, long signals folded into rows),
  resized to the backbone's resolution with bilinear interpolation.
- :func:`format_numbers` / :class:`SignalToText` (AdaCE-T): a window becomes a line of numbers,
  tokenised by the backbone's tokenizer and truncated to its maximum length. Two styles:
  ``"decimal"`` (the paper's: every sample as a decimal or scaled integer) and ``"compact"``
  (:func:`compact_levels`: z-scored, clipped, quantised to one digit, optionally time-pooled),
  which fits a whole 9 x 128 UCI HAR window in ~170 MiniLM tokens instead of ~1,700.

Nothing here has learned parameters; ``transformers`` is only needed to build a tokenizer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

N_PLANES = 3
PLANE_FILLS = ("zeros", "repeat")
NORMALIZATIONS = (None, "image", "plane")
NUMBER_STYLES = ("decimal", "compact")


def signal_to_planes(
    x: torch.Tensor, fill: str = "repeat", row_length: int | None = None
) -> torch.Tensor:
    """Lay a batch of windows out as three image planes, before any resizing.

    Channels are split into three consecutive groups of ``ceil(C / 3)``: plane ``p`` holds
    channels ``p·m … p·m + m - 1`` stacked top to bottom. When ``C`` is not a multiple of 3 the
    missing channels are zeros (``fill="zeros"``) or the channels again from the first one
    (``fill="repeat"``; one channel then fills all three planes). With ``row_length`` each
    channel is folded into rows of that many samples (zero-padded at the end), so a channel
    takes ``ceil(T / row_length)`` rows.

    Parameters
    ----------
    x : Tensor, shape (B, C, T)
    fill : {"zeros", "repeat"}
    row_length : int, optional
        Samples per row; ``None`` keeps each channel on one row.

    Returns
    -------
    Tensor, shape (B, 3, ceil(C / 3) · n_rows, row_length or T)

    Examples
    --------
    UCI HAR, 9 channels of 128 samples: ``(B, 9, 128) → (B, 3, 3, 128)``. A Sleep-EDF epoch,
    one channel of 3000 samples at 100 Hz with ``row_length=100``: ``(B, 1, 3000) →
    (B, 3, 30, 100)`` (rows are seconds).
    """
    if x.ndim != 3:
        raise ValueError(f"expected a batch of windows (B, C, T), got shape {tuple(x.shape)}")
    if fill not in PLANE_FILLS:
        raise ValueError(f"fill must be one of {PLANE_FILLS}, got {fill!r}")
    b, c, t = x.shape
    per_plane = math.ceil(c / N_PLANES)
    missing = N_PLANES * per_plane - c
    if missing:
        if fill == "zeros":
            x = torch.cat([x, x.new_zeros(b, missing, t)], dim=1)
        else:
            x = x[:, torch.arange(N_PLANES * per_plane, device=x.device) % c]
    if row_length is None:
        return x.reshape(b, N_PLANES, per_plane, t)
    if row_length < 1:
        raise ValueError(f"row_length must be >= 1, got {row_length}")
    n_rows = math.ceil(t / row_length)
    x = F.pad(x, (0, n_rows * row_length - t))
    return x.reshape(b, N_PLANES, per_plane * n_rows, row_length)


def normalize_images(images: torch.Tensor, mode: str | None, eps: float = 1e-12) -> torch.Tensor:
    """Standardise each image (``"image"``) or each plane (``"plane"``) to zero mean, unit std.

    ``None`` returns the images unchanged (the paper's setting). ``eps`` only guards constant
    images: signals in volts have standard deviations of ~1e-5.
    """
    if mode is None:
        return images
    if mode not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {mode!r}")
    dims = (1, 2, 3) if mode == "image" else (2, 3)
    mean = images.mean(dim=dims, keepdim=True)
    std = images.std(dim=dims, keepdim=True, unbiased=False)
    return (images - mean) / std.clamp_min(eps)


class SignalToImage(nn.Module):
    """AdaCE-I adapter: ``(B, C, T)`` windows → ``(B, 3, H, W)`` images (no parameters).

    Parameters
    ----------
    image_size : int or (int, int)
        Output resolution, the backbone's expected input size.
    fill : {"zeros", "repeat"}
        How missing channels are filled when ``C`` is not a multiple of 3.
    row_length : int, optional
        Fold each channel into rows of this many samples (see :func:`signal_to_planes`).
    normalize : {None, "image", "plane"}
        Optional standardisation after resizing.
    """

    def __init__(
        self,
        image_size: int | Sequence[int],
        fill: str = "repeat",
        row_length: int | None = None,
        normalize: str | None = None,
    ):
        super().__init__()
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"image_size must be an int or (H, W), got {image_size!r}")
        if fill not in PLANE_FILLS:
            raise ValueError(f"fill must be one of {PLANE_FILLS}, got {fill!r}")
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.image_size = size
        self.fill = fill
        self.row_length = row_length
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        planes = signal_to_planes(x, self.fill, self.row_length)
        images = F.interpolate(planes, size=self.image_size, mode="bilinear", align_corners=False)
        return normalize_images(images, self.normalize)

    def extra_repr(self) -> str:
        return (f"image_size={self.image_size}, fill={self.fill!r}, "
                f"row_length={self.row_length}, normalize={self.normalize!r}")


def compact_levels(
    window: np.ndarray,
    clip: float = 3.0,
    levels: int = 10,
    pool: int = 1,
    channel_stats: bool = True,
) -> np.ndarray:
    """Quantise one window ``(C, T)`` to integers ``0 … levels - 1`` (the compact text style).

    Each channel is averaged over consecutive blocks of ``pool`` samples (a last shorter block
    is averaged too), z-scored with its own mean and standard deviation in the window, clipped to
    ``±clip`` and mapped linearly onto ``levels`` integers. With ``levels <= 10`` every value is
    one digit, i.e. one token for BERT-style tokenizers, whatever the signal's units.

    The z-score removes each channel's level and amplitude, which can carry the class (the
    gravity direction separates lying from standing in UCI HAR). With ``channel_stats`` each row
    therefore starts with two more integers: the channel's mean, on the same scale as the values
    (windows standardised per channel over the dataset, as the data module's
    ``normalize="channel"`` does, make it comparable across channels), and its standard
    deviation mapped from ``[0, clip]``.

    Parameters
    ----------
    window : ndarray, shape (C, T)
    clip : float
        Clipping bound, in standard deviations.
    levels : int
        Number of integer levels (>= 2).
    pool : int
        Samples averaged into one value (>= 1; 1 keeps every sample).
    channel_stats : bool
        Prefix each channel with its quantised mean and standard deviation.

    Returns
    -------
    ndarray of int64, shape (C, ceil(T / pool) + 2 · channel_stats)

    Examples
    --------
    >>> compact_levels(np.array([[0.0, 1.0, 2.0, 3.0]]), clip=1.0, levels=3, pool=2,
    ...                channel_stats=False)
    array([[0, 2]])
    """
    window = np.asarray(window, dtype=np.float64)
    if window.ndim != 2:
        raise ValueError(f"expected one window (C, T), got shape {window.shape}")
    if clip <= 0 or levels < 2 or pool < 1:
        raise ValueError(f"need clip > 0, levels >= 2 and pool >= 1, got clip={clip}, "
                         f"levels={levels}, pool={pool}")
    starts = np.arange(0, window.shape[1], pool)
    pooled = np.add.reduceat(window, starts, axis=1) / np.diff([*starts, window.shape[1]])
    mean = pooled.mean(axis=1, keepdims=True)
    std = pooled.std(axis=1, keepdims=True)
    # a flat channel (std 0) becomes the middle level instead of a division by zero
    z = (pooled - mean) / np.where(std > 0, std, 1.0)
    step = 2 * clip / (levels - 1)
    values = np.rint((np.clip(z, -clip, clip) + clip) / step)
    if channel_stats:
        level = np.rint((np.clip(mean, -clip, clip) + clip) / step)
        spread = np.rint(np.clip(std, 0, clip) / clip * (levels - 1))
        values = np.concatenate([level, spread, values], axis=1)
    return values.astype(np.int64)


def format_numbers(
    window: np.ndarray,
    precision: int = 4,
    integer_scale: float | None = None,
    value_sep: str = " ",
    channel_sep: str = " | ",
    style: str = "decimal",
    clip: float = 3.0,
    levels: int = 10,
    pool: int = 1,
    channel_stats: bool = True,
) -> str:
    """Write one window ``(C, T)`` as text, channel after channel.

    Parameters
    ----------
    window : ndarray, shape (C, T)
    precision : int
        Decimals of each value (``style="decimal"`` without ``integer_scale``).
    integer_scale : float, optional
        Multiply by this factor and round to integers (``1e6`` turns volts into whole µV):
        far fewer tokens than decimals for most tokenizers (``style="decimal"``).
    value_sep, channel_sep : str
        Between two values of a channel, and between two channels.
    style : {"decimal", "compact"}
        Every sample as a number (the paper), or :func:`compact_levels` digits.
    clip, levels, pool, channel_stats
        Options of the compact style, see :func:`compact_levels`.

    Examples
    --------
    >>> format_numbers(np.array([[-0.0037, 0.004], [1.0, 2.0]]), precision=4)
    '-0.0037 0.0040 | 1.0000 2.0000'
    >>> format_numbers(np.array([[-0.0037, 0.004]]), integer_scale=1e4)
    '-37 40'
    >>> format_numbers(np.array([[0.0, 1.0, 2.0, 3.0]]), style="compact", clip=1.0, levels=3,
    ...                channel_stats=False)
    '0 1 1 2'
    """
    if style not in NUMBER_STYLES:
        raise ValueError(f"style must be one of {NUMBER_STYLES}, got {style!r}")
    window = np.asarray(window, dtype=np.float64)
    if window.ndim != 2:
        raise ValueError(f"expected one window (C, T), got shape {window.shape}")
    if style == "compact":
        rows = [[str(v) for v in ch] for ch in compact_levels(window, clip, levels, pool,
                                                              channel_stats)]
    elif integer_scale is None:
        fmt = f"{{:.{int(precision)}f}}"
        rows = [[fmt.format(v) for v in ch] for ch in window]
    else:
        ints = np.rint(window * integer_scale).astype(np.int64)
        rows = [[str(v) for v in ch] for ch in ints]
    return channel_sep.join(value_sep.join(r) for r in rows)


def number_tokenizer(max_length: int = 512):
    """A character-level tokenizer for number text, built in memory (no files, no network).

    Used with randomly initialised text backbones (tests, training from scratch): one token per
    digit, sign, point, space or ``|``, plus BERT-style special tokens.
    """
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    vocab = {tok: i for i, tok in enumerate([*specials, *"0123456789-.| e+"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
        sep_token="[SEP]", model_max_length=max_length,
    )


class SignalToText(nn.Module):
    """AdaCE-T adapter: ``(B, C, T)`` windows → token ids and attention mask (no parameters).

    Parameters
    ----------
    tokenizer : transformers tokenizer
        The backbone's tokenizer. A tokenizer without a pad token (GPT-2) pads with its EOS.
    max_length : int
        Truncation length in tokens (special tokens included).
    precision, integer_scale, value_sep, channel_sep, style, clip, levels, pool, channel_stats
        Number format, see :func:`format_numbers`.

    Attributes
    ----------
    n_windows, n_truncated, n_tokens : int
        Running counts over every window converted since :meth:`reset_stats`, from which
        :meth:`stats` reports the mean length before truncation and the truncation rate.
    """

    def __init__(
        self,
        tokenizer,
        max_length: int = 512,
        precision: int = 4,
        integer_scale: float | None = None,
        value_sep: str = " ",
        channel_sep: str = " | ",
        style: str = "decimal",
        clip: float = 3.0,
        levels: int = 10,
        pool: int = 1,
        channel_stats: bool = True,
    ):
        super().__init__()
        if style not in NUMBER_STYLES:
            raise ValueError(f"style must be one of {NUMBER_STYLES}, got {style!r}")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.number_format = dict(
            precision=precision, integer_scale=integer_scale,
            value_sep=value_sep, channel_sep=channel_sep, style=style, clip=clip,
            levels=levels, pool=pool, channel_stats=channel_stats,
        )
        self.reset_stats()

    def reset_stats(self) -> None:
        self.n_windows = self.n_truncated = self.n_tokens = self.max_tokens = 0

    def stats(self) -> dict[str, float]:
        """Mean / max token length before truncation and fraction of truncated windows."""
        n = max(self.n_windows, 1)
        return {
            "windows": self.n_windows,
            "mean_tokens": self.n_tokens / n,
            "max_tokens": self.max_tokens,
            "truncation_rate": self.n_truncated / n,
        }

    def texts(self, x: torch.Tensor | np.ndarray) -> list[str]:
        arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        return [format_numbers(w, **self.number_format) for w in arr]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        texts = self.texts(x)
        full = self.tokenizer(texts, add_special_tokens=True)["input_ids"]
        lengths = [len(ids) for ids in full]
        self.n_windows += len(lengths)
        self.n_tokens += sum(lengths)
        self.n_truncated += sum(n > self.max_length for n in lengths)
        self.max_tokens = max(self.max_tokens, *lengths)
        enc = self.tokenizer(
            texts, max_length=self.max_length, truncation=True, padding="longest",
            return_tensors="pt",
        )
        device = x.device if isinstance(x, torch.Tensor) else None
        return {"input_ids": enc["input_ids"].to(device),
                "attention_mask": enc["attention_mask"].to(device)}

    def extra_repr(self) -> str:
        return f"max_length={self.max_length}, number_format={self.number_format}"
