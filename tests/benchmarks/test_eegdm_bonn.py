"""benchmarks/eegdm_bonn.py: every model is stopped by the same delayed early-stopping rule."""

from __future__ import annotations

import argparse

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from tests.benchmarks._load import load_benchmark


@pytest.fixture(scope="module")
def eegdm_bonn():
    return load_benchmark("eegdm_bonn")


class _FlatKappa(L.LightningModule):
    """Logs the same validation κ every epoch, so only the stopping rule ends training."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val/kappa", 0.5)

    def test_step(self, batch, batch_idx):
        self.log("test/kappa", 0.5)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class _Data(L.LightningDataModule):
    def _loader(self):
        return DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4)

    train_dataloader = val_dataloader = test_dataloader = _loader


def _epochs(eegdm_bonn, tmp_path, start_epoch):
    args = argparse.Namespace(max_epochs=30, patience=2, start_epoch=start_epoch, balanced=False)
    result = eegdm_bonn.fit_and_test(args, _FlatKappa(), _Data(), tmp_path / str(start_epoch))
    assert result["kappa"] == pytest.approx(0.5)
    return result["epochs"]


def test_early_stopping_counts_patience_from_the_start_epoch(eegdm_bonn, tmp_path):
    plain = _epochs(eegdm_bonn, tmp_path, start_epoch=0)
    delayed = _epochs(eegdm_bonn, tmp_path, start_epoch=7)
    assert plain < 30  # a flat κ stops training after the patience
    assert delayed - plain == 7


class _TwoScores(_FlatKappa):
    """Validation κ best at epoch 1, balanced accuracy best at epoch 3."""

    def validation_step(self, batch, batch_idx):
        epoch = self.current_epoch
        self.log("val/kappa", [0.9, 0.2, 0.3, 0.1, 0.1, 0.1][epoch])
        self.log("val/bacc", [0.5, 0.6, 0.9, 0.7, 0.7, 0.7][epoch])


@pytest.mark.parametrize(("balanced", "best_epoch"), [(False, 1), (True, 3)])
def test_balanced_runs_stop_and_keep_the_best_validation_bacc(eegdm_bonn, tmp_path, balanced,
                                                               best_epoch):
    args = argparse.Namespace(max_epochs=6, patience=2, start_epoch=0, balanced=balanced)
    result = eegdm_bonn.fit_and_test(args, _TwoScores(), _Data(), tmp_path / str(balanced))
    assert result["best_epoch"] == best_epoch
    assert result["epochs"] == best_epoch + 2  # stopped after the patience


def test_the_defaults_are_the_papers_stopping_rule(eegdm_bonn, monkeypatch, tmp_path):
    monkeypatch.setattr("sys.argv", ["eegdm_bonn.py", "--data", str(tmp_path)])
    args = eegdm_bonn.parse_args()
    assert (args.max_epochs, args.patience, args.start_epoch) == (50, 3, 20)


def _tiny_bonn(tmp_path):
    rng = np.random.default_rng(0)
    for s in "ZONFS":
        (tmp_path / "bonn" / s).mkdir(parents=True)
        for i in range(1, 5):
            (tmp_path / "bonn" / s / f"{s}{i:03d}.txt").write_text(
                "".join(f"{v}\n" for v in rng.integers(-500, 500, 4097)))
    return argparse.Namespace(data=tmp_path / "bonn", width=8, d_state=8, blocks=2,
                              pretrain_lr=2e-3)


def test_a_backbone_checkpoint_of_the_same_settings_is_reused(eegdm_bonn, tmp_path):
    """An interrupted run resumes after its finished backbones; other settings retrain."""
    args = _tiny_bonn(tmp_path)
    ckpt = tmp_path / "split0" / "backbone-random.ckpt"
    assert eegdm_bonn.backbone_checkpoint(args, 0, 0, ckpt) is not None  # written
    assert eegdm_bonn.backbone_checkpoint(args, 0, 0, ckpt) is None  # same settings: kept
    assert eegdm_bonn.backbone_checkpoint(args, 1, 0, ckpt) is not None  # another split
    args.width = 16
    assert eegdm_bonn.backbone_checkpoint(args, 1, 0, ckpt) is not None  # another width
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # cut short by an interrupted write
    assert eegdm_bonn.backbone_checkpoint(args, 1, 0, ckpt) is not None


def test_a_shorter_pretraining_is_continued_not_restarted(eegdm_bonn, tmp_path, capsys):
    args = _tiny_bonn(tmp_path)
    ckpt = tmp_path / "split0" / "backbone-pretrained.ckpt"
    eegdm_bonn.backbone_checkpoint(args, 0, 2, ckpt)
    two = torch.load(ckpt, map_location="cpu", weights_only=False)
    eegdm_bonn.backbone_checkpoint(args, 0, 3, ckpt)
    assert "continuing" in capsys.readouterr().out
    three = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert three["global_step"] == 3
    changed = [k for k, v in two["state_dict"].items()
               if not torch.equal(v, three["state_dict"][k])]
    assert changed  # one more optimiser step moved the weights
    assert not list(ckpt.parent.glob("*.partial"))  # written by rename
    eegdm_bonn.backbone_checkpoint(args, 0, 3, ckpt)  # now complete: kept
    assert "continuing" not in capsys.readouterr().out
    loss = eegdm_bonn.validation_loss(args, 0, ckpt)
    assert np.isfinite(loss) and loss == eegdm_bonn.validation_loss(args, 0, ckpt)  # fixed noise


def test_an_interrupted_pretraining_continues_from_its_last_save(eegdm_bonn, tmp_path,
                                                                 monkeypatch, capsys):
    args = _tiny_bonn(tmp_path)
    ckpt = tmp_path / "split0" / "backbone-pretrained.ckpt"

    class _PowerCut(eegdm_bonn.SaveEvery):
        def on_train_batch_end(self, trainer, *rest):
            super().on_train_batch_end(trainer, *rest)
            if trainer.global_step == 3:
                raise RuntimeError("power cut")

    monkeypatch.setattr(eegdm_bonn, "SAVE_EVERY", 2)
    with monkeypatch.context() as m:
        m.setattr(eegdm_bonn, "SaveEvery", _PowerCut)
        with pytest.raises(RuntimeError, match="power cut"):
            eegdm_bonn.backbone_checkpoint(args, 0, 5, ckpt)
    assert torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"] == 2
    eegdm_bonn.backbone_checkpoint(args, 0, 5, ckpt)
    assert "from step 2 to 5" in capsys.readouterr().out
    assert torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"] == 5
    assert not list(ckpt.parent.glob("*.partial"))


def test_segment_scores_average_the_windows_of_each_test_segment(eegdm_bonn):
    class _Data:  # what test_predictions reads of a window datamodule: the test segments
        windows = argparse.Namespace(group=np.array(["Z001", "Z001", "S001", "S001", "S002"]))
        split_index = {"test": np.array([0, 1, 2, 3, 4])}

        @staticmethod
        def test_dataloader():
            return [None]

    class _Task:  # window probabilities, as predict_step returns them
        proba = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.0, 1.0], [0.3, 0.7]])

        def eval(self):
            return self

        def predict_step(self, batch, batch_idx):
            return {"proba": self.proba, "y_true": torch.tensor([0, 0, 1, 1, 1])}

    predictions = eegdm_bonn.test_predictions(_Task(), _Data())
    scores = eegdm_bonn.prediction_scores(*predictions)
    # Z001 averages to [0.55, 0.45] (right); S001 to [0.3, 0.7] and S002 [0.3, 0.7] (right)
    assert scores["segment_kappa"] == pytest.approx(1.0)
    assert scores["segment_bacc"] == pytest.approx(1.0)
    # per window: Z001's second window and S001's first are wrong: BAcc (1/2 + 2/3) / 2
    assert scores["bacc"] == pytest.approx(7 / 12)
    # per window: seizure probabilities S 0.4, 1.0, 0.7 vs Z 0.1, 0.8 order 4 of 6 pairs right
    assert scores["auroc"] == pytest.approx(4 / 6)
    # the test loop's window metrics win over the recomputed ones; segment scores are added
    tested = {"kappa": scores["kappa"], "bacc": 0.5, "epochs": 3}
    result, kept = eegdm_bonn.scored(tested, predictions)
    assert result["bacc"] == 0.5 and result["segment_kappa"] == pytest.approx(1.0)
    assert kept is predictions
    with pytest.raises(RuntimeError, match="not the tested model's"):
        eegdm_bonn.scored({**tested, "kappa": scores["kappa"] + 0.1}, predictions)


def test_an_ensemble_scores_the_mean_probabilities_of_its_models(eegdm_bonn):
    y, segments = torch.tensor([0, 0, 1, 1]), np.array(["a", "b", "c", "d"])
    # each model gets one window wrong, the averaged probabilities get all four right
    first = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    second = torch.tensor([[0.4, 0.6], [0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    for proba in (first, second):
        assert eegdm_bonn.prediction_scores(proba, y, segments)["bacc"] == pytest.approx(0.75)
    scores = eegdm_bonn.ensemble_scores([(first, y, segments), (second, y, segments)])
    assert scores["kappa"] == pytest.approx(1.0) and scores["segment_bacc"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="different windows"):
        eegdm_bonn.ensemble_scores([(first, y, segments), (second, y.flip(0), segments)])


def test_seed_ensemble_rows_are_named_and_rerun_with_the_seed_count(eegdm_bonn, monkeypatch,
                                                                     tmp_path):
    monkeypatch.setattr("sys.argv", ["eegdm_bonn.py", "--data", str(tmp_path), "--seeds", "3",
                                     "--refit"])
    args = eegdm_bonn.parse_args()
    assert eegdm_bonn.title("pretrained-refit-ensemble", 3) == (
        "EEGDM, pretrained backbone, refit on train + val, ensemble of 3 seeds")
    command = eegdm_bonn.command_for(args, "pretrained-refit-ensemble", "5class")
    assert "--only pretrained --task 5class --seeds 3" in command and command.endswith("--refit")
    monkeypatch.setattr("sys.argv", ["eegdm_bonn.py", "--data", str(tmp_path)])
    assert "--seeds" not in eegdm_bonn.command_for(eegdm_bonn.parse_args(), "eegnet", "5class")
    monkeypatch.setattr("sys.argv", ["eegdm_bonn.py", "--data", str(tmp_path), "--seeds", "0"])
    with pytest.raises(SystemExit):
        eegdm_bonn.parse_args()


@pytest.mark.parametrize(("lft", "expected"), [
    ("cpu", {"n_fusion_tokens": 4, "n_heads": 4, "ffn_dim": 128, "n_cls_blocks": 2}),
    ("paper", {"n_fusion_tokens": 16, "n_heads": 8, "ffn_dim": 256, "n_cls_blocks": 8}),
])
def test_the_lft_shape_is_chosen_by_name_and_recorded_in_the_command(eegdm_bonn, monkeypatch,
                                                                      tmp_path, lft, expected):
    monkeypatch.setattr("sys.argv", ["eegdm_bonn.py", "--data", str(tmp_path), "--lft", lft])
    args = eegdm_bonn.parse_args()
    assert eegdm_bonn.lft_kwargs(args) == expected  # FFN width: ratio x backbone width 64
    command = eegdm_bonn.command_for(args, "pretrained", "5class")
    assert f"--lft {lft} --lft-lr 0.001" in command


class _NoValidationData(L.LightningDataModule):
    """A refit's data: training and test windows, no validation split."""

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4)

    test_dataloader = train_dataloader

    def val_dataloader(self):
        return []


def test_a_refit_trains_the_chosen_epochs_and_tests_the_last(eegdm_bonn, tmp_path):
    """No validation κ to watch: the refit runs exactly the epochs its validated run chose
    (2 steps each) and is tested with the weights it ends with, no checkpoint reloaded."""
    args = argparse.Namespace(max_epochs=30, patience=2, start_epoch=0, balanced=False)
    task = _FlatKappa()
    result = eegdm_bonn.fit_and_test(args, task, _NoValidationData(), tmp_path / "refit",
                                     refit_epochs=4)
    assert (result["epochs"], result["best_epoch"]) == (4, 4)
    assert task.trainer.global_step == 8 and result["kappa"] == pytest.approx(0.5)
    assert not list((tmp_path / "refit").rglob("*.ckpt"))


def test_refit_rows_are_named_and_rerun_with_the_flag(eegdm_bonn, monkeypatch, tmp_path):
    monkeypatch.setattr("sys.argv", ["eegdm_bonn.py", "--data", str(tmp_path), "--refit"])
    args = eegdm_bonn.parse_args()
    assert args.refit
    assert eegdm_bonn.title("pretrained-refit") == ("EEGDM, pretrained backbone, refit on "
                                                    "train + val")
    assert eegdm_bonn.title("eegnet") == "EEGNet (braindecode)"
    refit = eegdm_bonn.command_for(args, "eegnet-refit", "5class")
    assert "--only eegnet --task 5class" in refit and refit.endswith("--refit")
    assert "--refit" not in eegdm_bonn.command_for(args, "eegnet", "5class")


def _run(kappa, seconds):
    """One kept row: one run whose every metric is ``kappa``."""
    metrics = dict.fromkeys(("kappa", "bacc", "weighted_f1", "segment_kappa", "segment_bacc",
                             "segment_weighted_f1"), kappa)
    return {"runs": [{**metrics, "epochs": 25, "best_epoch": 22}], "seconds": seconds}


def test_splits_run_apart_make_one_table_with_report(eegdm_bonn, monkeypatch, tmp_path, capsys):
    """Each process keeps its split's rows; --report combines them and trains nothing."""
    argv = ["eegdm_bonn.py", "--data", str(tmp_path), "--out", str(tmp_path / "out"),
            "--task", "5class", "--only", "pretrained", "random", "--splits", "0", "1"]
    monkeypatch.setattr("sys.argv", argv)
    args = eegdm_bonn.parse_args()
    for split, kappa in ((0, 0.8), (1, 0.9)):  # two processes, one row each
        eegdm_bonn.save_results(args, split, "5class", {"pretrained": _run(kappa, 10.0)})
        eegdm_bonn.save_results(args, split, "5class", {"random": _run(kappa - 0.1, 5.0)})
    assert not list((tmp_path / "out").rglob("*.partial"))  # written by rename
    results, timings = eegdm_bonn.kept_results(args, ["pretrained", "random"])
    assert [r["kappa"] for r in results["5class"]["pretrained"]] == [0.8, 0.9]
    assert [r["kappa"] for r in results["5class"]["random"]] == pytest.approx([0.7, 0.8])
    assert timings == {("5class", "pretrained"): 20.0, ("5class", "random"): 10.0}

    monkeypatch.setattr("sys.argv", [*argv, "--report"])
    eegdm_bonn.main()
    out = capsys.readouterr().out
    assert "| EEGDM, pretrained backbone | 85.00 ± 7.07 |" in out
    assert "pretraining gain (pretrained − random init, per run, mean ± sd): kappa +10.00" in out

    monkeypatch.setattr("sys.argv", [*argv, "--report", "--splits", "0", "1", "2"])  # no 2
    with pytest.raises(SystemExit, match=r"split2/5class/results.json: .* run split 2"):
        eegdm_bonn.main()
    args.width = 128  # the kept rows are another backbone's
    with pytest.raises(SystemExit, match="split0/5class/results.json: kept with other settings"):
        eegdm_bonn.kept_results(args, ["pretrained"])
    eegdm_bonn.save_results(args, 0, "5class", {"pretrained": _run(0.5, 1.0)})  # replaces
    assert eegdm_bonn.read_results(args, 0, "5class") == {"pretrained": _run(0.5, 1.0)}
