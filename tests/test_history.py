"""The history checker, short form (seeded, bounded): racing writers, SIGKILLed and SIGSTOPped workers, a reader
checking every read. The long form is ``bench/history.py``, which can also crash and restart the broker and Milvus
(docs/reliability.md says what that found)."""

from __future__ import annotations

import pytest

from tests.conftest import isolate
from tests.history import History

pytestmark = pytest.mark.stack


def test_every_read_under_kills_and_pauses_is_monotonic_and_the_index_equals_the_log(durable_stack):
    # its own broker and Milvus server: no other test's collections compact under its reads
    report = History(isolate(durable_stack.settings, "history"), seed=11).run(seconds=40)
    assert report.violations == [], report.violations[:5]
    assert report.row() | {"writes": 0, "reads": 0, "faults": {}, "raw_stale": 0} == {
        "writes": 0, "reads": 0, "faults": {}, "raw_stale": 0, "violations": 0, "lost": 0, "stale": 0, "wrong_text": 0,
        "duplicated": 0}, report.row()
    faults = sum(n for kind, n in report.faults.items() if kind != "unacknowledged write")
    assert report.writes > 200 and report.reads > 50 and faults >= 3, report.row()
