"""Ingestion: Kafka document events → validated → chunked → embedded → Milvus, effectively once.

Stages, each its own module: ``codec`` (bytes → event or dead-letter reason), ``chunking`` (llama-index),
``planner`` (which events of a batch change the index), ``processor`` (the index writes), ``ingest_loop``
(poll, dead-letter, publish outcomes, commit), ``actor`` (Ray actors that run the loop).
"""
