"""Merge Lightning checkpoints of one architecture into a new checkpoint (a "model soup").

The result is an ordinary eegkit checkpoint: the first input's hyper-parameters (so
``evaluate.py --ckpt_path``, ``eegkit predict`` and ``load_from_checkpoint`` rebuild the model)
with the merged weights, without the optimiser, scheduler, loop or callback state of the
training run it came from (a merged model has no training run to resume). What was merged, and
how, is recorded under the key ``"eegkit_merge"``. The file is written atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from eegkit.data.types import DataError
from eegkit.merging.rules import check_method, merge

#: Hyper-parameters that fix the architecture: checkpoints that differ in one are not merged.
ARCHITECTURE_KEYS = ("model", "model_kwargs", "n_chans", "n_outputs", "n_times", "sfreq",
                     "merge_classes")
#: Training state of the first run, dropped from the merged checkpoint.
TRAINING_STATE = ("optimizer_states", "lr_schedulers", "loops", "callbacks")


def load_checkpoint(path: str | Path) -> dict:
    """A Lightning checkpoint on the CPU, with a clear error for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a truncated or non-torch file: name it, not a pickle trace
        raise DataError(path, f"not a readable checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise DataError(path, "not a Lightning checkpoint (no 'state_dict')")
    return ckpt


def merge_checkpoints(paths: Sequence[str | Path], out: str | Path, method: str = "average",
                      ancestor: str | Path | None = None, **options) -> Path:
    """Merge checkpoints ``paths`` into the checkpoint ``out``.

    Parameters
    ----------
    paths : sequence of path
        Two or more checkpoints of the same architecture (fine-tuned from one ancestor: merging
        unrelated trainings gives a broken model).
    out : path
        The merged checkpoint to write.
    method : {"average", "task_arithmetic", "ties", "pcb"}
        :data:`eegkit.merging.METHODS`; ``"average"`` is the uniform (or ``weights``-weighted)
        soup.
    ancestor : path, optional
        Checkpoint of the shared ancestor, needed by the task-vector methods. Default: the
        first checkpoint, which for ``"average"`` only supplies the integer buffers
        (``num_batches_tracked``), equal across fine-tunes of one ancestor.
    **options
        Method options (``weights``, ``lam``, ``density``, ``ratio``...).

    Returns
    -------
    Path
        ``out``.
    """
    if len(paths) < 2:
        raise ValueError(f"merging needs two or more checkpoints, got {len(paths)}")
    check_method(method, options)  # before any file is read
    if method != "average" and ancestor is None:
        raise ValueError(f"method {method!r} merges task vectors: give the ancestor checkpoint")
    ckpts = [load_checkpoint(p) for p in paths]
    first = ckpts[0].get("hyper_parameters", {})
    for path, ckpt in zip(paths[1:], ckpts[1:], strict=True):
        hp = ckpt.get("hyper_parameters", {})
        differ = [k for k in ARCHITECTURE_KEYS if hp.get(k) != first.get(k)]
        if differ:
            raise DataError(path, f"another architecture than {paths[0]}: hyper-parameters "
                                  f"{differ} differ")
    states = [c["state_dict"] for c in ckpts]
    reference = load_checkpoint(ancestor)["state_dict"] if ancestor is not None else states[0]
    merged = {k: v for k, v in ckpts[0].items() if k not in TRAINING_STATE}
    merged["state_dict"] = merge(method, reference, states, **options)
    merged["eegkit_merge"] = {
        "method": method, "checkpoints": [str(Path(p).resolve()) for p in paths],
        "ancestor": None if ancestor is None else str(Path(ancestor).resolve()),
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}-", dir=out.parent)
    os.close(fd)
    try:  # a reader never sees a half-written checkpoint
        torch.save(merged, tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


__all__ = ["ARCHITECTURE_KEYS", "load_checkpoint", "merge_checkpoints"]
