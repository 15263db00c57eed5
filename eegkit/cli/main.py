"""The ``eegkit`` console script (also ``python -m eegkit``): fit, evaluate, predict, lodo, data.

Each command's module is imported only when that command runs (:data:`COMMANDS`), so
``eegkit --help`` and ``eegkit data card NAME`` answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import eegkit
from eegkit.cli.console import pop_imports, run_script
from eegkit.plugins import import_user_modules

#: ``eegkit <command>``: the module whose ``main(args, prog)`` runs it, and its line in
#: ``eegkit --help``. Modules are named, not imported: a command's module (torch, Lightning,
#: MNE) is imported only when that command runs, so ``eegkit --help`` answers at once.
COMMANDS: dict[str, tuple[str, str]] = {
    "fit": ("eegkit.cli.fit",
            "train from a config; every leave-one-domain-out fold with --lodo true"),
    "evaluate": ("eegkit.cli.evaluate",
                 "evaluate a checkpoint (or every LODO fold) and write the report"),
    "predict": ("eegkit.cli.predict",
                "apply a trained model to new EDF recordings (hypnograms, labels)"),
    "lodo": ("eegkit.cli.lodo",
             "LODO tables: rewrite a run's summary, or put several runs side by side"),
    "data": ("eegkit.cli.data", "dataset summaries and the bundled dataset cards"),
}

MAIN_HELP = """EEG deep learning: train, evaluate and apply models on one shared data layer.

commands:
{commands}

Run 'eegkit COMMAND --help' for a command's options.

Examples
--------
eegkit fit --config demo                   # the simulated sleep demo, written to ./demo_data
eegkit evaluate --config demo
eegkit predict --ckpt runs/demo/sleepdifformer/hmc/checkpoints/last.ckpt \\
    --input night.edf --out predictions/
eegkit lodo table SleepDIFFormer=runs/demo/sleepdifformer
eegkit data card hmc                       # what the HMC reader expects, where to get it
"""


def main(argv: Sequence[str] | None = None) -> int:
    """``eegkit [--import M] [--traceback] COMMAND ...``; the exit status."""
    parser = argparse.ArgumentParser(
        prog="eegkit", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=MAIN_HELP.format(commands="\n".join(
            f"  {name:<10}{line}" for name, (_, line) in COMMANDS.items())))
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE", help="import MODULE first (its register_dataset / "
                        "register_model calls); repeatable, also accepted after COMMAND")
    parser.add_argument("--traceback", action="store_true",
                        help="on bad input, show the full stack instead of one line")
    parser.add_argument("--version", action="version", version=f"eegkit {eegkit.__version__}")
    parser.add_argument("command", choices=list(COMMANDS), metavar="COMMAND",
                        help="one of the commands above")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the command's arguments")
    imports, argv = pop_imports(sys.argv[1:] if argv is None else argv)
    opts = parser.parse_args(argv)
    module, _ = COMMANDS[opts.command]

    def run(args: list[str]) -> object:
        # before the command parses its config, so that user readers and models are registered
        import_user_modules(imports)
        return importlib.import_module(module).main(args, prog=f"eegkit {opts.command}")

    return run_script(run, [*opts.args, *(["--traceback"] if opts.traceback else [])])


if __name__ == "__main__":
    sys.exit(main())
