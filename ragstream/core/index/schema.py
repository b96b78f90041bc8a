"""Collection layouts. The tenant is the partition key, so every search is cut to one tenant's data."""

from __future__ import annotations

from pymilvus import DataType, Function, FunctionType, MilvusClient

from ragstream.schemas.events import MAX_TITLE_CHARS

ID_MAX = 400  # tenant (64) + doc_id (256) + version + chunk number, or + a log mark (records.DocState.row_id)
TEXT_MAX_BYTES = 16_384  # a chunk is ≤ 512 tokens; its UTF-8 size is checked before writing
CONTENT_MAX_BYTES = TEXT_MAX_BYTES + 4 * MAX_TITLE_CHARS + 8


def chunk_schema(client: MilvusClient, dimension: int):
    """``content`` (title + chunk text, after the BM25 analysis) is what BM25 indexes; ``text`` what readers get."""
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, max_length=ID_MAX, is_primary=True)
    schema.add_field("tenant", DataType.VARCHAR, max_length=64, is_partition_key=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=256)
    schema.add_field("version", DataType.INT64)
    schema.add_field("chunk_no", DataType.INT64)
    schema.add_field("title", DataType.VARCHAR, max_length=4 * MAX_TITLE_CHARS)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX_BYTES)
    schema.add_field("content", DataType.VARCHAR, max_length=CONTENT_MAX_BYTES, enable_analyzer=True)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("event_time_ms", DataType.INT64)
    schema.add_field("indexed_time_ms", DataType.INT64)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(
        name="content_bm25", function_type=FunctionType.BM25,
        input_field_names=["content"], output_field_names=["sparse"],
    ))
    return schema


def chunk_indexes(client: MilvusClient, dense_index: str):
    params = client.prepare_index_params()
    dense_params = {"M": 16, "efConstruction": 200} if dense_index == "HNSW" else {}
    params.add_index("dense", index_type=dense_index, metric_type="COSINE", params=dense_params)
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    params.add_index("doc_id", index_type="INVERTED")
    return params


def registry_schema(client: MilvusClient):
    """v3: a row per (document, log mark), so states are never overwritten and the newest wins on read (v2 had a
    row per document, last writer wins)."""
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, max_length=ID_MAX, is_primary=True)
    schema.add_field("key", DataType.VARCHAR, max_length=ID_MAX)
    schema.add_field("tenant", DataType.VARCHAR, max_length=64, is_partition_key=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=256)
    schema.add_field("version", DataType.INT64)
    schema.add_field("state", DataType.VARCHAR, max_length=16)
    schema.add_field("content_hash", DataType.VARCHAR, max_length=64)
    schema.add_field("chunk_count", DataType.INT64)
    schema.add_field("event_time_ms", DataType.INT64)
    schema.add_field("indexed_time_ms", DataType.INT64)
    schema.add_field("trace_id", DataType.VARCHAR, max_length=32)
    for name in ("source_partition", "source_offset", "source_max_ts", "ignored_version", "ignored_offset"):
        schema.add_field(name, DataType.INT64)  # records.LogMark: replays and stale writes are recognised by it
    # Milvus requires a vector field in every collection; the registry is only ever queried by key.
    schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
    return schema


def registry_indexes(client: MilvusClient):
    params = client.prepare_index_params()
    params.add_index("placeholder", index_type="FLAT", metric_type="L2")
    params.add_index("key", index_type="INVERTED")
    return params
