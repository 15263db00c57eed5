"""``python -m eegkit``: the ``eegkit`` console script (:mod:`eegkit.cli.main`)."""

import sys

from eegkit.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
