"""Leave-one-domain-out runs: summary tables, reports, skip/resume, evaluation."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
import yaml

from eegkit.reports import combined_table, write_summary
from tests._sleep_fixtures import corpus_domains
from tests.conftest import REPO

CLASSES = ["W", "N1", "N2", "N3", "REM"]


def _write_fold(run, domain, acc, macro_f1, kappa, f1, n=100):
    report = run / domain / "report"
    report.mkdir(parents=True)
    metrics = {"acc": acc, "macro_f1": macro_f1, "kappa": kappa, "n": n,
               "per_class_f1": dict(zip(CLASSES, f1, strict=True))}
    (report / "metrics.json").write_text(json.dumps(metrics))


def test_summary_is_mean_and_sample_sd_of_the_folds(tmp_path):
    folds = {"hmc": (0.70, 0.60, 0.50, [0.9, 0.3, 0.8, 0.7, 0.6]),
             "isruc": (0.80, 0.75, 0.65, [0.8, 0.4, 0.9, 0.8, 0.7]),
             "shhs": (0.60, 0.45, 0.35, [0.7, 0.2, 0.7, 0.6, 0.5])}
    for d, values in folds.items():
        _write_fold(tmp_path, d, *values)
    write_summary(tmp_path, list(folds))

    with open(tmp_path / "lodo_summary.csv") as f:
        rows = {r["domain"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["hmc", "isruc", "shhs", "mean", "sd"]
    acc = np.array([v[0] for v in folds.values()])
    assert float(rows["mean"]["acc"]) == pytest.approx(acc.mean(), abs=1e-6)
    assert float(rows["sd"]["acc"]) == pytest.approx(acc.std(ddof=1), abs=1e-6)
    n1 = np.array([v[3][1] for v in folds.values()])
    assert float(rows["mean"]["f1_N1"]) == pytest.approx(n1.mean(), abs=1e-6)
    assert float(rows["sd"]["f1_N1"]) == pytest.approx(n1.std(ddof=1), abs=1e-6)
    assert rows["mean"]["n"] == "300"

    md = (tmp_path / "lodo_summary.md").read_text()
    assert "| isruc | 100 | 80.0 | 75.0 | 0.650 |" in md
    # accuracy 70 ± 10 %, macro-F1 60 ± 15 %, κ 0.500 ± 0.150
    assert "| mean ± sd | 300 | 70.0 ± 10.0 | 60.0 ± 15.0 | 0.500 ± 0.150 |" in md


def test_combined_table_has_the_paper_layout(tmp_path):
    _write_fold(tmp_path / "sdf", "hmc", 0.75, 0.70, 0.6, [0.5] * 5)
    _write_fold(tmp_path / "sdf", "isruc", 0.65, 0.60, 0.5, [0.5] * 5)
    _write_fold(tmp_path / "usleep", "hmc", 0.5, 0.4, 0.3, [0.5] * 5)
    table = combined_table({"SleepDIFFormer": tmp_path / "sdf", "USleep": tmp_path / "usleep"})
    lines = table.splitlines()
    assert lines[0] == "| method | hmc | isruc | avg |"
    assert lines[2] == "| SleepDIFFormer | 75.00/70.00 | 65.00/60.00 | 70.00/65.00 |"
    assert lines[3] == "| USleep | 50.00/40.00 | – | – |"  # incomplete runs get no average


def _config(tmp_path, max_epochs):
    cfg = {
        "seed_everything": 0,
        "lodo": True,
        "trainer": {"max_epochs": max_epochs, "accelerator": "cpu", "devices": 1,
                    "logger": False, "enable_progress_bar": False,
                    "enable_model_summary": False},
        "model": {"class_path": "eegkit.tasks.sleep_staging.SleepStagingTask",
                  "init_args": {"model": "chambon2018_seq", "lr": 0.003}},
        "data": {"class_path": "tests._sleep_fixtures.FakeSleepDataModule",
                 "init_args": {"domains": {"a": {}, "b": {}, "c": {}}, "batch_size": 4}},
    }
    path = tmp_path / f"lodo{max_epochs}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_lodo_run_reports_skips_completed_folds_and_resumes(tmp_path, capsys):
    from eegkit.cli.evaluate import evaluate
    from eegkit.cli.fit import train

    out = tmp_path / "run"
    train(["--config", _config(tmp_path, 1), "--out_dir", str(out)])
    for d in "abc":
        report = out / d / "report"
        metrics = json.loads((report / "metrics.json").read_text())
        assert metrics["n"] == 3 * 4 * 5  # the whole held-out domain: 3 nights x 4 x 5 epochs
        assert (report / "confusion_matrix.png").stat().st_size > 0
        assert len(list(report.glob("hypnogram_*.png"))) == 2
        assert (out / d / "checkpoints" / "last.ckpt").exists()
    assert (out / "lodo_summary.md").exists() and (out / "lodo_summary.csv").exists()

    # Interrupt fold b after training: no report. A longer re-run skips a and c and resumes b.
    for p in (out / "b" / "report").iterdir():
        p.unlink()
    kept = {d: (out / d / "checkpoints" / "last.ckpt").stat().st_mtime_ns for d in "ac"}
    steps = torch.load(out / "b" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]
    capsys.readouterr()
    train(["--config", _config(tmp_path, 2), "--out_dir", str(out)])
    log = capsys.readouterr().out
    assert "fold 1/3 (a) is complete, skipping" in log
    assert "fold 3/3 (c) is complete, skipping" in log
    assert f"resuming from {out / 'b' / 'checkpoints' / 'last.ckpt'}" in log
    assert {d: (out / d / "checkpoints" / "last.ckpt").stat().st_mtime_ns for d in "ac"} == kept
    last = torch.load(out / "b" / "checkpoints" / "last.ckpt", weights_only=False)
    assert (last["epoch"], last["global_step"]) == (1, 2 * steps)  # one more epoch, not two
    assert (out / "b" / "report" / "metrics.json").exists()

    # evaluate.py --lodo re-evaluates every fold; --eval_domain evaluates on any domain.
    (out / "lodo_summary.csv").unlink()
    evaluate(["--config", _config(tmp_path, 2), "--out_dir", str(out)])
    assert (out / "lodo_summary.csv").exists()
    evaluate(["--config", _config(tmp_path, 2), "--out_dir", str(out / "c"),
              "--eval_domain", "a"])
    metrics = json.loads((out / "c" / "report_a" / "metrics.json").read_text())
    assert metrics["n"] == 60


DEMO = REPO / "configs" / "sleepdifformer" / "demo.yaml"
TINY_SDF = {"d_model": 16, "n_heads": 2, "n_layers": 1, "seq_heads": 2, "seq_mlp_dim": 32}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("val_fraction", ["0.5", "0"])
def test_demo_config_lodo_on_a_tiny_simulated_corpus(tiny_corpus, tmp_path, val_fraction,
                                                     capsys):
    """The demo config, end to end on two simulated sites with the real datamodule; with
    ``val_fraction: 0`` (a refit) each fold is tested with its last epoch, and the note
    about it is printed once, not once per fold."""
    from eegkit.cli.fit import train

    out = tmp_path / "run"
    train(["--config", str(DEMO), "--out_dir", str(out),
           "--data.init_args.domains", json.dumps(corpus_domains(tiny_corpus)),
           "--data.init_args.val_fraction", val_fraction, "--data.init_args.batch_size", "2",
           "--data.init_args.train_batches_per_epoch", "1",
           "--model.init_args.model_kwargs", json.dumps(TINY_SDF),
           "--trainer.max_epochs", "1", "--trainer.limit_val_batches", "1",
           "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"])
    printed = capsys.readouterr().out
    assert printed.count("val_fraction is 0: no validation") == (val_fraction == "0")
    with open(out / "lodo_summary.csv") as f:
        rows = {r["domain"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["sleep_edf", "hmc", "mean", "sd"]
    for site in ("sleep_edf", "hmc"):
        report = out / site / "report"
        metrics = json.loads((report / "metrics.json").read_text())
        assert metrics["n"] == int(rows[site]["n"]) > 0
        assert int(rows[site]["n"]) % 20 == 0  # whole sequences of 20 epochs
        hypnograms = sorted(p.name for p in report.glob("hypnogram_*.png"))
        assert len(hypnograms) == 2 and all(h.startswith(f"hypnogram_{site}_") for h in hypnograms)
    assert float(rows["mean"]["acc"]) == pytest.approx(
        (float(rows["sleep_edf"]["acc"]) + float(rows["hmc"]["acc"])) / 2, abs=1e-6)


SLEEP_CONFIGS = sorted([*(REPO / "configs" / "sleepdifformer").glob("*.yaml"),
                        *(REPO / "configs" / "sleep_baselines").glob("*.yaml")])


@pytest.mark.parametrize("config", SLEEP_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sleep_configs_parse_and_build_their_model(config):
    from eegkit.cli.app import make_cli
    from eegkit.tasks.sleep_staging import SleepStagingTask

    cli = make_cli(["--config", str(config), "--trainer.accelerator", "cpu"])
    assert cli.config["lodo"] is True
    assert cli.config["trainer"]["gradient_clip_val"] == 1.0
    assert cli.config["checkpoint"]["monitor"] == "val/macro_f1"
    assert list(cli.config["data"]["init_args"]["domains"]) == [
        "sleep_edf", "hmc", "isruc", "shhs", "physionet2018"]
    init = dict(cli.config["model"]["init_args"])
    # The model the config names, with its kwargs, at the datamodule's dimensions.
    task = SleepStagingTask(**{**init, "n_chans": 2, "n_outputs": 5, "n_times": 3000,
                               "sfreq": 100.0})
    assert task.net is not None
    if config.name == "paper.yaml":
        assert (init["lr"], init["weight_decay"], init["w_align"], init["w_rec"],
                init["label_smoothing"]) == (5e-4, 5e-5, 0.5, 0.5, 0.1)
        assert cli.config["trainer"]["max_epochs"] == 50
        assert cli.config["data"]["init_args"]["batch_size"] == 16
        assert cli.config["seed_everything"] == 0
    if config.name == "demo_no_align.yaml":
        assert init["w_align"] == 0.0
