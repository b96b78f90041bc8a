"""The Milvus index shared by ingestion (writes) and the query path (reads)."""

from ragstream.core.index.records import Chunk, DocState, chunk_id, doc_key
from ragstream.core.index.store import IndexStore

__all__ = ["Chunk", "DocState", "IndexStore", "chunk_id", "doc_key"]
