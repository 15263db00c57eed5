"""Merge Lightning checkpoints of one architecture into a new checkpoint (a "model soup").

The result is an ordinary eegkit checkpoint: the first input's hyper-parameters (so
``evaluate.py --ckpt_path``, ``eegkit predict`` and ``load_from_checkpoint`` rebuild the model)
with the merged weights. Those hyper-parameters include how the model's input is prepared
(``preprocessing``: units, filters, the training split's standardisation): inputs that disagree
on it are refused unless ``preprocessing_from`` names the one to keep, since the merged model
would otherwise silently predict with the first model's input statistics. The result holds
no optimiser, scheduler, loop or callback state of the training run it came from (a merged
model has no training run to resume). What was merged, and how, is recorded under the key
``"eegkit_merge"``. The file is written atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from eegkit.data.types import DataError
from eegkit.merging.rules import check_method, merge
from eegkit.utils.checkpoints import read_checkpoint

#: Hyper-parameters that fix the architecture: checkpoints that differ in one are not merged.
ARCHITECTURE_KEYS = ("model", "model_kwargs", "n_chans", "n_outputs", "n_times", "sfreq",
                     "merge_classes")
#: What the inputs and outputs mean: checkpoints that differ in one are not merged.
MEANING_KEYS = ("ch_names", "class_names")
#: Training state of the first run, dropped from the merged checkpoint.
TRAINING_STATE = ("optimizer_states", "lr_schedulers", "loops", "callbacks")


def merge_checkpoints(paths: Sequence[str | Path], out: str | Path, method: str = "average",
                      ancestor: str | Path | None = None, preprocessing_from: int | None = None,
                      **options) -> Path:
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
    preprocessing_from : int, optional
        Index into ``paths`` of the checkpoint whose input preprocessing (its
        ``hyper_parameters["preprocessing"]``) the merged model keeps. Needed only when the
        checkpoints record different ones (models trained on differently standardised or
        conditioned data); the merged model then expects inputs prepared like that model's.
    **options
        Method options (``weights``, ``lam``, ``density``, ``ratio``...).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    DataError
        A checkpoint that is missing or unreadable, or that differs from the first in
        architecture, channels or classes, or in preprocessing without ``preprocessing_from``.
    """
    if len(paths) < 2:
        raise ValueError(f"merging needs two or more checkpoints, got {len(paths)}")
    check_method(method, options)  # before any file is read
    if method != "average" and ancestor is None:
        raise ValueError(f"method {method!r} merges task vectors: give the ancestor checkpoint")
    if preprocessing_from is not None and not 0 <= preprocessing_from < len(paths):
        raise ValueError(f"preprocessing_from={preprocessing_from} is not the index of one of "
                         f"the {len(paths)} checkpoints")
    ckpts = [read_checkpoint(p) for p in paths]
    hparams = [c.get("hyper_parameters", {}) for c in ckpts]
    first = hparams[0]
    for path, hp in zip(paths[1:], hparams[1:], strict=True):
        for keys, what in ((ARCHITECTURE_KEYS, "another architecture"),
                           (MEANING_KEYS, "other channels or classes")):
            differ = [k for k in keys if hp.get(k) != first.get(k)]
            if differ:
                raise DataError(path, f"{what} than {paths[0]}: hyper-parameters {differ} "
                                      "differ")
        if preprocessing_from is None and hp.get("preprocessing") != first.get("preprocessing"):
            pre, ref = hp.get("preprocessing") or {}, first.get("preprocessing") or {}
            differ = sorted(k for k in {*pre, *ref} if pre.get(k) != ref.get(k))
            raise DataError(path, f"its input preprocessing differs from {paths[0]}'s in "
                                  f"{differ}: the merged model would be fed inputs prepared "
                                  "for one of them only; choose whose with "
                                  "preprocessing_from (--preprocessing-from INDEX)")
    states = [c["state_dict"] for c in ckpts]
    reference = read_checkpoint(ancestor)["state_dict"] if ancestor is not None else states[0]
    merged = {k: v for k, v in ckpts[0].items() if k not in TRAINING_STATE}
    if preprocessing_from is not None:
        merged["hyper_parameters"] = {**first, "preprocessing":
                                      hparams[preprocessing_from].get("preprocessing")}
    merged["state_dict"] = merge(method, reference, states, **options)
    merged["eegkit_merge"] = {
        "method": method, "checkpoints": [str(Path(p).resolve()) for p in paths],
        "ancestor": None if ancestor is None else str(Path(ancestor).resolve()),
        "preprocessing_from": preprocessing_from,
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


__all__ = ["ARCHITECTURE_KEYS", "merge_checkpoints"]
