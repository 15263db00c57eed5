"""Make ``import braindecode`` work when torchaudio was built for another torch.

braindecode imports ``torchaudio`` at import time. torchaudio ships compiled extensions
(``torchaudio/lib/*.so``) that are tied to the exact torch release they were built against; the
newest torchaudio on PyPI (2.11) fails to load them under torch 2.13 and the import raises
``OSError: Could not load this library``. torchaudio also supports running without its
extensions (it then uses pure-PyTorch code paths, e.g. a Python loop inside ``lfilter``): its
loader simply skips libraries that are not present. So when, and only when, the extension fails
to load, :func:`fix` moves the ``.so`` files into ``lib/_disabled_abi_mismatch/`` with a note. A
matching torch/torchaudio pair (a GPU server) imports fine and is never touched.

Run as ``python -m eegkit.utils.torchaudio_abi --check`` (report only) or ``--fix``.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

DISABLED_DIR = "_disabled_abi_mismatch"
_PROBE = "import torchaudio"


def _probe() -> tuple[bool, str]:
    """Import torchaudio in a fresh interpreter (a failed load poisons the current one)."""
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True)
    return proc.returncode == 0, proc.stderr.strip()


def torchaudio_lib_dir() -> Path | None:
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def status() -> str:
    """One of ``"absent"``, ``"ok"``, ``"pure-python"`` or ``"broken"``."""
    lib = torchaudio_lib_dir()
    if lib is None:
        return "absent"
    ok, _ = _probe()
    if ok:
        return "pure-python" if (lib / DISABLED_DIR).is_dir() else "ok"
    return "broken"


def fix() -> str:
    """Disable torchaudio's compiled extensions if (and only if) they cannot be loaded."""
    lib = torchaudio_lib_dir()
    if lib is None:
        return "torchaudio is not installed: nothing to do"
    ok, err = _probe()
    if ok:
        return "torchaudio imports: nothing to do"
    if "Could not load this library" not in err and "undefined symbol" not in err:
        raise RuntimeError(f"`import torchaudio` fails for another reason; not touching it:\n{err}")
    target = lib / DISABLED_DIR
    target.mkdir(exist_ok=True)
    moved = []
    for so in sorted(lib.glob("*.so")):
        so.rename(target / so.name)
        moved.append(so.name)
    (target / "README.txt").write_text(
        "Moved here by eegkit.utils.torchaudio_abi: these extensions were built for another torch\n"
        "release and failed to load. torchaudio runs its pure-PyTorch paths without them.\n"
        "Reinstalling a torchaudio that matches your torch restores them.\n"
    )
    ok, err = _probe()
    if not ok:
        raise RuntimeError(f"torchaudio still fails to import after disabling {moved}:\n{err}")
    return f"torchaudio extensions built for another torch disabled ({', '.join(moved)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="report the state only (default)")
    group.add_argument("--fix", action="store_true", help="disable a mismatched extension")
    args = parser.parse_args(argv)
    if args.fix:
        print(f"[eegkit] {fix()}")
        return 0
    state = status()
    print(f"torchaudio: {state}")
    return 1 if state == "broken" else 0


if __name__ == "__main__":
    sys.exit(main())
