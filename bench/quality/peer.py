"""The peer: a plain llama-index pipeline — ``VectorStoreIndex`` over Milvus (the same Milvus Lite server), the
same embedder (ragstream's Triton model behind llama-index's embedding interface), llama-index's default
ingestion (``SentenceSplitter``) and default retrieval (top-k dense similarity)."""

from __future__ import annotations

import time
from typing import Any

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.vector_stores.milvus import MilvusVectorStore
from pydantic import PrivateAttr

from bench.quality.datasets import EvalSet
from bench.quality.metrics import documents, evaluate
from bench.report import percentile
from ragstream.models.factory import BlockingEmbedder
from ragstream.settings import Settings


class TritonEmbedding(BaseEmbedding):
    """ragstream's embedder model, as llama-index calls embeddings."""

    _embedder: BlockingEmbedder = PrivateAttr()

    def __init__(self, embedder: BlockingEmbedder, **kwargs: Any) -> None:
        super().__init__(model_name="all-MiniLM-L6-v2 (Triton)", embed_batch_size=32, **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def measure_peer(settings: Settings, data: EvalSet) -> dict[str, Any]:
    embedder = BlockingEmbedder(settings.models)
    try:
        model = TritonEmbedding(embedder)
        store = MilvusVectorStore(uri=settings.milvus.uri, collection_name="peer_llamaindex",
                                  dim=settings.models.embedder.dimension, overwrite=True)
        started = time.perf_counter()
        index = VectorStoreIndex.from_documents(
            [Document(text=text, doc_id=doc, metadata={"title": title} if title else {})
             for doc, (title, text) in data.corpus.items()],
            storage_context=StorageContext.from_defaults(vector_store=store), embed_model=model)
        ingest_s = time.perf_counter() - started
        top10, top100, latencies = {}, {}, []
        narrow, wide = index.as_retriever(similarity_top_k=10), index.as_retriever(similarity_top_k=100)
        for qid, query in data.queries.items():
            started = time.perf_counter()
            top10[qid] = documents([n.node.ref_doc_id for n in narrow.retrieve(query)])
            latencies.append((time.perf_counter() - started) * 1000)
            top100[qid] = documents([n.node.ref_doc_id for n in wide.retrieve(query)])
        scores = evaluate(top10, data.qrels)
        scores["recall@100"] = evaluate(top100, data.qrels)["recall@100"]
        return {"config": "peer: llama-index VectorStoreIndex (defaults)",
                **{k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()},
                "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1),
                "ingest_s": round(ingest_s, 1)}
    finally:
        embedder.close()
