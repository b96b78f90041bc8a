"""The history checker, short form (seeded, bounded): racing writers (one of the three through the API), SIGKILLed
and SIGSTOPped workers, a reader checking every read (every other one through the API). The long form is
``bench/history.py``, which can also crash and restart the broker and Milvus (docs/reliability.md says what that
found)."""

from __future__ import annotations

import pytest

from testkit.history import History
from testkit.monotonic import Api
from testkit.settings import isolate, with_api

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def history_api(durable_stack, query_stack):
    """The API over the durable stack's own topics and collections: a second Serve application under its own route
    prefix, on the proxy the session's application started."""
    from ray import serve

    from ragstream.services.app import run

    session, url = query_stack
    settings = isolate(durable_stack.settings, "history")
    settings = with_api(settings, {"key-history": "acme"}, port=session.api.port)
    settings = settings.model_copy(update={
        "serve": settings.serve.model_copy(update={"app_name": "history", "route_prefix": "/history"})})
    try:
        run(settings)
        yield settings, Api(f"{url}/history", "key-history")
    finally:
        serve.delete("history")


def test_every_read_under_kills_and_pauses_is_monotonic_and_the_index_equals_the_log(history_api):
    # its own broker and Milvus server: no other test's collections compact under its reads
    settings, api = history_api
    report = History(settings, seed=11, api=api).run(seconds=40)
    assert report.violations == [], report.violations[:5]
    counts = {"writes": 0, "api_writes": 0, "reads": 0, "failed_reads": 0, "api_reads": {}, "faults": {},
              "raw_stale": 0}
    assert report.row() | counts == counts | {"violations": 0, "lost": 0, "stale": 0, "wrong_text": 0,
                                              "duplicated": 0, "rolled_back": 0, "registry_behind": 0}, report.row()
    # each kind of fault at least once (how many fit in the run depends on how fast a killed actor comes back)
    assert report.writes > 200 and report.reads > 50, report.row()
    assert report.faults["SIGKILL"] >= 1 and report.faults["SIGSTOP"] >= 1, report.row()
    # the API took its share of the writes and answered reads (404: a document not indexed yet), never a 5xx, and
    # refused none of the writes
    assert report.api_writes > 50 and report.api_reads.get(200, 0) > 20, report.row()
    assert set(report.api_reads) <= {200, 404}, report.row()
    assert not [kind for kind in report.faults if "HTTP" in kind], report.row()
