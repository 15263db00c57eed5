"""Shared fixtures. Real data lives in ../shared/data next to the repository (never copied in)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EEGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set EEGKIT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test writes its cache entries under a temporary folder, never ~/.cache."""
    monkeypatch.setenv("EEGKIT_CACHE", str(tmp_path_factory.getbasetemp() / "eegkit-cache"))


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """Two simulated sites (Sleep-EDF and HMC formats), two one-hour nights each."""
    from eegkit.demo import generate

    root = tmp_path_factory.mktemp("demo-corpus")
    generate(root, subjects_per_site=2, hours=1.0, seed=0, sites=["sleep_edf", "hmc"])
    return root
