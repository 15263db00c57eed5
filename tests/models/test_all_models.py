"""One integration test that runs every registered model through the same checks.

A model registers ``input="epoch"`` (``(B, C, T) -> (B, K)``) or ``input="sequence"``
(``(B, E, C, T) -> (B, E, K)``), and may register ``test_kwargs``: a small constructor
configuration (including ``n_chans``, ``n_times``, ``sfreq`` and, for sequences, ``n_epochs``)
that keeps this test fast.
"""

from __future__ import annotations

import pytest
import torch

from eegkit.models import create_model, list_models, model_info

DEFAULT = {"n_chans": 2, "n_outputs": 5, "n_times": 3000, "sfreq": 100}


def _build(name):
    info = model_info(name)
    kwargs = {**DEFAULT, **info.get("test_kwargs", {})}
    if "single_channel" in info.get("tags", ()):
        kwargs["n_chans"] = 1
    n_epochs = kwargs.pop("n_epochs", 3)
    torch.manual_seed(0)
    model = create_model(name, **kwargs)
    c, t = kwargs["n_chans"], kwargs["n_times"]
    if info.get("input") == "sequence":
        x = torch.randn(2, n_epochs, c, t)
        expected = (2, n_epochs, kwargs["n_outputs"])
    else:
        x = torch.randn(2, c, t)
        expected = (2, kwargs["n_outputs"])
    return model, x, expected


@pytest.mark.parametrize("name", [n for n in list_models() if model_info(n).get("input")])
def test_model_forward_backward(name):
    model, x, expected = _build(name)
    model.train()
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    assert out.shape == expected
    assert torch.isfinite(out).all()
    out.float().pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
