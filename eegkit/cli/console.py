"""What every eegkit program does with its command line before and after the work: user modules
named by ``--import``, and bad input shown as one line instead of a traceback.

Kept free of heavy imports, so that ``eegkit --help`` answers at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from eegkit.data.types import DataError


def pop_imports(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``--import MODULE`` / ``--import=MODULE`` (anywhere) from the other arguments.

    Returns
    -------
    names : list of str
        The modules, in order.
    rest : list of str
        The other arguments, in order.
    """
    names, rest, it = [], [], iter(args)
    for arg in it:
        if arg == "--import":
            name = next(it, None)
            if name is None:
                raise SystemExit("--import needs a module name")
            names.append(name)
        elif arg.startswith("--import="):
            names.append(arg.partition("=")[2])
        else:
            rest.append(arg)
    return names, rest


def _is_bad_input(err: BaseException) -> bool:
    if isinstance(err, DataError | FileNotFoundError | ImportError):
        return True
    # eegkit.registry reports an unknown reader or model name as a KeyError saying so
    return isinstance(err, KeyError) and bool(err.args) and str(err.args[0]).startswith("unknown ")


def user_error(err: BaseException) -> BaseException | None:
    """The bad input behind ``err``, or None when ``err`` is a bug (shown in full).

    Bad input: a :class:`~eegkit.data.types.DataError`, a missing file (data or config), a
    module that does not import (``--import``, an optional dependency), an unknown registered
    reader or model name. It is ``err`` itself or its explicit cause (``raise ... from``):
    jsonargparse re-raises what a model or datamodule raised while it builds them as a
    ``ValueError`` caused by the original.
    """
    seen = set()
    while err is not None and id(err) not in seen:
        if _is_bad_input(err):
            return err
        seen.add(id(err))
        err = err.__cause__
    return None


def run_script(command: Callable[[list[str]], object], args: Sequence[str] | None = None) -> int:
    """Run ``command(args)``; bad input becomes one line on stderr and exit status 2.

    ``--traceback`` (removed from ``args``) or ``EEGKIT_TRACEBACK=1`` lets the exception
    through with its full stack.

    Returns
    -------
    int
        The exit status: ``command``'s result when it is an int, else 0; 2 on bad input.
    """
    args = list(sys.argv[1:] if args is None else args)
    full = "--traceback" in args or os.environ.get("EEGKIT_TRACEBACK", "") not in ("", "0")
    args = [a for a in args if a != "--traceback"]
    try:
        result = command(args)
    except Exception as err:
        bad = None if full else user_error(err)
        if bad is None:
            raise
        message = bad.args[0] if isinstance(bad, KeyError) else bad
        print(f"eegkit: error: {message}\n(run with --traceback for the full stack)",
              file=sys.stderr)
        return 2
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


__all__ = ["pop_imports", "run_script", "user_error"]
