"""The install path and the command-line programs."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO


def test_braindecode_imports_and_runs_a_model():
    # The torch 2.13 / torchaudio 2.11 mismatch breaks `import braindecode` unless the install
    # path handled it (scripts/env.sh -> eegkit.utils.torchaudio_abi).
    import braindecode
    from braindecode.models import AttnSleep

    model = AttnSleep(n_chans=1, n_outputs=5, n_times=3000, sfreq=100).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 3000))
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()
    assert braindecode.__version__


def test_torchaudio_state_is_not_broken():
    from eegkit.utils import torchaudio_abi

    assert torchaudio_abi.status() in {"ok", "pure-python", "absent"}


@pytest.mark.parametrize("script", ["train.py", "evaluate.py"])
def test_cli_help(script):
    proc = subprocess.run([sys.executable, script, "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--config" in proc.stdout and "--out_dir" in proc.stdout


def test_cli_rejects_unknown_config_key(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("trainer:\n  max_epochs: 1\nnot_a_key: 3\n")
    proc = subprocess.run([sys.executable, "train.py", "--config", str(cfg)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "not_a_key" in proc.stderr


def test_no_arguments_run_the_embedded_demo(monkeypatch, tmp_path):
    from eegkit import cli

    made = []
    monkeypatch.setattr("eegkit.data.demo.ensure_corpus", lambda root: made.append(root))
    monkeypatch.chdir(REPO)
    assert cli.with_demo_default(["--config", "x.yaml"]) == ["--config", "x.yaml"]
    assert made == []
    assert cli.with_demo_default([]) == ["--config", str(cli.DEMO_CONFIG)]
    assert made == [cli.DEMO_DATA] and (REPO / cli.DEMO_CONFIG).is_file()
    monkeypatch.chdir(tmp_path)  # elsewhere there is no demo config: a clear exit
    with pytest.raises(SystemExit, match="repository root"):
        cli.with_demo_default([])
