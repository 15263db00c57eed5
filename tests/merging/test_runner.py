"""The LODO merging driver on a tiny in-memory corpus: rows, source-only search, resume, CLI."""

from __future__ import annotations

import json

import pytest

from eegkit.merging import runner
from eegkit.merging.__main__ import main
from tests.merging.test_evolver_search import SpyDataModule

DOMAINS = {name: {} for name in ("a", "b", "c", "d", "e")}


@pytest.fixture
def tiny_run(tmp_path, monkeypatch):
    """A run config over five fake domains with a braindecode baseline and tiny budgets."""
    made, scored, fits = [], [], []

    def datamodule(base, **overrides):
        dm = SpyDataModule(domains=overrides.get("domains", DOMAINS),
                           held_out=overrides.get("held_out"), n_recordings=2, n_sequences=2,
                           seq_len=4, n_times=300, sfreq=10.0)
        made.append(dm)
        return dm

    real_scorer, real_fit = runner.validation_scorer, runner._fit

    def scorer(module, dm, **kwargs):
        scored.append(dm)
        return real_scorer(module, dm, **kwargs)

    def fit(task, dm, base, steps):
        fits.append(steps)
        real_fit(task, dm, base, steps)

    monkeypatch.setattr(runner, "_datamodule", datamodule)
    monkeypatch.setattr(runner, "validation_scorer", scorer)
    monkeypatch.setattr(runner, "_fit", fit)
    config = {
        "base_config": {"model": {"init_args": {"model": "chambon2018_seq", "lr": 0.003}},
                        "data": {"init_args": {"domains": DOMAINS}},
                        "trainer": {"gradient_clip_val": 1.0}},
        "out_dir": str(tmp_path / "run"), "multisource_steps": 2, "finetune_steps": 1,
        "head_prefixes": ["epoch_model.final_layer."], "metric": "acc", "recompute_batches": 1,
        "merges": {
            "avg": {"method": "average", "head": "ancestor"},
            "ties": {"method": "ties", "density": 0.5},
            "pcb": {"method": "pcb", "ratio": 0.2, "norm": "recompute"},
            "ta searched": {"method": "task_arithmetic", "search": {"max_evals": 3}},
            "ta per layer": {"method": "task_arithmetic",
                             "search": {"max_evals": 3, "layer_depth": 2}},
            "evolver": {"method": "average", "evolver": {"steps": 1}},
        },
        "folds": ["b"],
    }
    return config, made, scored, fits


def test_fold_reports_every_row_and_searches_on_source_validation_only(tiny_run):
    config, made, scored, fits = tiny_run
    results = runner.run(config)["b"]
    rows = results["rows"]
    assert set(rows) == {"multi-source", "output ensemble", "avg", "ties", "pcb",
                         "ta searched", "ta per layer", "evolver",
                         *(f"per-domain: {d}" for d in ("a", "c", "d", "e"))}
    assert all(0 <= m["acc"] <= 1 and m["n"] == 2 * 2 * 4 for m in rows.values())
    assert fits == [2, 1, 1, 1, 1]  # one multi-source model, one fine-tune per source domain
    # every fine-tune saw one source domain and no held-out domain
    assert [list(dm.domain_names) for dm in made[1:5]] == [["a"], ["c"], ["d"], ["e"]]
    # the searches' data: validation batches of the source domains, never of "b"
    assert scored and all(dm.held_out == "b" for dm in scored)
    held = list(DOMAINS).index("b")
    assert all(dm.served["val"] and held not in dm.served["val"] for dm in scored)
    assert results["search"]["ta searched"]["evals"] == 3
    assert len(results["search"]["ta searched"]["x"]) == 4  # one λ per source model
    # epoch_model.{spatial_conv, feature_extractor, final_layer}: one λ per layer and model
    assert len(results["search"]["ta per layer"]["x"]) == 3 * 4
    assert results["search"]["evolver"]["offspring"] == 4


def test_interrupted_fold_reuses_trained_networks_and_complete_folds_are_skipped(tiny_run,
                                                                                 capsys):
    config, made, scored, fits = tiny_run
    first = runner.run(config)
    (runner.Path(config["out_dir"]) / "b" / runner.RESULTS).unlink()  # interrupted after training
    fits.clear()
    again = runner.run(config)
    assert fits == []  # multisource.pt and finetuned_*.pt were reused
    assert again["b"]["rows"]["multi-source"] == first["b"]["rows"]["multi-source"]
    runner.run(config)
    assert "complete, skipping" in capsys.readouterr().out


def test_table_cli_prints_methods_by_fold_with_the_mean(tiny_run, tmp_path, capsys):
    config, *_ = tiny_run
    runner.run(config)
    out = tmp_path / "table.md"
    main(["table", f"tiny={config['out_dir']}", "--out", str(out)])
    text = capsys.readouterr().out
    assert "| method | b | mean |" in text
    for row in ("multi-source", "output ensemble", "ties", "per-domain (mean)",
                "per-domain (oracle best)"):
        assert f"| {row} |" in text
    assert "| method | b | mean |" in out.read_text()
    saved = json.loads((tmp_path / "run" / "b" / "results.json").read_text())
    acc, f1 = saved["rows"]["ties"]["acc"], saved["rows"]["ties"]["macro_f1"]
    assert f"| ties | {100 * acc:.1f} / {100 * f1:.1f} | {100 * acc:.1f} / {100 * f1:.1f} |" in text
