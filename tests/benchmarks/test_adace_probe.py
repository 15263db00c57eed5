"""benchmarks/adace_probe.py: the logistic probe and the once-only feature cache."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.benchmarks._load import load_benchmark

adace_probe = load_benchmark("adace_probe")


def _blobs(n: int, seed: int):
    """Three Gaussian classes in 4-d, separable, with a large offset and scale."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[4.0, 0, 0, 0], [0, 4.0, 0, 0], [0, 0, 4.0, 0]])
    # float32, as the cached features are
    return ((centres[y] + rng.standard_normal((n, 4))) * 50 + 1e3).astype(np.float32), y


def test_logistic_probe_separates_classes_and_picks_l2_on_validation():
    split = {s: _blobs(n, seed) for s, n, seed in (("train", 120, 0), ("val", 60, 1),
                                                     ("test", 90, 2))}
    result = adace_probe.probe(split, 3, [1e-4, 10.0], ["a", "b", "c"])
    assert result["test"]["n"] == 90  # the whole test split
    assert result["test"]["acc"] > 0.95
    assert result["l2"] == 1e-4  # a huge penalty flattens the logits and loses on validation


def test_fit_logistic_matches_the_optimum_gradient():
    x, y = _blobs(80, 3)
    x = torch.as_tensor((x - x.mean(0)) / x.std(0), dtype=torch.float64)
    w, b = adace_probe.fit_logistic(x, y, 3, l2=1e-2)
    w, b = w.requires_grad_(), b.requires_grad_()
    loss = (torch.nn.functional.cross_entropy(x @ w + b, torch.as_tensor(y))
            + 1e-2 * (w ** 2).sum())
    loss.backward()
    assert w.grad.abs().max() < 1e-4 and b.grad.abs().max() < 1e-4


class _CountingModel(torch.nn.Module):
    """Mean and std of each window as its 'features'; counts the windows it encodes."""

    calls = 0

    def forward_features(self, x):
        _CountingModel.calls += len(x)
        return torch.stack([x.mean((1, 2)), x.std((1, 2))], dim=1)


def test_features_are_extracted_once_and_cached(tmp_path, monkeypatch):
    from eegkit.data.datamodules.windows import WindowDataset

    n = 10
    X = np.random.default_rng(0).standard_normal((n, 2, 8)).astype(np.float32)
    train = WindowDataset(X, np.zeros(n, int), np.zeros(n, int), np.arange(6),
                          np.zeros((2, 1), np.float32), np.ones((2, 1), np.float32))
    dm = SimpleNamespace(_datasets={"train": train},
                         hparams=SimpleNamespace(dataset="toy", path="toy", reader_kwargs=None))
    monkeypatch.setattr(adace_probe, "adapter_model", lambda *a: _CountingModel())
    opts = SimpleNamespace(image_size=8, text_pool=1, bonn_text_pool=1, max_length=16,
                           batch_size=4, cache=str(tmp_path))
    arrays, meta = adace_probe.cached_features("image", dm, opts)
    assert arrays["X"].shape == (n, 2) and _CountingModel.calls == n  # every window, not split
    again, _ = adace_probe.cached_features("image", dm, opts)
    assert _CountingModel.calls == n and np.array_equal(again["X"], arrays["X"])
    assert np.allclose(arrays["X"][:, 0], X.mean((1, 2)), atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers
    assert "extract_s" in meta


@pytest.mark.parametrize("task", sorted(adace_probe.TASKS))
def test_every_task_has_a_feature_task_for_its_dataset(task):
    assert adace_probe.TASKS[task][0]["dataset"] in adace_probe.FEATURE_TASK


@pytest.mark.parametrize("run", ["har-official/eegnet", "bonn-group/eegnet",
                                 "bonn-group/eegnet-refit",
                                 "har-random/image-partial", "bonn-group/text-partial",
                                 "har-official/image-full", "har-official/image-full-refit",
                                 "har-official/image-full-soup",
                                 "har-official/image-full-refit-seeds-soup"])
def test_results_runs_parse_with_early_stopping_or_their_finetuning(run, tmp_path,
                                                                      monkeypatch):
    from lightning.pytorch.callbacks import EarlyStopping

    from eegkit.cli.app import make_cli

    results = load_benchmark("adace_results")
    opts = SimpleNamespace(har=str(tmp_path), bonn=str(tmp_path), eegnet_epochs=200,
                           patience=10, epochs=1, blocks=2, image_size=84, seed=3)
    config, overrides, _ = results.runs(opts)[run]
    monkeypatch.setattr("sys.argv", ["train.py"])
    cli = make_cli(["--config", config, *overrides, "--out_dir", str(tmp_path)])
    assert cli.config["seed_everything"] == 3
    stops = [c for c in cli.trainer.callbacks if isinstance(c, EarlyStopping)]
    if run.endswith("refit"):  # every training subject, a checkpoint per epoch
        assert cli.datamodule.hparams.val_fraction == 0
        ckpt = cli.trainer.checkpoint_callback
        assert ckpt.monitor is None and ckpt.save_top_k == -1
        assert cli.trainer.limit_val_batches == 0
        assert not stops  # stopped by StopAfterEpoch at the epoch chosen with validation
    if "eegnet" in run:  # the refit keeps the schedule of the run with early stopping
        assert cli.trainer.max_epochs == 200
        if not run.endswith("refit"):
            assert len(stops) == 1 and stops[0].monitor == "val/macro_f1"
            assert stops[0].patience == 10
    else:
        kwargs = cli.model.hparams.model_kwargs
        if "full" in run:
            assert kwargs["finetune"] == "full" and kwargs["image_size"] == 84
            return
        assert kwargs["finetune"] == "partial" and kwargs["trainable_blocks"] == 2


def test_refit_is_tested_at_the_epoch_validation_chose(tmp_path):
    results = load_benchmark("adace_results")
    with pytest.raises(SystemExit, match="run har-official/image-full first"):
        results.chosen_epoch(tmp_path, "har-official/image-full")
    ckpts = tmp_path / "har-official_image-full" / "checkpoints"
    ckpts.mkdir(parents=True)
    for name in ("best-epoch=002.ckpt", "last.ckpt"):
        (ckpts / name).touch()
    assert results.chosen_epoch(tmp_path, "har-official/image-full") == 2
    assert results.checkpoint_epoch("x/epoch=011.ckpt") == 11
    assert results.checkpoint_epoch("last.ckpt") is None


@pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
def test_soup_and_ensemble_combine_the_run_and_its_refit(tmp_path, monkeypatch):
    """The soup averages the two models' weights (integer BatchNorm counters included), the
    ensemble their class probabilities; both on the whole test split, neither trains. Every
    model sees the test windows standardised as in its own training (the refit's statistics
    come from train + val)."""
    from eegkit.cli.app import make_cli
    from eegkit.cli.fit import train
    from tests.cli.test_fit_evaluate import CONFIG, TINY
    from tests.data.readers.test_window_readers import write_har

    results = load_benchmark("adace_results")
    monkeypatch.setattr("sys.argv", ["benchmarks/adace_results.py"])
    layout = {"train": [s for s in (1, 3, 5, 6) for _ in range(4)], "test": [2] * 5}
    data = ["--data.init_args.path", str(write_har(tmp_path, np.random.default_rng(0), layout)),
            "--data.init_args.batch_size", "4"]
    out = tmp_path / "runs"
    with pytest.raises(SystemExit, match="run har-official/image-full first"):
        results.combine_one("har-official/image-full-soup", str(CONFIG), data, out)
    full, refit = out / "har-official_image-full", out / "har-official_image-full-refit"
    train(args=["--config", str(CONFIG), *data, "--out_dir", str(full), *TINY,
                "--trainer.max_epochs", "1"])
    with pytest.raises(SystemExit, match="missing.*epoch=000.ckpt"):
        results.combine_one("har-official/image-full-soup", str(CONFIG), data, out)
    train(args=["--config", str(CONFIG), *data, "--out_dir", str(refit), *TINY,
                "--trainer.max_epochs", "1", "--seed_everything", "1",
                "--data.init_args.val_fraction", "0"])
    ckpts = results.combined_checkpoints(out, "har-official/image-full-ensemble")
    assert [p.name for p in ckpts] == ["best-epoch=000.ckpt", "epoch=000.ckpt"]

    cli = make_cli(["--config", str(CONFIG), *data, "--out_dir", str(tmp_path / "p"),
                    *results.QUIET])
    task_cls, dm = type(cli.model), cli.datamodule

    def as_trained(path):  # test probabilities of the checkpoint, its own statistics
        model = task_cls.load_from_checkpoint(path, map_location="cpu")
        dm.standardise_as(model.hparams.preprocessing)
        return results.predict_proba(cli.trainer, model, dm)

    full_stats, refit_stats = (task_cls.load_from_checkpoint(c).hparams.preprocessing
                               for c in ckpts)
    assert not dm.standardise_as(full_stats)  # the run with validation: this split's own
    assert dm.standardise_as(refit_stats)  # the refit's: train + val
    (y, p_full), (_, p_refit) = (as_trained(c) for c in ckpts)
    assert not torch.allclose(p_full, p_refit)  # two different models
    y_ens, p_ens = results.combine("ensemble", ckpts, cli.trainer, dm, task_cls)
    assert torch.equal(y_ens, y) and torch.allclose(p_ens, (p_full + p_refit) / 2)

    # the soup: the two models' weights averaged (integer counters: the first model's)
    states = [torch.load(p, map_location="cpu", weights_only=False)["state_dict"]
              for p in ckpts]
    model = task_cls.load_from_checkpoint(ckpts[0], map_location="cpu")
    model.load_state_dict({k: (v + states[1][k]) / 2 if v.is_floating_point() else v
                           for k, v in states[0].items()})
    dm.standardise_as(full_stats)  # the soup keeps the first model's statistics
    _, expected = results.predict_proba(cli.trainer, model, dm)
    _, p_soup = results.combine("soup", ckpts, cli.trainer, dm, task_cls, tmp_path / "soup.ckpt")
    assert torch.allclose(p_soup, expected, atol=1e-6)
    assert not torch.allclose(p_soup, p_ens, atol=1e-5)  # not the ensemble (near-uniform)

    row = results.combine_one("har-official/image-full-soup", str(CONFIG), data, out)
    assert (out / "har-official_image-full-soup" / "checkpoints" / "soup.ckpt").is_file()
    assert row["test_windows"] == 5 and row["train_steps"] == 0
    assert row["tested_epoch"] == "0/0"
    assert row["accuracy"] == pytest.approx(float((p_soup.argmax(-1) == y).float().mean()))
    assert "--har" in row["command"] and "--only har-official/image-full-soup" in row["command"]

    # across seeds: the refit of each --seed-dirs folder, at the epoch its own run chose
    seeds = "har-official/image-full-refit-seeds-ensemble"
    with pytest.raises(SystemExit, match="--seed-dirs"):
        results.combine_one(seeds, str(CONFIG), data, out, [out])
    other = tmp_path / "seed2"
    for run, extra in (("har-official_image-full", []),
                       ("har-official_image-full-refit", ["--data.init_args.val_fraction", "0"])):
        train(args=["--config", str(CONFIG), *data, "--out_dir", str(other / run), *TINY,
                    "--trainer.max_epochs", "1", "--seed_everything", "2", *extra])
    refits = results.combined_checkpoints(out, seeds, [out, other])
    assert refits == [ckpts[1], other / "har-official_image-full-refit/checkpoints/epoch=000.ckpt"]
    _, p_other = as_trained(refits[1])
    row = results.combine_one(seeds, str(CONFIG), data, out, [out, other])
    expected = ((p_refit + p_other) / 2).argmax(-1)
    assert row["accuracy"] == pytest.approx(float((expected == y).float().mean()))
    assert f"--seed-dirs {out} {other}" in row["command"]
    # or the validated image-full model of each seed, no refit
    validated = results.combined_checkpoints(out, "har-official/image-full-seeds-ensemble",
                                             [out, other])
    assert validated == [ckpts[0],
                         other / "har-official_image-full/checkpoints/best-epoch=000.ckpt"]
    _, p_validated = as_trained(validated[1])
    row = results.combine_one("har-official/image-full-seeds-ensemble", str(CONFIG), data, out,
                              [out, other])
    expected = ((p_full + p_validated) / 2).argmax(-1)
    assert row["accuracy"] == pytest.approx(float((expected == y).float().mean()))
