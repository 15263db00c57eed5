"""The demo benchmarks: the leave-one-site-out LDA bar and the table over seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eegkit.data.types import STAGES
from tests.benchmarks._load import BENCHMARKS, load_benchmark


@pytest.fixture(scope="module")
def site_shift():
    return load_benchmark("demo_site_shift")


@pytest.fixture(scope="module")
def seeds():
    return load_benchmark("demo_lodo_seeds")


def _site(rng, centre_of, n_per_class=30):
    """One recording: class k around the 2-D point ``centre_of(k)``, small noise."""
    y = np.repeat(np.arange(len(STAGES)), n_per_class)
    x = np.stack([centre_of(k) for k in y]) + 0.01 * rng.standard_normal((len(y), 2))
    return [(x, y)]


def test_lodo_lda_trains_on_the_other_sites_only(site_shift):
    rng = np.random.default_rng(0)
    # a and b code the stage on the first feature, c on the second: a model fitted on a and b
    # only sees c at first feature 0 and calls every epoch W; one that saw c would not.
    features = {"a": _site(rng, lambda k: (k, 0.0)), "b": _site(rng, lambda k: (k, 0.0)),
                "c": _site(rng, lambda k: (0.0, k))}
    folds = site_shift.lodo_lda(features)
    assert list(folds) == ["a", "b", "c"]
    assert folds["c"]["n"] == 5 * 30
    assert np.asarray(folds["c"]["confusion"])[:, 0].tolist() == [30] * 5
    assert folds["c"]["acc"] == pytest.approx(0.2)


def _fold(root: Path, site: str, acc: float, mf1: float, rem: float = 0.5) -> None:
    report = root / site / "report"
    report.mkdir(parents=True)
    per_class = {s: 0.5 for s in STAGES} | {"REM": rem}
    report.joinpath("metrics.json").write_text(json.dumps(
        {"acc": acc, "macro_f1": mf1, "kappa": 0.0, "n": 10, "per_class_f1": per_class}))


def test_seed_table_mean_sd_over_seeds(seeds, tmp_path):
    s0, s1, s2 = (tmp_path / f"seed{s}" for s in range(3))
    _fold(s0, "a", 0.8, 0.6, rem=0.0)
    _fold(s0, "b", 0.6, 0.4, rem=0.0)
    _fold(s1, "a", 0.6, 0.4, rem=0.0)
    _fold(s1, "b", 0.4, 0.2, rem=0.0)
    _fold(s2, "a", 0.7, 0.5, rem=0.0)  # incomplete: counts for site a, not for the average
    table = seeds.seed_table({"model": [s0, s1, s2]})
    header, _, row = table.splitlines()
    assert header.split(" | ")[1:3] == ["a", "b"]
    cells = [c.strip() for c in row.strip("| ").split("|")]
    assert cells[0] == "model"
    assert cells[1] == "70.0 ± 10.0 / 50.0 ± 10.0 (3)"
    assert cells[2] == "50.0 ± 14.1 / 30.0 ± 14.1 (2)"
    assert cells[3] == "60.0 ± 14.1 / 40.0 ± 14.1 (2)"  # site averages 0.7/0.5 and 0.5/0.3
    assert cells[4:] == ["50.0"] * 4 + ["0.0"]  # per-class F1: REM never predicted


def test_train_command_seeds_and_separates_runs(seeds, tmp_path):
    cmd = seeds.train_command("sleepdifformer_no_align", 2, tmp_path, ["--trainer.max_epochs",
                                                                       "1"])
    assert cmd[1:4] == ["train.py", "--config", "configs/sleepdifformer/demo_no_align.yaml"]
    assert cmd[cmd.index("--seed_everything") + 1] == "2"
    assert cmd[cmd.index("--out_dir") + 1] == str(tmp_path / "sleepdifformer_no_align" / "seed2")
    assert cmd[-2:] == ["--trainer.max_epochs", "1"]
    for config, _ in seeds.RUNS.values():
        assert (BENCHMARKS.parent / config).is_file()
