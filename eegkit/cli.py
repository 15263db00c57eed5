"""Command-line entry points shared by ``train.py`` and ``evaluate.py`` (LightningCLI).

A config names a LightningModule (``model.class_path``) and a LightningDataModule
(``data.class_path``) from eegkit, plus the Trainer settings; any key can be overridden on the
command line (``--model.init_args.lr 1e-4``). Unknown keys are rejected by jsonargparse with the
offending key named.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.cli import LightningCLI


class EEGKitCLI(LightningCLI):
    """LightningCLI with eegkit's defaults (checkpoint on best validation macro-F1, last.ckpt)."""

    def add_arguments_to_parser(self, parser):
        parser.add_argument("--resume", type=bool, default=True,
                            help="resume from <checkpoint dir>/last.ckpt when it exists")
        parser.add_argument("--out_dir", type=str, default="runs/default",
                            help="where checkpoints, logs and reports go")
        parser.add_argument("--ckpt_path", type=str | None, default=None,
                            help="checkpoint to evaluate (evaluate.py) or to resume from")
        parser.add_lightning_class_args(L.pytorch.callbacks.ModelCheckpoint, "checkpoint")
        parser.set_defaults({
            "checkpoint.monitor": "val/macro_f1",
            "checkpoint.mode": "max",
            "checkpoint.save_last": True,
            "checkpoint.filename": "best-{epoch:03d}",
        })
        parser.link_arguments("out_dir", "trainer.default_root_dir")
        parser.link_arguments("out_dir", "checkpoint.dirpath",
                              compute_fn=lambda d: str(Path(d) / "checkpoints"))


def make_cli(args=None, description: str | None = None) -> EEGKitCLI:
    torch.set_float32_matmul_precision("high")
    return EEGKitCLI(
        L.LightningModule,
        L.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        run=False,
        args=args,
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
        parser_kwargs={"description": description},
    )


def train(args=None, description: str | None = None) -> EEGKitCLI:
    cli = make_cli(args, description)
    ckpt = cli.config.get("ckpt_path")
    last = Path(cli.config["out_dir"]) / "checkpoints" / "last.ckpt"
    if ckpt is None and cli.config.get("resume") and last.exists():
        ckpt = str(last)
        print(f"[eegkit] resuming from {ckpt}")
    cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=ckpt)
    return cli


def evaluate(args=None, description: str | None = None) -> dict:
    """Predict on the datamodule's test split and write the report into ``out_dir``."""
    from eegkit.metrics import write_report

    cli = make_cli(args, description)
    ckpt = cli.config.get("ckpt_path")
    if ckpt is None:
        best = sorted((Path(cli.config["out_dir"]) / "checkpoints").glob("best-*.ckpt"))
        if not best:
            raise SystemExit(f"no --ckpt_path and no best-*.ckpt under {cli.config['out_dir']}")
        ckpt = str(best[-1])
    outputs = cli.trainer.predict(cli.model, cli.datamodule, ckpt_path=ckpt)
    y_true = torch.cat([o["y_true"].flatten() for o in outputs]).numpy()
    y_pred = torch.cat([o["y_pred"].flatten() for o in outputs]).numpy()
    names = cli.model.hparams.get("class_names") or getattr(cli.datamodule, "class_names", None)
    names = list(names or [str(i) for i in range(int(max(y_true.max(), y_pred.max())) + 1)])
    report_dir = Path(cli.config["out_dir"]) / "report"
    summary = write_report(report_dir, y_true, y_pred, names, title=Path(ckpt).name)
    print(json.dumps({k: v for k, v in summary.items() if k != "confusion"}, indent=2))
    print(f"[eegkit] report written to {report_dir}")
    return summary
