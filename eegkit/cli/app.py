"""The LightningCLI behind ``eegkit fit|evaluate``, ``train.py`` and ``evaluate.py``.

This module builds and runs one run: :func:`make_cli` parses a config into the model, datamodule
and Trainer, :func:`fit` trains (resuming), :func:`evaluate_checkpoint` writes a report. The
commands are :mod:`eegkit.cli.fit` and :mod:`eegkit.cli.evaluate`, the LODO driver
:mod:`eegkit.cli.lodo`, and the ``eegkit`` console script :mod:`eegkit.cli.main`.

``eegkit fit|evaluate`` (and ``train.py`` / ``evaluate.py``) are a LightningCLI: a config names
a LightningModule (``model.class_path``, or a short name such as ``SleepStagingTask``) and a
LightningDataModule (``data.class_path``) from eegkit, plus the Trainer settings; any key can be
overridden on the command line (``--model.init_args.lr 1e-4``). Unknown keys are rejected by
jsonargparse with the offending key named. ``--config`` takes a file or the name of a config
shipped with eegkit (``--config demo``, ``--config sleepdifformer/paper``).

Leave-one-domain-out (``--lodo true``) is handled here, before any fold is built: the config is
parsed once to read its domains, then every fold is an ordinary run of the same config with
``--data.init_args.held_out <domain> --out_dir <out_dir>/<domain>`` (see :mod:`eegkit.cli.lodo`).

Output is meant to be read by a person: Lightning's banners and tips are logged at INFO and
therefore hidden (its loggers are set to WARNING), every evaluated fold prints one metrics line,
every validation epoch prints one line when the progress bar is off, and bad input (a
:class:`~eegkit.data.types.DataError`, a missing file, an unknown registered name, a module of
``--import`` that does not import) ends the program with one line on stderr and exit status 2
(``--traceback`` or ``EEGKIT_TRACEBACK=1`` shows the full stack instead; see
:func:`eegkit.cli.console.run_script`).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from jsonargparse import DefaultHelpFormatter
from lightning.pytorch.cli import LightningCLI

# The modules of eegkit's LightningModules and LightningDataModules are imported for their
# classes: jsonargparse resolves a short class name (``SleepStagingTask``) and lists the known
# subclasses in ``--help`` only among classes already imported.
import eegkit.data.datamodules.sleep  # noqa: F401
import eegkit.data.datamodules.windows  # noqa: F401
import eegkit.tasks.adace  # noqa: F401
import eegkit.tasks.eegdm  # noqa: F401
import eegkit.tasks.eegdm_latents  # noqa: F401
from eegkit.cli.console import pop_imports
from eegkit.demo import MANIFEST_NAME, ensure_corpus
from eegkit.plugins import import_user_modules
from eegkit.reports import write_hypnograms, write_report
from eegkit.tasks.sleep_staging import SleepStagingTask  # noqa: F401
from eegkit.utils.checkpoints import read_checkpoint
from eegkit.utils.resources import load_config, resolve_config

#: Lightning warnings that say nothing a user of eegkit can act on: the CSV fallback logger is
#: the intended default, and the tree-spec deprecation is internal to Lightning.
_NOISE = (
    r"Starting from v1\.9\.0, `tensorboardX` has been removed",
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
)


def quiet_lightning() -> None:
    """Hide Lightning's INFO banners and tips ("GPU available", "💡 Tip", "Seed set to ...").

    They are logged at INFO by the ``lightning.pytorch`` and ``lightning.fabric`` loggers, which
    are set to WARNING; warnings and errors still show.
    """
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in _NOISE:
        warnings.filterwarnings("ignore", message=message)


class EpochLines(L.Callback):
    """One line per epoch when the progress bar is off.

    Lightning then shows nothing between the start and the end of a fit; this line says how far
    the run is and how it goes, with the metrics the progress bar would have shown (those logged
    with ``prog_bar=True``), e.g. ``[eegkit] epoch 2/4: train/loss 1.234  val/acc 0.567``. It
    comes after validation, or at the end of the training epoch when there is none.
    """

    def __init__(self) -> None:
        self._validated = False  # a line was printed after validation in this epoch

    def _print(self, trainer: L.Trainer) -> None:
        if (trainer.sanity_checking or trainer.progress_bar_callback is not None
                or not trainer.is_global_zero):
            return
        line = epoch_line(trainer.current_epoch, trainer.max_epochs, trainer.progress_bar_metrics)
        print(f"[eegkit] {line}")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # on_validation_end runs after the epoch's metrics are computed and gathered
        self._print(trainer)
        self._validated = not trainer.sanity_checking

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning validates before this hook: print only for an epoch without validation
        if not self._validated:
            self._print(trainer)
        self._validated = False


def epoch_line(epoch: int, max_epochs: int | None, metrics: dict) -> str:
    """``epoch <epoch+1>/<max_epochs>: name value  name value ...`` (3 decimals)."""
    total = f"/{max_epochs}" if max_epochs is not None and max_epochs > 0 else ""
    values = "  ".join(f"{k} {float(v):.3f}" for k, v in metrics.items())
    return f"epoch {epoch + 1}{total}: {values}"


class HelpFormatter(DefaultHelpFormatter):
    """jsonargparse's help, with the description (the docstring's examples) kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


class EEGKitCLI(LightningCLI):
    """LightningCLI with eegkit's defaults (checkpoint on best validation macro-F1, last.ckpt).

    ``announce=False`` keeps the notes about the parsed config to itself (a LODO fold
    re-parses a command line whose notes were printed once already)."""

    def __init__(self, *args, announce: bool = True, **kwargs):
        self.announce = announce  # read while LightningCLI.__init__ parses
        super().__init__(*args, **kwargs)

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

    def before_instantiate_classes(self) -> None:
        # A refit without validation (val_fraction: 0) has no best epoch: checkpoints are
        # named by epoch instead of failing on the missing validation metric.
        config = self.config
        monitor = config.get("checkpoint.monitor")
        if config.get("data.init_args.val_fraction") == 0 and str(monitor).startswith("val/"):
            config["checkpoint.monitor"] = None
            config["checkpoint.filename"] = "{epoch:03d}"
            config["trainer.limit_val_batches"] = 0  # Lightning then loads no validation data
            if self.announce:
                print(f"[eegkit] val_fraction is 0: no validation, so checkpoints are kept by "
                      f"epoch (epoch=*.ckpt, last.ckpt) instead of by {monitor}")


def make_cli(args=None, description: str | None = None, prog: str | None = None,
             announce: bool = True) -> EEGKitCLI:
    """Parse ``args`` (a config and overrides) and build the model, datamodule and Trainer
    (``announce``: see :class:`EEGKitCLI`)."""
    torch.set_float32_matmul_precision("high")
    quiet_lightning()
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
            announce=announce,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={"callbacks": [EpochLines()]},
            auto_configure_optimizers=False,
            parser_kwargs={"description": description, "prog": prog,
                           "formatter_class": HelpFormatter},
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
    """The ``best-*.ckpt`` of a run (the latest one if several were kept); for a run without
    validation (``val_fraction: 0``), its latest ``epoch=*.ckpt``."""
    folder = Path(out_dir) / "checkpoints"
    best = sorted(folder.glob("best-*.ckpt"))
    if best:
        return str(best[-1])
    by_epoch = sorted(folder.glob("epoch=*.ckpt"))
    if not by_epoch:
        raise SystemExit(f"no --ckpt_path and no best-*.ckpt or epoch=*.ckpt under {out_dir}")
    print(f"[eegkit] {out_dir} was trained without validation: evaluating its last epoch, "
          f"{by_epoch[-1].name} (another one: --ckpt_path)")
    return str(by_epoch[-1])


def metrics_line(name: str, summary: dict, report_dir: str | Path) -> str:
    """One line for a person: ``<name>: acc … macro-F1 … kappa … (n=…)  report: <dir>``."""
    return (f"{name}: acc {summary['acc']:.3f}  macro-F1 {summary['macro_f1']:.3f}  "
            f"kappa {summary['kappa']:.3f}  (n={summary['n']})  report: {report_dir}")


def standardise_as_trained(datamodule: L.LightningDataModule, ckpt: str | Path) -> None:
    """Have ``datamodule`` standardise with the statistics that checkpoint ``ckpt`` records
    (when both standardise per channel), saying so when they are not the datamodule's own.
    A missing or unreadable ``ckpt`` is a :class:`~eegkit.data.types.DataError` naming it."""
    # memory-mapped: only the hyper-parameters are read here, trainer.predict reads the weights
    hparams = read_checkpoint(ckpt, mmap=True).get("hyper_parameters", {})
    standardise = getattr(datamodule, "standardise_as", None)
    if standardise is None:  # sleep datamodules do not standardise per channel
        return
    if standardise(hparams.get("preprocessing")):
        print(f"[eegkit] {Path(ckpt).name}: inputs standardised with the checkpoint's training "
              "statistics, which differ from this datamodule's training split")


def evaluate_checkpoint(cli: EEGKitCLI, ckpt: str, report_dir: str | Path,
                        title: str = "", name: str = "test") -> dict:
    """Predict with ``ckpt`` on the datamodule's predict split and write the report.

    Writes ``metrics.json`` and ``confusion_matrix.png`` (:func:`eegkit.reports.write_report`)
    and, when predictions say which recording each item comes from, hypnogram PNGs; prints one
    :func:`metrics_line` headed by ``name`` (e.g. ``fold hmc``).
    """
    standardise_as_trained(cli.datamodule, ckpt)
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
        write_hypnograms(report_dir, outputs, names, n=cli.config["n_hypnograms"],
                         recording_names=getattr(cli.datamodule, "recording_names", None),
                         title=title)
    summary = write_report(report_dir, y_true, y_pred, names, title=title or Path(ckpt).name)
    print(f"[eegkit] {metrics_line(name, summary, report_dir)}")
    return summary


#: What ``train.py`` and ``evaluate.py`` run when called with no arguments: SleepDIFFormer
#: leave-one-site-out on the simulated demo corpus in ``demo_data/`` of the current folder.
DEMO_CONFIG = "sleepdifformer/demo"
DEMO_DATA = Path("demo_data")


def ensure_demo_corpus() -> Path:
    """``demo_data/`` of the current folder, the simulated corpus written there on first use."""
    if not (DEMO_DATA / MANIFEST_NAME).is_file():
        print(f"[eegkit] writing the SIMULATED demo corpus into {DEMO_DATA}/ (first use)")
    return ensure_corpus(DEMO_DATA)


def with_demo_default(args: list[str]) -> list[str]:
    """``args``, or the embedded demo's arguments when there are none (corpus made if absent)."""
    if args:
        return args
    config = resolve_config(DEMO_CONFIG)
    print(f"[eegkit] no arguments: the embedded demo ({DEMO_CONFIG} on the SIMULATED corpus in "
          f"{DEMO_DATA}/, written on first use); --help lists the options")
    ensure_demo_corpus()
    return ["--config", str(config)]


def resolve_config_args(args: Sequence[str]) -> list[str]:
    """``args`` with every ``--config``/``-c`` value that names a bundled config made a path.

    A bundled config that reads the demo corpus (``demo_data/``) gets it written into the
    current folder on first use, so ``eegkit fit --config demo`` runs from any folder.
    """
    out = list(args)
    for i, arg in enumerate(out):
        flag, sep, value = arg.partition("=")
        if flag not in ("--config", "-c"):
            continue
        if not sep:
            if i + 1 >= len(out) or out[i + 1].startswith("-"):
                continue  # jsonargparse reports the missing value
            i, value = i + 1, out[i + 1]
        if Path(value).is_file():
            continue
        path = resolve_config(value)
        out[i] = f"{flag}={path}" if sep else str(path)
        if f"{DEMO_DATA}/" in json.dumps(load_config(path)):  # fragments included
            ensure_demo_corpus()
    return out


def prepare_args(args: Sequence[str]) -> list[str]:
    """The LightningCLI arguments of ``train``/``evaluate``: the demo when there are none, the
    user modules of ``--import`` (and of the ``eegkit.plugins`` entry points) imported so that
    their readers and models are registered before the config is parsed, bundled configs
    resolved by name."""
    names, args = pop_imports(with_demo_default(list(args)))
    import_user_modules(names)
    return resolve_config_args(args)


__all__ = ["EEGKitCLI", "EpochLines", "best_checkpoint", "evaluate_checkpoint", "fit", "make_cli",
           "metrics_line", "prepare_args"]
