"""One trace per document (producer → Kafka → worker → Triton → Milvus → commit) and one per question (Serve's
proxy → ingress → every stage deployment → Triton), received by a real OTLP/HTTP endpoint on 127.0.0.1."""

from __future__ import annotations

import json

import httpx
import pytest
from opentelemetry.trace import SpanKind

from ragstream.core.producer import DocumentProducer
from ragstream.core.topic_reader import TopicReader
from ragstream.services.api.ingress import TRACE_ID_HEADER
from ragstream.workers.actor import WorkerPool
from testkit.api import ACME, produce_one

pytestmark = pytest.mark.stack

PRODUCER, CONSUMER, CLIENT = (kind.value + 1 for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.CLIENT))
SECRET_TEXT = "The vault combination is 31-41-59"


def _outcome(settings, doc_id: str) -> dict:
    reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
    try:
        for _ in range(300):
            reader.poll()
            for record in reader.records:
                outcome = json.loads(record.value)
                if outcome["doc_id"] == doc_id:
                    return outcome
        raise AssertionError(f"no outcome for {doc_id}")
    finally:
        reader.close()


def test_a_produced_document_is_one_trace_from_producer_through_the_worker_to_commit(isolated, ray_runtime, otlp):
    pool = WorkerPool(isolated).start()
    try:
        with DocumentProducer(isolated.kafka) as producer:
            producer.upsert("acme", "traced-doc", 3, SECRET_TEXT + ". " + "Filler sentence. " * 40,
                            title="Vault").get(30)
        outcome = _outcome(isolated, "traced-doc")
    finally:
        pool.stop()
    assert outcome["outcome"] == "indexed" and outcome["trace_id"]
    spans = otlp.wait_for(outcome["trace_id"], {
        "send ", "process ", "milvus read versions", "chunk", "embed", "milvus upsert", "milvus delete stale",
        "milvus record versions", "publish outcomes", "commit", "triton embedder"})
    by_name = {span.name: span for span in spans}
    send = by_name[f"send {isolated.kafka.documents_topic}"]
    process = by_name[f"process {isolated.kafka.documents_topic}"]
    assert send.kind == PRODUCER and send.parent_span_id == "" and send.service == "ragstream-tests"
    assert process.kind == CONSUMER and process.parent_span_id == send.span_id
    assert process.service == "ragstream-worker"
    assert process.attributes["ragstream.doc_id"] == "traced-doc" and process.attributes["ragstream.version"] == 3
    assert process.attributes["ragstream.outcome"] == "indexed" and process.attributes["ragstream.chunk_count"] >= 1
    assert process.attributes["messaging.kafka.offset"] >= 0
    for stage in ("chunk", "embed", "milvus upsert", "milvus delete stale", "milvus record versions", "commit"):
        assert by_name[stage].parent_span_id == process.span_id, stage
    # The embedding call is shared by the batch: copied here with its Triton call, and linked to the batch's step.
    [triton] = [s for s in spans if s.name == "triton embedder"]
    assert triton.kind == CLIENT and triton.parent_span_id == by_name["embed"].span_id
    assert triton.attributes["rpc.method"] == "ModelInfer"
    [shared_embed] = by_name["embed"].links
    assert any(s.span_id == shared_embed and s.trace_id != outcome["trace_id"] for s in otlp.spans)
    assert all(SECRET_TEXT not in str(s.attributes) for s in otlp.trace(outcome["trace_id"]))


def test_a_question_is_one_trace_through_every_deployment_under_the_callers_traceparent(query_stack, otlp):
    settings, url = query_stack
    produce_one(settings, "acme", "traced-answer", 1, "The staff canteen opens at seven in the morning for breakfast.",
                "Canteen")
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = httpx.post(
        f"{url}/v1/chat/completions", timeout=120,
        headers={"Authorization": f"Bearer {ACME}", "traceparent": f"00-{caller_trace}-{caller_span}-01",
                 "x-ragstream-min-version": "traced-answer=1"},
        json={"model": "ragstream", "messages": [
            {"role": "user", "content": "Tell me about the staff canteen."},
            {"role": "assistant", "content": "It serves breakfast."},
            {"role": "user", "content": "When does it open?"}]})
    assert response.status_code == 200, response.text
    assert response.headers[TRACE_ID_HEADER] == caller_trace
    # chat does not rerank by default (context.rerank); the reranker's trace is the next test's
    stages = [f"replica_handle_request {name}" for name in ("rewrite", "embedding", "retrieval", "compression",
                                                            "generation")]
    spans = otlp.wait_for(caller_trace, {"POST /v1/chat/completions", *stages, "triton embedder_query",
                                         "triton generator"})
    by_name = {s.name.rsplit(" ", 1)[0] if s.name.startswith("replica_") else s.name: s for s in spans}
    ingress = by_name["POST /v1/chat/completions"]
    assert ingress.parent_span_id == caller_span and ingress.service == "ragstream-ingress"
    for stage in stages:
        assert by_name[stage].service == f"ragstream-{stage.split()[1]}"
    assert by_name["triton generator"].parent_span_id == by_name["replica_handle_request generation"].span_id
    attributes = {k: v for s in spans for k, v in s.attributes.items()}
    assert attributes["ragstream.tenant"] == "acme" and attributes["ragstream.candidates"] >= 1
    assert "ragstream.top_score" in attributes and attributes["ragstream.completion_tokens"] >= 1
    assert not any("canteen opens at seven" in str(s.attributes) or ACME in str(s.attributes) for s in spans)


def test_a_reranked_search_traces_the_reranker_deployment_and_its_triton_call(query_stack, otlp):
    settings, url = query_stack
    produce_one(settings, "acme", "traced-search", 1, "The bicycle shed is behind the north car park.", "Bicycles")
    caller_trace, caller_span = "5c0e6d2f1a9b4c3d8e7f6a5b4c3d2e1f", "1111111111111111"
    headers = {"Authorization": f"Bearer {ACME}", "traceparent": f"00-{caller_trace}-{caller_span}-01"}
    response = httpx.post(f"{url}/v1/retrieve", timeout=120, headers=headers,
                          json={"query": "where is the bicycle shed", "rerank": True,
                                "min_versions": [{"doc_id": "traced-search", "version": 1}]})
    assert response.status_code == 200, response.text
    spans = otlp.wait_for(caller_trace, {"POST /v1/retrieve", "replica_handle_request reranking",
                                         "triton reranker"})
    by_name = {s.name.rsplit(" ", 1)[0] if s.name.startswith("replica_") else s.name: s for s in spans}
    assert by_name["replica_handle_request reranking"].service == "ragstream-reranking"
    assert by_name["triton reranker"].parent_span_id == by_name["replica_handle_request reranking"].span_id


def _samples(text: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {f"{s.name}{sorted(s.labels.items())}": s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_of_the_api_and_the_workers_after_ingest_and_queries(query_stack):
    import ray

    settings, url = query_stack
    produce_one(settings, "acme", "metered", 1, "Metered documents feed the freshness histogram of the worker.",
                "Meter")
    response = httpx.post(f"{url}/v1/retrieve", headers={"Authorization": f"Bearer {ACME}"}, timeout=60,
                          json={"query": "freshness histogram", "rerank": True,
                                "min_versions": [{"doc_id": "metered", "version": 1}]})
    assert response.status_code == 200, response.text

    api = _samples(httpx.get(f"{url}/metrics", timeout=10).text)
    for stage in ("embedding", "retrieval", "reranking"):
        assert api[f"ragstream_stage_ms_count[('stage', '{stage}')]"] >= 1
    assert api["ragstream_http_requests_total[('route', '/v1/retrieve'), ('status', '200')]"] >= 1

    worker = ray.get_actor(f"{settings.kafka.consumer_group}/ingest-0", namespace="ragstream")
    stats = ray.get(worker.stats.remote())
    assert stats["metrics_url"].startswith("http://127.0.0.1:")
    ingest = _samples(httpx.get(stats["metrics_url"], timeout=10).text)
    assert ingest["ragstream_ingest_freshness_ms_count[]"] >= 1
    assert ingest["ragstream_ingest_events_total[('outcome', 'indexed')]"] >= 1
    assert ingest["ragstream_ingest_batch_records_count[]"] >= 1
    lags = {k: v for k, v in ingest.items() if k.startswith("ragstream_ingest_consumer_lag")}
    assert lags and all(v >= 0 for v in lags.values())
