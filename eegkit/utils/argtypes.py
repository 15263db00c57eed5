"""Argument types shared by the command-line programs."""

from __future__ import annotations

import argparse


def name_and_dir(item: str) -> tuple[str, str]:
    """``"NAME=DIR"`` → ``(NAME, DIR)`` (an ``argparse`` type: a clear error otherwise).

    Examples
    --------
    >>> name_and_dir("SleepDIFFormer=runs/demo/sleepdifformer")
    ('SleepDIFFormer', 'runs/demo/sleepdifformer')
    """
    name, sep, path = item.partition("=")
    if not (sep and name and path):
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {item!r}")
    return name, path
