"""The query filter grammar: what it accepts, what it renders, and that nothing reaches past the caller's tenant."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragstream.core.index.filters import expression
from ragstream.core.index.store import IndexStore
from ragstream.schemas import DocumentEvent
from ragstream.schemas.filters import Condition, QueryFilter
from ragstream.workers.chunking import Chunker
from ragstream.workers.processor import BatchProcessor
from testkit.doubles import HashingEmbedder

TEXT = "rivers flow to the ocean"


def where(*conditions: dict) -> QueryFilter:
    return QueryFilter(all=[Condition(**c) for c in conditions])


def test_conditions_render_to_milvus_expressions_under_the_tenant():
    rendered = expression("acme", where(
        {"field": "metadata.lang", "value": "en"},
        {"field": "version", "op": "gte", "value": 2},
        {"field": "doc_id", "op": "not_in", "value": ["a", "b"]},
        {"field": "metadata.tags", "op": "contains", "value": "hr"},
    ))
    assert rendered == ('tenant == "acme" and (metadata["lang"] == "en") and (version >= 2) '
                        'and (not (doc_id in ["a", "b"])) and (json_contains(metadata["tags"], "hr"))')
    assert expression("acme") == 'tenant == "acme"'


@pytest.mark.parametrize("condition", [
    {"field": "tenant", "value": "globex"},                       # not an allowed field
    {"field": "metadata.a b", "value": 1},                        # key outside the metadata key rule
    {"field": 'metadata.x"] or tenant != "', "value": 1},         # expression injection through the field
    {"field": "text", "value": "x"},                              # chunk text is not filterable
    {"field": "doc_id", "op": "in", "value": "a"},                # in takes a list
    {"field": "doc_id", "op": "eq", "value": ["a"]},              # eq takes one value
    {"field": "title", "op": "gt", "value": "m"},                 # ordering compares numbers
    {"field": "doc_id", "op": "contains", "value": "a"},          # contains is for metadata lists
    {"field": "version", "value": "3"},                           # version is an integer
    {"field": "metadata.n", "value": {"nested": 1}},              # objects are not values
    {"field": "doc_id", "op": "in", "value": []},                 # empty list
    {"field": "doc_id", "op": "like", "value": "a%"},             # unknown operator
    {"field": "doc_id", "value": "x" * 257},                      # oversize value
    {"field": "doc_id", "value": "a\u0000b"},                      # control characters
    {"field": "title", "value": "line\nbreak"},
])
def test_invalid_conditions_are_rejected_with_a_reason(condition):
    with pytest.raises(ValidationError):
        Condition(**condition)


def test_too_many_conditions_or_unknown_keys_are_rejected():
    with pytest.raises(ValidationError):
        QueryFilter(all=[Condition(field="doc_id", value=str(n)) for n in range(17)])
    with pytest.raises(ValidationError):
        QueryFilter.model_validate({"all": [], "expr": 'tenant == "globex"'})


@pytest.fixture
def indexed(isolated):
    store = IndexStore(isolated.milvus, 384)
    store.ensure_collections()
    processor = BatchProcessor(Chunker(isolated.chunking), HashingEmbedder(), store)
    events = [DocumentEvent(op="upsert", tenant=tenant, doc_id=f"{tenant}-{n}", version=n + 1, text=TEXT,
                            metadata={"lang": lang, "year": 2020 + n, "tags": ["hr", f"t{n}"]})
              for tenant in ("acme", "globex") for n, lang in enumerate(["en", "de", "en"])]
    processor.process(list(enumerate(events)))
    yield store
    store.close()


def docs(hits) -> set[str]:
    return {h["doc_id"] for h in hits}


def test_filters_select_within_the_tenant_over_real_milvus(indexed):
    vector = HashingEmbedder().embed([TEXT])[0]
    assert docs(indexed.search_dense(vector, "acme")) == {"acme-0", "acme-1", "acme-2"}
    assert docs(indexed.search_dense(vector, "acme", query_filter=where({"field": "metadata.lang", "value": "en"}))) \
        == {"acme-0", "acme-2"}
    assert docs(indexed.search_bm25("ocean", "acme", query_filter=where(
        {"field": "metadata.year", "op": "gte", "value": 2021}, {"field": "version", "op": "lt", "value": 3}))) \
        == {"acme-1"}
    assert docs(indexed.search_bm25("rivers", "globex", query_filter=where(
        {"field": "metadata.tags", "op": "contains", "value": "t2"}))) == {"globex-2"}


@pytest.mark.parametrize("value", [
    '" or tenant == "globex', '\\" or tenant == \\"globex', "en\") or (tenant != \"acme", "' or 1 == 1 or '",
    "ünïcödé ✓", "x\\", '"]) or true or (["',
])
def test_adversarial_values_never_leave_the_tenant(indexed, value):
    vector = HashingEmbedder().embed([TEXT])[0]
    for field in ("metadata.lang", "doc_id", "title"):
        hits = indexed.search_dense(vector, "acme", query_filter=where({"field": field, "op": "ne", "value": value}))
        assert docs(hits) <= {"acme-0", "acme-1", "acme-2"} and docs(hits)
        assert indexed.search_bm25("ocean", "acme", query_filter=where({"field": field, "value": value})) == []
