"""Command-line entry points shared by ``train.py`` and ``evaluate.py`` (LightningCLI).

A config names a LightningModule (``model.class_path``) and a LightningDataModule
(``data.class_path``) from eegkit, plus the Trainer settings; any key can be overridden on the
command line (``--model.init_args.lr 1e-4``). Unknown keys are rejected by jsonargparse with the
offending key named.

Leave-one-domain-out (``--lodo true``) is handled here, before any fold is built: the config is
parsed once to read its domains, then every fold is an ordinary run of the same config with
``--data.init_args.held_out <domain> --out_dir <out_dir>/<domain>`` (see :mod:`eegkit.lodo`).
"""

from __future__ import annotations

import json
import sys
import warnings
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
        parser.add_argument(
            "--lodo", type=bool, default=False,
            help="leave-one-domain-out over the keys of data.init_args.domains (only "
                 "data.init_args.held_out when it is set): train.py trains, evaluates and "
                 "reports every fold in <out_dir>/<domain>/ (completed folds are skipped, an "
                 "interrupted one resumes from its last.ckpt); evaluate.py re-evaluates every "
                 "fold's best checkpoint; both write <out_dir>/lodo_summary.{md,csv}")
        parser.add_argument(
            "--eval_domain", type=str | None, default=None,
            help="evaluate.py: evaluate the checkpoint of <out_dir> on the whole of this domain "
                 "(the datamodule is built with held_out=<domain>; --lodo is then ignored); the "
                 "report goes to <out_dir>/report_<domain>/")
        parser.add_argument("--n_hypnograms", type=int, default=2,
                            help="sleep staging: hypnogram PNGs (true vs predicted) per report")
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
    with warnings.catch_warnings():
        # LODO folds deliberately re-parse the command line with overrides (explicit ``args``).
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
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


def fit(cli: EEGKitCLI) -> None:
    """Train, resuming from ``<out_dir>/checkpoints/last.ckpt`` when it exists."""
    ckpt = cli.config.get("ckpt_path")
    last = Path(cli.config["out_dir"]) / "checkpoints" / "last.ckpt"
    if ckpt is None and cli.config.get("resume") and last.exists():
        ckpt = str(last)
        print(f"[eegkit] resuming from {ckpt}")
    cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=ckpt)


def best_checkpoint(out_dir: str | Path) -> str:
    """The ``best-*.ckpt`` of a run (the latest one if several were kept)."""
    best = sorted((Path(out_dir) / "checkpoints").glob("best-*.ckpt"))
    if not best:
        raise SystemExit(f"no --ckpt_path and no best-*.ckpt under {out_dir}")
    return str(best[-1])


def evaluate_checkpoint(cli: EEGKitCLI, ckpt: str, report_dir: str | Path,
                        title: str = "") -> dict:
    """Predict with ``ckpt`` on the datamodule's predict split and write the report.

    Writes ``metrics.json`` and ``confusion_matrix.png`` (:func:`eegkit.metrics.write_report`)
    and, when predictions say which recording each item comes from, hypnogram PNGs.
    """
    from eegkit.metrics import write_report

    trainer = cli.trainer
    if trainer.world_size > 1:  # gather-free evaluation: one process predicts everything
        trainer = L.Trainer(accelerator=trainer.accelerator, devices=1, logger=False,
                            enable_checkpointing=False)
    outputs = trainer.predict(cli.model, cli.datamodule, ckpt_path=ckpt)
    y_true = torch.cat([o["y_true"].flatten() for o in outputs]).numpy()
    y_pred = torch.cat([o["y_pred"].flatten() for o in outputs]).numpy()
    names = cli.model.hparams.get("class_names") or getattr(cli.datamodule, "class_names", None)
    names = list(names or [str(i) for i in range(int(max(y_true.max(), y_pred.max())) + 1)])
    report_dir = Path(report_dir)
    if "recording" in outputs[0] and cli.config.get("n_hypnograms", 0) > 0:
        from eegkit.tasks.sleep_staging import write_hypnograms

        write_hypnograms(report_dir, outputs, names, n=cli.config["n_hypnograms"],
                         recording_names=getattr(cli.datamodule, "recording_names", None),
                         title=title)
    summary = write_report(report_dir, y_true, y_pred, names, title=title or Path(ckpt).name)
    print(json.dumps({k: v for k, v in summary.items() if k != "confusion"}, indent=2))
    print(f"[eegkit] report written to {report_dir}")
    return summary


#: What ``train.py`` and ``evaluate.py`` run when called with no arguments (from the repository
#: root): SleepDIFFormer leave-one-site-out on the simulated demo corpus in ``demo_data/``.
DEMO_CONFIG = Path("configs/sleepdifformer/demo.yaml")
DEMO_DATA = Path("demo_data")


def with_demo_default(args: list[str]) -> list[str]:
    """``args``, or the embedded demo's arguments when there are none (corpus made if absent)."""
    if args:
        return args
    if not DEMO_CONFIG.is_file():
        raise SystemExit(f"no arguments and no {DEMO_CONFIG} here: run from the repository root "
                         "for the embedded demo, or pass --config (see --help)")
    from eegkit.data.demo import ensure_corpus

    print(f"[eegkit] no arguments: the embedded demo ({DEMO_CONFIG} on the SIMULATED corpus in "
          f"{DEMO_DATA}/, written on first use); --help lists the options")
    ensure_corpus(DEMO_DATA)
    return ["--config", str(DEMO_CONFIG)]


def train(args=None, description: str | None = None) -> EEGKitCLI | dict:
    """``train.py``: one run, or every leave-one-domain-out fold with ``--lodo true``."""
    args = with_demo_default(list(sys.argv[1:] if args is None else args))
    cli = make_cli(args, description)
    if cli.config.get("lodo"):
        from eegkit.lodo import run_lodo

        return run_lodo(cli, args, description)
    fit(cli)
    return cli


def evaluate(args=None, description: str | None = None) -> dict:
    """``evaluate.py``: predict on the test split (or a domain, or every LODO fold); report."""
    args = with_demo_default(list(sys.argv[1:] if args is None else args))
    cli = make_cli(args, description)
    domain = cli.config.get("eval_domain")
    if cli.config.get("lodo") and domain is None:
        from eegkit.lodo import evaluate_lodo

        return evaluate_lodo(cli, args, description)
    report_dir = Path(cli.config["out_dir"]) / "report"
    if domain is not None:
        cli = make_cli([*args, "--data.init_args.held_out", domain], description)
        report_dir = report_dir.with_name(f"report_{domain}")
    ckpt = cli.config.get("ckpt_path") or best_checkpoint(cli.config["out_dir"])
    return evaluate_checkpoint(cli, ckpt, report_dir, title=domain or "")
