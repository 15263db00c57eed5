"""One integration test that runs every registered model through the same checks.

A model registers ``input="epoch"`` (``(B, C, T) -> (B, K)``) or ``input="sequence"``
(``(B, E, C, T) -> (B, E, K)``), and may register ``test_kwargs``: a small constructor
configuration (including ``n_chans``, ``n_times``, ``sfreq`` and, for sequences, ``n_epochs``)
that keeps this test fast. Models without ``input`` are tested elsewhere and listed in
:data:`TESTED_ELSEWHERE`; the completeness tests below keep that list and the built-in models
honest.
"""

from __future__ import annotations

import re
from pathlib import Path

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


#: Every model eegkit ships. A module of eegkit.models that fails to import now stops the
#: registry with an ImportError; this list also catches a model dropped in any other way.
BUILT_IN = {
    "adace_image", "adace_text", "attn_sleep", "attn_sleep_seq", "chambon2018",
    "chambon2018_seq", "deepsleepnet", "deepsleepnet_seq", "eegdm", "eegdm_lft", "eegdm_ssmdp",
    "eegnet", "shallow_fbcsp", "sleepdifformer", "usleep",
}
#: Models that take no EEG batch (no ``input`` in their registration), so the forward/backward
#: test above cannot run them: each is tested in the named file instead.
TESTED_ELSEWHERE = {
    "eegdm_lft": "tests/models/test_eegdm.py",  # classifies latents of the diffusion model
    "eegdm_ssmdp": "tests/models/test_eegdm.py",  # a diffusion model: noise in, noise out
}
TESTS = Path(__file__).resolve().parents[1]


def test_every_registered_model_is_tested_or_listed():
    names = set(list_models())
    assert BUILT_IN <= names, f"built-in models not registered: {sorted(BUILT_IN - names)}"
    with_input = {n for n in names if model_info(n).get("input")}
    assert names - with_input == set(TESTED_ELSEWHERE)
    for name, test_file in TESTED_ELSEWHERE.items():
        text = (TESTS.parent / test_file).read_text()
        assert f'create_model("{name}"' in text, f"{test_file} does not build {name}"


def test_no_test_skips_on_a_built_in_model():
    # a skip on "model not registered" hid the partial registry of a failed import
    skips = re.compile(r"skipif\([^)]*[\"'](" + "|".join(map(re.escape, BUILT_IN)) + r")[\"']")
    offenders = [f"{path.relative_to(TESTS.parent)}: {match[0]}"
                 for path in sorted(TESTS.rglob("*.py"))
                 for match in skips.finditer(path.read_text())]
    assert not offenders, offenders
