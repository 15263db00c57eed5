"""Model registry.

Every model takes braindecode's constructor contract (``n_chans``, ``n_outputs``, ``n_times``,
``sfreq``) plus its own keyword arguments::

    from eegkit.models import list_models, create_model
    model = create_model("attn_sleep", n_chans=1, n_outputs=5, n_times=3000, sfreq=100)
"""

from __future__ import annotations

from typing import Any

import torch.nn as nn

from eegkit.registry import Registry

MODELS = Registry("model", __name__)
register_model = MODELS.register


def list_models(tag: str | None = None) -> list[str]:
    """Names of the registered models, optionally only those whose ``tags`` include ``tag``."""
    names = MODELS.names()
    if tag is None:
        return names
    return [n for n in names if tag in MODELS.meta(n).get("tags", ())]


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name`` with ``kwargs``."""
    return MODELS.get(name)(**kwargs)


def model_info(name: str) -> dict[str, Any]:
    """The metadata a model was registered with (``tags``, ``input`` layout, ...)."""
    return MODELS.meta(name)


__all__ = ["MODELS", "create_model", "list_models", "model_info", "register_model"]
