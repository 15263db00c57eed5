"""The install path and the command-line programs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

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
    # the docstring's examples as written (one command per line), not reflowed into a paragraph
    doc = ast.get_docstring(ast.parse((REPO / script).read_text()))
    examples = doc[doc.index("Examples"):]
    assert examples in proc.stdout
    # eegkit's tasks and datamodules are known by their short names
    assert "eegkit.tasks.sleep_staging.SleepStagingTask" in proc.stdout


def test_short_class_names_resolve():
    proc = subprocess.run([sys.executable, "train.py", "--model.help", "SleepStagingTask"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--model.w_align" in proc.stdout


def test_bad_data_is_one_line_and_exit_status_2(tmp_path):
    missing = tmp_path / "no_such_folder"
    proc = subprocess.run(
        [sys.executable, "train.py", "--config", "configs/sleepdifformer/demo.yaml",
         "--out_dir", str(tmp_path / "run"), "--data.init_args.domains",
         json.dumps({d: {"reader": d, "path": str(missing)} for d in ("hmc", "isruc")})],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"eegkit: error: {missing}: dataset path does not exist (reader 'hmc')",
        "(run with --traceback for the full stack)"]


def test_cli_rejects_unknown_config_key(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("trainer:\n  max_epochs: 1\nnot_a_key: 3\n")
    proc = subprocess.run([sys.executable, "train.py", "--config", str(cfg)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "not_a_key" in proc.stderr


def test_no_arguments_run_the_embedded_demo_from_any_folder(monkeypatch, tmp_path):
    from eegkit.cli import app as cli

    made = []
    monkeypatch.setattr("eegkit.cli.app.ensure_corpus", lambda root: made.append(root))
    monkeypatch.chdir(tmp_path)  # outside the repository: the bundled config, ./demo_data
    assert cli.with_demo_default(["--config", "x.yaml"]) == ["--config", "x.yaml"]
    assert made == []
    flag, config = cli.with_demo_default([])
    assert flag == "--config" and made == [cli.DEMO_DATA]
    assert Path(config).read_bytes() == (REPO / "configs/sleepdifformer/demo.yaml").read_bytes()
