"""braindecode models registered as eegkit baselines.

They keep braindecode's constructor contract and are only wrapped where the harness needs a
different input layout. Sleep models are registered twice when useful:

- ``<name>`` takes one 30-s epoch ``(B, C, T)`` and returns ``(B, n_outputs)`` (its paper input);
- ``<name>_seq`` takes a sequence ``(B, E, C, T)`` and returns ``(B, E, n_outputs)``, so that it
  runs through the same sequence-to-sequence harness as SleepDIFFormer.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from eegkit.models import register_model


def _braindecode_models():
    # Imported lazily: braindecode's import is slow and pulls torchaudio.
    import braindecode.models as bd

    return bd


class EpochwiseSequence(nn.Module):
    """Apply an epoch classifier to every epoch of a sequence: ``(B, E, C, T) → (B, E, K)``."""

    def __init__(self, epoch_model: nn.Module):
        super().__init__()
        self.epoch_model = epoch_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, e = x.shape[:2]
        return self.epoch_model(x.flatten(0, 1)).view(b, e, -1)


class USleepSequence(nn.Module):
    """U-Sleep on a sequence: epochs are concatenated in time, one prediction per epoch."""

    def __init__(self, n_chans: int, n_outputs: int, n_times: int, sfreq: float, **kwargs):
        super().__init__()
        self.usleep = _braindecode_models().USleep(
            n_chans=n_chans, n_outputs=n_outputs, n_times=n_times, sfreq=sfreq, **kwargs
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, e, c, t = x.shape
        seq = x.permute(0, 2, 1, 3).reshape(b, c, e * t)
        out = self.usleep(seq)  # (B, K, E), or (B, K) when E == 1
        return out.view(b, -1, e).transpose(1, 2)


def _epoch_factory(cls_name: str):
    def build(n_chans: int, n_outputs: int, n_times: int, sfreq: float, **kwargs) -> nn.Module:
        cls = getattr(_braindecode_models(), cls_name)
        return cls(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times, sfreq=sfreq, **kwargs)

    build.__name__ = cls_name
    build.__doc__ = f"braindecode ``{cls_name}`` with the braindecode constructor contract."
    return build


def _seq_factory(cls_name: str):
    epoch = _epoch_factory(cls_name)

    def build(n_chans: int, n_outputs: int, n_times: int, sfreq: float, **kwargs) -> nn.Module:
        return EpochwiseSequence(epoch(n_chans, n_outputs, n_times, sfreq, **kwargs))

    build.__doc__ = f"braindecode ``{cls_name}`` applied epoch by epoch to a sequence."
    return build


# name -> (braindecode class, tags). AttnSleep is single-channel (EEG only) by design.
_SLEEP = {
    "attn_sleep": ("AttnSleep", ("sleep", "baseline", "single_channel")),
    "deepsleepnet": ("DeepSleepNet", ("sleep", "baseline")),
    "chambon2018": ("SleepStagerChambon2018", ("sleep", "baseline")),
}
_GENERIC = {
    "eegnet": ("EEGNet", ("baseline",)),
    "shallow_fbcsp": ("ShallowFBCSPNet", ("baseline",)),
}

for _name, (_cls, _tags) in {**_SLEEP, **_GENERIC}.items():
    register_model(_name, tags=_tags, input="epoch", source="braindecode")(_epoch_factory(_cls))
for _name, (_cls, _tags) in _SLEEP.items():
    register_model(f"{_name}_seq", tags=_tags, input="sequence", source="braindecode")(
        _seq_factory(_cls)
    )


@register_model("usleep", tags=("sleep", "baseline"), input="sequence", source="braindecode")
def usleep(n_chans: int, n_outputs: int, n_times: int, sfreq: float, **kwargs) -> nn.Module:
    """braindecode ``USleep`` over a sequence of epochs; ``n_times`` is one epoch's length."""
    return USleepSequence(n_chans, n_outputs, n_times, sfreq, **kwargs)
