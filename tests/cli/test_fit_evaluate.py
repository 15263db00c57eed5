"""train.py / evaluate.py end to end on a baseline config and real UCI HAR (tiny limits); the
``eegkit`` console script, bundled configs by name, and the output a person reads."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from eegkit.cli.evaluate import evaluate
from eegkit.cli.fit import train
from eegkit.data.types import DataError
from tests.conftest import REPO

CONFIG = REPO / "configs" / "baselines" / "uci_har_eegnet.yaml"
TINY = ["--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--trainer.logger", "false", "--trainer.accelerator", "cpu"]


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
def test_train_evaluate_and_resume_uci_har(shared_data, tmp_path, capsys):
    har = shared_data / "uci-har" / "UCI HAR Dataset.zip"
    common = ["--config", str(CONFIG), "--data.init_args.path", str(har),
              "--out_dir", str(tmp_path), *TINY]
    cli = train(args=[*common, "--trainer.max_epochs", "1"])
    assert cli.datamodule.n_chans == 9 and cli.datamodule.n_outputs == 6
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert last.is_file() and list((tmp_path / "checkpoints").glob("best-*.ckpt"))
    first = torch.load(last, map_location="cpu", weights_only=False)
    assert (first["epoch"], first["global_step"]) == (0, 3)

    summary = evaluate(args=[*common, "--ckpt_path", str(last)])
    report = tmp_path / "report"
    assert (report / "confusion_matrix.png").stat().st_size > 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["n"] == summary["n"] == 2947  # the official test subjects
    assert len(metrics["per_class_f1"]) == 6 and 0.0 <= metrics["acc"] <= 1.0

    capsys.readouterr()
    resumed = train(args=[*common, "--trainer.max_epochs", "2"])
    assert "[eegkit] resuming from" in capsys.readouterr().out
    assert resumed.trainer.ckpt_path == str(last)
    second = torch.load(last, map_location="cpu", weights_only=False)
    assert (second["epoch"], second["global_step"]) == (1, 6)  # continued, not restarted


@pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
def test_refit_without_validation_keeps_a_checkpoint_per_epoch(tmp_path, capsys):
    from tests.data.readers.test_window_readers import write_har

    layout = {"train": [s for s in (1, 3, 5, 6) for _ in range(4)], "test": [2] * 3}
    har = write_har(tmp_path, np.random.default_rng(0), layout)
    out = tmp_path / "refit"
    common = ["--config", str(CONFIG), "--data.init_args.path", str(har),
              "--data.init_args.val_fraction", "0", "--data.init_args.batch_size", "4",
              "--out_dir", str(out), *TINY]
    cli = train(args=[*common, "--trainer.max_epochs", "2", "--checkpoint.save_top_k", "-1"])
    printed = capsys.readouterr().out
    assert "val_fraction is 0" in printed
    assert [ln.split(":")[0] for ln in printed.splitlines() if ln.startswith("[eegkit] epoch")] \
        == ["[eegkit] epoch 1/2", "[eegkit] epoch 2/2"]  # one line per epoch, no validation
    assert len(cli.datamodule.split_index["train"]) == 16  # every training subject
    ckpts = sorted(p.name for p in (out / "checkpoints").glob("*.ckpt"))
    assert ckpts == ["epoch=000.ckpt", "epoch=001.ckpt", "last.ckpt"]
    capsys.readouterr()
    refit_metrics = evaluate(args=common)
    assert refit_metrics["n"] == 3  # the whole test split, with the last epoch
    printed = capsys.readouterr().out
    assert "evaluating its last epoch, epoch=001.ckpt" in printed
    assert "standardised with the checkpoint's" not in printed
    # the config with a validation split standardises with other statistics: the
    # checkpoint's own (train + val) are used, so the predictions are the same
    at = common.index("--data.init_args.val_fraction")
    with_val = common[:at] + common[at + 2:]
    again = evaluate(args=[*with_val, "--ckpt_path", str(out / "checkpoints" / "last.ckpt")])
    assert "last.ckpt: inputs standardised with the checkpoint's" in capsys.readouterr().out
    assert again["confusion"] == refit_metrics["confusion"]
    summary = evaluate(args=[*common, "--ckpt_path", str(out / "checkpoints" / ckpts[0])])
    assert summary["n"] == 3
    cut = tmp_path / "cut.ckpt"  # an interrupted copy: named, before Lightning reads it
    cut.write_bytes((out / "checkpoints" / ckpts[0]).read_bytes()[:1000])
    with pytest.raises(DataError, match="cut.ckpt: not a readable checkpoint"):
        evaluate(args=[*common, "--ckpt_path", str(cut)])
    for name in ckpts:
        (out / "checkpoints" / name).unlink()
    with pytest.raises(SystemExit, match="no best-\\*.ckpt or epoch=\\*.ckpt"):
        evaluate(args=common)


# --- the eegkit console script, bundled configs, readable output ------------------------------
def test_bundled_configs_resolve_by_name_and_paths_stay_paths(tmp_path, monkeypatch):
    from eegkit.utils.resources import resolve_config

    demo = REPO / "configs" / "sleepdifformer" / "demo.yaml"
    for name in ("demo", "demo.yaml", "sleepdifformer/demo", "sleepdifformer/demo.yaml"):
        assert resolve_config(name).read_bytes() == demo.read_bytes()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").write_text("trainer: {}\n")  # a file of that name wins over the bundle
    assert resolve_config("demo") == Path("demo")
    with pytest.raises(FileNotFoundError, match="ambiguous.*merging/demo_chambon2018"):
        resolve_config("demo_chambon2018")
    with pytest.raises(FileNotFoundError, match="'nope' is neither a file nor a bundled config"):
        resolve_config("nope")


def test_config_names_in_arguments_become_paths_and_the_demo_gets_its_corpus(monkeypatch):
    from eegkit.cli import app as cli

    made = []
    monkeypatch.setattr("eegkit.cli.app.ensure_corpus", lambda root: made.append(root))
    har = cli.resolve_config_args(["--config", "uci_har_eegnet", "--trainer.max_epochs", "1"])
    assert har == ["--config", str(CONFIG), "--trainer.max_epochs", "1"] and made == []
    demo = REPO / "configs" / "sleepdifformer" / "demo.yaml"
    assert cli.resolve_config_args(["-c=demo"]) == [f"-c={demo}"]
    assert made == [cli.DEMO_DATA]


def test_import_option_is_imported_before_the_config_is_parsed(tmp_path, monkeypatch):
    from eegkit.cli import app as cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "d2_user_mod.py").write_text("IMPORTED = True\n")
    (tmp_path / "my.yaml").write_text("trainer: {}\n")
    try:
        args = cli.prepare_args(["--import", "d2_user_mod", "--config", "my.yaml"])
        assert args == ["--config", "my.yaml"] and sys.modules["d2_user_mod"].IMPORTED
    finally:
        sys.modules.pop("d2_user_mod", None)


def test_bad_input_is_one_line_and_exit_status_2(capsys, monkeypatch):
    from eegkit.cli.console import run_script

    def fails(err):
        def command(args):
            raise err
        return command

    monkeypatch.delenv("EEGKIT_TRACEBACK", raising=False)
    for err, line in [(DataError("/x/rec.edf", "no EEG channel"), "/x/rec.edf: no EEG channel"),
                      (KeyError("unknown dataset 'foo'; known: hmc"),
                       "unknown dataset 'foo'; known: hmc"),
                      (FileNotFoundError("config 'x' is neither"), "config 'x' is neither")]:
        assert run_script(fails(err), []) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"eegkit: error: {line}", "(run with --traceback for the full stack)"]
    with pytest.raises(DataError):  # the full stack on request
        run_script(fails(DataError("/x", "bad")), ["--traceback"])
    monkeypatch.setenv("EEGKIT_TRACEBACK", "1")
    with pytest.raises(DataError):
        run_script(fails(DataError("/x", "bad")), [])
    monkeypatch.delenv("EEGKIT_TRACEBACK")
    # what jsonargparse makes of an error raised while it builds the model: its cause is shown
    try:
        try:
            raise KeyError("unknown model 'x'; known: eegnet")
        except KeyError as err:
            raise ValueError("Does not validate against any of the Union subtypes") from err
    except ValueError as wrapped:
        assert run_script(fails(wrapped), []) == 2
    assert capsys.readouterr().err.startswith("eegkit: error: unknown model 'x'; known: eegnet\n")
    for bug in (KeyError("model"), RuntimeError("shape mismatch")):  # bugs keep their stack
        with pytest.raises(type(bug)):
            run_script(fails(bug), [])
    assert run_script(lambda args: args, ["--traceback", "a"]) == 0


def test_eegkit_help_lists_the_commands_one_line_each(capsys):
    from eegkit.cli.main import COMMANDS, main

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("fit", "evaluate", "predict", "lodo", "data"):
        (line,) = [ln for ln in out.splitlines() if ln.startswith(f"  {name} ")]
        assert COMMANDS[name][1] in line


def test_eegkit_commands_dispatch(capsys, tmp_path, monkeypatch):
    from eegkit.cli.main import main

    assert main(["data", "card", "hmc"]) == 0
    assert capsys.readouterr().out.startswith("# HMC")
    assert main(["data", "card", "nope"]) == 2
    assert "no dataset card 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["predict", "--help"])
    assert exc.value.code == 0 and "usage: eegkit predict" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["lodo", "--help"])
    assert exc.value.code == 0 and "usage: eegkit lodo" in capsys.readouterr().out
    # --import before the command, imported first; a module that does not import: one line
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert main(["--import", "d2_no_such_module", "data", "card", "hmc"]) == 2
    assert "--import d2_no_such_module: cannot import it" in capsys.readouterr().err


class _Tiny(L.LightningModule):
    """A linear model on random data: two batches per epoch."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(3, 1)

    def training_step(self, batch, _):
        loss = self.net(batch[0]).pow(2).mean()
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, _):
        self.log("val/loss", self.net(batch[0]).pow(2).mean(), prog_bar=True)
        self.log("val/hidden", 1.0)  # not on the progress bar: not in the epoch line

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def _loader(self):
        data = torch.utils.data.TensorDataset(torch.randn(4, 3))
        return torch.utils.data.DataLoader(data, batch_size=2)

    train_dataloader = val_dataloader = _loader


@pytest.mark.parametrize("progress_bar", [False, True])
def test_fit_output_is_quiet_with_one_line_per_validation_epoch(capfd, tmp_path, progress_bar):
    from eegkit.cli.app import EpochLines, quiet_lightning

    quiet_lightning()
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_model_summary=False,
                        enable_progress_bar=progress_bar, callbacks=[EpochLines()],
                        default_root_dir=tmp_path)
    trainer.fit(_Tiny())
    out, err = capfd.readouterr()
    for banner in ("GPU available", "TPU available", "Tip:", "max_epochs=2` reached"):
        assert banner not in out + err
    lines = [ln for ln in out.splitlines() if ln.startswith("[eegkit] epoch")]
    if progress_bar:  # the bar shows the metrics already
        assert lines == []
    else:
        assert [ln.split(":")[0] for ln in lines] == ["[eegkit] epoch 1/2", "[eegkit] epoch 2/2"]
        assert re.fullmatch(r"\[eegkit\] epoch 2/2: train/loss \d\.\d{3}  val/loss \d\.\d{3}",
                            lines[1])


def test_metrics_line():
    from eegkit.cli.app import metrics_line

    summary = {"acc": 0.73412, "macro_f1": 0.5123, "kappa": 0.61, "n": 1234, "per_class_f1": {}}
    assert metrics_line("fold hmc", summary, "runs/x/hmc/report") == (
        "fold hmc: acc 0.734  macro-F1 0.512  kappa 0.610  (n=1234)  report: runs/x/hmc/report")


def test_eegkit_help_answers_without_importing_torch():
    code = ("import sys, eegkit.__main__; "
            "print(sorted({'torch', 'lightning'} & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


FRAGMENT_FOLDERS = ("data", "model", "trainer")
RUN_CONFIGS = sorted(p for p in (REPO / "configs").rglob("*.yaml")
                     if p.parent.name not in (*FRAGMENT_FOLDERS, "merging"))


@pytest.mark.parametrize("config", [c for c in RUN_CONFIGS
                                    if "../" in c.read_text()], ids=lambda p: p.stem)
def test_fragments_compose_into_run_configs_as_lightningcli_reads_them(config, tmp_path):
    from eegkit.cli.app import make_cli
    from eegkit.utils.resources import load_config

    composed = load_config(config)
    args = ["--config", str(config), "--out_dir", str(tmp_path), "--trainer.accelerator", "cpu"]
    if "domains" not in composed["data"].get("init_args", {}):  # window data: path left out
        args += ["--data.init_args.path", str(tmp_path)]
    if "backbone_ckpt" in composed["data"].get("init_args", {}):
        pytest.skip("needs a pretraining checkpoint")
    cli = make_cli(args)
    for key in ("data", "model"):  # what the fragment says is what LightningCLI parsed
        for name, value in composed[key].get("init_args", {}).items():
            if name != "path":
                assert cli.config[key]["init_args"][name] == value, (key, name)
    for name, value in composed["trainer"].items():
        if name != "accelerator":
            assert cli.config["trainer"][name] == value, name


def test_every_fragment_is_used_by_a_run_config_and_none_is_a_copy():
    texts = {c: c.read_text() for c in RUN_CONFIGS}
    fragments = [p for folder in FRAGMENT_FOLDERS
                 for p in (REPO / "configs" / folder).glob("*.yaml")]
    assert fragments
    for fragment in fragments:
        ref = f"../{fragment.parent.name}/{fragment.name}"
        users = [c.name for c, text in texts.items() if ref in text]
        assert len(users) >= 2, f"{ref} is used by {users}: a fragment is shared or inlined"
