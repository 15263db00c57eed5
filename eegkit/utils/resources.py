"""The configs and dataset cards that ship with eegkit, found by name.

In the repository they are the top-level folders ``configs/`` and ``datasets/``; a wheel carries
them as ``eegkit/configs`` and ``eegkit/datasets`` (see setup.py). :func:`bundled_dir` finds
whichever this installation has, so ``--config demo`` works from any folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import eegkit

#: Folders shipped with the package: configs (YAML) and dataset cards (markdown).
KINDS = ("configs", "datasets")


def bundled_dir(kind: str) -> Path:
    """The folder of bundled ``kind`` (``"configs"`` or ``"datasets"``).

    Raises
    ------
    FileNotFoundError
        When this installation has neither the packaged copy nor the repository folder.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown bundled kind {kind!r}; known: {KINDS}")
    package = Path(eegkit.__file__).resolve().parent
    # the wheel's copy inside the package first, then the repository root (source checkout or
    # editable install), where the folders live in git
    for folder in (package / kind, package.parent / kind):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"this eegkit installation has no bundled {kind} "
                            f"(looked in {package / kind} and {package.parent / kind})")


def bundled_configs() -> list[str]:
    """Names of the bundled configs, e.g. ``sleepdifformer/demo`` (sorted)."""
    root = bundled_dir("configs")
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))


def resolve_config(name: str) -> Path:
    """A config file: ``name`` itself when it is a file, else the bundled config of that name.

    A bundled config is named by its path under ``configs/`` with or without ``.yaml``
    (``sleepdifformer/demo``), or by its file name alone when that is unique (``demo``).

    Raises
    ------
    FileNotFoundError
        When ``name`` is neither a file nor a bundled config; the message lists the names, or the
        candidates when a short name is ambiguous.
    """
    path = Path(name)
    if path.is_file():
        return path
    names = bundled_configs()
    stem = name.removesuffix(".yaml")
    matches = [n for n in names if n == stem] or [n for n in names if n.rsplit("/", 1)[-1] == stem]
    if len(matches) == 1:
        return bundled_dir("configs") / f"{matches[0]}.yaml"
    if matches:
        raise FileNotFoundError(f"config {name!r} is ambiguous; one of: {', '.join(matches)}")
    raise FileNotFoundError(f"config {name!r} is neither a file nor a bundled config; bundled: "
                            f"{', '.join(names)}")


def _compose(value: Any, folder: Path) -> Any:
    if isinstance(value, dict):
        return {k: _compose(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [_compose(v, folder) for v in value]
    if isinstance(value, str) and value.endswith((".yaml", ".yml")):
        fragment = Path(value) if Path(value).is_absolute() else folder / value
        if fragment.is_file():
            return load_config(fragment)
    return value


def load_config(path: str | Path) -> dict:
    """A YAML run config with its fragments composed in, as LightningCLI reads it.

    A value that is the path of a ``.yaml`` file (relative to the config's folder), such as
    ``data: ../data/sleep_demo.yaml``, is replaced by that file's content, recursively. For code
    that reads a config without parsing it (the merging runner, the demo-corpus check).
    """
    path = Path(path)
    return _compose(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, path.parent)


def dataset_card(name: str) -> str:
    """The text of the bundled dataset card ``datasets/<name>.md``.

    Raises
    ------
    FileNotFoundError
        Naming the cards there are.
    """
    root = bundled_dir("datasets")
    card = root / f"{name}.md"
    if not card.is_file():
        known = sorted(p.stem for p in root.glob("*.md"))
        raise FileNotFoundError(f"no dataset card {name!r}; cards: {', '.join(known)}")
    return card.read_text(encoding="utf-8")


__all__ = ["KINDS", "bundled_configs", "bundled_dir", "dataset_card", "resolve_config"]
