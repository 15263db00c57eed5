#!/usr/bin/env bash
# README command 2: set up (or reuse) the environment, lint, and run the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
echo "[eegkit] ruff check"
ruff check .
echo "[eegkit] pytest"
# pytest exits 5 when it collects nothing: that is a failure here, and set -e makes it one.
python -m pytest "$@"
