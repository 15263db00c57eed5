"""Read a task's Lightning checkpoint with an error that names the file."""

from __future__ import annotations

from pathlib import Path

import torch

from eegkit.data.types import DataError


def read_checkpoint(path: str | Path, mmap: bool = False) -> dict:
    """The checkpoint at ``path``, on the CPU.

    Parameters
    ----------
    path : path
        A ``.ckpt`` written by Lightning (or by :mod:`eegkit.merging`).
    mmap : bool
        Memory-map the file instead of reading it: tensors are read only when touched, so
        looking at the hyper-parameters of a 265 MB ViT checkpoint takes 0.03 s instead of
        0.4–1.4 s (before ``trainer.predict`` reads the weights again).

    Raises
    ------
    DataError
        When the file is missing, unreadable (truncated, not a torch file) or not a Lightning
        checkpoint (no ``state_dict``).

    Notes
    -----
    Like any Lightning checkpoint, the file is unpickled: read only checkpoints you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such checkpoint file")
    try:  # hyper-parameters are plain Python objects next to the tensors
        ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=mmap)
    except Exception as err:  # a truncated or non-torch file: name it, not a pickle trace
        raise DataError(path, f"not a readable checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise DataError(path, "not a Lightning checkpoint (no 'state_dict')")
    return ckpt


__all__ = ["read_checkpoint"]
