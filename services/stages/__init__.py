"""Query stages, one Serve deployment each: plain classes, so they run and test without Serve too.

rewrite → embedding → retrieval → reranking → compression → generation
"""
