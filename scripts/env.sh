# Source this file: it creates (or reuses) the project's virtual environment in .venv and
# activates it. Used by the README's two commands and by CI, so all three install the same way.
#
#   EEGKIT_VENV     where the environment lives            (default: <repo>/.venv)
#   EEGKIT_TORCH    the torch requirement installed first   (default: torch==2.13.0, the CPU
#                   wheel this kind of machine has on disk; set it to "" on a GPU server that
#                   already has torch, or to your own pin)
#   EEGKIT_EXTRAS   pyproject extras to install            (default: dev,adace)
set -euo pipefail
_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EEGKIT_VENV="${EEGKIT_VENV:-$_repo/.venv}"
EEGKIT_TORCH="${EEGKIT_TORCH-torch==2.13.0}"
EEGKIT_EXTRAS="${EEGKIT_EXTRAS:-dev,adace}"

if [ ! -x "$EEGKIT_VENV/bin/python" ]; then
    echo "[eegkit] creating virtual environment in $EEGKIT_VENV"
    python3 -m venv "$EEGKIT_VENV"
    "$EEGKIT_VENV/bin/python" -m pip install --quiet --upgrade pip
fi
# shellcheck disable=SC1091
source "$EEGKIT_VENV/bin/activate"

# Reinstall only when the dependency declaration, the package layout (setup.py: the configs
# and dataset cards shipped in the package) or the install recipe changed.
_stamp="$EEGKIT_VENV/.eegkit-install-stamp"
_want="$(cat "$_repo/pyproject.toml" "$_repo/setup.py" "$_repo/scripts/env.sh" | sha256sum | cut -c1-16)-$EEGKIT_EXTRAS-$EEGKIT_TORCH"
if [ ! -f "$_stamp" ] || [ "$(cat "$_stamp")" != "$_want" ]; then
    echo "[eegkit] installing eegkit[$EEGKIT_EXTRAS] into $EEGKIT_VENV"
    if [ -n "$EEGKIT_TORCH" ]; then
        # torch first and pinned: a later unpinned `torch>=...` is then already satisfied and
        # pip never reaches for the multi-GB CUDA wheels of a newer release.
        python -m pip install --quiet "$EEGKIT_TORCH"
        _constraint="$(mktemp)"
        echo "$EEGKIT_TORCH" > "$_constraint"
        PIP_CONSTRAINT="$_constraint" python -m pip install --quiet -e "$_repo[$EEGKIT_EXTRAS]"
        rm -f "$_constraint"
    else
        python -m pip install --quiet -e "$_repo[$EEGKIT_EXTRAS]"
    fi
    # braindecode imports torchaudio; a torchaudio built for another torch cannot load its
    # compiled extension. This switches such an install to torchaudio's pure-Python mode and
    # leaves a working (matching) install untouched. See README, "torchaudio".
    python -m eegkit.utils.torchaudio_abi --fix
    echo "$_want" > "$_stamp"
fi
