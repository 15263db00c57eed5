"""Format-faithful writers, one module per sleep dataset.

Each module ``<name>.py`` defines ``write_<name>(folder, index, signals, sfreq, stages,
start=None) -> list[Path]``: it writes one recording in the dataset's native file layout and
label vocabulary under ``folder``, so that ``eegkit.data.load(<name>, folder)`` reads it back.
Signals are in volts keyed by the dataset's native channel labels, each at its native rate;
``stages`` holds one code per 30-s epoch (0..4 = W, N1, N2, N3, REM; -1 = unscored).
The writers serve the simulated demo corpus and the reader tests.
"""
