"""EEGDM latents: the frozen backbone's gate activations of every window, cached on disk.

:func:`cached_latents` computes, once per (data, backbone weights, extraction settings), the
latents of the EMA backbone for every window (clean input, t = 1, gates std-pooled per second)
and keeps them in float16, memory-mapped, written atomically through
:class:`~eegkit.cache.ArrayCache`. :class:`EEGDMLatentDataModule` serves them (with the
labels and splits of :class:`~eegkit.data.datamodules.windows.WindowDataModule`) to
:class:`~eegkit.tasks.eegdm.EEGDMFinetuneTask`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eegkit.cache import ArrayCache, cache_key
from eegkit.data.datamodules.windows import WindowDataModule
from eegkit.models.eegdm_lft import raw_latents
from eegkit.models.eegdm_ssmdp import SSMDP, load_backbone

#: Bump when the latent extraction changes, to invalidate cached latents.
LATENT_CACHE_VERSION = 2


def backbone_digest(backbone: torch.nn.Module) -> str:
    """A hash of the backbone's weights (part of the latent cache key)."""
    h = hashlib.sha256()
    for name, value in sorted(backbone.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def cached_latents(
    backbone: SSMDP,
    X: np.ndarray,
    sfreq: float,
    data_key: dict[str, Any],
    t_extract: int = 1,
    channels: list[int] | None = None,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
) -> np.ndarray:
    """Latents ``(N, C, n_blocks, n_pools, width)`` float16 of windows ``X`` (N, C, T).

    ``X`` is in the pretraining data's units; the backbone's own input transform and S4D rate
    apply (:func:`~eegkit.models.eegdm_lft.raw_latents`), ``channels`` maps data channels to
    channel-embedding indices. Computed once, then memory-mapped from an
    :class:`~eegkit.cache.ArrayCache` entry keyed by ``data_key`` (what identifies ``X``:
    dataset, files, reader options), the backbone's weights and the extraction settings. The
    build streams through a temporary memory-mapped file, so it never holds all latents in
    memory.
    """
    pool_size = int(round(sfreq))
    settings = {"scale": backbone.scale, "mu": backbone.mu, "rate": backbone.rate_for(sfreq),
                "t": t_extract, "pool": pool_size,
                "channels": None if channels is None else list(channels)}
    key = cache_key(kind="eegdm-latents", data=data_key, shape=list(X.shape),
                    backbone=backbone_digest(backbone),
                    settings=settings, version=LATENT_CACHE_VERSION)

    def build(scratch: Path):
        backbone.eval()
        n, c, length = X.shape
        shape = (n, c, backbone.n_blocks, length // pool_size, backbone.width)
        out = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.float16, shape=shape)
        for start in range(0, n, batch_size):
            x = torch.tensor(np.asarray(X[start:start + batch_size], dtype=np.float32))
            lat = raw_latents(backbone, x, sfreq, t_extract, channels)
            out[start:start + len(x)] = lat.numpy().astype(np.float16)
        out.flush()
        return {"latents": out}, {"shape": shape, **settings}

    arrays, _ = ArrayCache(cache_dir).get_or_build("eegdm-latents", key, build)
    return arrays["latents"]


class EEGDMLatentDataModule(WindowDataModule):
    """A :class:`~eegkit.data.datamodules.windows.WindowDataModule` (same windows, labels and
    splits) that serves each window's backbone latents instead of its signal.

    Parameters
    ----------
    backbone_ckpt : str
        Pretraining checkpoint (:class:`EEGDMPretrainTask`); its EMA backbone, scale, µ and
        ``train_sfreq`` are used.
    dataset, path, protocol, val_fraction, test_fraction, seed, reader_kwargs, cache_dir
        As for the window datamodule (same split; ``val_fraction=0``: no validation). Windows
        are not standardised: the backbone applies its own input transform.
    batch_size, num_workers : int
    t_extract : int
        Diffusion step given to the backbone (EEGDM: 1, clean input).
    channel_map : list of int, optional
        Backbone channel-embedding index of every data channel (default: the position), e.g.
        :data:`eegkit.data.pipelines.events.CHBMIT_TCP_INDEX` for CHB-MIT on a TUEV-pretrained
        backbone.
    """

    def __init__(
        self,
        backbone_ckpt: str,
        dataset: str,
        path: str,
        protocol: str = "official",
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        reader_kwargs: dict[str, Any] | None = None,
        t_extract: int = 1,
        channel_map: list[int] | None = None,
        cache_dir: str | None = None,
    ):
        super().__init__(dataset, path, protocol, val_fraction, test_fraction, batch_size,
                         num_workers, seed, reader_kwargs, normalize="none",
                         cache_dir=cache_dir)
        self.latents: np.ndarray | None = None

    def model_inputs(self, windows) -> np.ndarray:
        """Latents ``(N, C, n_layers, n_pools, width)`` of every window, from the cache."""
        hp = self.hparams
        backbone, _ = load_backbone(hp.backbone_ckpt)
        data_key = {"dataset": hp.dataset, "path": str(Path(hp.path).resolve()),
                    "reader": hp.reader_kwargs or {}, "n": len(windows)}
        self.latents = cached_latents(backbone, windows.X, windows.sfreq, data_key,
                                      hp.t_extract, hp.channel_map, cache_dir=hp.cache_dir)
        return self.latents

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """``(C, n_layers, n_pools, width)`` of one item."""
        self.setup()
        return tuple(self.latents.shape[1:])
