"""Embedded infrastructure for one machine: the Kafka-protocol broker, its object store, Milvus Lite, topics.

Production points the same code at real clusters through settings; nothing outside this package assumes the
embedded components exist.
"""
