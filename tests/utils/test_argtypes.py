import argparse

import pytest

from eegkit.utils.argtypes import name_and_dir


def test_name_and_dir_splits_on_the_first_equals_sign():
    assert name_and_dir("TA λ=0.5=runs/x") == ("TA λ", "0.5=runs/x")
    for bad in ("runs/x", "=runs/x", "name="):
        with pytest.raises(argparse.ArgumentTypeError, match="NAME=DIR"):
            name_and_dir(bad)
