"""The built wheel, installed in a fresh virtual environment, run from a folder outside the
repository: the console script, the bundled configs and dataset cards, the demo and predict."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

#: What the wheel is built from: the package, the folders it ships and the build recipe.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "eegkit", "configs", "datasets")
TINY_SDF = {"d_model": 16, "n_heads": 2, "n_layers": 1, "seq_heads": 2, "seq_mlp_dim": 32}


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built (offline, with the build tools of this environment) from a copy of the
    sources, so that no build/ or egg-info folder lands in the working tree."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "--wheel-dir", str(root / "dist"), str(src)], cwd=root)
    (built,) = (root / "dist").glob("eegkit-*.whl")
    return built


def test_wheel_ships_configs_dataset_cards_license_and_console_script(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names
                            if n.endswith(".dist-info/entry_points.txt"))
    for config in (REPO / "configs").rglob("*.yaml"):
        assert f"eegkit/{config.relative_to(REPO).as_posix()}" in names
    for card in (REPO / "datasets").glob("*.md"):
        assert f"eegkit/datasets/{card.name}" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "eegkit = eegkit.cli.main:main" in entry_points


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_the_demo_and_predict_outside_the_repo(wheel, tmp_path):
    # A fresh environment that sees this one's dependencies through a .pth file (nothing is
    # downloaded) but not the editable eegkit: .pth files of an added folder are not processed.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                      "['purelib'])"], cwd=tmp_path).stdout.strip())
    (site / "_eegkit_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the editable eegkit seen through the .pth is not to be uninstalled
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--ignore-installed",
          str(wheel)], cwd=tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = _run([str(python), "-c", "import eegkit; print(eegkit.__file__)"], cwd=work, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv)

    assert "predict" in _run(["eegkit", "--help"], cwd=work, env=env).stdout
    assert "--ckpt" in _run(["eegkit", "predict", "--help"], cwd=work, env=env).stdout

    # The bundled demo config by name, on a small simulated corpus in ./demo_data (its manifest
    # makes the demo reuse it instead of writing the full-size one).
    from eegkit.demo import generate

    generate(work / "demo_data", subjects_per_site=2, hours=1.0, seed=0,
             sites=["sleep_edf", "hmc"])
    domains = {s: {"reader": s, "path": f"demo_data/{s}"} for s in ("sleep_edf", "hmc")}
    fit = _run(["eegkit", "fit", "--config", "demo", "--data.init_args.held_out", "hmc",
                "--data.init_args.domains", json.dumps(domains),
                "--data.init_args.val_fraction", "0.5", "--data.init_args.batch_size", "2",
                "--data.init_args.train_batches_per_epoch", "1",
                "--model.init_args.model_kwargs", json.dumps(TINY_SDF),
                "--trainer.max_epochs", "1", "--trainer.limit_val_batches", "1",
                "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"],
               cwd=work, env=env)
    run = work / "runs" / "demo" / "sleepdifformer"  # the out_dir of the bundled demo config
    saved = (run / "hmc" / "config.yaml").read_text()
    assert "eegkit.tasks.sleep_staging.SleepStagingTask" in saved
    assert (run / "hmc" / "report" / "metrics.json").is_file()
    assert (run / "lodo_summary.csv").is_file()
    # readable output: one line per epoch and per fold, no Lightning banners, no JSON dumps
    assert fit.stdout.count("[eegkit] epoch 1/1:") == 1
    assert fit.stdout.count("[eegkit] fold hmc: acc ") == 1
    assert "GPU available" not in fit.stderr + fit.stdout and '"acc":' not in fit.stdout

    ckpt = run / "hmc" / "checkpoints" / "last.ckpt"
    out = work / "predictions"
    _run(["eegkit", "predict", "--ckpt", str(ckpt),
          "--input", "demo_data/hmc/recordings/SN001.edf", "--out", str(out)], cwd=work, env=env)
    assert (out / "SN001_stages.csv").is_file() and (out / "SN001_hypnogram.png").is_file()
