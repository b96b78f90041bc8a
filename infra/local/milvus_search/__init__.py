"""Milvus Lite's dense and BM25 search without per-row Python: what makes the embedded index usable past ~10k chunks.

Milvus Lite 3.2.2 decides on every search which rows are live (the newest version of each primary key, not
deleted) by looping in Python over every row of every segment, twice, and scores BM25 by looping over every
posting of every query term. At 100k chunks that was ~60 ms of a dense search and ~400 ms of a BM25 one
(docs/benchmarks.md, "Index size"). Here:

- **Liveness per segment generation.** Sealed segments never change, so which of their rows is the newest of its
  key is computed once per set of segments (``Generation``) and kept until a flush or a compaction changes the set.
  A search copies those masks and applies only what changed since: the memtable's rows and deletes, and the
  tombstones. Its cost follows the writes since the last flush, not the index size.
- **BM25 over posting arrays.** ``PostingArrays`` holds each term's postings as numpy arrays and scores a query
  with a few vector operations per term; the formula and its segment-local statistics are Milvus Lite's own.

Results equal Milvus Lite's (tests/test_milvus_search.py runs both on the same random histories), except that a
key whose two rows carry the same sequence number counts once. ``install`` swaps them in;
``python -m ragstream.infra.local.milvus_server --stock-search`` keeps Milvus Lite's own, for side-by-side benchmarks.
"""

