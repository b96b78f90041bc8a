"""Model engines (embedder, reranker, generator) and the clients that reach them, on Triton or in-process."""
