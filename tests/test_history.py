"""The history checker, short form (seeded, bounded): racing writers; SIGKILLed and SIGSTOPped workers, a durable
broker and a Milvus server killed and restarted; a reader checking every read. The long form is
``bench/history.py`` (docs/reliability.md)."""

from __future__ import annotations

import pytest

from tests.conftest import isolate
from tests.history import History

pytestmark = pytest.mark.stack


def test_every_read_under_kills_pauses_and_restarts_is_monotonic_and_the_index_equals_the_log(durable_stack):
    settings = isolate(durable_stack.settings, "history")
    restarts = {"broker": (durable_stack.broker.kill, durable_stack.broker.start),
                "milvus": (durable_stack.milvus.kill, durable_stack.milvus.start)}
    report = History(settings, seed=11, restarts=restarts).run(seconds=60)
    assert report.violations == [], report.violations[:5]
    assert report.row() | {"writes": 0, "reads": 0, "faults": {}} == {
        "writes": 0, "reads": 0, "faults": {}, "violations": 0, "lost": 0, "stale": 0, "wrong_text": 0,
        "duplicated": 0}, report.row()
    faults = sum(n for kind, n in report.faults.items() if kind != "unacknowledged write")
    assert report.writes > 200 and report.reads > 50 and faults >= 4, report.row()
