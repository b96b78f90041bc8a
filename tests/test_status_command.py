"""``ragstream status`` over the real broker and Milvus: a call reads only what arrived since the last one (its
tally and positions live in the data folder), still counts every new event, and ``--full`` recounts."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from ragstream.cli.status import STATUS_FILE, status_tables
from ragstream.core.producer import DocumentProducer

pytestmark = pytest.mark.stack


def shown(settings, full: bool = False) -> str:
    console = Console(record=True, width=200)
    for table in status_tables(settings, full=full):
        console.print(table)
    return console.export_text()


def produce(settings, first: int, count: int) -> None:
    with DocumentProducer(settings.kafka) as producer:
        for n in range(first, first + count):
            producer.upsert("acme", f"status-{n}", 1, f"Document number {n}.").get(30)


def test_status_reads_only_new_records_and_full_recounts(isolated, tmp_path):
    settings = isolated.model_copy(update={"local": isolated.local.model_copy(update={"data_dir": tmp_path})})
    produce(settings, 0, 3)
    assert "3 events" in shown(settings)

    stored = json.loads((tmp_path / STATUS_FILE).read_text())
    assert sum(stored["positions"][settings.kafka.documents_topic].values()) == 3
    stored["outcomes"] = {"sentinel": 1}  # kept only if the next call does not re-read the topics from the start
    (tmp_path / STATUS_FILE).write_text(json.dumps(stored))

    produce(settings, 3, 2)
    incremental = shown(settings)
    assert "5 events" in incremental and "sentinel" in incremental
    recount = shown(settings, full=True)
    assert "5 events" in recount and "sentinel" not in recount and "0 outcomes" in recount
