"""Fuzz every reader with damaged inputs: each must end in a DataError naming the damaged file
or load exactly the clean data.

The cases (tests/data/_fuzz_cases.py) cover, per reader: EDF files truncated at several
offsets, zero-length, header fields overwritten with garbage or letters, LF→CRLF transfer
damage, a byte dropped or a record appended; EDF+ stage annotations that overlap, start before
0, last 20 s, sit off the 30-s grid or are unknown; malformed SHHS XML; NaN/Inf in PhysioNet
.mat signals and broken .hea/arousal files; bad TUEV ``.rec`` lines; malformed CHB-MIT
summaries; Bonn segments with a wrong sample count or bad tokens; UCI HAR and UCI-ESR tables
with NaN/Inf tokens, moved or lost values and missing columns.

Runs
----
- Default suite: a fast subset (every 4th case, about a quarter of them, well under 30 s).
- Full set: ``python -m pytest tests/data/test_fuzz_readers.py -m fuzz -s`` (or set
  ``EEGKIT_FUZZ=full``); ``-s`` shows the table of counts per reader.

Both assert that no case ends in anything but a DataError naming the file or an exact load.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tests.data.readers._fuzz_cases import CORPORA, cases, materialise, outcome

FAST_EVERY = 4


def _run(selected, tmp_path_factory) -> tuple[Counter, list[str]]:
    counts: Counter = Counter()
    failures = []
    clean = {}
    for case in selected:
        if case.reader not in clean:
            corpus = CORPORA[case.reader](tmp_path_factory.mktemp(f"clean_{case.reader}"))
            clean[case.reader] = (corpus, materialise(corpus))
        corpus, loaded = clean[case.reader]
        result = outcome(case, corpus, loaded, tmp_path_factory.mktemp("case"))
        kind = result if result in ("DataError", "exact") else "other"
        counts[case.reader, kind] += 1
        if kind == "other":
            failures.append(f"{case.id}: {result}")
    return counts, failures


def _table(counts: Counter) -> str:
    readers = sorted({r for r, _ in counts})
    rows = [f"{'reader':<14}{'cases':>7}{'DataError':>11}{'exact':>7}{'other':>7}"]
    for reader in [*readers, "total"]:
        n = {k: sum(v for (r, kk), v in counts.items() if kk == k and reader in (r, "total"))
             for k in ("DataError", "exact", "other")}
        rows.append(f"{reader:<14}{sum(n.values()):>7}{n['DataError']:>11}{n['exact']:>7}"
                    f"{n['other']:>7}")
    return "\n".join(rows)


def test_every_reader_has_cases():
    assert {c.reader for c in cases()} == set(CORPORA)


def test_fuzz_fast_subset(tmp_path_factory):
    counts, failures = _run(cases()[::FAST_EVERY], tmp_path_factory)
    print("\n" + _table(counts))
    assert not failures, "\n".join(failures)


@pytest.mark.fuzz
def test_fuzz_all_cases(request, tmp_path_factory):
    if "fuzz" not in request.config.getoption("markexpr") and os.environ.get(
            "EEGKIT_FUZZ") != "full":
        pytest.skip("full fuzz set: run with -m fuzz or EEGKIT_FUZZ=full")
    counts, failures = _run(cases(), tmp_path_factory)
    print("\n" + _table(counts))
    assert not failures, "\n".join(failures)
