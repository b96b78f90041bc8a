"""The peer: a plain llama-index pipeline — ``VectorStoreIndex`` over Milvus (the same Milvus Lite server), the
same models (ragstream's Triton embedder and generator behind llama-index's interfaces), llama-index's default
ingestion (``SentenceSplitter``), default retrieval (top-k dense similarity) and default query engine."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.vector_stores.milvus import MilvusVectorStore
from pydantic import PrivateAttr

from bench.quality.answers import ANSWER_TOKENS, Reply
from bench.quality.datasets import EvalSet
from bench.quality.metrics import documents, evaluate
from bench.report import percentile
from ragstream.core.models.factory import BlockingModels
from ragstream.core.settings import Settings
from ragstream.schemas.generation import ChatMessage, GenerationRequest


class TritonEmbedding(BaseEmbedding):
    """ragstream's embedder model, as llama-index calls embeddings."""

    _models: BlockingModels = PrivateAttr()

    def __init__(self, models: BlockingModels, **kwargs: Any) -> None:
        super().__init__(model_name="all-MiniLM-L6-v2 (Triton)", embed_batch_size=32, **kwargs)
        self._models = models

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._models.embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._models.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._models.embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


class TritonLLM(CustomLLM):
    """ragstream's generator model, as llama-index calls an LLM (greedy, capped like the stack's answers)."""

    _models: BlockingModels = PrivateAttr()

    def __init__(self, models: BlockingModels, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._models = models

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=4096, num_output=ANSWER_TOKENS, model_name="generator (Triton)")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._models.complete(GenerationRequest(
            messages=[ChatMessage(role="user", content=prompt)], max_tokens=ANSWER_TOKENS, temperature=0.0)))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        response = self.complete(prompt, formatted)
        yield CompletionResponse(text=response.text, delta=response.text)


def _timed_map(call: Callable[[str], Any], items: Iterable[str], concurrency: int) -> dict[str, tuple[Any, float]]:
    """item → (result, ms), ``concurrency`` at a time: the same load shape as the stack's client."""
    def one(item: str) -> tuple[str, Any, float]:
        started = time.perf_counter()
        result = call(item)
        return item, result, (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(concurrency) as pool:
        return {item: (result, ms) for item, result, ms in pool.map(one, items)}


class Peer:
    """Built over ``data.corpus`` on entry; measured with the same queries and concurrency as the stack."""

    name = "peer: llama-index VectorStoreIndex (defaults)"

    def __init__(self, settings: Settings, data: EvalSet, concurrency: int = 2) -> None:
        self.settings, self.data, self.concurrency = settings, data, concurrency

    def __enter__(self) -> Peer:
        self.models = BlockingModels(self.settings.models)
        self.store = store = MilvusVectorStore(uri=self.settings.milvus.uri, collection_name="peer_llamaindex",
                                               dim=self.settings.models.embedder.dimension, overwrite=True)
        started = time.perf_counter()
        self.index = VectorStoreIndex.from_documents(
            [Document(text=text, doc_id=doc, metadata={"title": title} if title else {})
             for doc, (title, text) in self.data.corpus.items()],
            storage_context=StorageContext.from_defaults(vector_store=store), embed_model=TritonEmbedding(self.models))
        self.ingest_s = time.perf_counter() - started
        return self

    def __exit__(self, *exc: object) -> None:
        self.models.close()

    def flush(self) -> None:
        """What llama-index does with ``add(..., force_flush=True)``: seal the segments, as ragstream's workers do
        (not the library's default; measured as a second peer row so the comparison is like for like)."""
        self.store.client.flush(self.store.collection_name)

    def retrieval(self, name: str | None = None) -> dict[str, Any]:
        def ranked(k: int) -> dict[str, tuple[list[str], float]]:
            retriever = self.index.as_retriever(similarity_top_k=k)
            return _timed_map(lambda qid: documents([n.node.ref_doc_id for n in
                                                     retriever.retrieve(self.data.queries[qid])]),
                              self.data.queries, self.concurrency)

        top10, top100 = ranked(10), ranked(100)
        scores = evaluate({q: found for q, (found, _) in top10.items()}, self.data.qrels)
        scores["recall@100"] = evaluate({q: found for q, (found, _) in top100.items()}, self.data.qrels)["recall@100"]
        latencies = [ms for _, ms in top10.values()]
        scores = {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}
        return {"config": name or self.name, **scores,
                "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1),
                "ingest_s": round(self.ingest_s, 1)}

    def ask(self, qids: list[str]) -> dict[str, Reply]:
        """llama-index's default query engine (top-2 nodes, its QA prompt); the first source node as citation."""
        engine = self.index.as_query_engine(llm=TritonLLM(self.models))
        answers = _timed_map(lambda qid: engine.query(self.data.queries[qid]), qids, self.concurrency)
        return {q: Reply(str(response), response.source_nodes[0].node.ref_doc_id if response.source_nodes else None,
                         ms) for q, (response, ms) in answers.items()}

    def remove(self, doc_ids: Iterable[str]) -> None:
        for doc in doc_ids:
            self.index.delete_ref_doc(doc, delete_from_docstore=True)
